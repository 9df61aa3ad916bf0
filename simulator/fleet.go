package simulator

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/bitaudit/bitaudit/simulator/directory"
	"github.com/bitaudit/bitaudit/simulator/krbsession"
	"github.com/bitaudit/bitaudit/simulator/windows"
	"github.com/bitaudit/bitaudit/simulator/wsman"
)

// Options says how a fleet listens and whom it accepts.
type Options struct {
	// ListenBase is the first host's address (default 127.0.10.1). Host i
	// gets ListenBase+i, skipping addresses ending in .0 or .255; all
	// addresses must stay inside 127.0.0.0/8.
	ListenBase netip.Addr
	// Port is the port every host listens on (default 5985, 5986 with TLS).
	Port int
	// TLS serves HTTPS with certificates from a CA the fleet generates.
	TLS bool
	// Auth is "basic", "ntlm" (default), "kerberos", or "negotiate" (both
	// Kerberos and NTLM, as a domain member's Negotiate accepts them).
	Auth string
	// Keytab holds the service keys (HTTP/<fqdn>@Realm) of the hosts, for
	// Auth "kerberos"; a fleet shares one, each host accepting only
	// tickets for its own names.
	Keytab *keytab.Keytab
	// Realm is the Kerberos realm the hosts belong to (Auth "kerberos").
	Realm string
	// CBT is the hosts' CbtHardeningLevel for NTLM over HTTPS: "none"
	// (default here), "relaxed" (Windows' default) or "strict".
	CBT string
	// User is the account every host accepts (default "auditor").
	User string
	// Password is the password every host accepts; required.
	Password string
	// Latency is added before every command's output on every host, on
	// top of the spec's latency.
	Latency time.Duration
	// RequireEncryption refuses unsealed plain-HTTP requests, as Windows'
	// default AllowUnencrypted=false does.
	RequireEncryption bool
	// Logger receives start-up and shutdown messages (default: discarded).
	Logger *slog.Logger
}

// Option defaults.
const (
	DefaultUser      = "auditor"
	DefaultHTTPPort  = 5985
	DefaultHTTPSPort = 5986
)

// DefaultListenBase is the first host's address when Options.ListenBase is unset.
var DefaultListenBase = netip.MustParseAddr("127.0.10.1")

// A Fleet is a set of running simulated hosts.
type Fleet struct {
	hosts   []*Host
	extra   []*Host    // directory-only computers, after the hosts
	all     []*Host    // hosts then extra
	mu      sync.Mutex // guards servers while starting
	servers []*wsman.Host
	ca      *wsman.CA
	log     *slog.Logger
	wg      sync.WaitGroup
	once    sync.Once
	domain  Domain // the spec's, for the identity columns
}

// Start builds the hosts spec describes and serves each on its own
// loopback address until [Fleet.Close]. It raises the process's open-file
// limit as far as allowed first. ctx bounds the start-up only.
func Start(ctx context.Context, spec *Spec, opts Options) (*Fleet, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	hosts, err := Build(spec)
	if err != nil {
		return nil, err
	}
	extra, err := BuildDirectory(spec)
	if err != nil {
		return nil, err
	}
	all := append(append(make([]*Host, 0, len(hosts)+len(extra)), hosts...), extra...)
	addrs, err := addresses(opts.ListenBase, len(all))
	if err != nil {
		return nil, err
	}
	limit, err := raiseFileLimit()
	if err != nil {
		return nil, fmt.Errorf("raise open-file limit: %w", err)
	}
	if need := uint64(len(all)) + 64; limit != 0 && limit < need {
		return nil, fmt.Errorf("open-file limit is %d, %d hosts need at least %d: raise the hard limit (ulimit -Hn)", limit, len(all), need)
	}
	f := &Fleet{hosts: hosts, extra: extra, all: all, log: opts.Logger, domain: spec.Domain}
	if f.domain == (Domain{}) {
		f.domain = defaultDomain()
	}
	if opts.TLS {
		if f.ca, err = wsman.NewCA(); err != nil {
			return nil, fmt.Errorf("create fleet CA: %w", err)
		}
	}
	for i, h := range all {
		h.Address = netip.AddrPortFrom(addrs[i], uint16(opts.Port)).String()
	}
	if err := f.serveAll(ctx, addrs, opts); err != nil {
		f.Close()
		return nil, err
	}
	scheme := "http"
	if opts.TLS {
		scheme = "https"
	}
	f.log.Info("fleet started", "hosts", len(hosts), "first", hosts[0].Address, "last", hosts[len(hosts)-1].Address,
		"scheme", scheme, "auth", opts.Auth, "user", opts.User, "require_encryption", opts.RequireEncryption)
	return f, nil
}

