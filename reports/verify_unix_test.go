//go:build unix

package reports

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestVerifyRefusesFIFO: a FIFO in place of a listed file is refused
// without being opened (opening it would block verify for ever).
func TestVerifyRefusesFIFO(t *testing.T) {
	dir := writeBundle(t, nil)
	p := filepath.Join(dir, CSVFile)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	_, err := Verify(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "report.csv: not a regular file (a FIFO)") {
		t.Errorf("Verify error = %v, want the FIFO refused", err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "extra"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(dir, nil); err == nil || !strings.Contains(err.Error(), "extra: not listed") {
		t.Errorf("Verify error = %v, want the unlisted FIFO named", err)
	}
}
