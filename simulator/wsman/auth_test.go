package wsman_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestAuthRefused(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ntlm, tls  bool
		password   string
		requireEnc bool
	}{
		{"basic wrong password", false, false, "wrong", false},
		{"ntlm wrong password", true, false, "wrong", false},
		{"ntlm wrong password https", true, true, "wrong", false},
		{"ntlm over http, encryption required", true, false, testPassword, true},
		{"basic over http, encryption required", false, false, testPassword, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.RequireEncryption = tc.requireEnc
			s := startHost(t, cfg, tc.tls)
			c := s.client(t, clientOptions{ntlm: tc.ntlm, password: tc.password})
			// masterzen's outcome for a 401 (docs/winrm.md §6.4 "wrong password").
			_, _, code, err := c.RunWithString("hostname", "")
			if err == nil || !strings.Contains(err.Error(), "http response error: 401 - invalid content type") || code != 1 {
				t.Fatalf("RunWithString = code %d, err %v; want 401 invalid content type, code 1", code, err)
			}
			if st := s.host.Stats(); st.Shells != 0 {
				t.Errorf("%d shells created without valid credentials", st.Shells)
			}
		})
	}
}

func TestRequireEncryptionHTTPS(t *testing.T) {
	for _, ntlm := range []bool{false, true} {
		cfg := testConfig()
		cfg.RequireEncryption = true
		s := startHost(t, cfg, true)
		stdout, _, code, err := s.client(t, clientOptions{ntlm: ntlm}).RunWithString("hostname", "")
		if err != nil || stdout != "WKS-0042\r\n" || code != 0 {
			t.Errorf("ntlm=%v over HTTPS: %q, %d, %v", ntlm, stdout, code, err)
		}
	}
}

// TestUnauthorizedResponse checks the bare 401 Windows sends.
func TestUnauthorizedResponse(t *testing.T) {
	s := startHost(t, testConfig(), false)
	resp, err := http.Post(s.url(), "application/soap+xml;charset=UTF-8", strings.NewReader("<x/>"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.ContentLength != 0 {
		t.Errorf("status %d, length %d; want 401 with no body", resp.StatusCode, resp.ContentLength)
	}
	got := strings.Join(resp.Header.Values("WWW-Authenticate"), "|")
	if got != `Negotiate|Basic realm="WSMAN"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	if resp.Header.Get("Server") != "Microsoft-HTTPAPI/2.0" {
		t.Errorf("Server = %q", resp.Header.Get("Server"))
	}
}
