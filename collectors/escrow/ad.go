package escrow

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/bitaudit/bitaudit/model"
)

// The attributes read from recovery objects. msFVE-RecoveryPassword is
// never among them.
var recoveryAttrs = []string{"cn", "msFVE-RecoveryGuid", "whenCreated"}

// An adKey is one msFVE-RecoveryInformation object.
type adKey struct {
	id      string // normalised protector ID
	dn      string
	parent  string // the computer object's DN
	created *time.Time
}

// adSource queries Active Directory over a bounded pool of bound connections.
type adSource struct {
	cfg      ADConfig
	password model.Secret
	tls      *tls.Config
	pageSize uint32
	log      *slog.Logger

	sem  chan struct{} // one token per connection in use
	mu   sync.Mutex
	idle []*ldap.Conn

	computers sync.Map // lookup key -> *adComputer (nil when none), per run

	// authErr, once a bind is refused, fails every later operation without
	// binding again: thousands of hosts retrying a wrong password would lock
	// the service account out.
	authMu  sync.Mutex
	authErr error
}

func newADSource(cfg *ADConfig, log *slog.Logger) (*adSource, error) {
	password, err := readSecret("ad bind password", cfg.PasswordEnv, cfg.PasswordFile)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("ad url: %w", err)
	}
	tc := &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if cfg.CACertFile != "" {
		pool, err := loadCAs(cfg.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("ad ca_cert_file: %w", err)
		}
		tc.RootCAs = pool
	}
	n := cfg.MaxConns
	if n <= 0 {
		n = defaultMaxConns
	}
	ps := cfg.PageSize
	if ps <= 0 {
		ps = defaultPageSize
	}
	return &adSource{cfg: *cfg, password: password, tls: tc, pageSize: uint32(ps), log: log, sem: make(chan struct{}, n)}, nil
}

func loadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate found", path)
	}
	return pool, nil
}

// dial opens and binds one connection.
func (s *adSource) dial(ctx context.Context) (*ldap.Conn, error) {
	u, err := url.Parse(s.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("ad url: %w", err)
	}
	host := u.Host
	if u.Port() == "" {
		port := "389"
		if u.Scheme == "ldaps" {
			port = "636"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w: %v", host, model.ErrUnreachable, err)
	}
	isTLS := u.Scheme == "ldaps"
	if isTLS {
		tc := tls.Client(raw, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("ldaps %s: TLS handshake: %w", host, err)
		}
		raw = tc
	}
	conn := ldap.NewConn(raw, isTLS)
	conn.SetTimeout(time.Minute)
	conn.Start()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if s.cfg.StartTLS {
		if err := conn.StartTLS(s.tls); err != nil {
			conn.Close()
			return nil, fmt.Errorf("ldap %s: StartTLS: %w", host, err)
		}
	}
	if err := conn.Bind(s.cfg.BindDN, s.password.Reveal()); err != nil {
		conn.Close()
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return nil, fmt.Errorf("ldap bind as %s: %w: %v", s.cfg.BindDN, model.ErrAuth, err)
		}
		return nil, fmt.Errorf("ldap bind as %s: %w", s.cfg.BindDN, err)
	}
	if ctx.Err() != nil {
		conn.Close()
		return nil, ctxErr(ctx)
	}
	return conn, nil
}

func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", model.ErrTimeout, ctx.Err())
	}
	return fmt.Errorf("%w: %v", model.ErrInterrupted, ctx.Err())
}

// with runs fn on a pooled connection, at most MaxConns at a time. A
// connection that failed at the network level is discarded; an idle one
// that turns out to be dead is replaced once.
func (s *adSource) with(ctx context.Context, fn func(*ldap.Conn) error) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctxErr(ctx)
	}
	defer func() { <-s.sem }()
	for attempt := 0; ; attempt++ {
		conn, reused := s.pop()
		if conn == nil {
			s.authMu.Lock()
			err := s.authErr
			s.authMu.Unlock()
			if err != nil {
				return err
			}
			if conn, err = s.dial(ctx); err != nil {
				if errors.Is(err, model.ErrAuth) {
					s.authMu.Lock()
					s.authErr = err
					s.authMu.Unlock()
				}
				return err
			}
		}
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		err := fn(conn)
		if !stop() || ctx.Err() != nil {
			conn.Close()
			return ctxErr(ctx)
		}
		if err != nil && (ldap.IsErrorWithCode(err, ldap.ErrorNetwork) || conn.IsClosing()) {
			conn.Close()
			if reused && attempt == 0 {
				continue
			}
			return fmt.Errorf("%w: %v", model.ErrUnreachable, err)
		}
		s.push(conn)
		return err
	}
}

func (s *adSource) pop() (*ldap.Conn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.idle); n > 0 {
		c := s.idle[n-1]
		s.idle = s.idle[:n-1]
		return c, true
	}
	return nil, false
}

func (s *adSource) push(c *ldap.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle = append(s.idle, c)
}

func (s *adSource) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, c := range s.idle {
		errs = append(errs, c.Close())
	}
	s.idle = nil
	return errors.Join(errs...)
}

// search runs a paged search on a pooled connection.
func (s *adSource) search(ctx context.Context, base string, scope int, filter string, attrs []string) ([]*ldap.Entry, error) {
	req := ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
	var res *ldap.SearchResult
	err := s.with(ctx, func(c *ldap.Conn) error {
		var err error
		res, err = c.SearchWithPaging(req, s.pageSize)
		return err
	})
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ldap search %s %s: %w", base, filter, err)
	}
	return res.Entries, nil
}

// An adComputer is a computer object and the names AD holds for it.
type adComputer struct {
	dn, cn, sam, dnsHostName string
}

