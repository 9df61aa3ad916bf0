package spool

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

func host(i int) model.HostResult {
	return model.HostResult{
		Target: fmt.Sprintf("pc%04d.corp.example", i), Status: model.StatusNoncompliant,
		Reason:      "1 finding",
		CollectedAt: time.Date(2026, 12, 1, 10, 0, i, 0, time.UTC),
		Labels:      map[string]string{"site": "lab"},
		Volumes: []model.Volume{{MountPoint: "C:", Protectors: []model.Protector{{ID: fmt.Sprintf("{%08d-0000-0000-0000-000000000000}", i),
			Type: model.ProtectorRecoveryPassword}}}},
		Findings: []model.Finding{{RuleID: "escrow.missing", Severity: model.SeverityHigh}},
	}
}

func TestPutAndRead(t *testing.T) {
	s, err := New(t.TempDir(), 5)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Out of order, one replaced, one never put.
	for _, i := range []int{3, 0, 1, 3} {
		h := host(i)
		if i == 3 {
			h.Reason = fmt.Sprintf("put at %d", s.end)
		}
		if err := s.Put(i, &h); err != nil {
			t.Fatal(err)
		}
	}
	last := host(3)
	last.Reason = "put last"
	if err := s.Put(3, &last); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 3} {
		got, err := s.Host(i)
		if err != nil {
			t.Fatal(err)
		}
		want := host(i)
		if i == 3 {
			want.Reason = "put last"
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("host %d = %+v, want %+v", i, got, want)
		}
	}
	for _, i := range []int{2, 4, -1, 5} {
		if _, err := s.Host(i); err == nil {
			t.Errorf("host %d: no error for a host never put", i)
		}
	}
	if err := s.Put(5, &last); err == nil {
		t.Error("put beyond Len: no error")
	}
	if s.Len() != 5 {
		t.Errorf("Len = %d", s.Len())
	}
	var _ model.HostSource = s
}

func TestCloseRemovesTheFile(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	h := host(0)
	if err := s.Put(0, &h); err != nil {
		t.Fatal(err)
	}
	fi, err := s.f.(*os.File).Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("spool file mode %v, want 0600", fi.Mode().Perm())
	}
	if got, err := s.Host(0); err != nil || got.Target != h.Target {
		t.Errorf("read back %q, %v", got.Target, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("Close left %v", left)
	}
}

// failing fails every write after the first ok.
type failing struct {
	*os.File
	ok int
}

func (f *failing) WriteAt(b []byte, off int64) (int, error) {
	if f.ok == 0 {
		return len(b) / 2, errors.New("no space left on device")
	}
	f.ok--
	return f.File.WriteAt(b, off)
}

func TestWriteFailureKeepsResultsInMemory(t *testing.T) {
	s, err := New(t.TempDir(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.f = &failing{File: s.f.(*os.File), ok: 2}
	for i := range 4 {
		h := host(i)
		if err := s.Put(i, &h); err != nil {
			t.Fatal(err)
		}
		h.Reason = "changed by the caller after Put"
	}
	if err := s.WriteErr(); err == nil || !strings.Contains(err.Error(), "no space") {
		t.Errorf("WriteErr = %v", err)
	}
	for i := range 4 {
		got, err := s.Host(i)
		if err != nil {
			t.Fatal(err)
		}
		if want := host(i); !reflect.DeepEqual(got, want) {
			t.Errorf("host %d = %+v, want %+v", i, got, want)
		}
	}
}

// TestObserve: the observer sees each host stored, in the file or kept in
// memory after a write failure, with the record Raw gives back.
func TestObserve(t *testing.T) {
	s, err := New(t.TempDir(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.f = &failing{File: s.f.(*os.File), ok: 2}
	seen := map[int]string{}
	s.Observe(func(i int, h *model.HostResult, record []byte) {
		if h.Target != host(i).Target {
			t.Errorf("observed host %d as %s", i, h.Target)
		}
		seen[i] = string(record)
	})
	for _, i := range []int{3, 1, 0, 2} {
		h := host(i)
		if err := s.Put(i, &h); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 4 {
		t.Fatalf("observed %d hosts (%v), want all 4: 2 written, 2 kept in memory", len(seen), slices.Sorted(maps.Keys(seen)))
	}
	if s.WriteErr() == nil {
		t.Fatal("no write failed: the test covers nothing kept in memory")
	}
	for i, rec := range seen {
		raw, err := s.Raw(i)
		if err != nil || string(raw) != rec {
			t.Errorf("host %d: observed record %q, Raw %q (%v)", i, rec, raw, err)
		}
	}
}

func TestConcurrentPutAndRead(t *testing.T) {
	const n = 200
	s, err := New(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				h := host(i)
				if err := s.Put(i, &h); err != nil {
					t.Error(err)
					return
				}
				if got, err := s.Host(i); err != nil || got.Target != h.Target {
					t.Errorf("host %d read back %q, %v", i, got.Target, err)
				}
			}
		})
	}
	wg.Wait()
	err = model.EachHost(s, func(i int, h *model.HostResult) error {
		if h.Target != host(i).Target {
			return fmt.Errorf("host %d is %s", i, h.Target)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkPutHost stores and reads back one 10,000-host run's worth of
// typical results per op.
func BenchmarkPutHost(b *testing.B) {
	const n = 10000
	hs := make([]model.HostResult, n)
	for i := range hs {
		hs[i] = host(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := New(b.TempDir(), n)
		if err != nil {
			b.Fatal(err)
		}
		for i := range hs {
			if err := s.Put(i, &hs[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := model.EachHost(s, func(int, *model.HostResult) error { return nil }); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
