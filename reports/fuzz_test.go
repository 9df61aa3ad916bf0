package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadResult: ReadResult never panics, and what it accepts writes out
// and reads back again.
func FuzzReadResult(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "result.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"schema":"bitaudit.result/v1","run":{"id":"x"},"summary":{"hosts":1},"hosts":[{"target":"a","status":"timeout"}]}`))
	f.Add([]byte(`{"schema":"bitaudit.result/v1","run":{"id":"x"},"hosts":null}`))
	f.Add([]byte(`{"schema":7}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadResult(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteJSON(&buf, r); err != nil {
			t.Fatalf("accepted document does not write: %v", err)
		}
		if _, err := ReadResult(&buf); err != nil {
			t.Fatalf("written document does not read back: %v", err)
		}
	})
}
