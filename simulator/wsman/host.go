package wsman

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bitaudit/bitaudit/simulator/krbsession"
)

// An Invocation is one command a client asked a shell to run.
type Invocation struct {
	CommandLine string // rsp:Command + " " + each rsp:Arguments
	Codepage    int    // WINRS_CODEPAGE of the shell: 65001 or 437
	User        string // the authenticated user name as the client sent it, without a DOMAIN\ prefix
}

// An Output is what a command printed and how it ended.
type Output struct {
	Stdout, Stderr []byte
	ExitCode       int
	// Drop resets the connection at every Receive of the command instead
	// of delivering its output: the command ran, the client never learns
	// how it ended (the drop-mid-action profile).
	Drop bool
}

// A Runner runs commands for a host. Its context is cancelled when the
// client terminates the command, deletes the shell, or the shell expires.
type Runner interface {
	Run(ctx context.Context, inv Invocation) Output
}

// RunnerFunc adapts a function to [Runner].
type RunnerFunc func(ctx context.Context, inv Invocation) Output

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, inv Invocation) Output { return f(ctx, inv) }

// Auth is an authentication scheme a host accepts.
type Auth int

// Authentication schemes.
const (
	AuthBasic Auth = iota
	AuthNTLM
	AuthKerberos
)

func (a Auth) String() string {
	switch a {
	case AuthBasic:
		return "basic"
	case AuthNTLM:
		return "ntlm"
	case AuthKerberos:
		return "kerberos"
	}
	return fmt.Sprintf("Auth(%d)", int(a))
}

// A Fault is an injected misbehaviour; see the package documentation.
type Fault string

// Fault profiles.
const (
	FaultNone      Fault = ""
	FaultReset     Fault = "reset"
	FaultStall     Fault = "stall"
	FaultTruncated Fault = "truncated"
	FaultGarbled   Fault = "garbled"
	FaultQuota     Fault = "quota"
	FaultNonSOAP   Fault = "nonsoap"
)

// Faults lists the fault profiles a [Config] accepts.
var Faults = []Fault{FaultNone, FaultReset, FaultStall, FaultTruncated, FaultGarbled, FaultQuota, FaultNonSOAP}

// Windows defaults (docs/winrm.md §4.1).
const (
	DefaultMaxShellsPerUser               = 30
	DefaultMaxConcurrentOperationsPerUser = 1500
	DefaultMaxTimeout                     = 60 * time.Second
	DefaultMaxEnvelopeSize                = 512000
	DefaultIdleTimeout                    = 7200 * time.Second
)

const (
	// stallLimit bounds how long the stall fault holds a response.
	stallLimit = 10 * time.Minute
	// ioTimeout bounds reading one request body and writing one response.
	ioTimeout = 30 * time.Second
)

// Config describes one simulated host's WinRM service.
type Config struct {
	ComputerName, NetBIOSDomain, DNSDomain string // NTLM target info; ComputerName is the fault Machine

	User, Password string // the one account accepted; user compared case-insensitively, optional DOMAIN\ prefix

	AllowBasic, AllowNTLM bool
	// CBT is CbtHardeningLevel for NTLM over HTTPS (cbt.go); empty means
	// none. TLSCertificate is the host's certificate (DER) it checks the
	// bindings against.
	CBT            CBT
	TLSCertificate []byte
	// Kerberos, when set, accepts Kerberos (SPNEGO or the Kerberos
	// scheme) with its service keys, as a domain member does; kerberos.go.
	Kerberos *krbsession.Acceptor
	// RequireEncryption is Windows' AllowUnencrypted=false: plain-HTTP
	// requests without message encryption are refused with 401. HTTPS is
	// unaffected.
	RequireEncryption bool

	Fault Fault

	MaxShellsPerUser               int           // 0 → 30
	MaxConcurrentOperationsPerUser int           // 0 → 1500
	MaxTimeout                     time.Duration // MaxTimeoutms; 0 → 60s
	MaxEnvelopeSize                int           // bytes; 0 → 512000
	IdleTimeout                    time.Duration // 0 → 7200s

	Runner Runner
}

