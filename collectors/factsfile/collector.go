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
	live LiveCollector // nil: facts files only
	idx  index
}

// NewCollector returns a Collector over loaded facts files; live may be nil.
func NewCollector(loaded []Loaded, live LiveCollector) *Collector {
	return &Collector{live: live, idx: newIndex(loaded)}
}

// index finds the facts file of a target by the operator's identity of it.
type index struct {
	byFQDN, byName map[string]*Loaded
}

func newIndex(loaded []Loaded) index {
	x := index{byFQDN: map[string]*Loaded{}, byName: map[string]*Loaded{}}
	for i := range loaded {
		l := &loaded[i]
		if f := l.Doc.Identity.FQDN; f != "" {
			x.byFQDN[lower(f)] = l
		}
		x.byName[lower(l.Doc.Identity.ComputerName)] = l
	}
	return x
}

// lookup matches a target to a facts file: by its DNS name (the fqdn
// column or the target's name) against the file's FQDN, else by the
// computer name the target implies (a single-label name, the DN's CN)
// against the file's, unless both sides have FQDNs that differ (WS-0001
// of another domain is another computer). An IP-only target matches none.
func (x index) lookup(t model.Target) *Loaded {
	dns := lower(t.DNSName())
	if l := x.byFQDN[dns]; dns != "" && l != nil {
		return l
	}
	l := x.byName[lower(t.Identity().GivenName())]
	if l == nil || (strings.Contains(dns, ".") && l.Doc.Identity.FQDN != "") {
		return nil // no such computer, or a namesake in another domain
	}
	return l
}

// Targets returns one target per facts file, named by its FQDN or, without
// one, its computer name: the targets of an audit of facts files alone.
// These names are the files' own claims; identity binding then checks them
// against the directory as it checks a remote host's report.
func Targets(loaded []Loaded) []model.Target {
	ts := make([]model.Target, 0, len(loaded))
	for _, l := range loaded {
		ts = append(ts, model.Target{Host: l.Doc.Names()[0], FQDN: lower(l.Doc.Identity.FQDN)})
	}
	return ts
}

// Unmatched lists the facts files whose computer is none of the targets,
// as rejected inputs: they are reported, never silently audited or dropped.
func Unmatched(loaded []Loaded, targets []model.Target) []model.RejectedInput {
	x := newIndex(loaded)
	used := map[*Loaded]bool{}
	for _, t := range targets {
		if l := x.lookup(t); l != nil {
			used[l] = true
		}
	}
	var out []model.RejectedInput
	for i := range loaded {
		if l := &loaded[i]; !used[l] {
			out = append(out, model.RejectedInput{File: l.File, Reason: fmt.Sprintf("computer %s is not among the targets; not audited", l.Doc.Identity.ComputerName)})
		}
	}
	return out
}

// Collect implements the audit's collector.
func (c *Collector) Collect(ctx context.Context, t model.Target) (model.HostFacts, []model.Volume, error) {
	l := c.idx.lookup(t)
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
