//go:build unix

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/audit"
	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator"
	"github.com/bitaudit/bitaudit/simulator/windows"
)

// TestFixSurvivesKill starts "bitaudit audit --fix --yes" as a child
// process, SIGKILLs it while it applies the plan (after its first intent,
// mid-plan, and after most outcomes), and checks that the journal is true
// (every action that changed a source has its intent on disk; every outcome
// "done" is held at the source) and that a rerun with the same --out ends
// in the same state as an uninterrupted run: every host at the simulator's
// status after a fix, and the interrupted actions resolved.
func TestFixSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, tc := range []struct {
		name   string
		killAt func(intents, outcomes int) bool
	}{
		{"after the first intent", func(i, _ int) bool { return i >= 1 }},
		{"mid-plan", func(i, o int) bool { return i >= 4 && i > o }},
		{"after most outcomes", func(_, o int) bool { return o >= 7 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ff := startFixFleetLatency(t, fixSpec(), "127.0.64.1", 250*time.Millisecond)
			out := filepath.Join(t.TempDir(), "run")
			before := escrowTruth(ff.fleet)

			args := append(append([]string{}, ff.args...), "--out", out, "--fix", "--yes", "--fix-concurrency", "1")
			child := exec.Command(os.Args[0], "-test.run=^$")
			child.Env = append(os.Environ(), "BITAUDIT_PASSWORD="+fixPassword, benchSimulateEnv+"="+strings.Join(args, "\n"))
			var logb bytes.Buffer
			child.Stdout, child.Stderr = &logb, &logb
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- child.Wait() }()
			killed := false
		poll:
			for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				select {
				case err := <-exited:
					t.Fatalf("the child finished before it was killed (%v):\n%s", err, logb.String())
				default:
				}
				i, o := journalCounts(out)
				if tc.killAt(i, o) {
					if err := child.Process.Kill(); err != nil {
						t.Fatal(err)
					}
					killed = true
					break poll
				}
			}
			if !killed {
				t.Fatalf("the child never reached the kill point:\n%s", logb.String())
			}
			<-exited
			recs, _, err := audit.ReadJournal(filepath.Join(out, audit.JournalName))
			if err != nil {
				t.Fatal(err)
			}
			order, entries := audit.Replay(recs)
			interrupted := 0
			for _, id := range order {
				if entries[id].Interrupted() {
					interrupted++
				}
			}
			t.Logf("killed with %d actions journalled, %d without outcome", len(order), interrupted)
			checkJournalTrue(t, ff.fleet, before, entries)

			// The rerun with the same --out resolves the interrupted actions.
			code, stdout, stderr := cli(t, t.Context(), ff.env, append(append([]string{}, ff.args...), "--out", out, "--fix", "--yes")...)
			if code != exitFindings {
				t.Fatalf("rerun: exit %d\n%s\n%s", code, stdout, stderr)
			}
			r := readResult(t, out)
			for _, h := range r.Hosts {
				sh := ff.byTarget[h.Target]
				if string(h.Status) != sh.Expect.StatusAfterFix {
					t.Errorf("%s (%s): %s after the rerun (%s), want %s", h.Target, sh.Profile, h.Status, h.Reason, sh.Expect.StatusAfterFix)
				}
			}
			for _, e := range r.Remediation {
				if e.Outcome == audit.OutcomeUnknown {
					t.Errorf("%s %s %s: still unknown after the rerun verified it", e.Target, e.ProtectorID, e.Location)
				}
			}
			recs, torn, err := audit.ReadJournal(filepath.Join(out, audit.JournalName))
			if err != nil {
				t.Fatal(err)
			}
			if torn {
				t.Error("the rerun left a torn journal line")
			}
			_, entries = audit.Replay(recs)
			checkJournalTrue(t, ff.fleet, before, entries)
		})
	}
}

// startFixFleetLatency is startFixFleet with latency on every command, so
// a child can be killed between an action's intent and its outcome.
func startFixFleetLatency(t *testing.T, spec *simulator.Spec, base string, latency time.Duration) *fixFleet {
	t.Helper()
	spec.Latency = simulator.UniformLatency(latency, latency)
	return startFixFleet(t, spec, base)
}

