package winrm

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator"
)

// BenchmarkCollectNTLM measures one host's collection with NTLM over HTTPS
// and over sealed HTTP against simulated hosts in this process (the fleet
// mix of cmd/bitaudit's BenchmarkFleet, no added latency). Every Collect
// opens its own connection, TLS session and NTLM context, as a host of an
// audit does. The figures include the simulator's work; allocations and
// BenchmarkFleet (simulator in a child process) are the client's alone.
func BenchmarkCollectNTLM(b *testing.B) {
	const password = "Bench-Passw0rd!"
	spec, err := simulator.LoadSpec(strings.NewReader("seed: 17\nhosts: 16\nprofiles:\n"+
		"  - {name: domain-laptop, share: 0.5}\n  - {name: entra-laptop, share: 0.2}\n  - {name: hybrid-laptop, share: 0.1}\n"+
		"  - {name: never-escrowed, share: 0.1}\n  - {name: suspended, share: 0.1}\n"), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for i, transport := range []string{"https", "http"} {
		b.Run(transport, func(b *testing.B) {
			base := netip.MustParseAddr(fmt.Sprintf("127.0.%d.1", 191+i))
			ln, err := net.Listen("tcp", base.String()+":0") // a port free here
			if err != nil {
				b.Fatal(err)
			}
			port := ln.Addr().(*net.TCPAddr).Port
			ln.Close()
			fleet, err := simulator.Start(b.Context(), spec, simulator.Options{
				Auth: "ntlm", User: "auditor", Password: password, RequireEncryption: true,
				TLS: transport == "https", ListenBase: base, Port: port,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer fleet.Close()
			benchCollectFleet(b, Options{Transport: transport, Auth: "ntlm", User: "auditor", Password: model.NewSecret(password), CACertPEM: fleet.CAPEM()}, fleet)
		})
	}
}
