package reports

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// BenchmarkWriteAll10k renders every format and the manifest for a
// 10,000-host result whose hosts are in a spool, as a fleet run and
// `bitaudit report` hand them over: one after another and all at once. It
// reports the peak live heap (sampled) and the peak resident set (VmHWM,
// reset once the fixture is spooled, where the kernel allows), and the
// size of each file. BITAUDIT_BENCH_NONCOMPLIANT=1 makes every host
// non-compliant (the PDF's worst case).
func BenchmarkWriteAll10k(b *testing.B) {
	for _, concurrent := range []bool{false, true} {
		b.Run(fmt.Sprintf("concurrent=%v", concurrent), func(b *testing.B) {
			mem := fixtureResult(10_000)
			if os.Getenv("BITAUDIT_BENCH_NONCOMPLIANT") != "" {
				allNoncompliant(mem)
			}
			r := spooled(b, mem)
			mem = nil
			dir := b.TempDir()
			runtime.GC()
			debug.FreeOSMemory()
			resetPeakRSS()
			peak := sampleHeap()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := WriteAll(b.Context(), dir, r, Options{Concurrent: concurrent, Replace: true}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(peak())/(1<<20), "peak-live-heap-MB")
			if kb := peakRSSKB(); kb > 0 {
				b.ReportMetric(float64(kb)/1024, "peak-RSS-MB")
			}
			for _, name := range []string{ResultFile, PDFFile, XLSXFile, CSVFile} {
				if fi, err := os.Stat(filepath.Join(dir, name)); err == nil {
					b.ReportMetric(float64(fi.Size())/(1<<20), strings.ReplaceAll(name, ".", "-")+"-MB")
				}
			}
		})
	}
}

// allNoncompliant gives every compliant host of r an open finding.
func allNoncompliant(r *model.Result) {
	for i := range r.Hosts {
		h := &r.Hosts[i]
		if h.Status != model.StatusCompliant {
			continue
		}
		h.Status = model.StatusNoncompliant
		h.Findings = append(h.Findings, finding(ruleClaimedOnly, "C:", protID(i, 1), "The backup is only claimed by the host's event log."))
	}
	r.Summary = model.Summarize(r.Hosts)
}

// sampleHeap samples the live heap (as the last collection marked it)
// every millisecond until the returned function is called, which returns
// the highest seen: what the run needs, whatever GOGC lets pile up.
func sampleHeap() func() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var mu sync.Mutex
	var top uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			mu.Lock()
			top = max(top, s[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return top
	}
}

// resetPeakRSS resets VmHWM (Linux: write 5 to /proc/self/clear_refs); a no-op elsewhere.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSKB returns VmHWM from /proc/self/status, or 0 when unavailable.
func peakRSSKB() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
