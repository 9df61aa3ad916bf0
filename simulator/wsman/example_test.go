package wsman_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/masterzen/winrm"

	"github.com/bitaudit/bitaudit/simulator/wsman"
)

// A host that answers every command with its name, driven by a real WinRM
// client over NTLM.
func ExampleNewHost() {
	h, err := wsman.NewHost(wsman.Config{
		ComputerName: "WKS-0001",
		User:         "auditor",
		Password:     "example-only",
		AllowNTLM:    true,
		Runner: wsman.RunnerFunc(func(ctx context.Context, inv wsman.Invocation) wsman.Output {
			return wsman.Output{Stdout: []byte("WKS-0001\r\n")}
		}),
	})
	if err != nil {
		panic(err)
	}
	defer h.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go h.Serve(ln)

	ep := winrm.NewEndpoint("127.0.0.1", ln.Addr().(*net.TCPAddr).Port, false, false, nil, nil, nil, 30*time.Second)
	params := winrm.NewParameters("PT20S", "en-US", 153600)
	params.TransportDecorator = func() winrm.Transporter { return &winrm.ClientNTLM{} }
	c, err := winrm.NewClientWithParameters(ep, "auditor", "example-only", params)
	if err != nil {
		panic(err)
	}
	stdout, _, code, err := c.RunWithString("hostname", "")
	fmt.Printf("%q %d %v\n", stdout, code, err)
	// Output: "WKS-0001\r\n" 0 <nil>
}
