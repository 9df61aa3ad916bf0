package model

import "time"

// VolumeType is the kind of volume, as Win32_EncryptableVolume.VolumeType reports it.
type VolumeType string

// Volume types.
const (
	VolumeOS        VolumeType = "os"
	VolumeFixed     VolumeType = "fixed"
	VolumeRemovable VolumeType = "removable"
	VolumeUnknown   VolumeType = "unknown"
)

// ConversionStatus is GetConversionStatus' ConversionStatus.
type ConversionStatus string

// Conversion states (Win32_EncryptableVolume values 0..5). Unknown is used
// when the volume is locked and the status cannot be read.
const (
	FullyDecrypted       ConversionStatus = "fully_decrypted"
	FullyEncrypted       ConversionStatus = "fully_encrypted"
	EncryptionInProgress ConversionStatus = "encryption_in_progress"
	DecryptionInProgress ConversionStatus = "decryption_in_progress"
	EncryptionPaused     ConversionStatus = "encryption_paused"
	DecryptionPaused     ConversionStatus = "decryption_paused"
	ConversionUnknown    ConversionStatus = "unknown"
)

// ProtectionStatus is GetProtectionStatus' ProtectionStatus.
type ProtectionStatus string

// Protection states (0 off, 1 on, 2 unknown, e.g. locked).
const (
	ProtectionOff     ProtectionStatus = "off"
	ProtectionOn      ProtectionStatus = "on"
	ProtectionUnknown ProtectionStatus = "unknown"
)

// EncryptionMethod is GetEncryptionMethod's EncryptionMethod.
type EncryptionMethod string

// Encryption methods (values 0..7, and -1 unknown).
const (
	MethodNone           EncryptionMethod = "none"
	MethodAES128Diffuser EncryptionMethod = "aes_128_diffuser"
	MethodAES256Diffuser EncryptionMethod = "aes_256_diffuser"
	MethodAES128         EncryptionMethod = "aes_128"
	MethodAES256         EncryptionMethod = "aes_256"
	MethodHardware       EncryptionMethod = "hardware"
	MethodXTSAES128      EncryptionMethod = "xts_aes_128"
	MethodXTSAES256      EncryptionMethod = "xts_aes_256"
	MethodUnknown        EncryptionMethod = "unknown"
)

// Volume is one BitLocker-capable volume and its key protectors.
type Volume struct {
	// MountPoint is the drive letter ("C:") or, without one, the DeviceID.
	MountPoint string `json:"mount_point"`
	// AcceptedLocations are the backup locations the policy accepts for
	// this volume on this host, set by the rules engine: the reports show
	// the others as "not required".
	AcceptedLocations []Location `json:"accepted_locations,omitempty"`
	// DeviceID is Win32_EncryptableVolume.DeviceID (\\?\Volume{GUID}\).
	DeviceID string     `json:"device_id,omitempty"`
	Type     VolumeType `json:"type"`
	// Conversion, EncryptionPercent and UsedSpaceOnly come from GetConversionStatus.
	Conversion        ConversionStatus `json:"conversion_status"`
	EncryptionPercent float64          `json:"encryption_percentage"`
	UsedSpaceOnly     bool             `json:"used_space_only"`
	Protection        ProtectionStatus `json:"protection_status"`
	Locked            bool             `json:"locked"`
	Method            EncryptionMethod `json:"encryption_method"`
	// SuspendCount is the number of reboots left while protection is
	// suspended (GetSuspendCount); nil when not reported.
	SuspendCount *int        `json:"suspend_count,omitempty"`
	Protectors   []Protector `json:"protectors"`
	// Role is "recovery" or "system" for a partition kept in
	// HostFacts.SystemVolumes; empty for audited volumes.
	Role string `json:"role,omitempty"`
	// ReadErrors lists what could not be read about the volume (a method
	// that failed, a value out of range, a protector ID that is not a
	// GUID). A volume with read errors is unreadable: it carries what was
	// read, and rules report it instead of judging its state.
	ReadErrors []string `json:"read_errors,omitempty"`
	// StaleKeys are keys a source holds for this host that match no current
	// protector (escrow verification fills it).
	StaleKeys []EscrowedKey `json:"stale_keys,omitempty"`
}

