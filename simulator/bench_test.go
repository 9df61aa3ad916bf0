package simulator

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/masterzen/winrm"
)

// BenchmarkFleet starts a fleet of the default mix (faults and latency
// off, so every command is the simulator's own cost), then runs
// `hostname` with masterzen/winrm clients on a sample of hosts, 16
// commands in flight per CPU. It reports commands per second and the heap
// and goroutine-stack memory each simulated host holds once started, and
// how long starting the fleet took.
//
//	go test -run '^$' -bench Fleet -benchtime 2000x ./simulator/
func BenchmarkFleet(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		for _, mode := range []struct {
			name string
			auth string
			tls  bool
		}{{"http-ntlm", "ntlm", false}, {"http-basic", "basic", false}, {"https-basic", "basic", true}} {
			b.Run(fmt.Sprintf("hosts=%d/%s", n, mode.name), func(b *testing.B) { benchFleet(b, n, mode.auth, mode.tls) })
		}
	}
}

func benchFleet(b *testing.B, n int, auth string, tls bool) {
	spec := DefaultSpec(n, 1)
	spec.Latency, spec.Faults = Latency{}, nil

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	f := startFleet(b, spec, Options{Auth: auth, TLS: tls})
	started := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)

	const sampleSize = 256
	hosts := f.Hosts()
	clients := make([]*winrm.Client, sampleSize)
	names := make([]string, sampleSize)
	for i := range clients {
		h := hosts[i*len(hosts)/sampleSize]
		clients[i] = newClient(b, h.Address, clientConfig{ntlm: auth == "ntlm", tls: tls, ca: f.CAPEM()})
		names[i] = h.Machine.ComputerName + "\r\n"
	}
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1)) % sampleSize
			stdout, _, code, err := clients[i].RunWithString("hostname", "")
			if err != nil || code != 0 || stdout != names[i] {
				b.Errorf("hostname on host %d: stdout %q, code %d, err %v", i, stdout, code, err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cmds/s")
	b.ReportMetric(float64(started.Milliseconds()), "start-ms")
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/float64(n), "heap-B/host")
	b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/float64(n), "stack-B/host")
}
