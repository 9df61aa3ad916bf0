package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteAllConcurrentSameBundle renders a bundle one file after another
// and all at once: every file, the manifest included, is byte for byte the
// same.
func TestWriteAllConcurrentSameBundle(t *testing.T) {
	r := fixtureResult(60)
	seq, conc := t.TempDir(), t.TempDir()
	if err := WriteAll(t.Context(), seq, r, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteAll(t.Context(), conc, r, Options{Concurrent: true}); err != nil {
		t.Fatal(err)
	}
	for _, name := range differentFiles(t, seq, conc) {
		t.Errorf("%s differs between sequential and concurrent rendering", name)
	}
	if _, err := Verify(conc, nil); err != nil {
		t.Errorf("Verify of the concurrent bundle: %v", err)
	}
}

// differentFiles returns the bundle files (manifest included) that are not
// byte for byte the same in directories a and b.
func differentFiles(t *testing.T, a, b string) []string {
	t.Helper()
	var diff []string
	for _, name := range []string{ResultFile, PDFFile, XLSXFile, CSVFile, ManifestName} {
		x, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			diff = append(diff, name)
		}
	}
	return diff
}
