package reports

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/spool"
)

// spooled returns r with its hosts in a spool (Hosts nil), as a fleet run
// hands it to the reports.
func spooled(t testing.TB, r *model.Result) *model.Result {
	t.Helper()
	sp, err := spool.New(t.TempDir(), len(r.Hosts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	for i := range r.Hosts {
		if err := sp.Put(i, &r.Hosts[i]); err != nil {
			t.Fatal(err)
		}
	}
	s := *r
	s.Hosts, s.Source = nil, sp
	return &s
}

// TestWriteAllFromSpool renders one result from its hosts in memory and
// from a spool, one file after another and at once: every file, the
// manifest included, is byte for byte the same. The fixture has hosts
// whose spooled record json.Marshal wrote differently from result.json
// (no volumes: null; "<", ">" and "&" escaped), so both ways of writing a
// spooled host into result.json are compared.
func TestWriteAllFromSpool(t *testing.T) {
	mem := fixtureResult(60)
	mem.Hosts[5].Reason = `<script>alert("x")</script> & co` // escaped by json.Marshal
	mem.Hosts[8].Volumes = nil
	mem.Summary = model.Summarize(mem.Hosts)
	sp := spooled(t, mem)
	for _, concurrent := range []bool{false, true} {
		a, b := t.TempDir(), t.TempDir()
		if err := WriteAll(t.Context(), a, mem, Options{Concurrent: concurrent}); err != nil {
			t.Fatal(err)
		}
		if err := WriteAll(t.Context(), b, sp, Options{Concurrent: concurrent}); err != nil {
			t.Fatal(err)
		}
		for _, name := range differentFiles(t, a, b) {
			t.Errorf("concurrent=%v: %s from a spool differs from the one rendered from memory", concurrent, name)
		}
	}
}

// TestWriteJSONFromSpoolIsGolden writes the fixture document from a spool:
// the bytes are testdata/result.json's.
func TestWriteJSONFromSpoolIsGolden(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := WriteJSON(&got, spooled(t, loadFixture(t))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, got.Bytes()) {
		t.Error("result.json written from a spool differs from testdata/result.json")
	}
}

// failingSource fails to give host bad.
type failingSource struct {
	model.HostSlice
	bad int
}

var errSource = errors.New("spool file gone")

func (s failingSource) Host(i int) (model.HostResult, error) {
	if i == s.bad {
		return model.HostResult{}, errSource
	}
	return s.HostSlice.Host(i)
}

// TestSourceErrorReturned checks that every writer returns a host it
// could not read as an error, never a report without it.
func TestSourceErrorReturned(t *testing.T) {
	mem := fixtureResult(30)
	na := slices.IndexFunc(mem.Hosts, func(h model.HostResult) bool { return !h.Status.Audited() })
	for _, bad := range []int{0, na, 29} {
		r := *mem
		r.Hosts, r.Source = nil, failingSource{HostSlice: mem.Hosts, bad: bad}
		for name, write := range map[string]func() error{
			"json": func() error { return WriteJSON(&bytes.Buffer{}, &r) },
			"pdf":  func() error { return WritePDF(&bytes.Buffer{}, &r) },
			"xlsx": func() error { return WriteXLSX(&bytes.Buffer{}, &r) },
			"csv":  func() error { return WriteCSV(&bytes.Buffer{}, &r) },
			"all":  func() error { return WriteAll(t.Context(), t.TempDir(), &r, Options{}) },
		} {
			if err := write(); !errors.Is(err, errSource) {
				t.Errorf("host %d unreadable: %s returned %v, want %v", bad, name, err, errSource)
			}
		}
	}
	// A format listing only some hosts still reads the ones it lists.
	r := *mem
	r.Hosts = nil
	r.Source = failingSource{HostSlice: mem.Hosts, bad: na}
	v, err := newView(&model.Result{Hosts: mem.Hosts})
	if err != nil {
		t.Fatal(err)
	}
	v.src = r.Source
	err = v.hosts(notAudited, func(*model.HostResult) error { return nil })
	if !errors.Is(err, errSource) || !strings.Contains(err.Error(), mem.Hosts[na].Target) {
		t.Errorf("reading the hosts not audited: %v, want %v naming %s", err, errSource, mem.Hosts[na].Target)
	}
}

// TestWriteAllCSVWithXLSX: report.csv is written during the XLSX's pass
// over the hosts when both are asked for, alone otherwise; either way, in
// any order of the formats, each file is the same.
func TestWriteAllCSVWithXLSX(t *testing.T) {
	r := spooled(t, fixtureResult(40))
	all := t.TempDir()
	if err := WriteAll(t.Context(), all, r, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, formats := range [][]Format{{FormatCSV, FormatXLSX}, {FormatXLSX}, {FormatCSV}, {FormatCSV, FormatPDF}} {
		for _, concurrent := range []bool{false, true} {
			dir := t.TempDir()
			if err := WriteAll(t.Context(), dir, r, Options{Formats: formats, Concurrent: concurrent}); err != nil {
				t.Fatal(err)
			}
			for _, f := range append([]Format{FormatJSON}, formats...) {
				x, err := os.ReadFile(filepath.Join(all, f.FileName()))
				if err != nil {
					t.Fatal(err)
				}
				y, err := os.ReadFile(filepath.Join(dir, f.FileName()))
				if err != nil {
					t.Fatalf("formats %v: %v", formats, err)
				}
				if !bytes.Equal(x, y) {
					t.Errorf("formats %v, concurrent %v: %s differs from the one of the whole bundle", formats, concurrent, f.FileName())
				}
			}
			if _, err := Verify(dir, nil); err != nil {
				t.Errorf("formats %v: %v", formats, err)
			}
		}
	}
}
