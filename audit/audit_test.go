package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/audit"
	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/spool"
)

// fakeCollector answers by host name: "ok-*" succeed, "down-*" are
// unreachable, "auth-*" refuse credentials, "hang-*" block until ctx ends,
// "deaf-*" ignore ctx entirely, "panic-*" panic.
type fakeCollector struct{ calls atomic.Int64 }

func (f *fakeCollector) Collect(ctx context.Context, t model.Target) (model.HostFacts, []model.Volume, error) {
	f.calls.Add(1)
	switch {
	case strings.HasPrefix(t.Host, "copy"): // every copy-* host reports one protector ID
		return model.HostFacts{Hostname: strings.ToUpper(t.Host)}, []model.Volume{{MountPoint: "C:", Conversion: model.FullyEncrypted,
			Protectors: []model.Protector{{ID: "{0C0C0C0C-0000-4000-8000-00000000000C}", Type: model.ProtectorRecoveryPassword,
				Backups: []model.Backup{{Location: model.LocationAD, State: model.BackupVerified}}}}}}, nil
	case strings.HasPrefix(t.Host, "bidi"):
		return model.HostFacts{Hostname: "LT-\u202e8100"}, []model.Volume{{MountPoint: "C:"}}, nil
	case strings.HasPrefix(t.Host, "ok"):
		return model.HostFacts{Hostname: strings.ToUpper(t.Host)}, []model.Volume{{MountPoint: "C:", Conversion: model.FullyEncrypted}}, nil
	case strings.HasPrefix(t.Host, "down"):
		return model.HostFacts{}, nil, fmt.Errorf("dial tcp: connection refused: %w", model.ErrUnreachable)
	case strings.HasPrefix(t.Host, "auth"):
		return model.HostFacts{}, nil, fmt.Errorf("401: %w", model.ErrAuth)
	case strings.HasPrefix(t.Host, "hang"):
		<-ctx.Done()
		return model.HostFacts{}, nil, ctx.Err()
	case strings.HasPrefix(t.Host, "deaf"):
		time.Sleep(time.Hour)
	case strings.HasPrefix(t.Host, "panic"):
		panic("boom")
	}
	return model.HostFacts{}, nil, errors.New("garbage")
}

// flagEvaluator marks hosts with volumes noncompliant when they are not "ok-good".
type flagEvaluator struct{}

func (flagEvaluator) Evaluate(h *model.HostResult, now time.Time) {
	if !h.Status.Audited() {
		h.Findings = append(h.Findings, model.Finding{RuleID: "host.not_audited", Severity: model.SeverityHigh})
		return
	}
	if h.Target != "ok-good" {
		h.Status = model.StatusNoncompliant
		h.Findings = append(h.Findings, model.Finding{RuleID: "x", Severity: model.SeverityMedium})
	}
}

func targets(names ...string) []model.Target {
	var ts []model.Target
	for _, n := range names {
		ts = append(ts, model.Target{Host: n})
	}
	return ts
}

