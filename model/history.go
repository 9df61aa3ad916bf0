package model

import "time"

// History places a run among the runs before it: what changed since the
// previous run of the same scope, and the trend over the last runs. It is
// set when a history store or a previous result was available.
type History struct {
	// Previous is the run this one is compared with; nil when none was known
	// (the first run of a scope).
	Previous *RunRef `json:"previous,omitempty"`
	// Since is what changed since Previous; nil when Previous is nil.
	Since *Delta `json:"since_previous,omitempty"`
	// Trend holds up to the last twelve runs of the scope, oldest first,
	// ending with this run.
	Trend []TrendPoint `json:"trend,omitempty"`
}

// A RunRef names a recorded run.
type RunRef struct {
	ID      string    `json:"id"`
	Started time.Time `json:"started"`
	Scope   string    `json:"scope,omitempty"`
	// Source is where the run came from: "history" (the history store) or
	// the path of the result file given with --previous.
	Source string `json:"source"`
}

// A Delta is what changed between two runs. A finding counts as new or
// resolved only on a host audited in both runs: a host that could not be
// audited in one of them says nothing about its findings there, and is
// listed among the host changes instead.
type Delta struct {
	// NewFindings are on hosts audited in both runs, absent from the previous run.
	NewFindings []DeltaFinding `json:"new_findings"`
	// Resolved are on hosts audited in both runs, absent from this run.
	Resolved []DeltaFinding `json:"resolved_findings"`
	// Recurring are in both runs; FirstSeen says since when.
	Recurring []DeltaFinding `json:"recurring_findings"`
	// NewlyNotAudited were audited in the previous run and not in this one.
	NewlyNotAudited []HostChange `json:"hosts_newly_not_audited"`
	// AuditedAgain were not audited in the previous run and are in this one.
	AuditedAgain []HostChange `json:"hosts_audited_again"`
	// Joined are in this run's scope and not in the previous run's.
	Joined []HostChange `json:"hosts_joined"`
	// Left were in the previous run's scope and are not in this one's.
	Left []HostChange `json:"hosts_left"`
	// WaiversAdded are in this run's policy and not in the previous run's.
	WaiversAdded []WaiverStatus `json:"waivers_added"`
	// WaiversExpired expired since the previous run (or were added expired).
	WaiversExpired []WaiverStatus `json:"waivers_expired"`
	// WaiversExpiring expire within 30 days of this run.
	WaiversExpiring []WaiverStatus `json:"waivers_expiring"`
}

// A DeltaFinding is one finding in a [Delta].
type DeltaFinding struct {
	Target      string   `json:"target"`
	RuleID      string   `json:"rule_id"`
	Severity    Severity `json:"severity"`
	Title       string   `json:"title"`
	Volume      string   `json:"volume,omitempty"`
	ProtectorID string   `json:"protector_id,omitempty"`
	// FirstSeen is the start of the first run of the unbroken series of runs
	// that reported the finding.
	FirstSeen time.Time `json:"first_seen"`
	Waived    bool      `json:"waived,omitempty"`
}

// A HostChange is a host whose presence or audit status changed.
type HostChange struct {
	Target string `json:"target"`
	// Before and After are the statuses in the previous and this run; empty
	// where the host was not in that run's scope.
	Before Status `json:"before,omitempty"`
	After  Status `json:"after,omitempty"`
	// Reason is the reason of the latest status.
	Reason string `json:"reason,omitempty"`
}

// A TrendPoint is one run's headline figures.
type TrendPoint struct {
	RunID   string    `json:"run_id"`
	Started time.Time `json:"started"`
	Hosts   int       `json:"hosts"`
	Audited int       `json:"hosts_audited"`
	// CompliantShare and BackupCoverage are nil (JSON null) where they
	// have no denominator, as in the Summary.
	CompliantShare *float64 `json:"compliant_share"`
	BackupCoverage *float64 `json:"backup_coverage"`
	// Findings counts unwaived findings by severity.
	Findings map[Severity]int `json:"findings_by_severity"`
}

// Empty reports whether nothing changed.
func (d *Delta) Empty() bool {
	return len(d.NewFindings)+len(d.Resolved)+len(d.NewlyNotAudited)+len(d.AuditedAgain)+
		len(d.Joined)+len(d.Left)+len(d.WaiversAdded)+len(d.WaiversExpired)+len(d.WaiversExpiring) == 0
}
