package model

import "time"

// A Computer is one computer the directory knows: an AD computer object,
// an Entra ID device, or both for a hybrid-joined device matched to its AD
// object. Everything in it comes from the directory, never from the host.
type Computer struct {
	// Name is the computer name (AD cn, else the Entra displayName).
	Name string `json:"name"`
	// FQDN is the AD dNSHostName; empty when the object has none.
	FQDN string `json:"fqdn,omitempty"`
	// ADDN is the AD computer object's DN; empty for an Entra-only device.
	ADDN string `json:"ad_dn,omitempty"`
	// EntraDeviceID is the Entra deviceId (lower case); empty when the
	// computer has no Entra device.
	EntraDeviceID string `json:"entra_device_id,omitempty"`
	// OU is the DN of the container holding the AD object.
	OU string `json:"ou,omitempty"`
	OS string `json:"os,omitempty"`
	// OSVersion is AD operatingSystemVersion or Entra operatingSystemVersion.
	OSVersion string `json:"os_version,omitempty"`
	// LastLogon is AD lastLogonTimestamp (replicated, up to 14 days behind)
	// or, for an Entra-only device, approximateLastSignInDateTime.
	LastLogon *time.Time `json:"last_logon,omitempty"`
	// Created is AD whenCreated (used when the account never logged on).
	Created *time.Time `json:"created,omitempty"`
	// Account is ComputerEnabled, ComputerDisabled or ComputerStale.
	Account string `json:"account"`
	// TrustType is the Entra device's trustType (AzureAd, ServerAd, Workplace).
	TrustType string `json:"trust_type,omitempty"`
}

// Computer account states.
const (
	ComputerEnabled  = "enabled"  // enabled and active within the stale window
	ComputerDisabled = "disabled" // AD ACCOUNTDISABLE set, or Entra accountEnabled false
	ComputerStale    = "stale"    // enabled, no logon within the stale window
)

// InScope reports whether the computer should be audited: enabled and
// recently active.
func (c *Computer) InScope() bool { return c.Account == ComputerEnabled }

// Target returns the computer as a target: named by FQDN, else by its name,
// with the identity columns (fqdn, ad_dn, entra_device_id) and the labels
// (ou, os, last_logon) the targets CSV carries.
func (c *Computer) Target() Target {
	t := Target{Host: c.FQDN, FQDN: c.FQDN, ADDN: c.ADDN, EntraDeviceID: c.EntraDeviceID, Labels: map[string]string{}}
	if t.Host == "" {
		t.Host = c.Name
	}
	if c.OU != "" {
		t.Labels["ou"] = c.OU
	}
	if c.OS != "" {
		t.Labels["os"] = c.OS
	}
	if c.LastLogon != nil {
		t.Labels["last_logon"] = c.LastLogon.UTC().Format("2006-01-02")
	}
	return t
}

// A Census is what the directory holds for one computer's recovery keys,
// counted without reading any key: AD msFVE-RecoveryInformation children of
// its computer object, Entra recoveryKeys of its device. A nil count means
// the source does not apply to the computer or could not be read.
type Census struct {
	ADKeys    *int `json:"ad_keys,omitempty"`
	EntraKeys *int `json:"entra_keys,omitempty"`
}

// Escrow states of a census.
const (
	EscrowNone    = "none"       // every source that applies was read and holds no key
	EscrowExists  = "keys_exist" // some source holds a key (not verified against the volume)
	EscrowUnknown = "unknown"    // a source that applies could not be read, and none holds a key
)

// State summarises the census: keys_exist when any source holds a key,
// none when every source that applies was read and holds none, else
// unknown. applies says which sources apply to the computer.
func (c Census) State(adApplies, entraApplies bool) string {
	read, missing := 0, 0
	for _, s := range []struct {
		applies bool
		n       *int
	}{{adApplies, c.ADKeys}, {entraApplies, c.EntraKeys}} {
		if !s.applies {
			continue
		}
		if s.n == nil {
			missing++
			continue
		}
		if *s.n > 0 {
			return EscrowExists
		}
		read++
	}
	if read > 0 && missing == 0 {
		return EscrowNone
	}
	return EscrowUnknown
}

// Coverage compares what the directory says exists with what the run
// audited. It is present whenever a directory was configured.
type Coverage struct {
	// Sources are the directories read: "ad", "entra".
	Sources []string `json:"sources"`
	// StaleAfterDays is the window: an enabled account with no logon in it is stale.
	StaleAfterDays int `json:"stale_after_days"`
	// Errors lists sources that could not be read in full (the counts
	// then cover only what was read).
	Errors []string `json:"errors,omitempty"`

	// InDirectory counts every computer the directory listed; InScope the
	// enabled, recently active ones; Audited those of them the run audited;
	// NotAudited the rest of InScope by reason (not_in_targets or the host
	// status); Disabled and Stale the accounts outside the scope.
	InDirectory int            `json:"in_directory"`
	InScope     int            `json:"in_scope"`
	Audited     int            `json:"audited"`
	NotAudited  map[string]int `json:"not_audited"`
	Disabled    int            `json:"disabled"`
	Stale       int            `json:"stale"`
	// NotInDirectory counts targets that match no directory computer;
	// MatchedByClaim those matched only by what the host said about itself
	// (an IP-only target has no independent identity).
	NotInDirectory int `json:"not_in_directory"`
	MatchedByClaim int `json:"matched_by_host_claim"`
	// EscrowNone counts in-scope computers not audited with no key escrowed
	// anywhere; EscrowExists those with keys (not verified against a volume).
	EscrowNone   int `json:"escrow_none"`
	EscrowExists int `json:"escrow_exists"`

	// Computers lists every directory computer the run did not audit: in
	// scope but not in the targets or not reachable, disabled, stale; in
	// name order.
	Computers []CoverageEntry `json:"computers"`
}

// NotInTargets is the NotAudited reason of a computer no target names.
const NotInTargets = "not_in_targets"

// A CoverageEntry is one directory computer the run did not audit.
type CoverageEntry struct {
	Computer
	// Target is the target that names the computer, when one does.
	Target string `json:"target,omitempty"`
	// Reason is not_in_targets, the target's host status, disabled or stale.
	Reason string `json:"reason"`
	Census Census `json:"census"`
	// Escrow is the census state: none, keys_exist or unknown.
	Escrow   string    `json:"escrow"`
	Findings []Finding `json:"findings"`
}
