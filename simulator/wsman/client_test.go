package wsman_test

import (
	"strings"
	"testing"
)

func TestRunWithRealClient(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ntlm, tls bool
		basic     bool // host allows Basic
		hostNTLM  bool // host allows NTLM
	}{
		{"basic/http", false, false, true, false},
		{"basic/https", false, true, true, false},
		{"ntlm/http", true, false, false, true},
		{"ntlm/https", true, true, false, true},
		{"ntlm/http both offered", true, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.AllowBasic, cfg.AllowNTLM = tc.basic, tc.hostNTLM
			s := startHost(t, cfg, tc.tls)
			c := s.client(t, clientOptions{ntlm: tc.ntlm})
			for range 3 { // later runs reuse the authenticated connection
				stdout, stderr, code, err := c.RunWithString("hostname", "")
				if err != nil || stdout != "WKS-0042\r\n" || stderr != "" || code != 0 {
					t.Fatalf("RunWithString(hostname) = %q, %q, %d, %v", stdout, stderr, code, err)
				}
			}
			stdout, stderr, code, err := c.RunWithString("nosuch", "")
			if err != nil || stdout != "" || !strings.HasPrefix(stderr, "'nosuch' is not recognized") || code != 1 {
				t.Fatalf("RunWithString(nosuch) = %q, %q, %d, %v", stdout, stderr, code, err)
			}
			st := s.host.Stats()
			// 5 requests per run; NTLM adds the 2-leg handshake once, on the
			// first request of the connection (docs/winrm.md §1.1).
			wantReq := int64(20)
			if tc.ntlm {
				wantReq = 22
			}
			if st.Shells != 4 || st.Commands != 4 || st.Requests != wantReq {
				t.Errorf("stats = %+v, want 4 shells, 4 commands, %d requests", st, wantReq)
			}
			// With stdin: Send(data) races the first Receive (a second
			// connection may open), Send(End) follows Signal.
			if stdout, _, code, err := c.RunWithString("hostname", "input\r\n"); err != nil || stdout != "WKS-0042\r\n" || code != 0 {
				t.Fatalf("RunWithString(hostname, stdin) = %q, %d, %v", stdout, code, err)
			}

		})
	}
}
