package history

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// A Snapshot is what a diff needs of one run.
type Snapshot struct {
	Run   RunInfo
	Hosts map[string]HostState
	// Findings are keyed by [FindingKey].
	Findings map[FindingKey]FindingState
	Waivers  []model.WaiverStatus
}

// HostState is one host's outcome in a run.
type HostState struct {
	Target string
	Status model.Status
	Reason string
}

// A FindingKey identifies a finding across runs: the same rule on the same
// host, volume and protector.
type FindingKey struct {
	Target, RuleID, Volume, ProtectorID string
}

// FindingState is one finding in a run.
type FindingState struct {
	Severity model.Severity
	Title    string
	WaiverID string
	// FirstSeen is when the finding was first seen in an unbroken series of
	// runs; zero when not known (then the run's start is used).
	FirstSeen time.Time
}

// hostKey folds a target for comparison across runs: host names are
// case-insensitive.
func hostKey(target string) string { return strings.ToLower(target) }

func findingKey(target string, f *model.Finding) FindingKey {
	return FindingKey{Target: hostKey(target), RuleID: f.RuleID, Volume: strings.ToUpper(f.Volume), ProtectorID: strings.ToUpper(f.ProtectorID)}
}

// SnapshotOf takes the snapshot of a result. Where the result carries its
// own comparison with an earlier run, recurring findings keep the first
// sighting it gives. Hosts are read one at a time; the error is the
// source's.
func SnapshotOf(r *model.Result) (*Snapshot, error) {
	src := r.HostSource()
	b := NewSnapshotBuilder(r.Run.Started, src.Len())
	if r.History != nil && r.History.Since != nil {
		for _, f := range r.History.Since.Recurring {
			b.seen[FindingKey{hostKey(f.Target), f.RuleID, strings.ToUpper(f.Volume), strings.ToUpper(f.ProtectorID)}] = f.FirstSeen
		}
	}
	err := model.EachHost(src, func(_ int, h *model.HostResult) error {
		b.Add(h)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b.Snapshot(r), nil
}

// A SnapshotBuilder takes a run's snapshot a host at a time, so that it can
// be taken as the hosts are audited rather than in a pass over them after
// the run. Its methods are not safe for concurrent use.
type SnapshotBuilder struct {
	started  time.Time
	seen     map[FindingKey]time.Time // first sightings a result carries
	hosts    map[string]HostState
	findings map[FindingKey]FindingState
}

// NewSnapshotBuilder starts the snapshot of a run that started then, of
// about n hosts.
func NewSnapshotBuilder(started time.Time, n int) *SnapshotBuilder {
	return &SnapshotBuilder{started: started, seen: map[FindingKey]time.Time{},
		hosts: make(map[string]HostState, n), findings: map[FindingKey]FindingState{}}
}

// Add adds a host of the run; each host is added once.
func (b *SnapshotBuilder) Add(h *model.HostResult) {
	b.hosts[hostKey(h.Target)] = HostState{Target: h.Target, Status: h.Status, Reason: h.Reason}
	for j := range h.Findings {
		f := &h.Findings[j]
		k := findingKey(h.Target, f)
		fs := FindingState{Severity: f.Severity, Title: f.Title, FirstSeen: b.started}
		if t, ok := b.seen[k]; ok && !t.IsZero() {
			fs.FirstSeen = t
		}
		if f.Waiver != nil {
			fs.WaiverID = f.Waiver.ID
		}
		b.findings[k] = fs
	}
}

// Snapshot is the snapshot of r, whose hosts b was given.
func (b *SnapshotBuilder) Snapshot(r *model.Result) *Snapshot {
	return &Snapshot{Run: InfoOf(r), Hosts: b.hosts, Findings: b.findings, Waivers: r.Waivers}
}

// Compare says what changed from the previous run to the current one.
func Compare(prev, cur *Snapshot) *model.Delta {
	d := &model.Delta{
		NewFindings: []model.DeltaFinding{}, Resolved: []model.DeltaFinding{}, Recurring: []model.DeltaFinding{},
		NewlyNotAudited: []model.HostChange{}, AuditedAgain: []model.HostChange{}, Joined: []model.HostChange{}, Left: []model.HostChange{},
		WaiversAdded: []model.WaiverStatus{}, WaiversExpired: []model.WaiverStatus{}, WaiversExpiring: []model.WaiverStatus{},
	}
	audited := func(s *Snapshot, k string) bool {
		h, ok := s.Hosts[k]
		return ok && h.Status.Audited()
	}
	for k, h := range cur.Hosts {
		p, ok := prev.Hosts[k]
		switch {
		case !ok:
			d.Joined = append(d.Joined, model.HostChange{Target: h.Target, After: h.Status, Reason: h.Reason})
		case p.Status.Audited() && !h.Status.Audited():
			d.NewlyNotAudited = append(d.NewlyNotAudited, model.HostChange{Target: h.Target, Before: p.Status, After: h.Status, Reason: h.Reason})
		case !p.Status.Audited() && h.Status.Audited():
			d.AuditedAgain = append(d.AuditedAgain, model.HostChange{Target: h.Target, Before: p.Status, After: h.Status, Reason: h.Reason})
		}
	}
	for k, p := range prev.Hosts {
		if _, ok := cur.Hosts[k]; !ok {
			d.Left = append(d.Left, model.HostChange{Target: p.Target, Before: p.Status, Reason: p.Reason})
		}
	}
	for k, f := range cur.Findings {
		if p, ok := prev.Findings[k]; ok {
			first := p.FirstSeen
			if first.IsZero() {
				first = prev.Run.Started
			}
			d.Recurring = append(d.Recurring, deltaFinding(cur, k, f, first))
			continue
		}
		if audited(prev, k.Target) && audited(cur, k.Target) {
			d.NewFindings = append(d.NewFindings, deltaFinding(cur, k, f, cur.Run.Started))
		}
	}
	for k, p := range prev.Findings {
		if _, ok := cur.Findings[k]; ok || !audited(prev, k.Target) || !audited(cur, k.Target) {
			continue
		}
		first := p.FirstSeen
		if first.IsZero() {
			first = prev.Run.Started
		}
		d.Resolved = append(d.Resolved, deltaFinding(prev, k, p, first))
	}

	before := map[string]model.WaiverStatus{}
	for _, w := range prev.Waivers {
		before[w.ID] = w
	}
	for _, w := range cur.Waivers {
		p, had := before[w.ID]
		if !had {
			d.WaiversAdded = append(d.WaiversAdded, w)
		}
		switch w.State {
		case "expired":
			if !had || p.State != "expired" {
				d.WaiversExpired = append(d.WaiversExpired, w)
			}
		case "expiring":
			d.WaiversExpiring = append(d.WaiversExpiring, w)
		}
	}

	byFinding := func(a, b model.DeltaFinding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Target, b.Target), cmp.Compare(a.RuleID, b.RuleID),
			cmp.Compare(a.Volume, b.Volume), cmp.Compare(a.ProtectorID, b.ProtectorID))
	}
	byHost := func(a, b model.HostChange) int { return cmp.Compare(a.Target, b.Target) }
	byWaiver := func(a, b model.WaiverStatus) int {
		return cmp.Or(a.Expires.Compare(b.Expires), cmp.Compare(a.ID, b.ID))
	}
	for _, l := range []*[]model.DeltaFinding{&d.NewFindings, &d.Resolved, &d.Recurring} {
		slices.SortFunc(*l, byFinding)
	}
	for _, l := range []*[]model.HostChange{&d.NewlyNotAudited, &d.AuditedAgain, &d.Joined, &d.Left} {
		slices.SortFunc(*l, byHost)
	}
	for _, l := range []*[]model.WaiverStatus{&d.WaiversAdded, &d.WaiversExpired, &d.WaiversExpiring} {
		slices.SortFunc(*l, byWaiver)
	}
	return d
}

