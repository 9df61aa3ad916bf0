package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bitaudit/bitaudit/history"
	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/spool"
)

func tallyHosts() []model.HostResult {
	return []model.HostResult{
		{Target: "a", Status: model.StatusCompliant, Volumes: []model.Volume{{MountPoint: "C:", Conversion: model.FullyEncrypted}}},
		{Target: "b", Status: model.StatusNoncompliant, Findings: []model.Finding{{RuleID: "BA005", Severity: model.SeverityMedium}}},
		{Target: "c", Status: model.StatusNoncompliant, Findings: []model.Finding{{RuleID: "BA002", Severity: model.SeverityHigh, Waiver: &model.WaiverRef{ID: "w"}}}},
		{Target: "d", Status: model.StatusUnreachable, Findings: []model.Finding{{RuleID: "host.not-audited", Severity: model.SeverityCritical}}},
	}
}

// TestHostTally: counted as they are stored, in any order, the hosts give
// the summary, --fail-on severity and snapshot a pass over them gives; a
// host stored again makes the tally give up.
func TestHostTally(t *testing.T) {
	hosts := tallyHosts()
	sp, err := spool.New(t.TempDir(), len(hosts))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	started := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	tally := newHostTally(len(hosts), true, started)
	sp.Observe(tally.add)
	for _, i := range []int{2, 0, 3, 1} {
		if err := sp.Put(i, &hosts[i]); err != nil {
			t.Fatal(err)
		}
	}
	got, ok := tally.finish(sp)
	src, sum, worst := got.src, got.sum, got.worst
	if !ok || src == nil || src.Len() != len(hosts) || got.snap == nil {
		t.Fatalf("finish: ok %v, source %v, snapshot %v", ok, src, got.snap)
	}
	want, err := model.SummarizeSource(sp)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sum, want) {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
	// The unreachable host's critical finding and the waived high one do
	// not count: medium.
	if worst != model.SeverityMedium {
		t.Errorf("worst %v, want medium", worst)
	}
	r := &model.Result{Run: model.Run{ID: "r", Started: started}, Summary: sum, Source: sp}
	wantSnap, err := history.SnapshotOf(r)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantSnap, got.snap.Snapshot(r)); diff != "" || len(wantSnap.Findings) != 3 {
		t.Errorf("snapshot (-pass +tally), of %d findings:\n%s", len(wantSnap.Findings), diff)
	}
	if newHostTally(len(hosts), false, started).snap != nil {
		t.Error("a run compared with none: a snapshot was taken")
	}

	again := newHostTally(len(hosts), true, started)
	sp2, err := spool.New(t.TempDir(), len(hosts))
	if err != nil {
		t.Fatal(err)
	}
	defer sp2.Close()
	sp2.Observe(again.add)
	for _, i := range []int{0, 1, 2, 3, 1} {
		if err := sp2.Put(i, &hosts[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := again.finish(sp2); ok {
		t.Error("a host stored twice: finish gave a tally")
	}
	if _, ok := newHostTally(1, true, started).finish(nil); ok {
		t.Error("no spool: finish gave a tally")
	}
}
