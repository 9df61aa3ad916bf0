package model

import "time"

// A Finding is one way a host or volume falls short of policy.
type Finding struct {
	RuleID   string   `json:"rule_id"`
	Title    string   `json:"title"`
	Severity Severity `json:"severity"`
	// Volume is the mount point the finding is about; empty for host-level findings.
	Volume string `json:"volume,omitempty"`
	// ProtectorID is set when the finding is about one protector.
	ProtectorID string `json:"protector_id,omitempty"`
	// Message says what is wrong on this host, in a sentence.
	Message string `json:"message"`
	// Evidence holds the observed values that triggered the rule.
	Evidence map[string]string `json:"evidence,omitempty"`
	// Remediation says how to fix it.
	Remediation string `json:"remediation,omitempty"`
	// Waiver is set when an unexpired waiver covers the finding; the finding
	// stays in the result, marked waived.
	Waiver *WaiverRef `json:"waiver,omitempty"`
}

// Waived reports whether an unexpired waiver covers the finding.
func (f Finding) Waived() bool { return f.Waiver != nil }

// A WaiverRef identifies the waiver that covers a finding.
type WaiverRef struct {
	ID      string    `json:"id"`
	Reason  string    `json:"reason"`
	Owner   string    `json:"owner"`
	Ticket  string    `json:"ticket,omitempty"`
	Expires time.Time `json:"expires"`
}
