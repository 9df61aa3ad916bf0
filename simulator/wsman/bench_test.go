package wsman_test

import (
	"testing"
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
}

func BenchmarkRunBasic(b *testing.B)      { benchmarkRun(b, false, false) }
func BenchmarkRunNTLM(b *testing.B)       { benchmarkRun(b, true, false) }
func BenchmarkRunBasicHTTPS(b *testing.B) { benchmarkRun(b, false, true) }
func BenchmarkRunNTLMHTTPS(b *testing.B)  { benchmarkRun(b, true, true) }
