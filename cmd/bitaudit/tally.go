package main

import (
	"sync"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/reports"
	"github.com/bitaudit/bitaudit/spool"
)

// A hostTally counts a run's hosts as the spool stores them (its
// observer): the summary, the most severe open finding of an audited host
// (--fail-on) and the reports' view, so that none needs a pass over the
// hosts after the collection.
type hostTally struct {
	view  *reports.Tally
	mu    sync.Mutex
	sum   model.Summarizer
	worst model.Severity
}

func newHostTally(n int) *hostTally {
	return &hostTally{view: reports.NewTally(n)}
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

// finish returns the result's source with the reports' view, the summary
// and the worst severity when every host of sp was counted exactly once;
// ok is false when one was stored again (changed after it was first
// stored: the cross-host check, coverage, --fix), one was kept in memory,
// or there is no spool: the caller then counts them in a pass.
func (t *hostTally) finish(sp *spool.Spool) (src model.HostSource, sum model.Summary, worst model.Severity, ok bool) {
	if sp == nil {
		return nil, model.Summary{}, model.SeverityNone, false
	}
	if src, ok = t.view.Source(sp); !ok {
		return nil, model.Summary{}, model.SeverityNone, false
	}
	sum, worst = t.totals()
	return src, sum, worst, true
}
