package winrm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/bitaudit/bitaudit/collectors/winrm/krbseal"
	"github.com/bitaudit/bitaudit/model"
)

const testPassword = "S3cret!pw"

var passwordShape = regexp.MustCompile(`\d{6}(-\d{6}){7}`)

// logBuffer collects log output from concurrent goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func target(t testing.TB, srv *httptest.Server) model.Target {
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	return model.Target{Host: u.Hostname(), Port: port}
}

func basicHTTP(logs io.Writer) Options {
	return Options{Transport: "http", Auth: "basic", User: "admin", Password: model.NewSecret(testPassword),
		AllowUnencrypted: true, OperationTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

func TestCollectBasicHTTP(t *testing.T) {
	host := &fakeHost{user: "admin", pass: testPassword, stdout: collectionOutput(t), chunk: 1000,
		stderr: []byte("#< CLIXML\r\n<Objs Version=\"1.1.0.1\"><S S=\"Error\">warning_x000D__x000A_</S></Objs>"), exit: 1}
	srv := httptest.NewServer(host)
	defer srv.Close()
	c, err := New(basicHTTP(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	facts, vols, err := c.Collect(t.Context(), target(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	if facts.Hostname != "WS-0001" || len(vols) != 3 || !reflect.DeepEqual(facts.Source, c.Describe()) {
		t.Errorf("facts %+v, %d volumes", facts, len(vols))
	}
	if d := c.Describe(); d.Protection != "none" || d.Transport != "http" || d.Auth != "basic" {
		t.Errorf("Describe = %+v", d)
	}
	for _, op := range []string{"Create", "Command", "Delete"} {
		if n := host.count(op); n != 1 {
			t.Errorf("%s sent %d times", op, n)
		}
	}
	// The command ran to its end: Delete frees it (MS-WSMV 3.1.4.4.1), so
	// no Signal is sent first.
	if n := host.count("Signal"); n != 0 {
		t.Errorf("Signal sent %d times after the command ended", n)
	}
	// The command is the embedded script, encoded as powershell.exe expects.
	cmd := host.command
	if len(cmd) > maxCommandLine || !strings.HasPrefix(cmd, "powershell.exe -NoProfile -NonInteractive -EncodedCommand ") {
		t.Fatalf("command line (%d chars): %.80s", len(cmd), cmd)
	}
	raw, err := base64.StdEncoding.DecodeString(cmd[strings.LastIndexByte(cmd, ' ')+1:])
	if err != nil {
		t.Fatal(err)
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
	}
	if got := string(utf16.Decode(u)); got != progressOff+collectScript {
		t.Errorf("decoded command differs from the script: %.120q", got)
	}
	for _, bad := range []string{"RecoveryPassword", "GetKeyProtectorNumericalPassword"} {
		if strings.Contains(collectScript, bad) {
			t.Errorf("collection script reads key material (%s)", bad)
		}
	}
}

func TestEncodedCommandLimit(t *testing.T) {
	if _, err := encodedCommand(strings.Repeat("x", 3019-len(progressOff))); err != nil {
		t.Errorf("3019 UTF-16 units refused: %v", err)
	}
	if _, err := encodedCommand(strings.Repeat("x", 3030)); err == nil || !strings.Contains(err.Error(), "8191") {
		t.Errorf("over-long script: %v", err)
	}
}

func TestCollectHTTPS(t *testing.T) {
	host := &fakeHost{user: "admin", pass: testPassword, stdout: collectionOutput(t)}
	srv := httptest.NewTLSServer(host)
	defer srv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	base := Options{Auth: "basic", User: "admin", Password: model.NewSecret(testPassword)}

	tests := []struct {
		name    string
		opts    func(o *Options)
		wantErr string
	}{
		{"verified with --ca-cert", func(o *Options) { o.CACertPEM = caPEM }, ""},
		{"untrusted", func(o *Options) {}, "certificate not trusted: use --ca-cert"},
		{"insecure skip verify", func(o *Options) { o.InsecureSkipVerify = true }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			tt.opts(&o)
			c, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			if c.Describe().Protection != "tls" {
				t.Errorf("protection %q", c.Describe().Protection)
			}
			_, _, err = c.Collect(t.Context(), target(t, srv))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, model.ErrProtocol) {
				t.Fatalf("err = %v, want %q (protocol)", err, tt.wantErr)
			}
		})
	}
	if _, err := New(Options{User: "u", CACertPEM: []byte("not pem")}); err == nil {
		t.Error("bad CA accepted")
	}
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		o       Options
		wantErr string
	}{
		{Options{User: "u", Auth: "kerberos"}, "needs a Kerberos login"},
		{Options{User: "u", Auth: "kerberos", Kerberos: &krbseal.Login{}, SPNTemplate: "{fqdn}"}, "SPN template"},
		{Options{User: "u", Auth: "kerberos", Kerberos: &krbseal.Login{}, AllowNTLMFallback: true}, "NTLM fallback needs"},
		{Options{User: "u", Auth: "digest"}, "unknown auth"},
		{Options{User: "u", Transport: "ftp"}, "unknown transport"},
		{Options{}, "no user"},
		{Options{User: "u", Transport: "http", Auth: "basic"}, "unprotected"},
		{Options{User: "u", Port: 70000}, "invalid port"},
	}
	for _, tt := range tests {
		if _, err := New(tt.o); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("New(%+v) = %v, want %q", tt.o, err, tt.wantErr)
		}
	}
	c, err := New(Options{Auth: "kerberos", Kerberos: &krbseal.Login{}, Transport: "http"})
	if err != nil || !reflect.DeepEqual(c.Describe(), model.Collection{Collector: "winrm", Transport: "http", Auth: "kerberos", Protection: "kerberos-sealing"}) {
		t.Errorf("kerberos over http: %v %+v", err, c)
	}
	c, err = New(Options{User: "u", Transport: "http"})
	if err != nil || c.Describe().Protection != "ntlm-sealing" || c.opts.Port != 5985 {
		t.Errorf("ntlm over http: %v %+v", err, c)
	}
	c, _ = New(Options{User: "u"})
	if c.opts.Port != 5986 || !reflect.DeepEqual(c.Describe(), model.Collection{Collector: "winrm", Transport: "https", Auth: "ntlm", Protection: "tls"}) {
		t.Errorf("defaults: %+v", c.Describe())
	}
}

// hookFor builds a fakeHost hook from a per-op function.
type hook = func(op string, n int, w http.ResponseWriter, r *http.Request) bool

func soapBody(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func TestCollectFaults(t *testing.T) {
	quota := fault(t, "fault_max_shells.xml")
	denied := fault(t, "fault_access_denied.xml")
	gone := fault(t, "fault_shell_not_found.xml")
	opTimeout := fault(t, "fault_operation_timeout.xml")
	output := collectionOutput(t)
	leak := "111111-222222-333333-444444-555555-666666-000000-111111"
	deleted := make(chan bool, 1)

	tests := []struct {
		name     string
		host     *fakeHost
		opts     func(*Options)
		timeout  time.Duration
		want     error
		msg      []string
		check    func(t *testing.T, h *fakeHost)
		succeeds bool
	}{
		{name: "quota fault on Create keeps the fault text", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Create" {
				quota(w)
				return true
			}
			return false
		}}, want: model.ErrProtocol, msg: []string{"Create", "HTTP 500", "w:InternalError (2150859173)", "maximum number of 30 concurrent shells"},
			check: func(t *testing.T, h *fakeHost) {
				if h.count("Command") != 0 || h.count("Create") != 1 {
					t.Errorf("requests after a quota fault: %v", h.counts)
				}
			}},
		{name: "access denied fault is an auth failure", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Command" {
				denied(w)
				return true
			}
			return false
		}}, want: model.ErrAuth, msg: []string{"Access is denied"}},
		{name: "wrong password basic", host: &fakeHost{user: "admin", pass: "other"}, want: model.ErrAuth,
			msg: []string{"401", "Basic must be enabled"}},
		{name: "401 over unsealed NTLM says encryption", host: &fakeHost{user: "admin", pass: "other"},
			opts: func(o *Options) { o.Auth = "ntlm" }, want: model.ErrAuth,
			msg: []string{"401", "requires encrypted messages", "HTTPS on 5986"}},
		{name: "503 on Create retried then unreachable", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Create" {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		}}, want: model.ErrUnreachable, msg: []string{"503"},
			check: func(t *testing.T, h *fakeHost) {
				if n := h.count("Create"); n != 3 {
					t.Errorf("Create sent %d times, want 1 + 2 retries", n)
				}
			}},
		{name: "503 once then success", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Create" && n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		}}, succeeds: true},
		{name: "connection reset on Create retried", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Create" {
				reset(w)
				return true
			}
			return false
		}}, want: model.ErrUnreachable, msg: []string{"reset or closed"},
			check: func(t *testing.T, h *fakeHost) {
				if n := h.count("Create"); n != 3 {
					t.Errorf("Create sent %d times, want 3", n)
				}
			}},
		{name: "reset during Receive is not retried", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Receive" {
				reset(w)
				return true
			}
			return false
		}}, want: model.ErrUnreachable, msg: []string{"Receive", "reset or closed"},
			check: func(t *testing.T, h *fakeHost) {
				if n := h.count("Command"); n != 1 {
					t.Errorf("Command sent %d times: the script must not run twice", n)
				}
			}},
		{name: "body cut off after the headers", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Receive" {
				conn, buf, _ := http.NewResponseController(w).Hijack()
				buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: 1000\r\n\r\n<s:Envelope")
				buf.Flush()
				conn.Close()
				return true
			}
			return false
		}}, want: model.ErrProtocol, msg: []string{"Receive", "response cut off"}},
		{name: "empty 200 body on Receive", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Receive" {
				soapBody(w, 200, "")
				return true
			}
			return false
		}}, want: model.ErrProtocol, msg: []string{"empty response body"}},
		{name: "non-XML SOAP-typed 200 on Receive", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Receive" {
				soapBody(w, 200, "garbage "+leak)
				return true
			}
			return false
		}}, want: model.ErrProtocol, msg: []string{"invalid SOAP response"}},
		{name: "HTML 200 body", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Receive" {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html><body>IIS</body></html>")
				return true
			}
			return false
		}}, want: model.ErrProtocol, msg: []string{"without a SOAP body", "text/html"}},
		{name: "SOAP-typed html 200 body", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Receive" {
				soapBody(w, 200, "<html><body>IIS</body></html>")
				return true
			}
			return false
		}}, want: model.ErrProtocol, msg: []string{"not a SOAP 1.2 envelope"}},
		{name: "huge body", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Receive" {
				soapBody(w, 200, strings.Repeat("A", 2<<20))
				return true
			}
			return false
		}}, want: model.ErrProtocol, msg: []string{"response larger than"}},
		{name: "huge output capped", host: &fakeHost{stdout: bytes.Repeat([]byte("x"), 1<<20), chunk: 100 << 10},
			opts: func(o *Options) { o.MaxOutputBytes = 300 << 10 }, want: model.ErrProtocol, msg: []string{"output larger than 307200 bytes"},
			check: func(t *testing.T, h *fakeHost) {
				if n := h.count("Receive"); n > 4 {
					t.Errorf("kept reading after the cap: %d Receives", n)
				}
			}},
		{name: "garbled base64 stream", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Receive" {
				soapBody(w, 200, envelope("x/ReceiveResponse", `<rsp:ReceiveResponse><rsp:Stream Name="stdout" CommandId="`+cmdID+`">aGVsbG8gd29y!!</rsp:Stream></rsp:ReceiveResponse>`))
				return true
			}
			return false
		}}, want: model.ErrProtocol, msg: []string{"garbled output stream"}},
		{name: "shell gone on Receive is not polled forever", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Receive" {
				gone(w)
				return true
			}
			return false
		}}, want: model.ErrProtocol, msg: []string{"w:InvalidSelectors (2150858843)", "shell was not found"},
			check: func(t *testing.T, h *fakeHost) {
				if n := h.count("Receive"); n != 1 {
					t.Errorf("%d Receives after a fault", n)
				}
			}},
		{name: "OperationTimeout fault is polled again", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Receive" && n == 1 {
				opTimeout(w)
				return true
			}
			return false
		}}, succeeds: true},
		{name: "instant OperationTimeout faults end at the deadline without spinning", timeout: 2500 * time.Millisecond,
			host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
				if op == "Receive" {
					opTimeout(w)
					return true
				}
				return false
			}}, want: model.ErrTimeout, msg: []string{"deadline"},
			check: func(t *testing.T, h *fakeHost) {
				if n := h.count("Receive"); n > 5 {
					t.Errorf("%d Receives in 2.5s: hot loop", n)
				}
			}},
		{name: "stalled Receive ends at the deadline, then the shell is cleaned up", timeout: time.Second, host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Receive" {
				<-r.Context().Done()
				return true
			}
			if op == "Delete" {
				deleted <- true
			}
			return false
		}}, want: model.ErrTimeout, msg: []string{"while the collection script ran"},
			check: func(t *testing.T, h *fakeHost) {
				// The deadline has passed; the command is still terminated
				// and the shell deleted, in the background.
				select {
				case <-deleted:
				case <-time.After(30 * time.Second):
					t.Fatal("shell never deleted")
				}
				if h.count("Signal") != 1 {
					t.Errorf("no Signal before Delete: %v", h.counts)
				}
			}},
		{name: "stall mid-body ends at the deadline", timeout: time.Second, host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Receive" {
				w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
				io.WriteString(w, envOpen[:100])
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				return true
			}
			return false
		}}, want: model.ErrTimeout},
		{name: "Create without ShellId", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Create" {
				soapBody(w, 200, envelope("x/CreateResponse", ""))
				return true
			}
			return false
		}}, want: model.ErrProtocol, msg: []string{"without a ShellId"}},
		{name: "markup in the ShellId never reaches a request", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Create" {
				soapBody(w, 200, envelope("x/CreateResponse", strings.Replace(createBody, "67A74734-DD32-4F10-89DE-49A060483810", "&lt;/w:Selector&gt;&lt;x/&gt;", 1)))
				return true
			}
			return false
		}}, want: model.ErrProtocol, msg: []string{"Create response with a ShellId with a character other than"},
			check: func(t *testing.T, h *fakeHost) {
				if h.count("Command") != 0 || h.count("Delete") != 0 {
					t.Errorf("requests with the host's markup sent: %v", h.counts)
				}
			}},
		{name: "markup in the CommandId never reaches a request", host: &fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
			if op == "Command" {
				soapBody(w, 200, envelope("x/CommandResponse", strings.Replace(commandBody, "1A6DEE6B-EC68-4DD6-87E9-030C0048ECC4", "a&quot;b", 1)))
				return true
			}
			return false
		}}, want: model.ErrProtocol, msg: []string{"Command response with a CommandId with a character other than"},
			check: func(t *testing.T, h *fakeHost) {
				if h.count("Receive") != 0 || h.count("Signal") != 0 || h.count("Delete") != 1 {
					t.Errorf("requests after a hostile CommandId: %v", h.counts)
				}
			}},
		{name: "truncated output", host: &fakeHost{stdout: output[:len(output)/2]}, want: model.ErrProtocol, msg: []string{"no END marker"}},
		{name: "command line too long on the host", host: &fakeHost{stderr: []byte("The command line is too long.\r\n"), exit: 1},
			want: model.ErrProtocol, msg: []string{"exit code 1", "stderr: The command line is too long."}},
		{name: "not collection output, with a password in it", host: &fakeHost{stdout: []byte("Hello " + leak + "\r\n"),
			stderr: []byte("#< CLIXML\r\n<Objs><S S=\"Error\">Get-CimInstance : Access denied " + leak + "_x000D__x000A_</S></Objs>"), exit: 1},
			want: model.ErrProtocol, msg: []string{"no BEGIN marker", `stdout starts "Hello [redacted]"`, "stderr: Get-CimInstance : Access denied [redacted]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.host
			if h.stdout == nil && h.stderr == nil {
				h.stdout = output
			}
			if h.user == "" {
				h.user, h.pass = "admin", testPassword
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			var logs logBuffer
			o := basicHTTP(&logs)
			if tt.opts != nil {
				tt.opts(&o)
			}
			c, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 20 * time.Second
			}
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			start := time.Now()
			facts, vols, err := c.Collect(ctx, target(t, srv))
			if elapsed := time.Since(start); elapsed > timeout+time.Second {
				t.Errorf("Collect returned %v after its deadline", elapsed-timeout)
			}
			if tt.succeeds {
				if err != nil || facts.Hostname == "" {
					t.Fatalf("err = %v", err)
				}
			} else {
				if err == nil {
					t.Fatalf("no error; %d volumes", len(vols))
				}
				if !errors.Is(err, tt.want) {
					t.Errorf("error %q is not %v (status %s)", err, tt.want, model.StatusForError(err))
				}
				for _, m := range tt.msg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not mention %q", err, m)
					}
				}
				if vols != nil {
					t.Errorf("volumes with an error")
				}
				for _, s := range []string{err.Error(), logs.String()} {
					if passwordShape.MatchString(s) || strings.Contains(s, testPassword) {
						t.Errorf("secret leaked: %s", s)
					}
				}
			}
			if tt.check != nil {
				tt.check(t, h)
			}
		})
	}
}

func TestCollectUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	l.Close()
	c, err := New(basicHTTP(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Collect(t.Context(), model.Target{Host: "127.0.0.1", Port: addr.Port})
	if !errors.Is(err, model.ErrUnreachable) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v", err)
	}
}

func TestCollectCancelled(t *testing.T) {
	srv := httptest.NewServer(&fakeHost{hook: func(op string, n int, w http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done()
		return true
	}})
	defer srv.Close()
	c, _ := New(basicHTTP(io.Discard))
	ctx, cancel := context.WithCancel(t.Context())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, _, err := c.Collect(ctx, target(t, srv))
	if !errors.Is(err, model.ErrInterrupted) {
		t.Errorf("err = %v", err)
	}
}

func TestExcerptNeverCutsAPassword(t *testing.T) {
	pw := "111111-222222-333333-444444-555555-666666-000000-111111"
	for pad := 0; pad < 80; pad++ {
		s := strings.Repeat(" ", pad) + "x " + pw + " tail"
		for raw := 1; raw < len(s); raw++ {
			got := excerpt(s, raw, 60)
			if regexp.MustCompile(`\d{6}`).MatchString(got) {
				t.Fatalf("excerpt(pad %d, raw %d) = %q leaks password digits", pad, raw, got)
			}
		}
	}
}

