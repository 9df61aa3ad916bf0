package winrm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	mwinrm "github.com/masterzen/winrm"

	"github.com/bitaudit/bitaudit/collectors/bitlocker"
	"github.com/bitaudit/bitaudit/collectors/winrm/krbseal"
	"github.com/bitaudit/bitaudit/collectors/winrm/ntlmseal"
	"github.com/bitaudit/bitaudit/model"
)

// Options configure a Collector. The zero value of each field is its default.
type Options struct {
	// Transport is "https" (default) or "http".
	Transport string
	// Port is the WinRM port; 0 means 5986 for https, 5985 for http. A
	// target's own port wins.
	Port int
	// Auth is "ntlm" (default), "basic", "kerberos" or "negotiate"
	// (Kerberos, and NTLM only for hosts Kerberos cannot reach when
	// AllowNTLMFallback is set).
	Auth     string
	User     string
	Password model.Secret
	// CACertPEM adds CAs to trust besides the system roots.
	CACertPEM []byte
	// InsecureSkipVerify turns off certificate verification (explicit opt-out).
	InsecureSkipVerify bool
	// AllowUnencrypted permits plain HTTP without message protection:
	// Basic over http, or NTLM over http without sealing. Only when the
	// user asked for it explicitly.
	AllowUnencrypted bool
	// OperationTimeout is the WS-Management OperationTimeout (default 20s);
	// HTTP timeouts are derived from it (winrm.md §1.5 M4).
	OperationTimeout time.Duration
	// MaxOutputBytes caps the output read from one host (default 8 MiB).
	MaxOutputBytes int64
	// Retries is how often a transient failure before the script started
	// (connection reset, HTTP 503) is retried (default 2; negative: never).
	Retries int
	// Kerberos is the login shared by every host, for Auth "kerberos" and
	// "negotiate".
	Kerberos *krbseal.Login
	// SPNTemplate makes a host's service principal from its DNS name
	// ({fqdn}) and port ({port}); default "HTTP/{fqdn}" (kerberos.md
	// §2.2; "HTTP/{fqdn}:{port}" when an IIS account owns HTTP/<fqdn>).
	SPNTemplate string
	// AllowNTLMFallback lets "negotiate" use NTLM for a host without a
	// Kerberos service ticket (no DNS name, unknown SPN, KDC unreachable).
	AllowNTLMFallback bool
	// Hosts maps lower-case host names to addresses, consulted before DNS
	// (a hosts(5) file: [ParseHostsFile]). TLS still verifies the name.
	Hosts map[string]netip.Addr
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
}

// DefaultSPNTemplate is the service principal WinRM hosts are known by.
const DefaultSPNTemplate = "HTTP/{fqdn}"

// A Collector runs the collection script on Windows hosts over WinRM. It is
// safe for concurrent use; each Collect has its own WinRM client and state.
type Collector struct {
	opts     Options
	command  string
	requests requestTemplates // masterzen's, built once
	tls      *tls.Config      // verified, shared by every host; ServerName set per host
	dialer   *net.Dialer
	https    bool
	sealing  bool
}

