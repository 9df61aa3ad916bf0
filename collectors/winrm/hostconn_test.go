package winrm

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator/wsman"
)

// dropListener closes the first drops connections it accepts right after
// the server's first write on them (for NTLM: the 401 with the challenge),
// as a connection lost between the handshake legs.
type dropListener struct {
	net.Listener
	drops    int32
	accepted atomic.Int32
}

func (l *dropListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.accepted.Add(1) <= l.drops {
		return &dropConn{Conn: c}, nil
	}
	return c, nil
}

type dropConn struct {
	net.Conn
	once sync.Once
}

func (c *dropConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.once.Do(func() { c.Conn.Close() })
	return n, err
}

// TestHandshakeRestartsOnLostConnection loses the connection between the
// NTLM legs: the handshake starts again on a new connection and the host is
// audited; with Collect's own retries off, only the restart can save it.
// When every connection is lost the host is unreachable, never auth_failed.
func TestHandshakeRestartsOnLostConnection(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tls   bool
		opts  Options
		drops int32
		want  error // nil: collected
	}{
		{"https ntlm, one lost", true, Options{Auth: "ntlm"}, 1, nil},
		{"https ntlm, two lost", true, Options{Auth: "ntlm"}, 2, nil},
		{"http sealed, one lost", false, Options{Transport: "http", Auth: "ntlm"}, 1, nil},
		{"http sealed, two lost", false, Options{Transport: "http", Auth: "ntlm"}, 2, nil},
		{"https ntlm, every one lost", true, Options{Auth: "ntlm"}, 1 << 20, model.ErrUnreachable},
		{"http sealed, every one lost", false, Options{Transport: "http", Auth: "ntlm"}, 1 << 20, model.ErrUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dl *dropListener
			s := startSimOn(t, wsman.Config{AllowNTLM: true, RequireEncryption: true}, simMachine(), tc.tls,
				func(ln net.Listener) net.Listener { dl = &dropListener{Listener: ln, drops: tc.drops}; return dl })
			o := tc.opts
			o.User, o.Password, o.CACertPEM, o.Retries = `CORP\auditor`, model.NewSecret(testPassword), s.caPEM, -1
			c, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			_, vols, err := c.Collect(ctx, s.target)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("Collect: %v (status %s)", err, model.StatusForError(err))
			case tc.want == nil && len(vols) == 0:
				t.Fatal("no volumes")
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Collect: %v (status %s), want %v", err, model.StatusForError(err), tc.want)
			}
			if got, min := dl.accepted.Load(), min(tc.drops, handshakeAttempts)+1; tc.want == nil && got < min {
				t.Errorf("%d connections, want at least %d", got, min)
			}
		})
	}
}

// TestHostConnOneConnection checks the connection discipline: requests go
// over one connection in turn; a "Connection: close" answer ends it and the
// next request dials again; a cancelled request ends at once.
func TestHostConnOneConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch string(b) {
		case "close":
			w.Header().Set("Connection", "close")
		case "hang":
			<-r.Context().Done()
			return
		}
		io.WriteString(w, "echo:"+string(b))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	hc := newHostConn(srv.Listener.Addr().String(), nil, &net.Dialer{Timeout: 5 * time.Second}, 10*time.Second)
	defer hc.Close()
	post := func(ctx context.Context, body string) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/wsman", strings.NewReader(body))
		resp, err := hc.RoundTrip(req)
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	for _, step := range []struct {
		body      string
		want      string
		wantConns int32
	}{
		{"a", "echo:a", 1},
		{"b", "echo:b", 1},
		{"close", "echo:close", 1},
		{"c", "echo:c", 2},
		{"d", "echo:d", 2},
	} {
		got, err := post(t.Context(), step.body)
		if err != nil || got != step.want {
			t.Fatalf("%s: %q, %v; want %q", step.body, got, err, step.want)
		}
		if n := conns.Load(); n != step.wantConns {
			t.Fatalf("after %s: %d connections, want %d", step.body, n, step.wantConns)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	if _, err := post(ctx, "hang"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled request returned after %v", d)
	}
	if got, err := post(t.Context(), "e"); err != nil || got != "echo:e" || conns.Load() != 3 {
		t.Fatalf("after cancel: %q, %v, %d connections; want echo:e on a third", got, err, conns.Load())
	}
}
