package main

import (
	"reflect"
	"testing"

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
// the summary and --fail-on severity a pass over them gives; a host stored
// again makes the tally give up.
func TestHostTally(t *testing.T) {
	hosts := tallyHosts()
	sp, err := spool.New(t.TempDir(), len(hosts))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	tally := newHostTally(len(hosts))
	sp.Observe(tally.add)
	for _, i := range []int{2, 0, 3, 1} {
		if err := sp.Put(i, &hosts[i]); err != nil {
			t.Fatal(err)
		}
	}
	src, sum, worst, ok := tally.finish(sp)
	if !ok || src == nil || src.Len() != len(hosts) {
		t.Fatalf("finish: ok %v, source %v", ok, src)
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

	again := newHostTally(len(hosts))
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
	if _, _, _, ok := again.finish(sp2); ok {
		t.Error("a host stored twice: finish gave a tally")
	}
	if _, _, _, ok := newHostTally(1).finish(nil); ok {
		t.Error("no spool: finish gave a tally")
	}
}
