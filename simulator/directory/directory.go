package directory

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"

	"github.com/bitaudit/bitaudit/simulator/windows"
)

// Options configure a directory server.
type Options struct {
	// Addr is the listen address; default 127.0.0.1:0 (loopback only).
	Addr string
	// TLS is the server's certificate configuration. With it the server
	// speaks LDAPS, or plain LDAP plus StartTLS when StartTLS is set.
	// Without it, plain LDAP only.
	TLS      *tls.Config
	StartTLS bool
	// BaseDN is the domain's DN; default from the first machine's DNSDomain
	// (DC=corp,DC=example,DC=test).
	BaseDN string
	// BindDN and BindPassword are the one account that can bind.
	BindDN       string
	BindPassword string
	Machines     []*windows.Machine
}

// A Server is a running directory.
type Server struct {
	// URL is ldaps://127.0.0.1:port (or ldap:// without TLS or with StartTLS).
	URL    string
	BaseDN string
	// Searches counts the search requests served, Binds the bind attempts.
	Searches, Binds atomicCounter

	opts  Options
	ou    string
	start time.Time // account ages count back from here
	srv   *gldap.Server
	done  chan error

	mu    sync.Mutex
	bound map[int]bool // connection ID -> bound as BindDN

	byDN    map[string]*windows.Machine   // lower-case computer DN -> machine
	byName  map[string]*windows.Machine   // lower-case dNSHostName and sAMAccountName -> machine
	foreign map[string][]*windows.Machine // lower-case DN of another object -> machines with keys there
	extra   []string                      // DNs of the other objects, as written

	keysMu sync.Mutex
	keys   *keyHolders // nil until first read
}

// keyHolders are the machines holding each AD recovery key, by the key's
// lower-case GUID (no braces), as of one escrow generation
// (windows.EscrowGeneration).
type keyHolders struct {
	gen uint64
	by  map[string][]*windows.Machine // in fleet order
}

// holders returns the machines whose AD escrow holds key id (lower-case,
// no braces) now: the index is built again only when an escrow changed,
// not scanned for every search by key.
func (s *Server) holders(id string) []*windows.Machine {
	gen := windows.EscrowGeneration()
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if s.keys == nil || s.keys.gen != gen {
		x := &keyHolders{gen: gen, by: map[string][]*windows.Machine{}}
		for _, m := range s.opts.Machines {
			m.Mu.Lock()
			for _, k := range m.Escrow.AD {
				g := strings.ToLower(strings.Trim(k.ProtectorID, "{}"))
				if hs := x.by[g]; len(hs) == 0 || hs[len(hs)-1] != m {
					x.by[g] = append(hs, m)
				}
			}
			m.Mu.Unlock()
		}
		s.keys = x
	}
	return s.keys.by[strings.ToLower(id)]
}

type atomicCounter struct {
	mu sync.Mutex
	n  int
}

// Load returns the count.
func (c *atomicCounter) Load() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

func (c *atomicCounter) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }

// Start builds the directory from the machines and serves it until ctx ends
// or Close is called.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.BindDN == "" || o.BindPassword == "" {
		return nil, errors.New("directory: BindDN and BindPassword are required")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.BaseDN == "" {
		domain := "corp.example.test"
		for _, m := range o.Machines {
			m.Mu.Lock()
			d := m.DNSDomain
			m.Mu.Unlock()
			if d != "" {
				domain = d
				break
			}
		}
		o.BaseDN = domainDN(domain)
	}
	s := &Server{
		BaseDN:  o.BaseDN,
		opts:    o,
		ou:      "OU=Workstations," + o.BaseDN,
		start:   time.Now().UTC(),
		done:    make(chan error, 1),
		bound:   map[int]bool{},
		byDN:    map[string]*windows.Machine{},
		byName:  map[string]*windows.Machine{},
		foreign: map[string][]*windows.Machine{},
	}
	for _, m := range o.Machines {
		m.Mu.Lock()
		if a := m.Identity(); a.DomainJoined && a.ComputerName != "" {
			s.byDN[strings.ToLower(s.computerDN(a.ComputerName))] = m
			s.byName[strings.ToLower(a.ComputerName)+"$"] = m
			if a.DNSDomain != "" {
				s.byName[strings.ToLower(a.ComputerName+"."+a.DNSDomain)] = m
			}
		}
		for _, k := range m.Escrow.AD {
			if k.DeviceObject == "" {
				continue
			}
			dn := s.objectDN(k.DeviceObject)
			l := strings.ToLower(dn)
			if len(s.foreign[l]) == 0 {
				s.extra = append(s.extra, dn)
			}
			if !containsMachine(s.foreign[l], m) {
				s.foreign[l] = append(s.foreign[l], m)
			}
		}
		m.Mu.Unlock()
	}
	sort.Strings(s.extra)

	addr, err := freeAddr(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	srv, err := gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()), gldap.WithOnClose(s.forget))
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	mux, err := gldap.NewMux()
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	if err := errors.Join(
		mux.Bind(s.handleBind),
		mux.Search(s.handleSearch),
		mux.ExtendedOperation(s.handleStartTLS, gldap.ExtendedOperationStartTLS),
		mux.DefaultRoute(s.handleOther),
		srv.Router(mux),
	); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	s.srv = srv
	scheme := "ldap"
	var runOpts []gldap.Option
	if o.TLS != nil && !o.StartTLS {
		scheme = "ldaps"
		runOpts = append(runOpts, gldap.WithTLSConfig(o.TLS))
	}
	s.URL = scheme + "://" + addr
	go func() { s.done <- srv.Run(addr, runOpts...) }()
	// Run has no readiness signal; wait until the port accepts.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("directory: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
		if i > 500 {
			srv.Stop()
			return nil, fmt.Errorf("directory: %s does not accept connections", addr)
		}
	}
	context.AfterFunc(ctx, func() { s.Close() })
	return s, nil
}

