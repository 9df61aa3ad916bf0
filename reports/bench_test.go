package reports

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkWriteAll10k renders every format and the manifest for a
// 10,000-host result. It reports the peak resident set (VmHWM, reset before
// the loop where the kernel allows) and the size of each file.
func BenchmarkWriteAll10k(b *testing.B) {
	r := fixtureResult(10_000)
	dir := b.TempDir()
	resetPeakRSS()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := WriteAll(b.Context(), dir, r, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if kb := peakRSSKB(); kb > 0 {
		b.ReportMetric(float64(kb)/1024, "peak-RSS-MB")
	}
	for _, name := range []string{ResultFile, PDFFile, XLSXFile, CSVFile} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil {
			b.ReportMetric(float64(fi.Size())/(1<<20), strings.TrimSuffix(strings.ReplaceAll(name, ".", "-"), "")+"-MB")
		}
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
