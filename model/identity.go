package model

import "strings"

// IdentityState is how far a target's identity was established.
type IdentityState string

// Identity states.
const (
	// IdentityVerified: what the host reports matches the directory
	// object (or the operator's name) found independently of the host.
	IdentityVerified IdentityState = "verified"
	// IdentityUnverified: nothing independent of the host names it (an
	// IP-only target with no identity column), or the directory could not
	// be asked; source evidence is capped at claimed.
	IdentityUnverified IdentityState = "unverified"
	// IdentityMismatch: the host reports another identity than the
	// directory holds for the target; no source evidence is credited.
	IdentityMismatch IdentityState = "mismatch"
)

// Identity is a target's identity: what the operator gave (the target's
// DNS name and the targets-CSV identity columns), what a directory
// confirmed, and the verdict. A host's own report about itself is in its
// facts, never here.
type Identity struct {
	// DNSName is the target's DNS name: its fqdn column, else the target
	// itself when it is a name.
	DNSName       string `json:"dns_name,omitempty"`
	ADDN          string `json:"ad_dn,omitempty"`
	EntraDeviceID string `json:"entra_device_id,omitempty"`
	// State is set by escrow verification; empty when it did not run.
	State IdentityState `json:"state,omitempty"`
	// ComputerName is the computer name confirmed independently of the
	// host: the AD object's, the Entra device's, or the operator's DNS name.
	ComputerName string `json:"computer_name,omitempty"`
	// Objects names what the identity was checked against (AD DN, Entra device).
	Objects []string `json:"objects,omitempty"`
	// Join is the join state the directory shows when it differs from the
	// host's report (AD holds a computer object, or Entra ID a joined
	// device, for a host that claims otherwise); the host is evaluated by it.
	Join JoinState `json:"join_state,omitempty"`
	// Mismatches lists what the host reports that the directory contradicts,
	// one sentence each.
	Mismatches []string `json:"mismatches,omitempty"`
	// Reason says in a sentence how the state was reached.
	Reason string `json:"reason,omitempty"`
}

// EffectiveJoin returns the join state a host is evaluated by: the
// directory's (Identity.Join) where it contradicts the host, else the
// host's own report, else unknown.
func (h *HostResult) EffectiveJoin() JoinState {
	if h.Identity != nil && h.Identity.Join != "" {
		return h.Identity.Join
	}
	if h.Facts == nil || h.Facts.Join.State == "" {
		return JoinUnknown
	}
	return h.Facts.Join.State
}

// ConfirmedName returns the computer name confirmed independently of the
// host (identity verified), else "".
func (i *Identity) ConfirmedName() string {
	if i == nil || i.State != IdentityVerified {
		return ""
	}
	return i.ComputerName
}

// Identity returns the operator's identity of the target.
func (t Target) Identity() *Identity {
	return &Identity{DNSName: t.DNSName(), ADDN: t.ADDN, EntraDeviceID: t.EntraDeviceID}
}

// GivenName returns the computer name the operator's identity implies:
// the first label of the DNS name, else the CN of the AD DN, upper case;
// "" for an IP-only target.
func (i *Identity) GivenName() string {
	if i == nil {
		return ""
	}
	if i.DNSName != "" {
		name, _, _ := strings.Cut(i.DNSName, ".")
		return strings.ToUpper(name)
	}
	if rdn, _, _ := strings.Cut(i.ADDN, ","); len(rdn) > 3 && strings.EqualFold(rdn[:3], "cn=") {
		return strings.ToUpper(strings.TrimSpace(rdn[3:]))
	}
	return ""
}