func containsMachine(ms []*windows.Machine, m *windows.Machine) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// freeAddr resolves a ":0" port to a free one, since gldap does not report
// the port it listens on.
func freeAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("listen address %s is not loopback", addr)
	}
	if port != "0" {
		return addr, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Close stops the server.
func (s *Server) Close() error {
	return s.srv.Stop()
}

// domainDN turns corp.example.test into DC=corp,DC=example,DC=test.
func domainDN(domain string) string {
	parts := strings.Split(domain, ".")
	for i, p := range parts {
		parts[i] = "DC=" + p
	}
	return strings.Join(parts, ",")
}

func (s *Server) computerDN(name string) string { return ComputerDN(s.BaseDN, name) }

// ComputerDN is the DN of a computer object in the directory with base DN
// base: CN=<name>,OU=Workstations,<base>.
func ComputerDN(base, name string) string { return "CN=" + name + ",OU=Workstations," + base }

// objectDN is the DN of a DeviceObject: as given when it is a DN, else a
// computer object of that name next to the others.
func (s *Server) objectDN(obj string) string {
	if strings.Contains(obj, "=") {
		return obj
	}
	return s.computerDN(obj)
}

func (s *Server) forget(connID int) {
	s.mu.Lock()
	delete(s.bound, connID)
	s.mu.Unlock()
}

func (s *Server) handleBind(w *gldap.ResponseWriter, r *gldap.Request) {
	s.Binds.add()
	resp := r.NewBindResponse(gldap.WithResponseCode(gldap.ResultInvalidCredentials))
	defer func() { _ = w.Write(resp) }()
	m, err := r.GetSimpleBindMessage()
	if err != nil || m.AuthChoice != gldap.SimpleAuthChoice {
		resp.SetResultCode(gldap.ResultAuthMethodNotSupported)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case m.Password == "":
		// An anonymous bind succeeds, as in AD, but cannot search.
		delete(s.bound, r.ConnectionID())
		resp.SetResultCode(gldap.ResultSuccess)
	case strings.EqualFold(m.UserName, s.opts.BindDN) && string(m.Password) == s.opts.BindPassword:
		s.bound[r.ConnectionID()] = true
		resp.SetResultCode(gldap.ResultSuccess)
	default:
		delete(s.bound, r.ConnectionID())
		// AD's text for a wrong password (data 52e).
		resp.SetDiagnosticMessage("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563")
	}
}

func (s *Server) handleStartTLS(w *gldap.ResponseWriter, r *gldap.Request) {
	res := r.NewExtendedResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	res.SetResponseName(gldap.ExtendedOperationStartTLS)
	if s.opts.TLS == nil || !s.opts.StartTLS {
		res.SetResultCode(gldap.ResultProtocolError)
		res.SetDiagnosticMessage("StartTLS not available")
		_ = w.Write(res)
		return
	}
	if err := w.Write(res); err != nil {
		return
	}
	_ = r.StartTLS(s.opts.TLS)
}

func (s *Server) handleOther(w *gldap.ResponseWriter, r *gldap.Request) {
	_ = w.Write(r.NewResponse(gldap.WithResponseCode(gldap.ResultUnwillingToPerform), gldap.WithDiagnosticMessage("operation not supported by the simulated directory")))
}

func (s *Server) handleSearch(w *gldap.ResponseWriter, r *gldap.Request) {
	s.Searches.add()
	done := r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	m, err := r.GetSearchMessage()
	if err != nil {
		done.SetResultCode(gldap.ResultProtocolError)
		_ = w.Write(done)
		return
	}
	s.mu.Lock()
	bound := s.bound[r.ConnectionID()]
	s.mu.Unlock()
	if !bound {
		done.SetResultCode(gldap.ResultOperationsError)
		done.SetDiagnosticMessage("000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563")
		_ = w.Write(done)
		return
	}
	filter, err := ldap.CompileFilter(m.Filter)
	if err != nil {
		done.SetResultCode(gldap.ResultProtocolError)
		done.SetDiagnosticMessage("bad filter: " + err.Error())
		_ = w.Write(done)
		return
	}
	entries, ok := s.find(m.BaseDN, m.Scope, filter)
	if !ok {
		done.SetResultCode(gldap.ResultNoSuchObject)
		done.SetMatchedDN(s.opts.BaseDN)
		_ = w.Write(done)
		return
	}
	// Paged results (RFC 2696): the cookie is the offset of the next page.
	var paging *gldap.ControlPaging
	for _, c := range m.Controls {
		if p, ok := c.(*gldap.ControlPaging); ok {
			paging = p
		}
	}
	start, end := 0, len(entries)
	if paging != nil {
		if len(paging.Cookie) > 0 {
			n, err := strconv.Atoi(string(paging.Cookie))
			if err != nil || n < 0 || n > len(entries) {
				done.SetResultCode(gldap.ResultUnwillingToPerform)
				done.SetDiagnosticMessage("bad paged results cookie")
				_ = w.Write(done)
				return
			}
			start = n
		}
		if paging.PagingSize > 0 && start+int(paging.PagingSize) < end {
			end = start + int(paging.PagingSize)
		}
	}
	if m.SizeLimit > 0 && paging == nil && int64(end-start) > m.SizeLimit {
		end = start + int(m.SizeLimit)
		done.SetResultCode(gldap.ResultSizeLimitExceeded)
	}
	for _, e := range entries[start:end] {
		resp := r.NewSearchResponseEntry(e.dn)
		for _, a := range e.attrs {
			if selected(m.Attributes, a.name) {
				resp.AddAttribute(a.name, a.vals)
			}
		}
		if err := w.Write(resp); err != nil {
			return
		}
	}
	if paging != nil {
		next := &gldap.ControlPaging{}
		if end < len(entries) {
			next.Cookie = []byte(strconv.Itoa(end))
		}
		done.SetControls(next)
	}
	_ = w.Write(done)
}

// selected reports whether attribute name is returned for the requested
// list. The confidential msFVE-RecoveryPassword only when named.
func selected(requested []string, name string) bool {
	if len(requested) == 0 {
		return !strings.EqualFold(name, "msFVE-RecoveryPassword")
	}
	for _, r := range requested {
		if strings.EqualFold(r, name) || r == "*" && !strings.EqualFold(name, "msFVE-RecoveryPassword") {
			return true
		}
	}
	return false
}

// An entry is one directory object.
type entry struct {
	dn    string
	attrs []attr
}

type attr struct {
	name string
	vals []string
}

func (e *entry) get(name string) []string {
	for _, a := range e.attrs {
		if strings.EqualFold(a.name, name) {
			return a.vals
		}
	}
	return nil
}

// find returns the entries in scope of base that match filter, sorted by
// DN; ok is false when base does not exist.
func (s *Server) find(base string, scope gldap.Scope, f *ber.Packet) ([]*entry, bool) {
	lbase := normDN(base)
	var cands []*entry
	switch {
	case lbase == normDN(s.opts.BaseDN) || lbase == normDN(s.ou):
		cands = append(cands, s.containerEntries()...)
		eq := equalities(f)
		var ms []*windows.Machine
		indexed := false
		for _, a := range []string{"dnshostname", "samaccountname"} {
			if v, ok := eq[a]; ok {
				indexed = true
				if m := s.byName[strings.ToLower(string(v))]; m != nil {
					ms = append(ms, m)
				}
			}
		}
		if g, ok := eq["msfve-recoveryguid"]; ok && !indexed {
			// A search by key ID: only machines holding that key can match.
			indexed = true
			id := decodeGUID(g)
			for _, m := range s.holders(id) {
				if holdsADKey(m, id) {
					ms = append(ms, m)
				}
			}
		}
		if !indexed {
			ms = s.opts.Machines
		}
		for _, m := range ms {
			cands = append(cands, s.machineEntries(m)...)
		}
		cands = append(cands, s.extraEntries()...)
	case s.byDN[lbase] != nil || len(s.foreign[lbase]) > 0:
		if m := s.byDN[lbase]; m != nil {
			cands = append(cands, s.machineEntries(m)...)
		}
		for _, m := range s.foreign[lbase] {
			cands = append(cands, s.machineEntries(m)...)
		}
		cands = append(cands, s.extraEntries()...)
	default:
		// A recovery object's own DN (base scope) or a missing object.
		parent := ""
		if i := strings.Index(lbase, ","); i >= 0 {
			parent = lbase[i+1:]
		}
		if s.byDN[parent] == nil && len(s.foreign[parent]) == 0 {
			return nil, false
		}
		if m := s.byDN[parent]; m != nil {
			cands = append(cands, s.machineEntries(m)...)
		}
		for _, m := range s.foreign[parent] {
			cands = append(cands, s.machineEntries(m)...)
		}
	}
	var out []*entry
	seen := map[string]bool{}
	exists := false
	for _, e := range cands {
		l := normDN(e.dn)
		if seen[l] {
			continue
		}
		seen[l] = true
		if l == lbase {
			exists = true
		}
		if inScope(l, lbase, scope) && match(f, e) {
			out = append(out, e)
		}
	}
	if !exists {
		return nil, false
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dn < out[j].dn })
	return out, true
}

