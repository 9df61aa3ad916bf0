package wsman_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/simulator/wsman"
)

// benchmarkRun measures masterzen RunWithString("hostname") against one
// host over loopback, in parallel; each goroutine has its own client (and
// so its own keep-alive connection). Reports commands/s.
func benchmarkRun(b *testing.B, ntlm, tls bool) {
	cfg := testConfig()
	cfg.MaxShellsPerUser = 1 << 20
	cfg.MaxConcurrentOperationsPerUser = 1 << 30
	s := startHost(b, cfg, tls)
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := s.client(b, clientOptions{ntlm: ntlm})
		for pb.Next() {
			stdout, _, code, err := c.RunWithString("hostname", "")
			if err != nil || code != 0 || stdout != "WKS-0042\r\n" {
				b.Errorf("RunWithString = %q, %d, %v", stdout, code, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
	// Process CPU per command (client and server): unlike commands/s, it
	// does not depend on what else the machine runs.
	if cpu := cpuTime(b) - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/command")
	}
}

func BenchmarkRunBasic(b *testing.B)      { benchmarkRun(b, false, false) }
func BenchmarkRunNTLM(b *testing.B)       { benchmarkRun(b, true, false) }
func BenchmarkRunBasicHTTPS(b *testing.B) { benchmarkRun(b, false, true) }
func BenchmarkRunNTLMHTTPS(b *testing.B)  { benchmarkRun(b, true, true) }

// BenchmarkIdleHosts measures what an idle listening host costs: heap
// bytes and goroutines per host, for 1,000 hosts on loopback ports.
func BenchmarkIdleHosts(b *testing.B) {
	const n = 1000
	for range b.N {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		hosts := make([]*wsman.Host, 0, n)
		for range n {
			h, err := wsman.NewHost(testConfig())
			if err != nil {
				b.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go h.Serve(ln)
			hosts = append(hosts, h)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse)/n, "bytes/host")
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/n, "goroutines/host")
		for _, h := range hosts {
			h.Close()
		}
	}
}

// BenchmarkTLSHandshake measures a full TLS handshake against a host
// certificate issued by [wsman.CA] (ECDSA P-256), as a client trusting
// CA.PEM does it once per connection.
func BenchmarkTLSHandshake(b *testing.B) {
	s := startHost(b, testConfig(), true)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(s.ca.PEM())
	cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	b.ReportAllocs()
	for b.Loop() {
		c, err := tls.Dial("tcp", s.addr.String(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