func TestSPN(t *testing.T) {
	c, err := New(Options{Auth: "kerberos", Kerberos: &krbseal.Login{}})
	if err != nil {
		t.Fatal(err)
	}
	port, _ := New(Options{Auth: "kerberos", Kerberos: &krbseal.Login{}, SPNTemplate: "HTTP/{fqdn}:{port}"})
	for _, tt := range []struct {
		c       *Collector
		t       model.Target
		want    string
		wantErr string
	}{
		{c, model.Target{Host: "win1.corp.example.test"}, "HTTP/win1.corp.example.test", ""},
		{c, model.Target{Host: "127.0.0.5", Port: 5985, FQDN: "win5.corp.example.test"}, "HTTP/win5.corp.example.test", ""},
		{port, model.Target{Host: "win1.corp.example.test"}, "HTTP/win1.corp.example.test:5985", ""},
		{c, model.Target{Host: "10.0.0.7"}, "", "add an fqdn column"},
		{c, model.Target{Host: "fe80::1"}, "", "is an address"},
		{c, model.Target{Host: "10.0.0.7", FQDN: "evil/host@OTHER"}, "", "not a DNS name"},
	} {
		got, err := tt.c.SPN(tt.t, 5985)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, model.ErrAuth) {
				t.Errorf("SPN(%v) = %q, %v; want error %q", tt.t, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("SPN(%v) = %q, %v; want %q", tt.t, got, err, tt.want)
		}
	}
}

// TestCollectScriptFits keeps the embedded script inside cmd.exe's
// 8,191-character command line (encoded: 7,370 characters at format 2).
func TestCollectScriptFits(t *testing.T) {
	cmd, err := encodedCommand(collectScript)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("collection command line: %d of %d characters (script %d)", len(cmd), maxCommandLine, len(collectScript))
	if len(cmd) > maxCommandLine {
		t.Errorf("command line is %d characters", len(cmd))
	}
	if !strings.Contains(collectScript, "##BITAUDIT BEGIN 2") {
		t.Error("script does not print framing version 2")
	}
}
