package reports

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadResult: ReadResult never panics, ReadResultSpooled accepts and
// refuses what it does, and what it accepts writes out and reads back again.
func FuzzReadResult(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "result.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"schema":"bitaudit.result/v1","run":{"id":"x"},"summary":{"hosts":1},"hosts":[{"target":"a","status":"timeout"}]}`))
	f.Add([]byte(`{"schema":"bitaudit.result/v1","run":{"id":"x"},"hosts":null}`))
	f.Add([]byte(`{"schema":7}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadResult(bytes.NewReader(data))
		sr, sp, serr := ReadResultSpooled(bytes.NewReader(data), t.TempDir())
		if serr == nil {
			defer sp.Close()
		}
		// The streaming reader refuses a second hosts field, which
		// encoding/json lets override the first; else both agree.
		if (err == nil) != (serr == nil) && !strings.Contains(fmt.Sprint(serr), "appears twice") {
			t.Fatalf("ReadResult: %v; ReadResultSpooled: %v", err, serr)
		}
		if err != nil {
			return
		}
		if serr == nil && sr.HostSource().Len() != len(r.Hosts) {
			t.Fatalf("ReadResultSpooled read %d hosts, ReadResult %d", sr.HostSource().Len(), len(r.Hosts))
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
