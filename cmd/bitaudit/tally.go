package main

import (
	"sync"
	"time"

	"github.com/bitaudit/bitaudit/history"
	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/reports"
	"github.com/bitaudit/bitaudit/spool"
)

// A hostTally counts a run's hosts as the spool stores them (its
// observer): the summary, the most severe open finding of an audited host
// (--fail-on), the reports' view and the run's snapshot for the comparison
// with the previous run, so that none needs a pass over the hosts after the
// collection.
type hostTally struct {
	view  *reports.Tally
	mu    sync.Mutex
	sum   model.Summarizer
	worst model.Severity
	snap  *history.SnapshotBuilder // nil when the run is compared with none
}

// newHostTally counts a run of n hosts that started then; compared says
// the run will be compared with an earlier one.
func newHostTally(n int, compared bool, started time.Time) *hostTally {
	t := &hostTally{view: reports.NewTally(n)}
	if compared {
		t.snap = history.NewSnapshotBuilder(started, n)
	}
	return t
}

// add is the spool's observer.
func (t *hostTally) add(i int, h *model.HostResult, record []byte) {
	t.view.Add(i, h, record)
	t.count(h)
}

// count (alone: no view) adds h to the summary and the worst severity.
func (t *hostTally) count(h *model.HostResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sum.Add(h)
	if t.snap != nil {
		t.snap.Add(h)
	}
	if h.Status.Audited() {
		for _, f := range h.Findings {
			if !f.Waived() {
				t.worst = max(t.worst, f.Severity)
			}
		}
	}
}

// totals are the summary and the worst severity counted.
func (t *hostTally) totals() (model.Summary, model.Severity) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sum.Summary(), t.worst
}

// tallied is what a hostTally counted: the result's source with the
// reports' view, the summary, the worst severity, and the snapshot's
// builder (nil when the run is compared with none).
type tallied struct {
	src   model.HostSource
	sum   model.Summary
	worst model.Severity
	snap  *history.SnapshotBuilder
}

// finish returns what was counted when every host of sp was counted
// exactly once; ok is false when one was stored again (changed after it
// was first stored: the cross-host check, coverage, --fix), one was kept in
// memory, or there is no spool: the caller then counts them in a pass.
func (t *hostTally) finish(sp *spool.Spool) (_ tallied, ok bool) {
	if sp == nil {
		return tallied{}, false
	}
	src, ok := t.view.Source(sp)
	if !ok {
		return tallied{}, false
	}
	sum, worst := t.totals()
	return tallied{src: src, sum: sum, worst: worst, snap: t.snap}, true
}
