package ntlmseal_test

import (
	"net"
	"testing"
	"time"

	"github.com/masterzen/winrm"

	"github.com/bitaudit/bitaudit/simulator/wsman"
)

// BenchmarkSealedRun measures one `hostname` run (5 WS-Man requests) against
// a simulated host requiring encryption, sealed over HTTP through this
// package, against the same run over HTTPS with masterzen's NTLM transport.
// "per-host" builds a new client per run: a new connection and NTLM
// handshake (and TLS handshake), as when auditing one host; "per-command"
// reuses one client and connection. Run with a small -benchtime: each
// per-host iteration leaves an idle connection behind until the host closes.
func BenchmarkSealedRun(b *testing.B) {
	_, httpPort := startHost(b, nil)
	ca, err := wsman.NewCA()
	if err != nil {
		b.Fatal(err)
	}
	tc, err := ca.ServerTLSConfig(nil, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	_, httpsPort := startHost(b, tc)
	httpsClient := func(b *testing.B) *winrm.Client {
		ep := winrm.NewEndpoint("127.0.0.1", httpsPort, true, false, ca.PEM(), nil, nil, 60*time.Second)
		params := winrm.NewParameters("PT60S", "en-US", 153600)
		params.TransportDecorator = func() winrm.Transporter { return &winrm.ClientNTLM{} }
		c, err := winrm.NewClientWithParameters(ep, e2eUser, e2ePassword, params)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	sealed := func(b *testing.B) *winrm.Client { return sealedClient(b, httpPort, e2ePassword) }
	run := func(b *testing.B, c *winrm.Client) {
		if out, _, code, err := c.RunWithString("hostname", ""); err != nil || code != 0 || out != "WKS-0042\r\n" {
			b.Fatalf("hostname: %q, %d, %v", out, code, err)
		}
	}
	for _, tc := range []struct {
		name   string
		client func(*testing.B) *winrm.Client
	}{{"http-sealed", sealed}, {"https-ntlm", httpsClient}} {
		b.Run(tc.name+"/per-host", func(b *testing.B) {
			for b.Loop() {
				run(b, tc.client(b))
			}
		})
		b.Run(tc.name+"/per-command", func(b *testing.B) {
			c := tc.client(b)
			run(b, c)
			for b.Loop() {
				run(b, c)
			}
		})
	}
}