func deltaFinding(s *Snapshot, k FindingKey, f FindingState, first time.Time) model.DeltaFinding {
	target := k.Target
	if h, ok := s.Hosts[k.Target]; ok {
		target = h.Target
	}
	return model.DeltaFinding{
		Target: target, RuleID: k.RuleID, Severity: f.Severity, Title: f.Title,
		Volume: k.Volume, ProtectorID: k.ProtectorID, FirstSeen: first, Waived: f.WaiverID != "",
	}
}

// RunInfo is one run's metadata and headline figures, as `bitaudit history`
// lists them.
type RunInfo struct {
	ID             string
	Scope          string
	Started        time.Time
	Finished       time.Time
	ToolVersion    string
	PolicySHA256   string
	TargetCount    int
	Hosts          int
	Audited        int
	Compliant      int
	CompliantShare *float64
	BackupCoverage *float64
	Findings       map[model.Severity]int
	Waived         int
	Interrupted    bool
	// MergedFrom lists the shard runs a merged run combines.
	MergedFrom []string
}

// InfoOf returns a result's run information.
func InfoOf(r *model.Result) RunInfo {
	fs := map[model.Severity]int{}
	for s, n := range r.Summary.FindingsBySeverity {
		fs[s] = n
	}
	return RunInfo{
		ID: r.Run.ID, Scope: r.Run.Scope, Started: r.Run.Started, Finished: r.Run.Finished, ToolVersion: r.Run.ToolVersion,
		PolicySHA256: r.Run.Policy.SHA256, TargetCount: r.Run.TargetCount, Hosts: r.Summary.Hosts, Audited: r.Summary.HostsAudited,
		Compliant: r.Summary.HostsByStatus[model.StatusCompliant], CompliantShare: r.Summary.CompliantShare,
		BackupCoverage: r.Summary.BackupCoverage, Findings: fs, Waived: r.Summary.Waived, Interrupted: r.Run.Interrupted,
		MergedFrom: r.Run.MergedFrom,
	}
}

