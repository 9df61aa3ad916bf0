package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/bitaudit/bitaudit/model"
)

// authStop stops a run after max consecutive hosts refused the credentials:
// each further attempt risks locking the service account out (an AD lockout
// policy counts failed logons across hosts). Zero max disables it.
type authStop struct {
	mu     sync.Mutex
	max    int
	run    int
	cancel context.CancelCauseFunc
	fired  bool
}

// errAuthStop is the cause a run is cancelled with.
type errAuthStop struct{ n int }

func (e errAuthStop) Error() string {
	return fmt.Sprintf("%d consecutive hosts refused the credentials (--max-auth-failures %d); stopped so the account is not locked out", e.n, e.n)
}

// observe counts one finished host, in completion order.
func (s *authStop) observe(h *model.HostResult) {
	if s.max <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.Status != model.StatusAuthFailed {
		s.run = 0
		return
	}
	s.run++
	if s.run >= s.max && !s.fired {
		s.fired = true
		s.cancel(errAuthStop{s.max})
	}
}

// lineWriter writes log lines to a terminal that shows a progress bar: it
// clears the bar's line first, so a log line never runs into the bar; the
// bar redraws itself on its next update.
type lineWriter struct {
	mu    *sync.Mutex
	w     io.Writer
	clear func() error
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.clear()
	return l.w.Write(p)
}

// duplicatesLine is the one warning for the duplicate target lines: their
// count and the first few.
func duplicatesLine(ds []model.Duplicate) string {
	const show = 3
	var ex []string
	for _, d := range ds[:min(show, len(ds))] {
		ex = append(ex, fmt.Sprintf("%s on line %d (first on line %d)", d.Target, d.Line, d.FirstLine))
	}
	more := ""
	if len(ds) > show {
		more = fmt.Sprintf(", and %d more", len(ds)-show)
	}
	return fmt.Sprintf("%s audited once: %s%s", plural(len(ds), "duplicate target line", "duplicate target lines"), strings.Join(ex, "; "), more)
}
