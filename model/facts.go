package model

import (
	"strings"
	"time"
)

// HostFacts is what a collector learned about one host, apart from its volumes.
type HostFacts struct {
	// Hostname is the computer name the host reports (NetBIOS-style, upper case on Windows).
	Hostname string `json:"hostname"`
	// FQDN is the DNS host name, when the host is domain-joined.
	FQDN string   `json:"fqdn,omitempty"`
	OS   OSInfo   `json:"os"`
	Join JoinInfo `json:"join"`
	// Policy holds the DWORD values under HKLM\SOFTWARE\Policies\Microsoft\FVE
	// that are set; an absent name means "not configured".
	Policy map[string]int64 `json:"fve_policy"`
	// Events are the BitLocker Management backup events found on the host.
	Events []BackupEvent `json:"backup_events"`
	// Source names the collector and how it reached the host.
	Source Collection `json:"collection"`
	// BitLockerNotInstalled: the host lacks the BitLocker feature (Windows
	// Server before Install-WindowsFeature BitLocker: no
	// MicrosoftVolumeEncryption WMI namespace), so none of its volumes can
	// be encrypted and Volumes is empty.
	BitLockerNotInstalled bool `json:"bitlocker_not_installed,omitempty"`
	// SystemVolumes are letterless recovery (Windows RE, OEM) and system
	// partitions the host enumerated as encryptable volumes. They are kept
	// apart from the audited volumes: no rule applies to them.
	SystemVolumes []Volume `json:"system_volumes,omitempty"`
}

// OSInfo describes the operating system.
type OSInfo struct {
	Caption string `json:"caption,omitempty"`
	Version string `json:"version,omitempty"`
	Build   string `json:"build,omitempty"`
}

// Collection records how facts were gathered.
type Collection struct {
	// Collector is "winrm" or "wmi".
	Collector string `json:"collector"`
	// Transport is "https" or "http" for WinRM.
	Transport string `json:"transport,omitempty"`
	// Auth is the authentication scheme used: basic, ntlm, kerberos.
	Auth string `json:"auth,omitempty"`
	// Protection is how messages were protected on the wire: "tls",
	// "ntlm-sealing", "kerberos-sealing" or "none".
	Protection string `json:"protection,omitempty"`
	// FactsFile names the facts file the facts came from (collector "wmi",
	// ingested with audit --facts).
	FactsFile string `json:"facts_file,omitempty"`
	// CollectedAt is when a facts file says its facts were collected.
	CollectedAt time.Time `json:"collected_at,omitzero"`
	// Note says why this source was used when the host had more than one
	// (a live collection and a facts file).
	Note string `json:"note,omitempty"`
	// LanguageMode is the PowerShell language mode the collection ran in
	// ("FullLanguage", "ConstrainedLanguage" under WDAC/AppLocker), when known.
	LanguageMode string `json:"language_mode,omitempty"`
	// EventsSkipped counts backup events the host returned that could not
	// be decoded and were left out of Events.
	EventsSkipped int `json:"events_skipped,omitempty"`
	// SectionErrors lists the parts of the collection that failed on the
	// host (the facts they would have given are missing or empty).
	SectionErrors []SectionError `json:"section_errors,omitempty"`
}

// A SectionError is one part of a collection that failed on the host.
type SectionError struct {
	// Section names the part: os, computer, volumes, partitions, events, fve, dsregcmd.
	Section string `json:"section"`
	// ID is the host's error identifier (PowerShell's FullyQualifiedErrorId).
	ID string `json:"id"`
	// Message is the host's error message, cleaned and shortened.
	Message string `json:"message"`
}

// JoinState is the host's directory membership.
type JoinState string

// Join states, from dsregcmd /status (AzureAdJoined, DomainJoined).
const (
	JoinWorkgroup JoinState = "workgroup"
	JoinDomain    JoinState = "domain"
	JoinEntra     JoinState = "entra"
	JoinHybrid    JoinState = "hybrid"
	JoinUnknown   JoinState = "unknown"
)

// JoinInfo is the join state and the identifiers escrow verification needs.
type JoinInfo struct {
	State JoinState `json:"state"`
	// DomainName is the AD domain (NetBIOS or DNS) for domain and hybrid joins.
	DomainName string `json:"domain_name,omitempty"`
	// EntraDeviceID is the Entra ID deviceId (dsregcmd DeviceId), used by Graph.
	EntraDeviceID string `json:"entra_device_id,omitempty"`
	TenantID      string `json:"tenant_id,omitempty"`
}

// InAD reports whether the host is joined to Active Directory.
func (j JoinInfo) InAD() bool { return j.State == JoinDomain || j.State == JoinHybrid }

// InEntra reports whether the host is joined to Entra ID.
func (j JoinInfo) InEntra() bool { return j.State == JoinEntra || j.State == JoinHybrid }

// BackupEvent is a BitLocker Management event about a recovery-key backup.
type BackupEvent struct {
	// ID is the event ID: 784/785/783 (AD DS), 845/846 (Entra ID).
	ID   int       `json:"id"`
	Time time.Time `json:"time"`
	// ProtectorID as the event names it (normalised with [NormalizeProtectorID]).
	ProtectorID string `json:"protector_id,omitempty"`
	// MountPoint is VolumeMountPoint where the event carries it.
	MountPoint string `json:"mount_point,omitempty"`
	// ErrorCode is set on failure events.
	ErrorCode string `json:"error_code,omitempty"`
}

// Location returns where the event says the key went, and whether it succeeded.
func (e BackupEvent) Location() (loc Location, success bool) {
	switch e.ID {
	case 784, 783:
		return LocationAD, true
	case 785:
		return LocationAD, false
	case 845:
		return LocationEntra, true
	case 846, 847:
		return LocationEntra, false
	}
	return "", false
}

// NormalizeProtectorID returns a protector or key ID in the form escrow
// sources are compared in: no braces, lower case, trimmed.
func NormalizeProtectorID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimPrefix(id, "{")
	id = strings.TrimSuffix(id, "}")
	return strings.ToLower(id)
}