// Point is the trend point of a run.
func (ri RunInfo) Point() model.TrendPoint {
	fs := map[model.Severity]int{}
	for s, n := range ri.Findings {
		fs[s] = n
	}
	return model.TrendPoint{
		RunID: ri.ID, Started: ri.Started, Hosts: ri.Hosts, Audited: ri.Audited,
		CompliantShare: ri.CompliantShare, BackupCoverage: ri.BackupCoverage, Findings: fs,
	}
}

// TrendRuns is how many runs a trend covers.
const TrendRuns = 12

// Attach sets r.History: the comparison with prev (nil when there is none),
// and the trend over earlier (newest first, as [Store.Runs] lists them)
// followed by r itself, at most [TrendRuns] points. cur is r's snapshot,
// or nil to take it from r's hosts. Its error is that of reading r's
// hosts, and leaves r.History unset.
func Attach(r *model.Result, cur, prev *Snapshot, prevSource string, earlier []RunInfo) error {
	h := &model.History{}
	if prev != nil {
		if cur == nil {
			var err error
			if cur, err = SnapshotOf(r); err != nil {
				return err
			}
		}
		h.Previous = &model.RunRef{ID: prev.Run.ID, Started: prev.Run.Started, Scope: prev.Run.Scope, Source: prevSource}
		h.Since = Compare(prev, cur)
	}
	runs := slices.Clone(earlier)
	if prev != nil && !slices.ContainsFunc(runs, func(ri RunInfo) bool { return ri.ID == prev.Run.ID }) {
		runs = append(runs, prev.Run)
	}
	runs = slices.DeleteFunc(runs, func(ri RunInfo) bool { return ri.ID == r.Run.ID || !ri.Started.Before(r.Run.Started) })
	slices.SortFunc(runs, func(a, b RunInfo) int { return b.Started.Compare(a.Started) })
	var pts []model.TrendPoint
	for _, ri := range runs[:min(len(runs), TrendRuns-1)] {
		pts = append(pts, ri.Point())
	}
	slices.Reverse(pts)
	h.Trend = append(pts, InfoOf(r).Point())
	r.History = h
	return nil
}