func (o *Options) fill() error {
	if !o.ListenBase.IsValid() {
		o.ListenBase = DefaultListenBase
	}
	if o.Port == 0 {
		o.Port = DefaultHTTPPort
		if o.TLS {
			o.Port = DefaultHTTPSPort
		}
	}
	if o.Port < 1 || o.Port > 65535 {
		return fmt.Errorf("port %d out of range", o.Port)
	}
	if o.Auth == "" {
		o.Auth = "ntlm"
	}
	switch o.Auth {
	case "basic", "ntlm":
	case "kerberos", "negotiate":
		if o.Keytab == nil || o.Realm == "" {
			return errors.New("fleet options: kerberos needs a service keytab and a realm")
		}
	default:
		return fmt.Errorf("auth %q: want basic, ntlm, kerberos or negotiate", o.Auth)
	}
	if o.User == "" {
		o.User = DefaultUser
	}
	if o.Password == "" && o.Auth != "kerberos" {
		return errors.New("fleet options: a password is required")
	}
	switch o.CBT {
	case "", "none", "relaxed", "strict":
	default:
		return fmt.Errorf("CbtHardeningLevel %q: want none, relaxed or strict", o.CBT)
	}
	if o.Latency < 0 {
		return fmt.Errorf("negative latency %v", o.Latency)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// addresses returns n loopback addresses from base on, skipping those
// whose last octet is 0 or 255.
func addresses(base netip.Addr, n int) ([]netip.Addr, error) {
	loop := netip.MustParsePrefix("127.0.0.0/8")
	if !base.Is4() || !loop.Contains(base) {
		return nil, fmt.Errorf("listen base %s is not an IPv4 loopback address (127.0.0.0/8)", base)
	}
	out := make([]netip.Addr, 0, n)
	for a := base; len(out) < n; a = a.Next() {
		if !loop.Contains(a) {
			return nil, fmt.Errorf("%d hosts from %s run past 127.255.255.255", n, base)
		}
		if b := a.As4(); b[3] != 0 && b[3] != 255 {
			out = append(out, a)
		}
	}
	return out, nil
}

// serveAll starts the hosts on all CPUs (issuing a TLS certificate per
// host is the costly part) and returns the first error.
func (f *Fleet) serveAll(ctx context.Context, addrs []netip.Addr, opts Options) error {
	var (
		next atomic.Int64
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(f.all) || ctx.Err() != nil {
					return
				}
				h := f.all[i]
				if err := f.serve(h, addrs[i], opts); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("start host %s at %s: %w", h.Machine.ComputerName, h.Address, err))
					mu.Unlock()
					next.Store(int64(len(f.all))) // stop the other workers
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start fleet: %w", err)
	}
	return nil
}

// serve starts one host: its WS-Management service wrapping the machine
// in the host's latency and runner faults. Refused hosts get no listener.
func (f *Fleet) serve(h *Host, ip netip.Addr, opts Options) error {
	var wfault wsman.Fault
	password := opts.Password
	for _, k := range h.Faults {
		switch k {
		case FaultRefused:
			return nil
		case FaultWrongPassword:
			// The host's account has another password than the one the
			// auditor is given; derived so that it never equals it.
			password = "rotated-" + opts.Password
		case FaultReset, FaultStall, FaultTruncated, FaultGarbled, FaultQuota, FaultNonSOAP:
			wfault = wsman.Fault(k)
		}
	}
	m := h.Machine
	var krb *krbsession.Acceptor
	if opts.Auth == "kerberos" || opts.Auth == "negotiate" {
		krb = krbsession.NewAcceptor(opts.Keytab, opts.Realm, f.hostNames(h))
	}
	var tlsConf *tls.Config
	var cert []byte
	if f.ca != nil {
		// The certificate names the computer account, as AD certificate
		// autoenrollment issues it, not what a hostile host claims to be.
		var err error
		if tlsConf, err = f.ca.ServerTLSConfig(f.hostNames(h), []net.IP{ip.AsSlice()}); err != nil {
			return err
		}
		cert = tlsConf.Certificates[0].Certificate[0]
	}
	cbt := wsman.CBT(opts.CBT)
	if f.ca == nil {
		cbt = "" // no TLS channel to bind
	}
	srv, err := wsman.NewHost(wsman.Config{
		ComputerName:      m.ComputerName,
		NetBIOSDomain:     m.NetBIOSDomain,
		DNSDomain:         m.DNSDomain,
		User:              opts.User,
		Password:          password,
		AllowBasic:        opts.Auth == "basic",
		AllowNTLM:         opts.Auth == "ntlm" || opts.Auth == "negotiate",
		Kerberos:          krb,
		RequireEncryption: opts.RequireEncryption,
		CBT:               cbt,
		TLSCertificate:    cert,
		Fault:             wfault,
		Runner:            &runner{h: h, extra: opts.Latency},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", h.Address)
	if err != nil {
		srv.Close()
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%w (another fleet on these addresses? choose another listen base or port)", err)
		}
		return err
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	f.mu.Lock()
	f.servers = append(f.servers, srv)
	f.mu.Unlock()
	f.wg.Go(func() {
		if err := srv.Serve(ln); err != nil {
			f.log.Warn("host stopped", "host", m.ComputerName, "address", h.Address, "err", err)
		}
	})
	return nil
}

// hostNames are the names a host's service principals may carry: those of
// its computer account (never what the host claims about itself), bare and
// in its DNS domain.
func (f *Fleet) hostNames(h *Host) []string {
	h.Machine.Mu.Lock()
	a := h.Machine.Identity()
	h.Machine.Mu.Unlock()
	domain := a.DNSDomain
	if domain == "" {
		domain = f.domain.DNS
	}
	return []string{a.ComputerName, a.ComputerName + "." + domain}
}

// Hosts returns the fleet's hosts in address order: those of the targets
// file, without the directory-only computers.
func (f *Fleet) Hosts() []*Host { return f.hosts }

// Directory returns the directory-only computers ([DirectoryMix]) in
// address order, after the hosts: unlisted ones answer, the others do not.
func (f *Fleet) Directory() []*Host { return f.extra }

// WriteHostsFile writes a hosts(5) file mapping every simulated computer's
// FQDN and computer name to its loopback address (hosts and directory-only
// computers alike), since simulated names do not resolve in DNS.
func (f *Fleet) WriteHostsFile(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("# bitaudit simulate: simulated computers and their loopback addresses\n")
	for _, h := range f.all {
		ap, err := netip.ParseAddrPort(h.Address)
		if err != nil {
			continue
		}
		// DNS holds the computer account's name, not what a host may claim.
		m := h.Machine
		m.Mu.Lock()
		a := m.Identity()
		m.Mu.Unlock()
		name, domain := a.ComputerName, a.DNSDomain
		if domain == "" && a.DomainJoined {
			domain = f.domain.DNS
		}
		bw.WriteString(ap.Addr().String())
		if domain != "" {
			bw.WriteString("\t" + strings.ToLower(name) + "." + domain)
		}
		bw.WriteString("\t" + strings.ToLower(name) + "\n")
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write hosts file: %w", err)
	}
	return nil
}

// Targets returns "ip:port" for every host in order, refused hosts included.
func (f *Fleet) Targets() []string {
	out := make([]string, len(f.hosts))
	for i, h := range f.hosts {
		out[i] = h.Address
	}
	return out
}

// TargetColumns is the header of the targets file [Fleet.WriteTargets]
// writes: the columns a directory inventory writes for each computer.
var TargetColumns = []string{"host", "fqdn", "ad_dn", "entra_device_id"}

// WriteTargets writes the targets as CSV, the format `bitaudit audit
// --targets` reads: "ip:port" in the host column, and the operator's
// identity of each host as the directory knows it (never as the host
// reports itself): its DNS name in the fleet's domain (workgroup hosts
// too, as a DNS or CMDB inventory lists them), its AD computer object's DN
// when domain-joined, its Entra deviceId when Entra-joined.
func (f *Fleet) WriteTargets(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(TargetColumns)
	for _, h := range f.hosts {
		cw.Write(f.identityRow(h))
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write targets: %w", err)
	}
	return nil
}

// identityRow is a host's row of the targets file.
func (f *Fleet) identityRow(h *Host) []string {
	h.Machine.Mu.Lock()
	a := h.Machine.Identity()
	h.Machine.Mu.Unlock()
	domain := a.DNSDomain
	if domain == "" {
		domain = f.domain.DNS
	}
	row := []string{h.Address, strings.ToLower(a.ComputerName) + "." + domain, "", ""}
	if a.DomainJoined {
		row[2] = directory.ComputerDN(domainDN(domain), a.ComputerName)
	}
	if a.AzureAdJoined {
		row[3] = strings.ToLower(a.DeviceID)
	}
	return row
}

// An expectationRecord is one element of [Fleet.WriteExpectations].
type expectationRecord struct {
	Target  string `json:"target"`
	Profile string `json:"profile"`
	Expectation
}

// WriteExpectations writes, as a JSON array, what an auditor should
// conclude about every host: objects with the keys target (as in the
// targets file), profile, status and problems (see [Expectation]), derived
// from the fleet's own profile table and faults, never from a client.
func (f *Fleet) WriteExpectations(w io.Writer) error {
	out := make([]expectationRecord, len(f.hosts))
	for i, h := range f.hosts {
		out[i] = expectationRecord{Target: h.Address, Profile: h.Profile, Expectation: h.Expect}
		if out[i].Problems == nil {
			out[i].Problems = []string{}
		}
		if out[i].ProblemsAfterFix == nil {
			out[i].ProblemsAfterFix = []string{}
		}
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write expectations: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write expectations: %w", err)
	}
	return nil
}

// CAPEM returns the PEM certificate of the fleet's CA, for clients to
// trust; nil when the fleet serves plain HTTP.
func (f *Fleet) CAPEM() []byte {
	if f.ca == nil {
		return nil
	}
	return f.ca.PEM()
}

// Close stops every host and waits for them to finish.
func (f *Fleet) Close() error {
	var errs []error
	f.once.Do(func() {
		for _, s := range f.servers {
			if err := s.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		f.wg.Wait()
		f.log.Info("fleet stopped", "hosts", len(f.hosts))
	})
	return errors.Join(errs...)
}

// A runner runs commands on a host's machine, adding the host's latency
// and the runner faults: slow (extra delay), hung (never finishes) and
// huge (tens of MiB of noise before the real output).
type runner struct {
	h     *Host
	extra time.Duration
}

func (r *runner) Run(ctx context.Context, inv wsman.Invocation) wsman.Output {
	h := r.h
	for _, k := range h.Faults {
		if k == FaultHung {
			<-ctx.Done()
			return wsman.Output{ExitCode: 1}
		}
	}
	if !sleep(ctx, h.latency+h.slowDelay+r.extra) {
		return wsman.Output{ExitCode: 1}
	}
	m := h.Machine
	m.Mu.Lock()
	calls := m.BackupCalls
	m.Mu.Unlock()
	out := m.Run(ctx, windows.Invocation{CommandLine: inv.CommandLine, Codepage: inv.Codepage, User: inv.User})
	if h.hugeBytes > 0 {
		out.Stdout = append(hugeNoise(h.hugeBytes), out.Stdout...)
	}
	m.Mu.Lock()
	drop := m.DropDuringBackup && m.BackupCalls > calls
	m.Mu.Unlock()
	return wsman.Output{Stdout: out.Stdout, Stderr: out.Stderr, ExitCode: out.ExitCode, Drop: drop}
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// hugeNoise returns about n bytes of console noise: numbered CRLF lines,
// as a chatty profile script prints them.
func hugeNoise(n int) []byte {
	b := make([]byte, 0, n+128)
	for i := 1; len(b) < n; i++ {
		b = append(b, "VERBOSE: Loading module from path 'C:\\Program Files\\WindowsPowerShell\\Modules\\Inventory\\"...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ".psm1'.\r\n"...)
	}
	return b
}