func normDN(dn string) string {
	dn = strings.ToLower(strings.TrimSpace(dn))
	return strings.ReplaceAll(dn, ", ", ",")
}

func inScope(dn, base string, scope gldap.Scope) bool {
	switch scope {
	case gldap.BaseObject:
		return dn == base
	case gldap.SingleLevel:
		i := strings.Index(dn, ",")
		return i >= 0 && dn[i+1:] == base
	default:
		return dn == base || strings.HasSuffix(dn, ","+base)
	}
}

func (s *Server) containerEntries() []*entry {
	return []*entry{
		{dn: s.opts.BaseDN, attrs: []attr{{"objectClass", []string{"top", "domain", "domainDNS"}}}},
		{dn: s.ou, attrs: []attr{{"objectClass", []string{"top", "organizationalUnit"}}, {"ou", []string{"Workstations"}}}},
	}
}

// extraEntries are the other computer objects escrow truth names: left over
// after a re-image or rename, disabled, with no dNSHostName.
func (s *Server) extraEntries() []*entry {
	var out []*entry
	for _, dn := range s.extra {
		if s.byDN[strings.ToLower(dn)] != nil {
			continue // a real machine's object
		}
		cn := dn
		if i := strings.Index(dn, ","); i >= 0 {
			cn = dn[:i]
		}
		cn = strings.TrimPrefix(strings.TrimPrefix(cn, "CN="), "cn=")
		out = append(out, &entry{dn: dn, attrs: []attr{
			{"objectClass", []string{"top", "person", "organizationalPerson", "user", "computer"}},
			{"cn", []string{cn}},
			{"sAMAccountName", []string{strings.ToUpper(cn) + "$"}},
			{"userAccountControl", []string{"4098"}},
		}})
	}
	return out
}