// Encrypted reports whether any of the volume's data is encrypted
// (ConversionStatus other than fully decrypted).
func (v Volume) Encrypted() bool {
	return v.Conversion != FullyDecrypted && v.Conversion != ""
}

// Unreadable reports whether part of the volume's state could not be read.
func (v Volume) Unreadable() bool { return len(v.ReadErrors) > 0 }

// Suspended reports whether the volume is encrypted but protection is off
// while key protectors exist (the clear key is on disk).
func (v Volume) Suspended() bool {
	return v.Encrypted() && v.Protection == ProtectionOff && len(v.Protectors) > 0
}

// RecoveryPasswords returns the numerical-password protectors.
func (v Volume) RecoveryPasswords() []Protector {
	var out []Protector
	for _, p := range v.Protectors {
		if p.Type == ProtectorRecoveryPassword {
			out = append(out, p)
		}
	}
	return out
}

// ProtectorType is KeyProtectorType (GetKeyProtectorType).
type ProtectorType string

// Protector types, KeyProtectorType values 0..10.
const (
	ProtectorUnknown          ProtectorType = "unknown"
	ProtectorTPM              ProtectorType = "tpm"
	ProtectorExternalKey      ProtectorType = "external_key"
	ProtectorRecoveryPassword ProtectorType = "recovery_password"
	ProtectorTPMPIN           ProtectorType = "tpm_pin"
	ProtectorTPMStartupKey    ProtectorType = "tpm_startup_key"
	ProtectorTPMPINStartupKey ProtectorType = "tpm_pin_startup_key"
	ProtectorPublicKey        ProtectorType = "public_key"
	ProtectorPassword         ProtectorType = "password"
	ProtectorTPMNetworkKey    ProtectorType = "tpm_network_key"
	ProtectorADAccount        ProtectorType = "ad_account_or_group"
)

// A Protector is a key protector: its ID and type, never its secret.
type Protector struct {
	// ID as Windows prints it: "{GUID}" in upper case.
	ID   string        `json:"id"`
	Type ProtectorType `json:"type"`
	// Backups is where this protector's recovery information is backed up,
	// one entry per location checked (recovery passwords only).
	Backups []Backup `json:"backups,omitempty"`
	// Duplicates lists the other places of this run that report the same
	// protector ID ("target volume"); none of them is verified.
	Duplicates []string `json:"duplicates,omitempty"`
}

// Location is a place a recovery key can be backed up.
type Location string

// Backup locations.
const (
	LocationAD       Location = "ad"
	LocationEntra    Location = "entra"
	LocationExternal Location = "external"
)

// Locations lists every backup location in report order.
var Locations = []Location{LocationAD, LocationEntra, LocationExternal}

// BackupState is what is known about one protector at one location.
type BackupState string

// Backup states, from strongest to weakest evidence.
const (
	// BackupVerified: the source holds this protector ID.
	BackupVerified BackupState = "verified"
	// BackupClaimed: only the host's event log says it was backed up.
	BackupClaimed BackupState = "claimed"
	// BackupMissing: the source was checked and lacks it.
	BackupMissing BackupState = "missing"
	// BackupUnknown: the source is not configured or could not be checked.
	BackupUnknown BackupState = "unknown"
)

// A Backup is the evidence for one protector at one location.
type Backup struct {
	Location Location    `json:"location"`
	State    BackupState `json:"state"`
	// Reason explains the state in a sentence ("held by CN=… under …",
	// "directory unreachable: …").
	Reason string `json:"reason,omitempty"`
	// Time is when the source says the key was stored, or when the event
	// claimed it, when known.
	Time *time.Time `json:"time,omitempty"`
	// Event is the host event ID that claims the backup, if any.
	Event int `json:"event,omitempty"`
	// Object names where the key sits at the source (a DN, a Graph key ID, a file name).
	Object string `json:"object,omitempty"`
}

// An EscrowedKey is a key a source holds.
type EscrowedKey struct {
	Location Location   `json:"location"`
	ID       string     `json:"id"`
	Created  *time.Time `json:"created,omitempty"`
	Object   string     `json:"object,omitempty"`
}