// Allows reports whether the configuration accepts scheme a.
func (c Config) Allows(a Auth) bool {
	switch a {
	case AuthBasic:
		return c.AllowBasic
	case AuthNTLM:
		return c.AllowNTLM
	case AuthKerberos:
		return c.Kerberos != nil
	}
	return false
}

// Stats counts what a host has served.
type Stats struct {
	Requests        int64 // HTTP requests, including 401s
	Unauthorized    int64 // 401 answers
	Shells          int64 // shells created
	Commands        int64 // commands started
	Receives        int64 // Receive requests
	ReceiveTimeouts int64 // Receives answered with the TimedOut fault
	Faults          int64 // SOAP faults sent
}

type counters struct {
	requests, unauthorized, shells, commands, receives, receiveTimeouts, faults atomic.Int64
}

// A Host is one simulated Windows WinRM service.
type Host struct {
	cfg     Config
	user    string // cfg.User without a DOMAIN\ prefix
	srv     *http.Server
	closed  chan struct{}
	closeMu sync.Once
	stats   counters

	mu       sync.Mutex
	shells   map[string]*shell
	sweeping bool // a sweep goroutine runs while shells exist
}

// NewHost validates cfg, fills in Windows defaults and returns a host ready
// to [Host.Serve].
func NewHost(cfg Config) (*Host, error) {
	if cfg.Runner == nil {
		return nil, errors.New("wsman: config has no Runner")
	}
	if cfg.User == "" {
		return nil, errors.New("wsman: config has no User")
	}
	if !cfg.AllowBasic && !cfg.AllowNTLM && cfg.Kerberos == nil {
		return nil, errors.New("wsman: config allows no authentication scheme")
	}
	switch cfg.CBT {
	case "", CBTNone:
	case CBTRelaxed, CBTStrict:
		if cfg.TLSCertificate == nil {
			return nil, errors.New("wsman: a channel-binding level needs the host's TLS certificate")
		}
		if _, err := serverEndPointHash(cfg.TLSCertificate); err != nil {
			return nil, fmt.Errorf("wsman: TLS certificate: %w", err)
		}
	default:
		return nil, fmt.Errorf("wsman: unknown CbtHardeningLevel %q", cfg.CBT)
	}
	valid := false
	for _, f := range Faults {
		valid = valid || f == cfg.Fault
	}
	if !valid {
		return nil, fmt.Errorf("wsman: unknown fault %q", cfg.Fault)
	}
	if cfg.ComputerName == "" {
		cfg.ComputerName = "WIN-SIM"
	}
	if cfg.MaxShellsPerUser <= 0 {
		cfg.MaxShellsPerUser = DefaultMaxShellsPerUser
	}
	if cfg.MaxConcurrentOperationsPerUser <= 0 {
		cfg.MaxConcurrentOperationsPerUser = DefaultMaxConcurrentOperationsPerUser
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = DefaultMaxTimeout
	}
	if cfg.MaxEnvelopeSize <= 0 {
		cfg.MaxEnvelopeSize = DefaultMaxEnvelopeSize
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	user := cfg.User
	if _, u, ok := strings.Cut(user, `\`); ok {
		user = u
	}
	h := &Host{
		cfg:    cfg,
		user:   user,
		closed: make(chan struct{}),
		shells: map[string]*shell{},
	}
	h.srv = &http.Server{
		Handler: h,
		// Long-polls must not be cut: no WriteTimeout. A client that stops
		// sending cannot pin a goroutine: headers and idle keep-alives time out.
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, &connState{conn: c})
		},
		ErrorLog: discardLog,
	}
	return h, nil
}

// Serve accepts HTTP connections on ln until [Host.Close]. For HTTPS pass a
// listener wrapped with [crypto/tls.NewListener]; per-connection NTLM state
// works the same.
func (h *Host) Serve(ln net.Listener) error {
	err := h.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the host: listeners and connections are closed, running
// commands are cancelled.
func (h *Host) Close() error {
	h.closeMu.Do(func() { close(h.closed) })
	err := h.srv.Close()
	h.mu.Lock()
	for id, s := range h.shells {
		s.cancelAll()
		delete(h.shells, id)
	}
	h.mu.Unlock()
	return err
}

// Stats returns a snapshot of the host's counters.
func (h *Host) Stats() Stats {
	c := &h.stats
	return Stats{
		Requests: c.requests.Load(), Unauthorized: c.unauthorized.Load(), Shells: c.shells.Load(),
		Commands: c.commands.Load(), Receives: c.receives.Load(), ReceiveTimeouts: c.receiveTimeouts.Load(),
		Faults: c.faults.Load(),
	}
}

// ServeHTTP answers POST /wsman like HTTP.sys and the WinRM service.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.stats.requests.Add(1)
	w.Header().Set("Server", serverHeader)
	if r.URL.Path != "/wsman" {
		httpError(w, http.StatusNotFound, "Not Found", "The requested resource is not found.")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		httpError(w, http.StatusMethodNotAllowed, "Method Not Allowed", "The request method is not supported.")
		return
	}
	// Bound the request body read: a client that stops sending must not pin
	// this goroutine. Long-polls are unaffected: the read deadline is lifted
	// as soon as the body is in, and the write deadline renewed before the
	// reply is written.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(ioTimeout))
	writeDeadline(w)
	if h.cfg.Fault == FaultNonSOAP {
		drain(r)
		httpError(w, http.StatusInternalServerError, "Internal Server Error",
			"The server encountered an unexpected condition that prevented it from fulfilling the request.")
		return
	}
	c, _ := r.Context().Value(connKey{}).(*connState)
	if c == nil { // served outside Serve, e.g. by httptest: no connection state
		c = &connState{}
	}
	user, ok := h.authenticate(w, r, c)
	if !ok {
		return
	}
	body, err := c.readBody(r, h.cfg.MaxEnvelopeSize)
	_ = rc.SetReadDeadline(time.Time{})
	if h.answerSealing(w, err) {
		return
	}
	if errors.Is(err, errUnencrypted) && h.cfg.RequireEncryption && r.TLS == nil {
		// AllowUnencrypted=false: Windows answers a bare 401 (packer#6205).
		h.unauthorized(w, r)
		return
	}
	var rep reply
	switch {
	case errors.Is(err, errTooLarge):
		rep = h.faultReply(faultEnvelopeTooLarge(), "")
	case err != nil && !errors.Is(err, errUnencrypted):
		return // client went away
	default:
		rep = h.handle(r.Context(), body, peer{user: user, ip: clientIP(r), address: address(r)})
	}
	h.write(w, r, c, rep)
}

// write sends a SOAP reply, applying the injected fault to Receive replies.
func (h *Host) write(w http.ResponseWriter, r *http.Request, c *connState, rep reply) {
	if rep.cmd != nil && h.inject(w, r, rep) {
		return
	}
	writeDeadline(w)
	ct, body := c.encodeBody(r, rep.body)
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(body) // a write error means the client is gone
}

// writeDeadline bounds the writes of a reply: a client that stops reading
// must not pin the handler. Net/http keeps deadlines across keep-alive
// requests, so every reply renews it.
func writeDeadline(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(ioTimeout))
}

func httpError(w http.ResponseWriter, status int, title, text string) {
	page := `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">` + "\r\n" +
		`<HTML><HEAD><TITLE>` + title + `</TITLE>` + "\r\n" +
		`<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>` + "\r\n" +
		`<BODY><h2>` + title + `</h2>` + "\r\n" +
		fmt.Sprintf(`<hr><p>HTTP Error %d. %s</p>`, status, text) + "\r\n" +
		`</BODY></HTML>` + "\r\n"
	w.Header().Set("Content-Type", "text/html; charset=us-ascii")
	w.Header().Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(page))
}

// address is the endpoint the client addressed, as Create echoes it.
func address(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/wsman"
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
