package escrow

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator/entra"
	"github.com/bitaudit/bitaudit/simulator/windows"
)

// benchFleet builds n hybrid-joined machines with two recovery passwords
// each, escrowed to AD and Entra ID; every 100th machine lacks its AD copy
// of the second key (so the search elsewhere runs), every 10th has a stale
// AD key. It returns the machines and the host results a collector would
// produce for them.
func benchFleet(n int) ([]*windows.Machine, []model.HostResult) {
	ms := make([]*windows.Machine, n)
	hosts := make([]model.HostResult, n)
	guid := func(kind, i int) string { return fmt.Sprintf("{%08X-0000-4000-8000-%012X}", kind, i) }
	for i := range n {
		name := fmt.Sprintf("WS-%05d", i)
		dev := fmt.Sprintf("%08x-0000-4000-8000-%012x", 0xdddd, i)
		os1, data := guid(1, i), guid(2, i)
		m := &windows.Machine{
			ComputerName: name, DNSDomain: "corp.example.test",
			Join: windows.JoinState{DomainJoined: true, AzureAdJoined: true, DeviceID: dev},
			OS:   windows.OSVersion{Caption: "Microsoft Windows 11 Enterprise"},
		}
		m.Escrow.AD = []windows.EscrowedKey{{ProtectorID: os1, Created: t0}}
		if i%100 != 0 {
			m.Escrow.AD = append(m.Escrow.AD, windows.EscrowedKey{ProtectorID: data, Created: t0})
		}
		if i%10 == 0 {
			m.Escrow.AD = append(m.Escrow.AD, windows.EscrowedKey{ProtectorID: guid(3, i), Created: t0.AddDate(-1, 0, 0)})
		}
		m.Escrow.Entra = []windows.EscrowedKey{{ProtectorID: os1, Created: t0, VolumeType: 1}, {ProtectorID: data, Created: t0, VolumeType: 2}}
		ms[i] = m
		hosts[i] = model.HostResult{
			Status: model.StatusCompliant,
			Target: fmt.Sprintf("ws-%05d.corp.example.test", i),
			Facts: &model.HostFacts{Hostname: name, FQDN: fmt.Sprintf("ws-%05d.corp.example.test", i),
				Join:   model.JoinInfo{State: model.JoinHybrid, EntraDeviceID: dev},
				Events: []model.BackupEvent{{ID: 784, Time: t0, ProtectorID: os1}, {ID: 845, Time: t0, ProtectorID: os1}}},
			Volumes: []model.Volume{vol("C:", model.VolumeOS, os1), vol("D:", model.VolumeFixed, data)},
		}
	}
	return ms, hosts
}

// BenchmarkVerify10k verifies 10,000 hosts against the simulated directory
// and Graph (page size 2, every 50th Graph request throttled with
// Retry-After: 0) with 32 concurrent workers, as audit would. The AD pool
// has its default four connections.
func BenchmarkVerify10k(b *testing.B) {
	const n, workers = 10000, 32
	ms, proto := benchFleet(n)
	src := startSources(b, ms, entra.Options{PageSize: 2, ThrottleEvery: 50, RetryAfter: 0})
	src.cfg.External = nil
	src.cfg.AD.PageSize = 0 // the default, as configured in production
	b.ResetTimer()
	var states map[string]int
	for b.Loop() {
		hosts := make([]model.HostResult, n)
		for i := range proto {
			hosts[i] = proto[i]
			hosts[i].Volumes = []model.Volume{proto[i].Volumes[0], proto[i].Volumes[1]}
			for v := range hosts[i].Volumes {
				hosts[i].Volumes[v].Protectors = append([]model.Protector(nil), proto[i].Volumes[v].Protectors...)
			}
		}
		c, err := New(context.Background(), src.cfg, Options{})
		if err != nil {
			b.Fatal(err)
		}
		next := make(chan int)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := range next {
					c.Verify(context.Background(), &hosts[i])
				}
			})
		}
		start := time.Now()
		for i := range hosts {
			next <- i
		}
		close(next)
		wg.Wait()
		b.ReportMetric(float64(time.Since(start).Microseconds())/n, "µs/host")
		c.Close()
		states = model.Summarize(hosts).BackupByState
	}
	b.StopTimer()
	if states["ad:verified"] != 2*n-n/100 || states["ad:missing"] != n/100 || states["entra:verified"] != 2*n {
		b.Errorf("states %v", states)
	}
	b.ReportMetric(float64(src.dir.Searches.Load())/float64(b.N), "ldap-searches/op")
	b.ReportMetric(float64(src.entra.GraphRequests.Load())/float64(b.N), "graph-requests/op")
	b.ReportMetric(float64(src.entra.Throttled.Load())/float64(b.N), "throttled/op")
}

