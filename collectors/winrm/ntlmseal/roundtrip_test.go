package ntlmseal_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/collectors/winrm/ntlmseal"
	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator/ntlmsession"
)

// host is a loopback WinRM-like endpoint that requires sealing: it runs the
// NTLM handshake per connection with ntlmsession's independent server code and
// echoes each unsealed SOAP request back, sealed.
type host struct {
	password string
	// noVersion withholds NEGOTIATE_VERSION from the CHALLENGE, as the
	// simulated WinRM host does.
	noVersion bool
	// tamperResponse, when set, alters sealed response bodies in transit.
	tamperResponse func(body []byte) []byte

	mu     sync.Mutex
	errs   []error // Unseal failures seen by the server
	served int     // SOAP requests answered
}

type connKey struct{}

// connState is the NTLM state of one TCP connection.
type connState struct {
	negotiate, challenge []byte
	session              *ntlmsession.Session
}

func (h *host) start(t *testing.T) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, &connState{})
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func (h *host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := r.Context().Value(connKey{}).(*connState)
	body, _ := io.ReadAll(r.Body)
	if strings.HasPrefix(r.Header.Get("Authorization"), "Basic") {
		h.mu.Lock()
		h.errs = append(h.errs, errors.New("Basic credentials sent"))
		h.mu.Unlock()
		http.Error(w, "no Basic", http.StatusBadRequest)
		return
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Negotiate "); ok {
		msg, err := base64.StdEncoding.DecodeString(tok)
		if err != nil || len(msg) < 12 {
			http.Error(w, "bad token", http.StatusBadRequest)
			return
		}
		switch binary.LittleEndian.Uint32(msg[8:]) {
		case 1:
			st.negotiate = msg
			flags := binary.LittleEndian.Uint32(msg[12:])
			if h.noVersion {
				flags &^= 0x02000000
			}
			st.challenge = challenge(flags)
			st.session = nil
			w.Header().Set("WWW-Authenticate", "Negotiate "+base64.StdEncoding.EncodeToString(st.challenge))
			w.WriteHeader(http.StatusUnauthorized)
		case 3:
			flags, key, err := ntlmsession.Accept(st.negotiate, st.challenge, msg, h.password)
			if err != nil {
				w.Header().Set("WWW-Authenticate", "Negotiate")
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if st.session, err = ntlmsession.NewServerSession(flags, key); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			w.WriteHeader(http.StatusOK)
		}
		return
	}
	if st.session == nil {
		w.Header().Set("WWW-Authenticate", "Negotiate")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	soap, err := st.session.Unseal(r.Header.Get("Content-Type"), body)
	if err != nil {
		h.mu.Lock()
		h.errs = append(h.errs, err)
		h.mu.Unlock()
		st.session = nil
		http.Error(w, "bad sealed message", http.StatusBadRequest)
		return
	}
	ct, out, err := st.session.Seal(append([]byte("echo:"), soap...))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if h.tamperResponse != nil {
		out = h.tamperResponse(out)
	}
	h.mu.Lock()
	h.served++
	h.mu.Unlock()
	w.Header().Set("Content-Type", ct)
	w.Write(out)
}

// challenge answers the client's flags with the supported subset, as Windows
// does, and target info carrying a timestamp.
func challenge(clientFlags uint32) []byte {
	const supported = 0x00000001 | 0x00000004 | 0x00000010 | 0x00000020 | 0x00000200 | 0x00008000 |
		0x00080000 | 0x00800000 | 0x02000000 | 0x20000000 | 0x40000000 | 0x80000000
	ti := []byte{7, 0, 8, 0}
	ti = binary.LittleEndian.AppendUint64(ti, uint64(time.Now().UnixNano()/100)+116444736000000000)
	ti = append(ti, 0, 0, 0, 0)
	m := []byte("NTLMSSP\x00\x02\x00\x00\x00")
	m = append(m, 0, 0, 0, 0, 56, 0, 0, 0) // empty TargetName at 56
	m = binary.LittleEndian.AppendUint32(m, clientFlags&supported|0x00020000)
	server := make([]byte, 8)
	rand.Read(server)
	m = append(m, server...)
	m = append(m, make([]byte, 8)...)
	m = binary.LittleEndian.AppendUint16(m, uint16(len(ti)))
	m = binary.LittleEndian.AppendUint16(m, uint16(len(ti)))
	m = binary.LittleEndian.AppendUint32(m, 56)
	m = append(m, 10, 0, 0x7c, 0x4f, 0, 0, 0, 15) // Version
	return append(m, ti...)
}

func post(t *testing.T, c *http.Client, url, soap string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(soap))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	req.SetBasicAuth("ignored", "not-sent")
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func TestRoundTrip(t *testing.T) {
	t.Run("version", func(t *testing.T) { testRoundTrip(t, false) })
	t.Run("no version", func(t *testing.T) { testRoundTrip(t, true) })
}

// testRoundTrip also checks the MIC: the host's Accept verifies it.
func testRoundTrip(t *testing.T, noVersion bool) {
	h := &host{password: "S3cret!", noVersion: noVersion}
	srv := h.start(t)
	c := &http.Client{Transport: ntlmseal.NewRoundTripper(nil, `CORP\alice`, "S3cret!", "")}
	for _, soap := range []string{"<s:Envelope>one</s:Envelope>", strings.Repeat("<x/>", 10000), "<s:Envelope>three</s:Envelope>"} {
		resp, got, err := post(t, c, srv.URL+"/wsman", soap)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || got != "echo:"+soap {
			t.Fatalf("status %d, body %.40q", resp.StatusCode, got)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/soap+xml;charset=UTF-8" {
			t.Errorf("content type %q", ct)
		}
	}
	if h.served != 3 || len(h.errs) != 0 {
		t.Errorf("host served %d requests with errors %v, want 3 without errors", h.served, h.errs)
	}
}

func TestWrongPassword(t *testing.T) {
	h := &host{password: "S3cret!"}
	srv := h.start(t)
	c := &http.Client{Transport: ntlmseal.NewRoundTripper(nil, "alice", "wrong", "CORP")}
	_, _, err := post(t, c, srv.URL+"/wsman", "<s:Envelope/>")
	if !errors.Is(err, ntlmseal.ErrAuth) || !errors.Is(err, model.ErrAuth) {
		t.Fatalf("error %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error %q reveals the password", err)
	}
}

// TestRejectsTamperedResponse: the client refuses responses whose sealed data
// or signature was altered, or that replay an earlier response.
func TestRejectsTamperedResponse(t *testing.T) {
	var first []byte
	tests := []struct {
		name   string
		tamper func(n int, body []byte) []byte
	}{
		{"bit flip in sealed data", func(n int, b []byte) []byte {
			if n == 1 {
				b[len(b)-len("--Encrypted Boundary--\r\n")-3] ^= 0x01
			}
			return b
		}},
		{"bit flip in signature", func(n int, b []byte) []byte {
			if n == 1 {
				i := bytes.Index(b, []byte("\x10\x00\x00\x00\x01\x00\x00\x00"))
				b[i+10] ^= 0x40
			}
			return b
		}},
		{"replayed response", func(n int, b []byte) []byte {
			if n == 0 {
				first = bytes.Clone(b)
			}
			if n == 1 {
				return first
			}
			return b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			h := &host{password: "pw", tamperResponse: func(b []byte) []byte { defer func() { n++ }(); return tt.tamper(n, b) }}
			srv := h.start(t)
			c := &http.Client{Transport: ntlmseal.NewRoundTripper(nil, "alice", "pw", "")}
			if _, _, err := post(t, c, srv.URL, "<s:Envelope>first</s:Envelope>"); err != nil {
				t.Fatal(err)
			}
			_, _, err := post(t, c, srv.URL, "<s:Envelope>second</s:Envelope>")
			if !errors.Is(err, ntlmseal.ErrIntegrity) || !errors.Is(err, model.ErrProtocol) {
				t.Fatalf("error %v, want ErrIntegrity", err)
			}
		})
	}
}

// tamperingTransport alters sealed request bodies on their way to the host.
type tamperingTransport struct {
	base   http.RoundTripper
	n      int
	first  []byte
	tamper func(t *tamperingTransport, body []byte) []byte
}

func (tt *tamperingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.Header.Get("Content-Type"), "multipart/encrypted") {
		b, _ := io.ReadAll(req.Body)
		b = tt.tamper(tt, b)
		tt.n++
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.ContentLength = int64(len(b))
	}
	return tt.base.RoundTrip(req)
}

// TestHostRejectsTamperedRequest: the server side refuses requests whose
// sealed data or signature was altered in transit, or that replay an earlier
// request.
func TestHostRejectsTamperedRequest(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(tt *tamperingTransport, body []byte) []byte
	}{
		{"bit flip in sealed data", func(tt *tamperingTransport, b []byte) []byte {
			if tt.n == 1 {
				b[len(b)-len("--Encrypted Boundary--\r\n")-2] ^= 0x08
			}
			return b
		}},
		{"bit flip in signature", func(tt *tamperingTransport, b []byte) []byte {
			if tt.n == 1 {
				i := bytes.Index(b, []byte("\x10\x00\x00\x00\x01\x00\x00\x00"))
				b[i+5] ^= 0x01
			}
			return b
		}},
		{"replayed request", func(tt *tamperingTransport, b []byte) []byte {
			if tt.n == 0 {
				tt.first = bytes.Clone(b)
			}
			if tt.n == 1 {
				return tt.first
			}
			return b
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &host{password: "pw"}
			srv := h.start(t)
			base := &http.Transport{MaxConnsPerHost: 1}
			t.Cleanup(base.CloseIdleConnections)
			c := &http.Client{Transport: ntlmseal.NewRoundTripper(&tamperingTransport{base: base, tamper: tc.tamper}, "alice", "pw", "")}
			if _, _, err := post(t, c, srv.URL, "<s:Envelope>first</s:Envelope>"); err != nil {
				t.Fatal(err)
			}
			resp, _, err := post(t, c, srv.URL, "<s:Envelope>second</s:Envelope>")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			if len(h.errs) != 1 || !errors.Is(h.errs[0], ntlmsession.ErrVerify) {
				t.Errorf("host errors %v, want one ErrVerify", h.errs)
			}
		})
	}
}

// TestReauthenticatesOnNewConnection: when the connection carrying the
// context is closed, the host answers 401 on the new one and the client
// authenticates again transparently.
func TestReauthenticatesOnNewConnection(t *testing.T) {
	h := &host{password: "pw"}
	srv := h.start(t)
	base := &http.Transport{MaxConnsPerHost: 1}
	c := &http.Client{Transport: ntlmseal.NewRoundTripper(base, "alice", "pw", "")}
	for i := range 3 {
		if _, got, err := post(t, c, srv.URL, "<s:Envelope/>"); err != nil || got != "echo:<s:Envelope/>" {
			t.Fatalf("request %d: %q, %v", i, got, err)
		}
		base.CloseIdleConnections()
	}
}