// name returns the computer name the object stands for: sAMAccountName
// without its "$", else its CN, upper case.
func (o *adComputer) name() string {
	if n := strings.TrimSuffix(o.sam, "$"); n != "" {
		return strings.ToUpper(n)
	}
	return strings.ToUpper(o.cn)
}

var computerAttrs = []string{"cn", "sAMAccountName", "dNSHostName"}

// computer returns the computer object named by dn (read at that DN), else
// by dNSHostName fqdn, else by sAMAccountName NAME$; nil when there is
// none. Lookups are cached for the Checker's lifetime (one run).
func (s *adSource) computer(ctx context.Context, dn, fqdn, name string) (*adComputer, error) {
	key := strings.ToLower(dn) + "|" + strings.ToLower(fqdn) + "|" + strings.ToLower(name)
	if c, ok := s.computers.Load(key); ok {
		return c.(*adComputer), nil
	}
	type query struct{ base, filter string }
	var qs []query
	switch {
	case dn != "":
		// The operator named the object: read it, nothing else.
		qs = append(qs, query{dn, "(objectClass=computer)"})
	default:
		if fqdn != "" {
			qs = append(qs, query{"", "(&(objectClass=computer)(dNSHostName=" + ldap.EscapeFilter(fqdn) + "))"})
		}
		if name != "" {
			qs = append(qs, query{"", "(&(objectClass=computer)(sAMAccountName=" + ldap.EscapeFilter(strings.ToUpper(name)) + "$))"})
		}
	}
	var found *adComputer
	for _, q := range qs {
		base, scope := q.base, ldap.ScopeBaseObject
		if base == "" {
			base, scope = s.cfg.BaseDN, ldap.ScopeWholeSubtree
		}
		entries, err := s.search(ctx, base, scope, q.filter, computerAttrs)
		if err != nil {
			return nil, err
		}
		if len(entries) > 0 {
			sort.Slice(entries, func(i, j int) bool { return entries[i].DN < entries[j].DN })
			if len(entries) > 1 {
				s.log.Warn("several computer objects match; using the first", "filter", q.filter, "count", len(entries), "dn", entries[0].DN)
			}
			e := entries[0]
			found = &adComputer{dn: e.DN, cn: e.GetAttributeValue("cn"), sam: e.GetAttributeValue("sAMAccountName"), dnsHostName: e.GetAttributeValue("dNSHostName")}
			break
		}
	}
	s.computers.Store(key, found)
	return found, nil
}

// recoveryObjects lists the msFVE-RecoveryInformation children of a computer object.
func (s *adSource) recoveryObjects(ctx context.Context, computerDN string) ([]adKey, error) {
	entries, err := s.search(ctx, computerDN, ldap.ScopeSingleLevel, "(objectClass=msFVE-RecoveryInformation)", recoveryAttrs)
	if err != nil {
		return nil, err
	}
	return s.keys(entries, computerDN), nil
}

// byGUID finds recovery objects for a protector ID anywhere under BaseDN
// (msFVE-RecoveryGuid is indexed in AD).
func (s *adSource) byGUID(ctx context.Context, id string) ([]adKey, error) {
	b, err := encodeGUID(id)
	if err != nil {
		return nil, err
	}
	f := "(&(objectClass=msFVE-RecoveryInformation)(msFVE-RecoveryGuid=" + escapeBinary(b) + "))"
	entries, err := s.search(ctx, s.cfg.BaseDN, ldap.ScopeWholeSubtree, f, recoveryAttrs)
	if err != nil {
		return nil, err
	}
	return s.keys(entries, ""), nil
}

func (s *adSource) keys(entries []*ldap.Entry, parent string) []adKey {
	out := make([]adKey, 0, len(entries))
	for _, e := range entries {
		k := adKey{dn: e.DN, parent: parent}
		if k.parent == "" {
			k.parent = parentDN(e.DN)
		}
		cnID := guidFromCN(e.GetAttributeValue("cn"))
		id, err := decodeGUID(e.GetRawAttributeValue("msFVE-RecoveryGuid"))
		switch {
		case err != nil && cnID == "":
			s.log.Warn("recovery object without a readable GUID; skipped", "dn", e.DN, "err", err)
			continue
		case err != nil:
			id = cnID
		case cnID != "" && cnID != id:
			s.log.Warn("recovery object's CN and msFVE-RecoveryGuid disagree; using msFVE-RecoveryGuid", "dn", e.DN)
		}
		k.id = id
		if t, err := parseGeneralizedTime(e.GetAttributeValue("whenCreated")); err == nil {
			k.created = &t
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dn < out[j].dn })
	return out
}

// parentDN returns the DN one level up, or "" when dn cannot be parsed.
func parentDN(dn string) string {
	d, err := ldap.ParseDN(dn)
	if err != nil || len(d.RDNs) < 2 {
		return ""
	}
	d.RDNs = d.RDNs[1:]
	return d.String()
}

// parseGeneralizedTime parses an LDAP GeneralizedTime such as
// "20231010180000.0Z" (AD) or "20231010180000Z" (OpenLDAP).
func parseGeneralizedTime(s string) (time.Time, error) {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		j := strings.IndexAny(s[i:], "Z+-")
		if j < 0 {
			return time.Time{}, fmt.Errorf("bad GeneralizedTime %q", s)
		}
		s = s[:i] + s[i+j:]
	}
	for _, layout := range []string{"20060102150405Z0700", "20060102150405Z"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad GeneralizedTime %q", s)
}

// uacDisabled is userAccountControl's ACCOUNTDISABLE bit ([MS-ADTS] 2.2.16).
const uacDisabled = 2
