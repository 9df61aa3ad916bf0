package winrm

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/bitaudit/bitaudit/collectors/winrm/krbseal"
	"github.com/bitaudit/bitaudit/internal/mitkdc"
	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator"
)

// BenchmarkCollectAuth measures one host's collection with Kerberos against
// NTLM over the same simulated fleet (8 domain members, one real MIT KDC),
// over sealed HTTP and over HTTPS. Every Collect opens its own connection
// and security context, as a host of an audit does; the Kerberos login and
// the service tickets are shared, as in an audit (one TGT, one ticket per
// host), so after the first round a Kerberos context costs an AP-REQ/AP-REP
// exchange where NTLM needs two round trips.
func BenchmarkCollectAuth(b *testing.B) {
	const password = "Bench-Passw0rd!"
	kdc := mitkdc.Start(b, "CORP.EXAMPLE.TEST")
	kdc.AddUser(b, "auditor", password)
	spec, err := simulator.LoadSpec(strings.NewReader("seed: 3\nhosts: 8\nprofiles:\n  - {name: domain-laptop, count: 8, prefix: BEN-}\n"), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	built, err := simulator.Build(spec)
	if err != nil {
		b.Fatal(err)
	}
	var spns []string
	for _, h := range built {
		spns = append(spns, "HTTP/"+strings.ToLower(h.Machine.ComputerName)+"."+h.Machine.DNSDomain)
	}
	kt, err := keytab.Load(kdc.AddServices(b, "http.keytab", spns...))
	if err != nil {
		b.Fatal(err)
	}
	for i, tc := range []struct{ auth, transport string }{
		{"ntlm", "http"}, {"kerberos", "http"}, {"ntlm", "https"}, {"kerberos", "https"},
	} {
		b.Run(tc.auth+"/"+tc.transport, func(b *testing.B) {
			fleet, err := simulator.Start(b.Context(), spec, simulator.Options{
				Auth: tc.auth, Keytab: kt, Realm: "CORP.EXAMPLE.TEST", User: "auditor", Password: password,
				RequireEncryption: true, TLS: tc.transport == "https", ListenBase: netip.MustParseAddr(fmt.Sprintf("127.0.%d.1", 181+i)),
			})
			if err != nil {
				b.Fatal(err)
			}
			defer fleet.Close()
			opts := Options{Transport: tc.transport, Auth: tc.auth, User: "auditor", Password: model.NewSecret(password), CACertPEM: fleet.CAPEM()}
			if tc.auth == "kerberos" {
				if opts.Kerberos, err = krbseal.NewLogin(krbseal.LoginOptions{User: "auditor", Password: opts.Password, ConfigPath: kdc.Conf}); err != nil {
					b.Fatal(err)
				}
			}
			benchCollectFleet(b, opts, fleet)
		})
	}
}

// benchCollectFleet collects from fleet's hosts in turn with a Collector
// of opts, one host per iteration.
func benchCollectFleet(b *testing.B, opts Options, fleet *simulator.Fleet) {
	b.Helper()
	var targets []model.Target
	for _, h := range fleet.Hosts() {
		host, port, _ := net.SplitHostPort(h.Address)
		p, _ := strconv.Atoi(port)
		targets = append(targets, model.Target{Host: host, Port: p,
			FQDN: strings.ToLower(h.Machine.ComputerName) + "." + h.Machine.DNSDomain})
	}
	c, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _, err := c.Collect(ctx, targets[n%len(targets)])
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
}