// New checks opts and prepares a Collector.
func New(opts Options) (*Collector, error) {
	switch opts.Transport {
	case "":
		opts.Transport = "https"
	case "https", "http":
	default:
		return nil, fmt.Errorf("winrm: unknown transport %q (want https or http)", opts.Transport)
	}
	if opts.SPNTemplate == "" {
		opts.SPNTemplate = DefaultSPNTemplate
	}
	switch opts.Auth {
	case "":
		opts.Auth = "ntlm"
	case "ntlm", "basic":
	case "kerberos", "negotiate":
		if opts.Kerberos == nil {
			return nil, fmt.Errorf("winrm: auth %q needs a Kerberos login", opts.Auth)
		}
		if !strings.Contains(opts.SPNTemplate, "{fqdn}") || !strings.Contains(opts.SPNTemplate, "/") {
			return nil, fmt.Errorf("winrm: SPN template %q must look like HTTP/{fqdn} or HTTP/{fqdn}:{port}", opts.SPNTemplate)
		}
		if opts.AllowNTLMFallback && (opts.Auth != "negotiate" || opts.Password.Reveal() == "") {
			return nil, errors.New("winrm: NTLM fallback needs --auth negotiate and a password")
		}
	default:
		return nil, fmt.Errorf("winrm: unknown auth %q (want ntlm, basic, kerberos or negotiate)", opts.Auth)
	}
	if opts.User == "" && opts.Kerberos == nil {
		return nil, errors.New("winrm: no user name")
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("winrm: invalid port %d", opts.Port)
	}
	if opts.Port == 0 {
		opts.Port = 5986
		if opts.Transport == "http" {
			opts.Port = 5985
		}
	}
	if opts.Transport == "http" && opts.Auth == "basic" && !opts.AllowUnencrypted {
		return nil, errors.New("winrm: basic authentication over http sends the password and all data unprotected; use https, or allow unencrypted transport explicitly")
	}
	if opts.OperationTimeout <= 0 {
		opts.OperationTimeout = 20 * time.Second
	}
	opts.OperationTimeout = opts.OperationTimeout.Round(time.Second)
	if opts.OperationTimeout < time.Second {
		opts.OperationTimeout = time.Second
	}
	if opts.MaxOutputBytes <= 0 {
		opts.MaxOutputBytes = 8 << 20
	}
	switch {
	case opts.Retries == 0:
		opts.Retries = 2
	case opts.Retries < 0:
		opts.Retries = 0
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cmd, err := encodedCommand(collectScript)
	if err != nil {
		return nil, fmt.Errorf("winrm: %w", err)
	}
	tlsConf, err := tlsConfig(opts)
	if err != nil {
		return nil, err
	}
	// One Parameters for the Collector, never the package's
	// DefaultParameters (M15).
	params := mwinrm.NewParameters("PT"+strconv.Itoa(int(opts.OperationTimeout/time.Second))+"S", "en-US", envelopeSize)
	return &Collector{
		opts:     opts,
		command:  cmd,
		requests: newRequestTemplates(params),
		tls:      tlsConf,
		// WinRM goes direct, never through an environment proxy.
		dialer:  &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		https:   opts.Transport == "https",
		sealing: opts.Transport == "http" && opts.Auth != "basic" && !opts.AllowUnencrypted,
	}, nil
}
func tlsConfig(opts Options) (*tls.Config, error) {
	conf := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: opts.InsecureSkipVerify,
		// A connection to a host seen before in this run (a retry, a
		// handshake restarted on a new connection) resumes its TLS
		// session where the host allows it.
		ClientSessionCache: tls.NewLRUClientSessionCache(1024),
	}
	if len(opts.CACertPEM) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(opts.CACertPEM) {
			return nil, errors.New("winrm: CA certificate file holds no PEM certificate")
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

// scheme is the URL scheme of the Collector's transport.
func (c *Collector) scheme() string {
	if c.https {
		return "https"
	}
	return "http"
}

// Describe says how this Collector reaches hosts, for the result document.
// Under "negotiate" a host's own facts say which scheme it used.
func (c *Collector) Describe() model.Collection {
	auth := c.opts.Auth
	if auth == "negotiate" {
		auth = "kerberos"
	}
	return c.describe(auth)
}

func (c *Collector) describe(auth string) model.Collection {
	p := "none"
	switch {
	case c.https:
		p = "tls"
	case auth == "kerberos":
		p = "kerberos-sealing"
	case auth == "ntlm" && c.sealing:
		p = "ntlm-sealing"
	}
	return model.Collection{Collector: "winrm", Transport: c.opts.Transport, Auth: auth, Protection: p}
}

// hostAuth is how one host is authenticated: the scheme and, for
// Kerberos, the service principal.
type hostAuth struct {
	scheme string // basic, ntlm, kerberos
	spn    string
}

// connect returns the round tripper for one Collect attempt on one host,
// choosing in this one place how requests reach it, and the connection under
// it. Every request of the attempt goes over that one connection, so a
// connection-bound security context never meets another host's requests:
// Basic goes straight over it; Kerberos is authenticated by krbseal, and
// sealed over http; NTLM over http without AllowUnencrypted is sealed by
// ntlmseal (MS-WSMV message encryption); other NTLM is authenticated (not
// sealed) by ntlmAuth.
func (c *Collector) connect(host string, port int, a hostAuth) (http.RoundTripper, *hostConn) {
	var conf *tls.Config
	if c.https {
		conf = c.tls.Clone()
		conf.ServerName = host
	}
	// The deadline for one request must exceed OperationTimeout, or
	// long-polled Receives race it (winrm.md §1.5, M4).
	conn := newHostConn(net.JoinHostPort(c.resolve(host), strconv.Itoa(port)), conf, c.dialer, c.opts.OperationTimeout+10*time.Second)
	switch {
	case a.scheme == "basic":
		return conn, conn
	case a.scheme == "kerberos":
		return krbseal.NewRoundTripper(conn, c.opts.Kerberos, a.spn, !c.https), conn
	case c.sealing:
		return ntlmseal.NewRoundTripper(conn, c.opts.User, c.opts.Password.Reveal(), ""), conn
	default:
		return &ntlmAuth{conn: conn, user: c.opts.User, password: c.opts.Password.Reveal(), spn: a.spn}, conn
	}
}

// SPN returns the Kerberos service principal of t: the template filled
// with the target's DNS name ([model.Target.DNSName]: its fqdn column, else
// its host when that is a name) and port. An address has no SPN (kerberos.md §2.2).
func (c *Collector) SPN(t model.Target, port int) (string, error) {
	fqdn := t.DNSName()
	if fqdn == "" {
		return "", &opError{op: "setup", kind: model.ErrAuth, msg: "kerberos needs the host's DNS name for its service principal, and " + t.Host +
			" is an address: list the host by name, or add an fqdn column to the targets CSV (or use --auth negotiate --allow-ntlm-fallback)"}
	}
	if strings.ContainsAny(fqdn, "/@ \t") {
		return "", &opError{op: "setup", kind: model.ErrAuth, msg: "fqdn " + bitlocker.Clean(fqdn, 80) + " is not a DNS name"}
	}
	r := strings.NewReplacer("{fqdn}", fqdn, "{port}", strconv.Itoa(port))
	return r.Replace(c.opts.SPNTemplate), nil
}

// hint401 explains a 401 for this configuration.
func (c *Collector) hint401(a hostAuth) string {
	switch {
	case a.scheme == "kerberos":
		return "the host refused the Kerberos login: check that " + a.spn + " belongs to this computer and that the account may use WinRM"
	case a.scheme == "basic":
		return "check the user and password; Basic must be enabled on the host's WinRM service and works only for local accounts"
	case !c.https && !c.sealing:
		return "wrong user or password, or (most likely if they are right) the host requires encrypted messages " +
			"(AllowUnencrypted=false, Windows' default): use HTTPS on 5986 (--transport https) or NTLM message sealing over http"
	default:
		return "check the user and password (DOMAIN\\user or user@domain) and that the account may use WinRM"
	}
}

// Collect runs the collection script once on t and decodes its output. It
// returns by ctx's deadline (give ctx one: a hung host otherwise keeps it
// polling); errors wrap model.ErrUnreachable, ErrAuth, ErrTimeout,
// ErrProtocol, ErrNoData or ErrInterrupted and name the target.
func (c *Collector) Collect(ctx context.Context, t model.Target) (model.HostFacts, []model.Volume, error) {
	res, a, err := c.runCommand(ctx, t, c.command)
	if err != nil {
		return model.HostFacts{}, nil, fmt.Errorf("%s: %w", t, err)
	}
	facts, vols, err := bitlocker.DecodeCollection(res.stdout)
	if err != nil {
		return model.HostFacts{}, nil, fmt.Errorf("%s: collection output (exit code %d%s%s): %w", t, res.exit, stdoutExcerpt(string(res.stdout)), stderrExcerpt(string(res.stderr)), err)
	}
	src := c.describe(a.scheme)
	src.LanguageMode, src.EventsSkipped, src.SectionErrors = facts.Source.LanguageMode, facts.Source.EventsSkipped, facts.Source.SectionErrors
	facts.Source = src
	return facts, vols, nil
}

// runCommand runs command on t: authentication chosen per host,
// transient failures before the command was sent retried, Kerberos
// falling back to NTLM where allowed (only when no ticket could be had, so
// the command was never sent). Errors do not name the target.
func (c *Collector) runCommand(ctx context.Context, t model.Target, command string) (run, hostAuth, error) {
	port := c.opts.Port
	if t.Port != 0 {
		port = t.Port
	}
	url := c.scheme() + "://" + net.JoinHostPort(t.Host, strconv.Itoa(port)) + "/wsman"
	log := c.opts.Logger.With("target", t.String())

	a, err := c.hostAuth(t, port)
	if err != nil {
		return run{}, a, err
	}
	res, err := c.collect(ctx, command, url, t.Host, port, a, log)
	if err != nil && a.scheme == "kerberos" && c.fallBack(err) {
		log.Info("winrm: kerberos failed, falling back to NTLM as allowed", "err", err)
		a.scheme = "ntlm"
		res, err = c.collect(ctx, command, url, t.Host, port, a, log)
	}
	return res, a, err
}

// hostAuth decides how t is authenticated. Under "negotiate" with
// fallback, a target without a DNS name goes to NTLM at once.
func (c *Collector) hostAuth(t model.Target, port int) (hostAuth, error) {
	switch c.opts.Auth {
	case "kerberos", "negotiate":
		spn, err := c.SPN(t, port)
		if err != nil {
			if c.opts.AllowNTLMFallback {
				return hostAuth{scheme: "ntlm", spn: "HTTP/" + t.Host}, nil
			}
			return hostAuth{}, err
		}
		return hostAuth{scheme: "kerberos", spn: spn}, nil
	}
	// NTLM names its target too (MsvAvTargetName): the SPN when the
	// target has a DNS name, else its address.
	spn, err := c.SPN(t, port)
	if err != nil {
		spn = "HTTP/" + t.Host
	}
	return hostAuth{scheme: c.opts.Auth, spn: spn}, nil
}

// fallBack reports whether a Kerberos failure allows trying NTLM: only with
// AllowNTLMFallback, and only when no ticket could be had (Windows'
// Negotiate falls back in the same cases); a host that refused a valid
// ticket, or a wrong password, is never retried with NTLM.
func (c *Collector) fallBack(err error) bool {
	if !c.opts.AllowNTLMFallback {
		return false
	}
	var f *krbseal.Failure
	if !errors.As(err, &f) {
		return false
	}
	return f.Reason == krbseal.ReasonKDCUnreachable || strings.HasPrefix(f.Reason, krbseal.ReasonUnknownSPN)
}

// collect runs command with retries of transient failures that happened
// before it was sent (never after: a remote action must not run twice).
func (c *Collector) collect(ctx context.Context, command, url, host string, port int, a hostAuth, log *slog.Logger) (run, error) {
	var (
		res run
		err error
	)
	for attempt := 0; ; attempt++ {
		res, err = c.runOnce(ctx, command, url, host, port, a, log)
		if err == nil || !res.retryable || attempt >= c.opts.Retries {
			break
		}
		d := backoff(attempt)
		log.Debug("winrm: transient failure, retrying", "attempt", attempt+1, "in", d, "err", err)
		if !sleep(ctx, d) {
			e := ctxError(ctx, "retry")
			e.msg += " waiting to retry after: " + err.Error()
			err = e
			break
		}
	}
	return res, err
}

// run is the outcome of one attempt.
type run struct {
	stdout, stderr []byte
	exit           int
	retryable      bool
	// sent says the command reached the host: after a failure it may or
	// may not have run.
	sent bool
}

// runOnce runs command once. It returns when the script finished or ctx
// ended, whichever is first; after ctx ended, the shell's Signal and
// Delete are still sent in the background (transport.cleanup).
func (c *Collector) runOnce(parent context.Context, command, url, host string, port int, a hostAuth, log *slog.Logger) (run, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	st := &runState{}
	rt, conn := c.connect(host, port, a)
	tr := &transport{
		ctx:      ctx,
		client:   &http.Client{Transport: rt, Timeout: c.opts.OperationTimeout + 15*time.Second, CheckRedirect: keepRedirect},
		url:      url,
		req:      &c.requests,
		basic:    a.scheme == "basic",
		user:     c.opts.User,
		password: c.opts.Password,
		hint401:  c.hint401(a),
		maxOut:   c.opts.MaxOutputBytes,
		log:      log,
		run:      st,
	}

	// The a:To address as masterzen's Client gives it (endpoint.go).
	tr.vals[slotTo] = fmt.Sprintf("%s://%s:%d/wsman", c.scheme(), host, port)

	done := make(chan run, 1)
	go func() {
		var r run
		// The last request (Delete, or a cleanup after ctx ended) is
		// over when runShell returns.
		defer conn.Close()
		defer func() {
			if p := recover(); p != nil {
				log.Error("winrm: internal error", "panic", fmt.Sprint(p))
				st.fail(&opError{op: "run", kind: model.ErrProtocol, msg: "internal error handling the host's answers"})
				r = run{exit: -1}
			}
			done <- r
		}()
		code, err := tr.runShell(command)
		if err != nil {
			st.fail(err)
		}
		st.mu.Lock()
		r = run{stdout: st.stdout, stderr: st.stderr, exit: code}
		st.mu.Unlock()
	}()

	var r run
	select {
	case r = <-done:
	case <-ctx.Done():
		st.mu.Lock()
		sent := st.commandSent
		st.mu.Unlock()
		return run{sent: sent}, st.deadline(ctx)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.firstErr != nil {
		var oe *opError
		retry := errors.As(st.firstErr, &oe) && oe.transient && !st.commandSent
		return run{retryable: retry, sent: st.commandSent}, st.firstErr
	}
	return r, nil
}

// runShell runs command in a new shell: Create, Command, Receive until the
// command is done, Delete, each request as masterzen/winrm's RunWithString
// would send it (requestTemplates). Unlike masterzen, a command that ran to
// its end is not sent Signal (terminate) before the shell's Delete: "Any
// commands in progress SHOULD be immediately terminated and all resources
// for the Shell SHOULD be freed" on Delete (MS-WSMV 3.1.4.4.1), and a
// Signal would count against the user's MaxConcurrentOperationsPerUser
// until then (MS-WSMV <118>). A command that did not end (a failed or
// cancelled Receive) is terminated with Signal first.
//
// The output is kept by the transport as the Receives answer (runState).
// An OperationTimeout fault means no output within OperationTimeout: the
// Receive is sent again, no sooner than minFaultInterval after the last
// (winrm.md §1.5).
func (t *transport) runShell(command string) (int, error) {
	resp, err := t.send("Create", t.request(&t.req.create))
	if err != nil {
		return 1, err
	}
	t.vals[slotShellID] = resp.shellID
	// Deleted even when Command fails: the shell exists.
	defer func() { t.send("Delete", t.request(&t.req.delete)) }()
	t.vals[slotCommand] = command
	resp, err = t.send("Command", t.request(&t.req.command))
	t.vals[slotCommand] = ""
	if err != nil {
		return 1, err
	}
	t.vals[slotCommandID] = resp.cmdID
	for {
		start := time.Now()
		resp, err = t.send("Receive", t.request(&t.req.receive))
		var oe *opError
		switch {
		case errors.As(err, &oe) && oe.pollAgain:
			t.pause(minFaultInterval - time.Since(start))
			continue
		case err != nil:
			t.send("Signal", t.request(&t.req.signal))
			return 1, err
		case resp.done:
			return resp.exit(), nil
		}
	}
}

// request is the next request of kind rt, with a MessageID of its own.
func (t *transport) request(rt *requestTemplate) string {
	t.vals[slotMessageID] = newMessageID()
	return rt.fill(&t.vals)
}

// backoff is the jittered delay before retry attempt+1: 250ms, 500ms, …
// ±50%, at most 5s.
func backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond << min(attempt, 4)
	d = min(d, 5*time.Second)
	return d/2 + rand.N(d)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// deadline is the error for a run the context ended, saying how far it got.
func (r *runState) deadline(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := ctxError(ctx, "run")
	switch {
	case !r.connected:
		e.msg += " before the host answered"
	case !r.commandSent:
		e.msg += " while opening a shell"
	default:
		e.msg += fmt.Sprintf(" while the collection script ran (%d output polls, %d bytes received)", r.receives, r.out)
	}
	return e
}
