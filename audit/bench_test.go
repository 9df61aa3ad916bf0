package audit_test

import (
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/audit"
	"github.com/bitaudit/bitaudit/collectors/winrm"
	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/rules"
	"github.com/bitaudit/bitaudit/simulator"
)

// BenchmarkAudit2000 audits 2,000 simulated hosts, each adding 500 ms of
// command latency, at concurrency 200 over HTTP with sealed NTLM (Windows'
// default transport). The ideal wall time is 2000 × 0.5 s / 200 = 5 s; the
// benchmark reports the measured wall time against it and the peak RSS.
//
//	go test -run XXX -bench Audit2000 -benchtime 1x ./audit/
func BenchmarkAudit2000(b *testing.B) {
	const (
		hosts       = 2000
		latency     = 500 * time.Millisecond
		concurrency = 200
		password    = "bench-Passw0rd"
	)
	spec, err := simulator.LoadSpec(strings.NewReader("seed: 11\nhosts: 2000\nprofiles:\n  - name: domain-laptop\n    share: 1\n"), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	fleet, err := simulator.Start(b.Context(), spec, simulator.Options{
		ListenBase: netip.MustParseAddr("127.0.70.1"), Auth: "ntlm", Password: password,
		Latency: latency, RequireEncryption: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer fleet.Close()
	var targets []model.Target
	ts, _, err := model.ParseTargets(strings.NewReader(strings.Join(fleet.Targets(), "\n")), "fleet")
	if err != nil {
		b.Fatal(err)
	}
	targets = ts
	collector, err := winrm.New(winrm.Options{Transport: "http", Auth: "ntlm", User: "auditor", Password: model.NewSecret(password)})
	if err != nil {
		b.Fatal(err)
	}
	engine, err := rules.NewEngine(rules.DefaultPolicy(), rules.Builtin())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		results := audit.New(collector, nil, engine, audit.Options{Concurrency: concurrency, HostTimeout: time.Minute}).Run(b.Context(), targets)
		wall := time.Since(start)
		audited := 0
		for _, h := range results {
			if h.Status.Audited() {
				audited++
			}
		}
		if audited != hosts {
			b.Fatalf("%d of %d hosts audited", audited, hosts)
		}
		ideal := time.Duration(hosts) * latency / concurrency
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(wall.Seconds()/ideal.Seconds(), "x-ideal")
	}
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heapsys-MiB")
	if s, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(s), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				b.Log(l)
			}
		}
	}
}
