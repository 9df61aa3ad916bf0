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
// which source was used and why (model.Collection.Note). A computer that
// several files claim is never audited from any of them.
type Collector struct {
	live LiveCollector // nil: facts files only
	idx  index
}

// NewCollector returns a Collector over a loaded set; live may be nil.
func NewCollector(set *Set, live LiveCollector) *Collector {
	return &Collector{live: live, idx: newIndex(set)}
}

// An entry is what a name leads to: one usable file, or a conflict.
type entry struct {
	loaded   *Loaded
	conflict *Conflict
}

func (e entry) fqdn() string {
	if e.conflict != nil {
		return e.conflict.FQDN
	}
	return e.loaded.Doc.Identity.FQDN
}

// index finds the facts file of a target by the operator's identity of it.
type index struct {
	byFQDN, byName map[string]entry
}

func newIndex(set *Set) index {
	x := index{byFQDN: map[string]entry{}, byName: map[string]entry{}}
	add := func(fqdn, name string, e entry) {
		if fqdn != "" {
			x.byFQDN[lower(fqdn)] = e
		}
		x.byName[lower(name)] = e
	}
	for i := range set.Loaded {
		l := &set.Loaded[i]
		add(l.Doc.Identity.FQDN, l.Doc.Identity.ComputerName, entry{loaded: l})
	}
	for i := range set.Conflicts {
		c := &set.Conflicts[i]
		add(c.FQDN, c.ComputerName, entry{conflict: c})
	}
	return x
}

// lookup matches a target to a facts file: by its DNS name (the fqdn
// column or the target's name) against the file's FQDN, else by the
// computer name the target implies (a single-label name, the DN's CN)
// against the file's, unless both sides have FQDNs that differ (WS-0001
// of another domain is another computer). An IP-only target matches none.
func (x index) lookup(t model.Target) (entry, bool) {
	dns := lower(t.DNSName())
	if e, ok := x.byFQDN[dns]; dns != "" && ok {
		return e, true
	}
	e, ok := x.byName[lower(t.Identity().GivenName())]
	if !ok || (strings.Contains(dns, ".") && e.fqdn() != "") {
		return entry{}, false // no such computer, or a namesake in another domain
	}
	return e, true
}

// Targets returns the targets of an audit of facts files alone: one per
// usable file and one per conflict, named by the FQDN or, without one, the
// computer name. These names are the files' own claims; identity binding
// then checks them against the directory as it checks a remote host's
// report.
func Targets(set *Set) []model.Target {
	ts := make([]model.Target, 0, len(set.Loaded)+len(set.Conflicts))
	for _, l := range set.Loaded {
		ts = append(ts, model.Target{Host: l.Doc.Names()[0], FQDN: lower(l.Doc.Identity.FQDN)})
	}
	for _, c := range set.Conflicts {
		ts = append(ts, model.Target{Host: c.names()[0], FQDN: c.FQDN})
	}
	return ts
}

// Unmatched lists the usable facts files whose computer is none of the
// targets, as rejected inputs: they are reported, never silently audited
// or dropped.
func Unmatched(set *Set, targets []model.Target) []model.RejectedInput {
	x := newIndex(set)
	used := map[*Loaded]bool{}
	for _, t := range targets {
		if e, ok := x.lookup(t); ok && e.loaded != nil {
			used[e.loaded] = true
		}
	}
	var out []model.RejectedInput
	for i := range set.Loaded {
		if l := &set.Loaded[i]; !used[l] {
			out = append(out, model.RejectedInput{File: l.File, Reason: fmt.Sprintf("computer %s is not among the targets; not audited", l.Doc.Identity.ComputerName)})
		}
	}
	return out
}

// Collect implements the audit's collector.
func (c *Collector) Collect(ctx context.Context, t model.Target) (model.HostFacts, []model.Volume, error) {
	e, found := c.idx.lookup(t)
	switch {
	case !found && c.live == nil:
		return model.HostFacts{}, nil, fmt.Errorf("no facts file for this target: %w", model.ErrNoData)
	case !found:
		return c.live.Collect(ctx, t)
	case c.live == nil:
		return e.facts()
	}
	f, v, err := c.live.Collect(ctx, t)
	if err == nil {
		if e.conflict != nil {
			f.Source.Note = "collected live; " + e.describe() + " were not used"
		} else {
			f.Source.Note = "collected live; " + e.describe() + " is older and was not used"
		}
		return f, v, nil
	}
	if ctx.Err() != nil {
		return f, v, err // interrupted or out of time: the run decides
	}
	if e.conflict != nil {
		return f, v, fmt.Errorf("%w; %s conflict, so none was used", err, e.describe())
	}
	f, v, _ = e.facts()
	f.Source.Note = fmt.Sprintf("live collection failed (%s); facts from %s", firstLine(err.Error()), e.describe())
	return f, v, nil
}

// facts returns the entry's facts, or for a conflict the error that says
// why the host was not audited.
func (e entry) facts() (model.HostFacts, []model.Volume, error) {
	if e.conflict != nil {
		return model.HostFacts{}, nil, fmt.Errorf("%s claim this computer; none is trusted, since a host cannot vouch for itself: %w",
			strings.Join(e.conflict.Files, ", "), model.ErrProtocol)
	}
	d, err := e.loaded.Full()
	if err != nil {
		return model.HostFacts{}, nil, fmt.Errorf("%w: %w", err, model.ErrNoData)
	}
	f, v := d.Host(e.loaded.File)
	return f, v, nil
}

func (e entry) describe() string {
	if e.conflict != nil {
		return fmt.Sprintf("the %d facts files that claim this computer (%s)", len(e.conflict.Files), strings.Join(e.conflict.Files, ", "))
	}
	return fmt.Sprintf("the facts file %s (collected %s)", e.loaded.File, e.loaded.Doc.CollectedAt.Format(time.RFC3339))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
