package factsfile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// A LiveCollector collects a host over the network (the WinRM collector).
type LiveCollector interface {
	Collect(ctx context.Context, t model.Target) (model.HostFacts, []model.Volume, error)
}

// A Collector hands the audit a host's facts from its facts file, or from a
// live collection when there is one: for a host found both live and in a
// facts file, the live collection is newer and wins; when it fails the
// facts file is used instead. Either way the host's collection record says
// which source was used and why (model.Collection.Note).
type Collector struct {
	live   LiveCollector // nil: facts files only
	byName map[string]*Loaded
}

// NewCollector returns a Collector over loaded facts files; live may be nil.
func NewCollector(loaded []Loaded, live LiveCollector) *Collector {
	c := &Collector{live: live, byName: map[string]*Loaded{}}
	for i := range loaded {
		for _, n := range loaded[i].Doc.Names() {
			c.byName[n] = &loaded[i]
		}
	}
	return c
}

// Targets returns one target per facts file, named by its FQDN or, without
// one, its computer name: the targets of an audit of facts files alone.
func Targets(loaded []Loaded) []model.Target {
	ts := make([]model.Target, 0, len(loaded))
	for _, l := range loaded {
		ts = append(ts, model.Target{Host: l.Doc.Names()[0]})
	}
	return ts
}

// Unmatched lists the facts files whose computer is none of the targets,
// as rejected inputs: they are reported, never silently audited or dropped.
func Unmatched(loaded []Loaded, targets []model.Target) []model.RejectedInput {
	named := map[string]bool{}
	for _, t := range targets {
		named[strings.ToLower(t.Host)] = true
	}
	var out []model.RejectedInput
	for _, l := range loaded {
		found := false
		for _, n := range l.Doc.Names() {
			found = found || named[n]
		}
		if !found {
			out = append(out, model.RejectedInput{File: l.File, Reason: fmt.Sprintf("computer %s is not among the targets; not audited", l.Doc.Identity.ComputerName)})
		}
	}
	return out
}

func (c *Collector) lookup(t model.Target) *Loaded {
	return c.byName[strings.ToLower(t.Host)]
}

// Collect implements the audit's collector.
func (c *Collector) Collect(ctx context.Context, t model.Target) (model.HostFacts, []model.Volume, error) {
	l := c.lookup(t)
	switch {
	case l == nil && c.live == nil:
		return model.HostFacts{}, nil, fmt.Errorf("no facts file for this target: %w", model.ErrNoData)
	case l == nil:
		return c.live.Collect(ctx, t)
	case c.live == nil:
		f, v := l.Doc.Host(l.File)
		return f, v, nil
	}
	f, v, err := c.live.Collect(ctx, t)
	collected := l.Doc.CollectedAt.Format(time.RFC3339)
	if err == nil {
		f.Source.Note = fmt.Sprintf("collected live; the facts file %s (collected %s) is older and was not used", l.File, collected)
		return f, v, nil
	}
	if ctx.Err() != nil {
		return f, v, err // interrupted or out of time: the run decides
	}
	f, v = l.Doc.Host(l.File)
	f.Source.Note = fmt.Sprintf("live collection failed (%s); facts from the file %s, collected %s", firstLine(err.Error()), l.File, collected)
	return f, v, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
