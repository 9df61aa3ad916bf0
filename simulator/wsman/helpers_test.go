package wsman_test

import (
	"context"
	"crypto/tls"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/masterzen/winrm"

	"github.com/bitaudit/bitaudit/simulator/wsman"
)

const (
	testUser     = "auditor"
	testPassword = "S3cret-pass!"
)

// hostnameRunner answers like a host called WKS-0042.
var hostnameRunner = wsman.RunnerFunc(func(ctx context.Context, inv wsman.Invocation) wsman.Output {
	if inv.CommandLine == "hostname" {
		return wsman.Output{Stdout: []byte("WKS-0042\r\n")}
	}
	return wsman.Output{
		Stderr:   []byte("'" + inv.CommandLine + "' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"),
		ExitCode: 1,
	}
})

// testConfig returns a host config accepting both schemes.
func testConfig() wsman.Config {
	return wsman.Config{
		ComputerName: "WKS-0042", NetBIOSDomain: "CORP", DNSDomain: "corp.example",
		User: testUser, Password: testPassword,
		AllowBasic: true, AllowNTLM: true,
		Runner: hostnameRunner,
	}
}

// server is a running host.
type server struct {
	host *wsman.Host
	addr *net.TCPAddr
	ca   *wsman.CA // nil for HTTP
}

// startHost serves cfg on a loopback port, over TLS when withTLS.
func startHost(t testing.TB, cfg wsman.Config, withTLS bool) *server {
	t.Helper()
	h, err := wsman.NewHost(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{host: h, addr: ln.Addr().(*net.TCPAddr)}
	if withTLS {
		if s.ca, err = wsman.NewCA(); err != nil {
			t.Fatal(err)
		}
		tc, err := s.ca.ServerTLSConfig([]string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		ln = tls.NewListener(ln, tc)
	}
	done := make(chan error, 1)
	go func() { done <- h.Serve(ln) }()
	t.Cleanup(func() {
		h.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

func (s *server) url() string {
	scheme := "http"
	if s.ca != nil {
		scheme = "https"
	}
	return scheme + "://" + s.addr.String() + "/wsman"
}

// clientOptions tune a masterzen client.
type clientOptions struct {
	ntlm     bool
	password string
	timeout  string        // OperationTimeout, default PT60S
	endpoint time.Duration // Endpoint.Timeout, default 60s
	deadline time.Duration // per-connection deadline (0: none)
	envelope int           // MaxEnvelopeSize, default 153600
}

// client returns the real masterzen/winrm client for s.
func (s *server) client(t testing.TB, o clientOptions) *winrm.Client {
	t.Helper()
	if o.password == "" {
		o.password = testPassword
	}
	if o.timeout == "" {
		o.timeout = "PT60S"
	}
	if o.endpoint == 0 {
		o.endpoint = 60 * time.Second
	}
	if o.envelope == 0 {
		o.envelope = 153600
	}
	var ca []byte
	if s.ca != nil {
		ca = s.ca.PEM()
	}
	ep := winrm.NewEndpoint("127.0.0.1", s.addr.Port, s.ca != nil, false, ca, nil, nil, o.endpoint)
	params := winrm.NewParameters(o.timeout, "en-US", o.envelope)
	if o.deadline > 0 {
		params.Dial = func(network, addr string) (net.Conn, error) {
			c, err := net.Dial(network, addr)
			if err == nil {
				err = c.SetDeadline(time.Now().Add(o.deadline))
			}
			return c, err
		}
	}
	if o.ntlm {
		params.TransportDecorator = func() winrm.Transporter { return &winrm.ClientNTLM{} }
	}
	c, err := winrm.NewClientWithParameters(ep, testUser, o.password, params)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func itoa(n int) string { return strconv.Itoa(n) }

func runtime_Gosched() { runtime.Gosched() }