func journalCounts(dir string) (intents, outcomes int) {
	b, err := os.ReadFile(filepath.Join(dir, audit.JournalName))
	if err != nil {
		return 0, 0
	}
	return bytes.Count(b, []byte(`"record":"intent"`)), bytes.Count(b, []byte(`"record":"outcome"`))
}

// escrowKey is one key a source holds for one machine.
type escrowKey struct {
	host string
	loc  model.Location
	id   string
}

// escrowTruth lists every key the fleet's sources hold, by host.
func escrowTruth(f *simulator.Fleet) map[escrowKey]bool {
	out := map[escrowKey]bool{}
	for _, h := range f.Hosts() {
		m := h.Machine
		m.Mu.Lock()
		for loc, keys := range map[model.Location][]windows.EscrowedKey{model.LocationAD: m.Escrow.AD, model.LocationEntra: m.Escrow.Entra} {
			for _, k := range keys {
				out[escrowKey{h.Address, loc, model.NormalizeProtectorID(k.ProtectorID)}] = true
			}
		}
		m.Mu.Unlock()
	}
	return out
}

// checkJournalTrue: every key a source gained since before is the object
// of a journalled intent, and every outcome "done" is held at the source.
func checkJournalTrue(t *testing.T, f *simulator.Fleet, before map[escrowKey]bool, entries map[string]audit.JournalEntry) {
	t.Helper()
	now := escrowTruth(f)
	intended := map[escrowKey]bool{}
	for _, e := range entries {
		k := escrowKey{e.Intent.Host, e.Intent.Location, model.NormalizeProtectorID(e.Intent.ProtectorID)}
		intended[k] = true
		if e.Outcome != nil && e.Outcome.Result == audit.ResultDone && e.Intent.Kind == audit.ActionBackup && !now[k] {
			t.Errorf("journal says %s %s %s done, the source does not hold it", k.host, k.id, k.loc)
		}
	}
	for k := range now {
		if !before[k] && !intended[k] {
			t.Errorf("%s gained %s at %s with no intent in the journal", k.host, k.id, k.loc)
		}
	}
}

// TestFixInterruptFinishesRunningActions sends SIGINT to "bitaudit audit
// --fix --yes" while it applies: no further action starts, the one running
// finishes and is journalled, the result is written, the exit status is 130.
func TestFixInterruptFinishesRunningActions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	ff := startFixFleetLatency(t, fixSpec(), "127.0.64.101", 300*time.Millisecond)
	out := filepath.Join(t.TempDir(), "run")
	args := append(append([]string{}, ff.args...), "--out", out, "--fix", "--yes", "--fix-concurrency", "1")
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "BITAUDIT_PASSWORD="+fixPassword, benchSimulateEnv+"="+strings.Join(args, "\n"))
	var logb bytes.Buffer
	child.Stdout, child.Stderr = &logb, &logb
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if i, o := journalCounts(out); i >= 2 && i > o {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never reached the second action:\n%s", logb.String())
		}
	}
	if err := child.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := child.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit %v, want %d\n%s", err, exitInterrupted, logb.String())
	}
	recs, torn, err := audit.ReadJournal(filepath.Join(out, audit.JournalName))
	if err != nil || torn {
		t.Fatalf("journal: %v torn=%v", err, torn)
	}
	order, entries := audit.Replay(recs)
	for _, id := range order {
		if entries[id].Interrupted() {
			t.Errorf("action %s has no outcome after an interrupt", id)
		}
	}
	if len(order) >= 8 {
		t.Errorf("%d actions ran: the interrupt did not stop the plan", len(order))
	}
	r := readResult(t, out)
	if !r.Run.Interrupted || len(r.Remediation) == 0 {
		t.Errorf("result: interrupted %v, %d remediation entries", r.Run.Interrupted, len(r.Remediation))
	}
}