// machineEntries returns a machine's computer object (when domain-joined)
// and its recovery objects, wherever they sit.
func (s *Server) machineEntries(m *windows.Machine) []*entry {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	var out []*entry
	own := ""
	if a := m.Identity(); a.DomainJoined && a.ComputerName != "" {
		own = s.computerDN(a.ComputerName)
		uac := "4096" // WORKSTATION_TRUST_ACCOUNT
		if m.Record.Disabled {
			uac = "4098" // | ACCOUNTDISABLE ([MS-ADTS] 2.2.16)
		}
		e := &entry{dn: own, attrs: []attr{
			{"objectClass", []string{"top", "person", "organizationalPerson", "user", "computer"}},
			{"cn", []string{a.ComputerName}},
			{"sAMAccountName", []string{a.ComputerName + "$"}},
			{"userAccountControl", []string{uac}},
			// AD's operatingSystem drops the "Microsoft " of Win32_OperatingSystem.Caption:
			// "Windows 10 Enterprise" (Get-ADComputer output, msxfaq.de sourceanchor_computer).
			{"operatingSystem", []string{strings.TrimPrefix(m.OS.Caption, "Microsoft ")}},
			{"operatingSystemVersion", []string{osVersion(m.OS)}},
			{"whenCreated", []string{s.start.Add(-m.Record.CreatedAge).Format("20060102150405") + ".0Z"}},
		}}
		if a.DNSDomain != "" {
			e.attrs = append(e.attrs, attr{"dNSHostName", []string{strings.ToLower(a.ComputerName) + "." + a.DNSDomain}})
		}
		if g, err := encodeGUID(m.Record.ObjectGUID); err == nil {
			e.attrs = append(e.attrs, attr{"objectGUID", []string{string(g)}})
		}
		if m.Record.LogonAge > 0 {
			e.attrs = append(e.attrs, attr{"lastLogonTimestamp", []string{strconv.FormatInt(fileTime(s.start.Add(-m.Record.LogonAge)), 10)}})
		}
		out = append(out, e)
	}
	for _, k := range m.Escrow.AD {
		parent := own
		if k.DeviceObject != "" {
			parent = s.objectDN(k.DeviceObject)
		}
		if parent == "" {
			continue
		}
		guid, err := encodeGUID(k.ProtectorID)
		if err != nil {
			continue
		}
		created := k.Created.UTC()
		// CN: "<date-time>{GUID}", e.g. 2017-10-20T09:38:39-00:00{C5E9D00C-…} (bitlocker.md §4).
		cn := created.Format("2006-01-02T15:04:05") + "-00:00{" + strings.ToUpper(strings.Trim(k.ProtectorID, "{}")) + "}"
		e := &entry{dn: "CN=" + cn + "," + parent, attrs: []attr{
			{"objectClass", []string{"top", "msFVE-RecoveryInformation"}},
			{"cn", []string{cn}},
			{"msFVE-RecoveryGuid", []string{string(guid)}},
			{"whenCreated", []string{created.Format("20060102150405") + ".0Z"}},
		}}
		if pw := recoveryPassword(m, k.ProtectorID); pw != "" {
			e.attrs = append(e.attrs, attr{"msFVE-RecoveryPassword", []string{pw}})
		}
		out = append(out, e)
	}
	return out
}

