package model

import (
	"sort"
	"time"
)

// ResultSchema is the schema identifier of the result document.
const ResultSchema = "bitaudit.result/v1"

// Result is one audit run: the single source of truth every report renders.
type Result struct {
	Schema  string       `json:"schema"`
	Run     Run          `json:"run"`
	Summary Summary      `json:"summary"`
	Hosts   []HostResult `json:"hosts"`
	// Source, when set, holds the hosts instead of Hosts (which is then
	// nil): a large run keeps them on disk. Read hosts through
	// [Result.HostSource], which picks the one in use.
	Source HostSource `json:"-"`
	// Waivers lists every waiver in the policy with its state at run time.
	Waivers []WaiverStatus `json:"waivers,omitempty"`
	// Remediation is the --fix log, when it ran.
	Remediation []RemediationEntry `json:"remediation,omitempty"`
	// Coverage compares the directory with the targets, when a directory
	// was configured.
	Coverage *Coverage `json:"coverage,omitempty"`

	// History compares the run with the runs before it, when they were known.
	History *History `json:"history,omitempty"`
}

// Run describes the run itself.
type Run struct {
	ID          string    `json:"id"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	ToolVersion string    `json:"tool_version"`
	// Organisation is the name printed on reports, from the policy.
	Organisation string `json:"organisation,omitempty"`
	// Options are the run options that shape the result (never credentials).
	Options     map[string]string `json:"options"`
	TargetCount int               `json:"target_count"`
	// DuplicateLines counts the target lines that repeated an earlier one;
	// Duplicates lists the first MaxDuplicatesListed of them.
	DuplicateLines int         `json:"duplicate_lines,omitempty"`
	Duplicates     []Duplicate `json:"duplicates,omitempty"`
	Policy         PolicyInfo  `json:"policy"`
	// Interrupted is true when the run was stopped before every host finished.
	Interrupted bool `json:"interrupted,omitempty"`
	// StopReason says why the run stopped early when it was not a signal
	// (e.g. --max-auth-failures).
	StopReason string `json:"stop_reason,omitempty"`
	// RejectedInputs lists input files the run did not use, and why (a
	// malformed facts file, one for a host outside the targets).
	RejectedInputs []RejectedInput `json:"rejected_inputs,omitempty"`
	// Scope names the set of targets, so runs of the same scope are compared.
	Scope string `json:"scope,omitempty"`
	// Shard is set on the result of one shard of a sharded run.
	Shard *Shard `json:"shard,omitempty"`
	// MergedFrom lists the run IDs of the shards a merged result combines.
	MergedFrom []string `json:"merged_from,omitempty"`
}

// A RejectedInput is an input file a run read but did not use.
type RejectedInput struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

// MaxDuplicatesListed bounds Run.Duplicates: a targets file repeating a
// line 100,000 times is counted, not listed.
const MaxDuplicatesListed = 100

// DuplicateCount is the number of duplicate target lines of the run.
func (r *Run) DuplicateCount() int { return max(r.DuplicateLines, len(r.Duplicates)) }

// Shard identifies one part of a run split across several auditors.
type Shard struct {
	// Index is this shard, 0 <= Index < Count.
	Index int `json:"index"`
	Count int `json:"count"`
	// Group names the sharded run; every shard of one run has the same.
	Group string `json:"group"`
	// Targets is the number of distinct targets before sharding.
	Targets int `json:"targets"`
	// TargetsSHA256 digests the whole sorted target list before sharding.
	TargetsSHA256 string `json:"targets_sha256"`
}

// PolicyInfo identifies the policy the run was evaluated against.
type PolicyInfo struct {
	// Source is the policy file path, or "built-in default".
	Source  string `json:"source"`
	SHA256  string `json:"sha256"`
	Default bool   `json:"default"`
}

// A HostResult is everything known about one target. Every target of a run
// has exactly one.
type HostResult struct {
	// Target is the target as given (host or host:port).
	Target string            `json:"target"`
	Labels map[string]string `json:"labels,omitempty"`
	// Identity is the target's identity as the operator gave it and the
	// directory confirmed it.
	Identity *Identity `json:"identity,omitempty"`
	Status   Status    `json:"status"`
	// Reason says why the host has its status, in a sentence.
	Reason      string        `json:"reason"`
	CollectedAt time.Time     `json:"collected_at"`
	Duration    time.Duration `json:"duration_ns"`
	Facts       *HostFacts    `json:"facts,omitempty"`
	Volumes     []Volume      `json:"volumes"`
	Findings    []Finding     `json:"findings"`
}

// WaiverStatus is a policy waiver and its state at run time.
type WaiverStatus struct {
	WaiverRef
	Scope string `json:"scope"`
	// State is "active", "expiring" (within 30 days) or "expired".
	State string `json:"state"`
	// Matched counts the findings it covers (or, expired, would have covered).
	Matched int `json:"matched"`
}

// A RemediationEntry is one --fix action: planned, skipped (Detail says
// why), or applied and then verified at the source.
type RemediationEntry struct {
	// ActionID identifies the action across runs and in journal.jsonl.
	ActionID string `json:"action_id,omitempty"`
	// RuleID is the finding the action remedies.
	RuleID      string   `json:"rule_id,omitempty"`
	Target      string   `json:"target"`
	Volume      string   `json:"volume"`
	ProtectorID string   `json:"protector_id"`
	Action      string   `json:"action"`
	Location    Location `json:"location"`
	// Outcome is planned, skipped, fixed, failed, unverified or unknown
	// (an earlier run was interrupted during the action and nothing
	// verified it since).
	Outcome  string    `json:"outcome"`
	Detail   string    `json:"detail,omitempty"`
	Time     time.Time `json:"time"`
	Verified bool      `json:"verified"`
}

// Summary holds the run's figures. Reports print these, never recompute them.
type Summary struct {
	Hosts          int            `json:"hosts"`
	HostsAudited   int            `json:"hosts_audited"`
	HostsByStatus  map[Status]int `json:"hosts_by_status"`
	Volumes        int            `json:"volumes"`
	VolumesByState map[string]int `json:"volumes_by_state"`
	// CompliantShare is compliant hosts over audited hosts (0..1), with
	// waivers applied; nil (JSON null, "n/a") when no host was audited.
	CompliantShare *float64 `json:"compliant_share"`
	// CompliantShareWithoutWaivers ignores waivers; nil as CompliantShare.
	CompliantShareWithoutWaivers *float64 `json:"compliant_share_without_waivers"`
	// RecoveryPasswords counts recovery-password protectors on audited hosts;
	// BackedUp counts those verified at a source at least once (ByState.Verified).
	RecoveryPasswords int `json:"recovery_passwords"`
	BackedUp          int `json:"recovery_passwords_backed_up"`
	// ByState splits RecoveryPasswords by the best evidence for each.
	ByState BackupCounts `json:"recovery_passwords_by_state"`
	// BackupCoverage is BackedUp over RecoveryPasswords (0..1); nil (JSON
	// null, "n/a") when there are none, never 100 %.
	BackupCoverage     *float64         `json:"backup_coverage"`
	BackupByState      map[string]int   `json:"backup_by_location_state"`
	FindingsBySeverity map[Severity]int `json:"findings_by_severity"`
	FindingsByRule     map[string]int   `json:"findings_by_rule"`
	// Waived counts findings covered by a waiver (not in the counts above).
	Waived int `json:"findings_waived"`
}

// BackupCounts splits recovery passwords by the best evidence for each, so
// a summary never says more than was verified: Verified at a source
// somewhere; else Claimed only (the host's own word); else Missing (a
// source was checked and lacks it); else Unknown (nothing could be checked).
type BackupCounts struct {
	Verified int `json:"verified"`
	Claimed  int `json:"claimed_only"`
	Missing  int `json:"missing"`
	Unknown  int `json:"unknown"`
}

// add counts one recovery password by its backups.
func (c *BackupCounts) add(backups []Backup) {
	best := BackupUnknown
	rank := map[BackupState]int{BackupUnknown: 0, BackupMissing: 1, BackupClaimed: 2, BackupVerified: 3}
	for _, b := range backups {
		if rank[b.State] > rank[best] {
			best = b.State
		}
	}
	switch best {
	case BackupVerified:
		c.Verified++
	case BackupClaimed:
		c.Claimed++
	case BackupMissing:
		c.Missing++
	default:
		c.Unknown++
	}
}

// Ratio returns n/d, or nil when d is 0: a share of nothing is not 100 %.
func Ratio(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

// Summarize computes the summary from the hosts. A finding counts towards
// FindingsBySeverity and FindingsByRule unless it is waived, on every host:
// a host that could not be audited carries its "host not audited" finding,
// counted like any other, so the totals match the findings every format lists.
func Summarize(hosts []HostResult) Summary {
	var z Summarizer
	for i := range hosts {
		z.Add(&hosts[i])
	}
	return z.Summary()
}

// SummarizeSource is [Summarize] over a HostSource.
func SummarizeSource(src HostSource) (Summary, error) {
	var z Summarizer
	err := EachHost(src, func(_ int, h *HostResult) error { z.Add(h); return nil })
	return z.Summary(), err
}

// A Summarizer computes a [Summary] one host at a time; the zero value is
// ready to use.
type Summarizer struct {
	s                             Summary
	compliant, compliantNoWaivers int
}

// Add counts one host.
func (z *Summarizer) Add(h *HostResult) {
	z.init()
	s := &z.s
	s.Hosts++
	s.HostsByStatus[h.Status]++
	blocking := false
	for _, f := range h.Findings {
		if f.Severity > SeverityInfo {
			blocking = true
		}
		if f.Waived() {
			s.Waived++
			continue
		}
		s.FindingsBySeverity[f.Severity]++
		s.FindingsByRule[f.RuleID]++
	}
	if !h.Status.Audited() {
		return
	}
	s.HostsAudited++
	if h.Status == StatusCompliant {
		z.compliant++
	}
	if !blocking {
		z.compliantNoWaivers++
	}
	for _, v := range h.Volumes {
		s.Volumes++
		s.VolumesByState[string(v.Conversion)]++
		for _, p := range v.RecoveryPasswords() {
			s.RecoveryPasswords++
			s.ByState.add(p.Backups)
			for _, b := range p.Backups {
				s.BackupByState[string(b.Location)+":"+string(b.State)]++
			}
		}
	}
}

func (z *Summarizer) init() {
	if z.s.HostsByStatus != nil {
		return
	}
	z.s = Summary{
		HostsByStatus:      make(map[Status]int, len(Statuses)),
		VolumesByState:     map[string]int{},
		BackupByState:      map[string]int{},
		FindingsBySeverity: map[Severity]int{},
		FindingsByRule:     map[string]int{},
	}
	for _, st := range Statuses {
		z.s.HostsByStatus[st] = 0
	}
}

// Summary returns the summary of the hosts added so far. Its maps are the
// Summarizer's: call it once every host is in.
func (z *Summarizer) Summary() Summary {
	z.init()
	s := z.s
	s.BackedUp = s.ByState.Verified
	s.CompliantShare = Ratio(z.compliant, s.HostsAudited)
	s.CompliantShareWithoutWaivers = Ratio(z.compliantNoWaivers, s.HostsAudited)
	s.BackupCoverage = Ratio(s.BackedUp, s.RecoveryPasswords)
	return s
}

// Worst returns the highest severity among unwaived findings, those about
// directory computers the run did not audit included. It reads the
// hosts' findings from the Summary.
func (r *Result) Worst() Severity {
	w := SeverityNone
	for sev, n := range r.Summary.FindingsBySeverity {
		if n > 0 {
			w = max(w, sev)
		}
	}
	if r.Coverage != nil {
		for _, c := range r.Coverage.Computers {
			w = max(w, worst(c.Findings))
		}
	}
	return w
}

func worst(fs []Finding) Severity {
	w := SeverityNone
	for _, f := range fs {
		if !f.Waived() && f.Severity > w {
			w = f.Severity
		}
	}
	return w
}

// NotAudited counts hosts whose facts could not be collected, from the
// Summary.
func (r *Result) NotAudited() int { return r.Summary.Hosts - r.Summary.HostsAudited }

// SortHosts orders hosts by target, the order every report uses.
func SortHosts(hosts []HostResult) {
	sort.SliceStable(hosts, func(i, j int) bool { return hosts[i].Target < hosts[j].Target })
}
