package ntlmseal_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/masterzen/winrm"
	"github.com/masterzen/winrm/soap"

	"github.com/bitaudit/bitaudit/collectors/winrm/ntlmseal"
	"github.com/bitaudit/bitaudit/simulator/wsman"
)

const (
	e2eUser     = "auditor"
	e2ePassword = "S3cret-pass!"
)

// sealedTransporter plugs the RoundTripper into masterzen/winrm through its
// TransportDecorator, the way the collector does.
type sealedTransporter struct {
	user, password string
	url            string
	client         *http.Client
}

func (s *sealedTransporter) Transport(ep *winrm.Endpoint) error {
	s.url = fmt.Sprintf("http://%s/wsman", net.JoinHostPort(ep.Host, fmt.Sprint(ep.Port)))
	s.client = &http.Client{Transport: ntlmseal.NewRoundTripper(nil, s.user, s.password, "")}
	return nil
}

func (s *sealedTransporter) Post(_ *winrm.Client, msg *soap.SoapMessage) (string, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.url, strings.NewReader(msg.String()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if !strings.Contains(resp.Header.Get("Content-Type"), "application/soap+xml") {
		return "", fmt.Errorf("http %d: not SOAP", resp.StatusCode)
	}
	return string(b), nil
}

var hostname = wsman.RunnerFunc(func(ctx context.Context, inv wsman.Invocation) wsman.Output {
	if inv.CommandLine == "hostname" {
		return wsman.Output{Stdout: []byte("WKS-0042\r\n")}
	}
	return wsman.Output{Stderr: []byte("not recognized\r\n"), ExitCode: 1}
})

// startHost serves a host requiring encryption on loopback, over TLS when tc
// is not nil.
func startHost(tb testing.TB, tc *tls.Config) (*wsman.Host, int) {
	tb.Helper()
	h, err := wsman.NewHost(wsman.Config{
		ComputerName: "WKS-0042", NetBIOSDomain: "CORP", DNSDomain: "corp.example",
		User: e2eUser, Password: e2ePassword, AllowNTLM: true, RequireEncryption: true,
		Runner: hostname,
	})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	go h.Serve(ln)
	tb.Cleanup(func() { h.Close() })
	return h, port
}

func sealedClient(tb testing.TB, port int, password string) *winrm.Client {
	tb.Helper()
	ep := winrm.NewEndpoint("127.0.0.1", port, false, false, nil, nil, nil, 60*time.Second)
	params := winrm.NewParameters("PT60S", "en-US", 153600)
	params.TransportDecorator = func() winrm.Transporter {
		return &sealedTransporter{user: e2eUser, password: password}
	}
	c, err := winrm.NewClientWithParameters(ep, e2eUser, password, params)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// TestMasterzenSealed runs a command with the real masterzen/winrm client
// through the RoundTripper against a simulated host that, like Windows'
// default, requires message encryption over HTTP.
func TestMasterzenSealed(t *testing.T) {
	h, port := startHost(t, nil)
	c := sealedClient(t, port, e2ePassword)
	for range 3 { // later runs reuse the sealed context
		stdout, stderr, code, err := c.RunWithString("hostname", "")
		if err != nil || stdout != "WKS-0042\r\n" || stderr != "" || code != 0 {
			t.Fatalf("RunWithString(hostname) = %q, %q, %d, %v", stdout, stderr, code, err)
		}
	}
	// One handshake (NEGOTIATE, AUTHENTICATE) then 5 sealed requests per run.
	if st := h.Stats(); st.Requests != 17 || st.Unauthorized != 1 {
		t.Errorf("stats %+v, want 17 requests and 1 401", st)
	}
}

// TestMasterzenUnsealedRefused: the same host refuses masterzen's own NTLM
// transport, which authenticates but cannot seal.
func TestMasterzenUnsealedRefused(t *testing.T) {
	_, port := startHost(t, nil)
	ep := winrm.NewEndpoint("127.0.0.1", port, false, false, nil, nil, nil, 60*time.Second)
	params := winrm.NewParameters("PT60S", "en-US", 153600)
	params.TransportDecorator = func() winrm.Transporter { return &winrm.ClientNTLM{} }
	c, err := winrm.NewClientWithParameters(ep, e2eUser, e2ePassword, params)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = c.RunWithString("hostname", "")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("unsealed run error = %v, want a 401", err)
	}
}

func TestMasterzenSealedWrongPassword(t *testing.T) {
	_, port := startHost(t, nil)
	c := sealedClient(t, port, "wrong-password")
	_, _, _, err := c.RunWithString("hostname", "")
	if err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("error = %v, want authentication failed", err)
	}
}

// TestHostRefusesTamperedSealedRequest: the simulated host answers 400 to a
// sealed request altered in transit and drops the connection's context.
func TestHostRefusesTamperedSealedRequest(t *testing.T) {
	h, port := startHost(t, nil)
	base := &http.Transport{MaxConnsPerHost: 1}
	t.Cleanup(base.CloseIdleConnections)
	flip := &tamperingTransport{base: base, tamper: func(tt *tamperingTransport, b []byte) []byte {
		if tt.n == 1 {
			b[len(b)-len("--Encrypted Boundary--\r\n")-5] ^= 0x20
		}
		return b
	}}
	c := &http.Client{Transport: ntlmseal.NewRoundTripper(flip, e2eUser, e2ePassword, "")}
	url := fmt.Sprintf("http://127.0.0.1:%d/wsman", port)
	// Any well-formed envelope will do: the host answers it with a SOAP fault.
	if resp, _, err := post(t, c, url, "<s:Envelope/>"); err != nil || resp.StatusCode == http.StatusBadRequest {
		t.Fatalf("first request: %v, %v", resp, err)
	}
	resp, _, err := post(t, c, url, "<s:Envelope/>")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("tampered request: status %d, want 400", resp.StatusCode)
	}
	// The next request re-authenticates on the dropped context and succeeds.
	before := h.Stats().Unauthorized
	if resp, _, err := post(t, c, url, "<s:Envelope/>"); err != nil || resp.StatusCode == http.StatusBadRequest {
		t.Fatalf("request after tampering: %v, %v", resp, err)
	}
	if h.Stats().Unauthorized <= before {
		t.Error("client did not re-authenticate after the host dropped the context")
	}
}