// BenchmarkInventory50k lists and censuses 50,000 directory computers:
// "ad" from a real slapd holding 50,000 computer objects and 24,500
// recovery objects (page size 500, as AD's MaxPageSize), "entra" from the
// simulated Graph holding 50,000 hybrid devices and 100,000 recovery keys
// (999 devices a page; the simulator's recoveryKeys pages hold 1,000).
func BenchmarkInventory50k(b *testing.B) {
	const n = 50000
	b.Run("ad", func(b *testing.B) {
		now := time.Now().UTC()
		ldif, enabled, disabled, stale, keys := fleetLDIF(b, n, now)
		url, pki := startSlapd(b, ldif)
		pw := b.TempDir() + "/pw"
		writeFile(b, pw, []byte("slapd-test-password\n"))
		cfg := &Config{AD: &ADConfig{URL: url, StartTLS: true, BaseDN: "DC=corp,DC=example,DC=test",
			BindDN: "CN=svc-bitaudit,OU=Service,DC=corp,DC=example,DC=test", PasswordFile: pw, CACertFile: pki.caFile}}
		opts := InventoryOptions{AD: true, Census: true, OUs: []string{"OU=Fleet,DC=corp,DC=example,DC=test"}, Now: func() time.Time { return now }}
		b.ResetTimer()
		for b.Loop() {
			stop := sampleHeap()
			d, err := Inventory(context.Background(), cfg, opts)
			peak := stop()
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			b.ReportMetric(float64(m.HeapAlloc)/(1<<20), "MiB-held")
			b.ReportMetric(float64(peak)/(1<<20), "MiB-peak-heap")
			runtime.KeepAlive(d)
			if len(d.Computers) != enabled+disabled+stale {
				b.Fatalf("%d computers, want %d", len(d.Computers), enabled+disabled+stale)
			}
			got := 0
			for _, c := range d.Census {
				got += *c.ADKeys
			}
			if got != keys {
				b.Fatalf("census %d keys, want %d", got, keys)
			}
			b.ReportMetric(float64(d.Pages), "ldap-pages/op")
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(enabled+disabled+stale), "µs/computer")
	})
	b.Run("entra", func(b *testing.B) {
		ms, _ := benchFleet(n)
		src := startSources(b, ms, entra.Options{PageSize: 1000, ThrottleEvery: -1})
		cfg := &Config{Entra: src.cfg.Entra}
		b.ResetTimer()
		for b.Loop() {
			d, err := Inventory(context.Background(), cfg, InventoryOptions{Entra: true, Census: true})
			if err != nil {
				b.Fatal(err)
			}
			got := 0
			for _, c := range d.Census {
				got += *c.EntraKeys
			}
			if len(d.Computers) != n || got != 2*n {
				b.Fatalf("%d devices, %d keys; want %d, %d", len(d.Computers), got, n, 2*n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/n, "µs/computer")
		b.ReportMetric(float64(src.entra.GraphRequests.Load())/float64(b.N), "graph-requests/op")
	})
}

// sampleHeap samples the live heap every 10 ms until the returned function
// is called, which returns the highest value seen.
func sampleHeap() func() uint64 {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		var peak uint64
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-done:
				result <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-result }
}