func TestRunStatuses(t *testing.T) {
	t.Parallel()
	a := audit.New(&fakeCollector{}, nil, flagEvaluator{}, audit.Options{Concurrency: 3, HostTimeout: 200 * time.Millisecond})
	got := a.Run(t.Context(), targets("ok-good", "ok-bad", "down-1", "auth-1", "hang-1", "panic-1", "weird-1"))
	want := map[string]model.Status{
		"ok-good": model.StatusCompliant, "ok-bad": model.StatusNoncompliant, "down-1": model.StatusUnreachable,
		"auth-1": model.StatusAuthFailed, "hang-1": model.StatusTimeout, "panic-1": model.StatusProtocolError,
		"weird-1": model.StatusProtocolError,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	for _, h := range got {
		if h.Status != want[h.Target] {
			t.Errorf("%s: status %s (%s), want %s", h.Target, h.Status, h.Reason, want[h.Target])
		}
		if !h.Status.Audited() && (h.Reason == "" || len(h.Findings) == 0) {
			t.Errorf("%s: not audited without reason or finding: %+v", h.Target, h)
		}
		if h.Volumes == nil || h.Findings == nil {
			t.Errorf("%s: nil slices would encode as null", h.Target)
		}
	}
}

func TestRunAbandonsCollectorIgnoringDeadline(t *testing.T) {
	t.Parallel()
	a := audit.New(&fakeCollector{}, nil, nil, audit.Options{HostTimeout: 50 * time.Millisecond})
	got := a.Run(t.Context(), targets("deaf-1", "ok-1"))
	if got[0].Status != model.StatusTimeout || got[1].Status != model.StatusCompliant {
		t.Fatalf("statuses: %s (%s), %s", got[0].Status, got[0].Reason, got[1].Status)
	}
}

func TestRunInterruptedKeepsEveryTarget(t *testing.T) {
	t.Parallel()
	var names []string
	for i := range 50 {
		names = append(names, fmt.Sprintf("hang-%02d", i))
	}
	names = append(names, "ok-last")
	ctx, cancel := context.WithCancel(t.Context())
	c := &fakeCollector{}
	a := audit.New(c, nil, flagEvaluator{}, audit.Options{Concurrency: 4, HostTimeout: time.Minute, Grace: 20 * time.Millisecond,
		Progress: func(done, total int, h *model.HostResult) {}})
	go func() {
		for c.calls.Load() < 4 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	got := a.Run(ctx, targets(names...))
	if len(got) != len(names) {
		t.Fatalf("got %d results, want %d", len(got), len(names))
	}
	seen := map[string]bool{}
	for i, h := range got {
		if h.Target != names[i] || seen[h.Target] {
			t.Fatalf("result %d is %q, want %q exactly once", i, h.Target, names[i])
		}
		seen[h.Target] = true
		if h.Status != model.StatusInterrupted {
			t.Errorf("%s: status %s, want interrupted", h.Target, h.Status)
		}
		if len(h.Findings) == 0 {
			t.Errorf("%s: interrupted host has no not-audited finding", h.Target)
		}
	}
	if n := c.calls.Load(); n > 8 {
		t.Errorf("%d hosts started after the interrupt", n)
	}
}

// TestRunInterruptedDuringRamp: an interrupt while the first hosts' starts
// are still being spread starts no more of them, and every target still
// gets a result.
func TestRunInterruptedDuringRamp(t *testing.T) {
	t.Parallel()
	names := []string{"ok-1", "ok-2", "ok-3", "ok-4", "ok-5"}
	ctx, cancel := context.WithCancel(t.Context())
	c := &fakeCollector{}
	a := audit.New(c, nil, flagEvaluator{}, audit.Options{Concurrency: 4, HostTimeout: time.Minute, Ramp: time.Hour,
		Progress: func(done, total int, h *model.HostResult) { cancel() }})
	got := a.Run(ctx, targets(names...))
	if len(got) != len(names) {
		t.Fatalf("got %d results, want %d", len(got), len(names))
	}
	if got[0].Status == model.StatusInterrupted {
		t.Errorf("%s, started before the interrupt: %s", got[0].Target, got[0].Status)
	}
	for _, h := range got[1:] {
		if h.Status != model.StatusInterrupted {
			t.Errorf("%s: status %s, want interrupted (the ramp had not started it)", h.Target, h.Status)
		}
	}
	if n := c.calls.Load(); n != 1 {
		t.Errorf("%d hosts started, want 1", n)
	}
}

// TestRunAbortEndsGrace: closing Abort after the interrupt stops running
// hosts at once, though the grace period is an hour; the cause given to
// the cancellation is the reason of hosts never started.
func TestRunAbortEndsGrace(t *testing.T) {
	t.Parallel()
	names := []string{"hang-1", "hang-2", "ok-3", "ok-4"}
	ctx, cancel := context.WithCancelCause(t.Context())
	abort := make(chan struct{})
	c := &fakeCollector{}
	var a *audit.Auditor
	a = audit.New(c, nil, flagEvaluator{}, audit.Options{Concurrency: 2, HostTimeout: time.Hour, Grace: time.Hour, Abort: abort})
	go func() {
		for a.Running() < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel(errors.New("3 consecutive hosts refused the credentials"))
		close(abort)
	}()
	got := a.Run(ctx, targets(names...))
	for _, h := range got {
		if h.Status != model.StatusInterrupted {
			t.Errorf("%s: status %s, want interrupted", h.Target, h.Status)
		}
	}
	for _, h := range got {
		t.Logf("%s %s %q", h.Target, h.Status, h.Reason)
	}
	if r := got[2].Reason; r != "run stopped before this host was audited: 3 consecutive hosts refused the credentials" {
		t.Errorf("reason of a host never started: %q", r)
	}
	if a.Running() != 0 {
		t.Errorf("Running() = %d after Run", a.Running())
	}
}

// TestRunRefusesFormatCharacters: a host naming itself with a bidi override
// is a protocol error, not an audited host whose name reports misprint.
func TestRunRefusesFormatCharacters(t *testing.T) {
	t.Parallel()
	a := audit.New(&fakeCollector{}, nil, flagEvaluator{}, audit.Options{})
	got := a.Run(t.Context(), targets("bidi-1"))
	if got[0].Status != model.StatusProtocolError || got[0].Facts != nil || !strings.Contains(got[0].Reason, "U+202E") {
		t.Errorf("status %s, facts %v, reason %q; want protocol_error naming U+202E", got[0].Status, got[0].Facts, got[0].Reason)
	}
}

// TestRunToSpoolMatchesMemory: a run into a spool on disk gives what a run
// in memory gives, host for host, the cross-host copy check included.
func TestRunToSpoolMatchesMemory(t *testing.T) {
	t.Parallel()
	names := []string{"ok-1", "copy-1", "down-1", "copy-2", "auth-1", "ok-2", "panic-1", "copy-3"}
	now := func() time.Time { return time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC) }
	opts := audit.Options{Concurrency: 3, Now: now}
	mem := audit.New(&fakeCollector{}, nil, flagEvaluator{}, opts).Run(t.Context(), targets(names...))
	sp, err := spool.New(t.TempDir(), len(names))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if err := audit.New(&fakeCollector{}, nil, flagEvaluator{}, opts).RunTo(t.Context(), targets(names...), sp); err != nil {
		t.Fatal(err)
	}
	for i := range names {
		h, err := sp.Host(i)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(h)
		want, _ := json.Marshal(mem[i])
		if string(got) != string(want) {
			t.Errorf("host %d from the spool:\n%s\nin memory:\n%s", i, got, want)
		}
	}
	p := mem[1].Volumes[0].Protectors[0]
	if len(p.Duplicates) != 2 || p.Duplicates[0] != "copy-2 C:" || p.Duplicates[1] != "copy-3 C:" || p.Backups[0].State != model.BackupUnknown {
		t.Errorf("copy-1's protector: duplicates %v, backup %s; want [copy-2 C: copy-3 C:] and unknown", p.Duplicates, p.Backups[0].State)
	}
}

// failingStore refuses host bad.
type failingStore struct {
	model.HostSlice
	bad int
}

func (s failingStore) Put(i int, h *model.HostResult) error {
	if i == s.bad {
		return errors.New("disk full")
	}
	s.HostSlice[i] = *h
	return nil
}

func TestRunToReportsStoreFailure(t *testing.T) {
	t.Parallel()
	st := failingStore{HostSlice: make(model.HostSlice, 3), bad: 1}
	err := audit.New(&fakeCollector{}, nil, flagEvaluator{}, audit.Options{}).RunTo(t.Context(), targets("ok-1", "ok-2", "ok-3"), st)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("RunTo = %v, want the store's error", err)
	}
	if err := audit.New(&fakeCollector{}, nil, nil, audit.Options{}).RunTo(t.Context(), targets("ok-1"), st); err == nil {
		t.Error("RunTo into a store of the wrong size: no error")
	}
}