// osVersion is AD's operatingSystemVersion: "10.0 (22631)".
func osVersion(v windows.OSVersion) string {
	major, _, _ := strings.Cut(v.Version, ".")
	if major == "" || v.BuildNumber == "" {
		return v.Version
	}
	rest := strings.TrimPrefix(v.Version, major+".")
	minor, _, _ := strings.Cut(rest, ".")
	return major + "." + minor + " (" + v.BuildNumber + ")"
}

// fileTime is t as an AD Integer8 time: 100 ns intervals since 1601-01-01 UTC.
func fileTime(t time.Time) int64 {
	return t.UnixNano()/100 + 116444736000000000
}

// recoveryPassword returns the machine's password for a protector still on
// it (the directory holds what was backed up); "" for a removed one.
func recoveryPassword(m *windows.Machine, id string) string {
	for _, v := range m.Volumes {
		for _, p := range v.Protectors {
			if strings.EqualFold(p.ID, id) {
				return p.RecoveryPassword
			}
		}
	}
	return ""
}

// encodeGUID returns a GUID string in Windows byte order: the first three
// fields little-endian, the rest as written ([MS-DTYP] 2.3.4.2).
func encodeGUID(id string) ([]byte, error) {
	h := strings.ReplaceAll(strings.Trim(id, "{}"), "-", "")
	s, err := hex.DecodeString(h)
	if err != nil || len(s) != 16 {
		return nil, fmt.Errorf("not a GUID: %q", id)
	}
	return []byte{s[3], s[2], s[1], s[0], s[5], s[4], s[7], s[6],
		s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15]}, nil
}

// decodeGUID is the inverse of encodeGUID: upper case, no braces; "" when b
// is not 16 bytes.
func decodeGUID(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	s := []byte{b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6]}
	h := strings.ToUpper(hex.EncodeToString(append(s, b[8:]...)))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func holdsADKey(m *windows.Machine, id string) bool {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	for _, k := range m.Escrow.AD {
		if strings.EqualFold(strings.Trim(k.ProtectorID, "{}"), id) {
			return true
		}
	}
	return false
}
