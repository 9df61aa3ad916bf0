package windows

import (
	"sync"
	"time"
)

// A Machine is the state of one simulated Windows host. The PowerShell and
// cmd.exe emulation reads it; remediation commands (backups) change it; the
// simulated directory and Entra ID read the escrow truth from it. Lock Mu
// around any access once the fleet is serving.
type Machine struct {
	Mu sync.Mutex

	// ComputerName is the NetBIOS name, upper case ("WS-0001").
	ComputerName string
	// DNSDomain is the AD DNS domain ("corp.example.test"); empty in a workgroup.
	DNSDomain string
	// NetBIOSDomain is the short domain name ("CORP"); "WORKGROUP" when not joined.
	NetBIOSDomain string

	OS   OSVersion
	Join JoinState

	// Account, when set, is the identity the directory, Entra ID and the
	// external key store hold for this machine, where the machine reports
	// something else about itself (a hostile or misconfigured host; the
	// emulated commands report ComputerName, DNSDomain and Join). Nil: the
	// sources know the machine as it reports itself. Read it with Identity.
	Account *Account

	// FVEPolicy holds the values under HKLM\SOFTWARE\Policies\Microsoft\FVE:
	// uint32 for REG_DWORD, string for REG_SZ. Nil or empty: the key does not exist.
	FVEPolicy map[string]any

	Volumes []*Volume
	// Events is the Microsoft-Windows-BitLocker/BitLocker Management log, oldest first.
	Events []Event

	// Escrow is the truth about what the directories hold for this machine's
	// keys, whatever its event log claims.
	Escrow EscrowTruth

	// Record is what the directories record about the machine's computer
	// account and device object, whatever the machine itself says.
	Record DirectoryRecord

	// LongCommandLineSilent selects the other observed behaviour for a
	// command line over 8191 characters (winrm.md §1.6): empty output and
	// exit code 0 instead of "The command line is too long." and exit 1.
	LongCommandLineSilent bool

	// ProgressOnFirstUse makes PowerShell send the "Preparing modules for
	// first use." progress record (CLIXML on stderr, winrm.md §6.3) when a
	// script runs a module command without $ProgressPreference =
	// 'SilentlyContinue', as pywinrm-style clients see it.
	ProgressOnFirstUse bool

	// NoBitLockerFeature: the BitLocker feature is not installed (Windows
	// Server before Install-WindowsFeature BitLocker). The
	// root\CIMV2\Security\MicrosoftVolumeEncryption namespace, the BitLocker
	// module and the BitLocker Management event channel do not exist;
	// Volumes is then ignored by everything a client can query except
	// MSFT_Partition.
	NoBitLockerFeature bool

	// LanguageMode is $ExecutionContext.SessionState.LanguageMode: ""
	// (FullLanguage) or "ConstrainedLanguage", which a WDAC or AppLocker
	// policy in enforcement mode imposes on interactive and remote sessions.
	LanguageMode string

	// NotAdmin: the account may use WinRM (Remote Management Users) but is
	// not a local administrator, so the BitLocker WMI namespace, the storage
	// namespace and the BitLocker Management log refuse it.
	NotAdmin bool

	// DsregcmdStderr, when set, is a line dsregcmd /status writes to stderr
	// besides its normal output.
	DsregcmdStderr string

	// Now is the host's clock, used to time-stamp events that remediation
	// writes; nil means time.Now.
	Now func() time.Time

	// EntraBackupError, when non-zero, is the HRESULT the Entra ID backup
	// (BackupRecoveryInformationToCloudDomain) fails with on a joined
	// device: event 846 is logged with it and nothing is stored, as when
	// the device cannot reach Entra ID (bitlocker.md §3).
	EntraBackupError uint32

	// DropDuringBackup makes the host's connection drop while a backup
	// method runs: the backup completes, its answer never arrives (the
	// drop-mid-action profile; the fleet's runner applies it).
	DropDuringBackup bool
	// BackupCalls counts the backup methods run
	// (BackupRecoveryInformationTo*), successful or not.
	BackupCalls int

	// Received records every distinct command line that reached the
	// machine, in order of first arrival, so a test can prove that a
	// command was (or was not) sent.
	Received []ReceivedCommand
}

// Account is a machine's identity at the sources: its AD computer object
// (when DomainJoined), its Entra device (when AzureAdJoined) and its folder
// in the external key store (ComputerName).
type Account struct {
	ComputerName  string // upper case NetBIOS name
	DNSDomain     string // AD DNS domain; empty for a workgroup machine
	DomainJoined  bool
	AzureAdJoined bool
	DeviceID      string // Entra deviceId, lower-case GUID
}

// Identity returns the account the sources hold for the machine. Lock Mu.
func (m *Machine) Identity() Account {
	if m.Account != nil {
		return *m.Account
	}
	return Account{ComputerName: m.ComputerName, DNSDomain: m.DNSDomain, DomainJoined: m.Join.DomainJoined,
		AzureAdJoined: m.Join.AzureAdJoined, DeviceID: m.Join.DeviceID}
}

// A ReceivedCommand is one distinct command line a machine received.
type ReceivedCommand struct {
	// Digest is the hex SHA-256 of the command line.
	Digest string
	// Count is how often it arrived.
	Count int
	// CommandLine is the command line itself when it is at most
	// maxRecordedCommand characters (remediation actions are; the
	// collection script is not, and thousands of hosts would otherwise
	// each keep a copy).
	CommandLine string
}

// maxRecordedCommand bounds the command lines Received keeps in full.
const maxRecordedCommand = 4096

// OSVersion is what Win32_OperatingSystem reports.
type OSVersion struct {
	Caption     string // "Microsoft Windows 11 Enterprise"
	Version     string // "10.0.22631"
	BuildNumber string // "22631"
}

// JoinState is what dsregcmd /status reports.
type JoinState struct {
	AzureAdJoined    bool
	DomainJoined     bool
	EnterpriseJoined bool
	// DeviceID is the Entra deviceId (lower-case GUID), set when AzureAdJoined.
	DeviceID   string
	TenantID   string
	TenantName string
}

// Volume is one Win32_EncryptableVolume instance.
type Volume struct {
	DeviceID    string // `\\?\Volume{guid}\`
	DriveLetter string // "C:"; empty for none (reported as null)
	Label       string
	// VolumeType: 0 system (OS), 1 fixed data, 2 removable data.
	VolumeType    uint32
	CapacityBytes uint64
	// ConversionStatus 0..5, EncryptionPercentage 0..100, EncryptionFlags
	// (0x1 used-space-only) as GetConversionStatus returns them.
	ConversionStatus     uint32
	EncryptionPercentage uint32
	EncryptionFlags      uint32
	// ProtectionStatus 0 off, 1 on, 2 unknown (GetProtectionStatus).
	ProtectionStatus uint32
	// LockStatus 0 unlocked, 1 locked.
	LockStatus uint32
	// EncryptionMethod 0..7 (GetEncryptionMethod).
	EncryptionMethod uint32
	// SuspendCount is GetSuspendCount: reboots left while suspended.
	SuspendCount uint32
	Protectors   []*Protector
	// PartitionGptType is the GPT partition type GUID of the volume's
	// partition as MSFT_Partition.GptType reports it; "" means basic data
	// ({ebd0a0a2-b9e5-4433-87c0-68b6b72699c7}).
	PartitionGptType string
}

// Protector is one key protector. RecoveryPassword exists only on the
// simulated host, as on Windows; it must never leave the host unless a
// command explicitly reads it (which bitaudit never does).
type Protector struct {
	ID   string // "{GUID}" upper case; "BitLocker" for an eDrive's band protector
	Type uint32 // KeyProtectorType 0..10
	// RecoveryPassword is the 48-digit numerical password (Type 3 only).
	RecoveryPassword string
	// KeyFileName is the .BEK name of an external key.
	KeyFileName string
	AutoUnlock  bool
}

// Event is one BitLocker Management event record.
type Event struct {
	ID       int
	RecordID int64
	Time     time.Time
	// Data is EventData, in the order the manifest lists it
	// (784: ProtectorGUID, IdentificationGUID; 845: VolumeMountPoint, ProtectorGUID, TraceGUID; ...).
	Data []EventData
}

// EventData is one named EventData/Data element.
type EventData struct {
	Name  string
	Value string
}

// EscrowTruth records which keys of this machine the directories hold.
// Whatever changes it once a directory serves it calls EscrowChanged.
type EscrowTruth struct {
	// AD lists msFVE-RecoveryInformation children of the machine's computer object.
	AD []EscrowedKey
	// Entra lists bitlockerRecoveryKey objects for the machine's deviceId.
	Entra []EscrowedKey
	// ExternalFiles lists protector IDs with a "BitLocker Recovery Key <ID>.TXT"
	// in the external key store, in the folder named after the machine's
	// account (<store>/<COMPUTERNAME>/), or DeviceObject's folder when set.
	ExternalFiles []EscrowedKey
}

// DirectoryRecord is the directories' record of a machine's account: the AD
// computer object's objectGUID, userAccountControl ACCOUNTDISABLE and
// lastLogonTimestamp, and the Entra device's accountEnabled and
// approximateLastSignInDateTime.
type DirectoryRecord struct {
	// ObjectGUID is the AD computer object's objectGUID (lower case). A
	// hybrid-joined device's Entra deviceId is the same GUID.
	ObjectGUID string
	Disabled   bool
	// LogonAge is how long before the directory started the account last
	// logged on; CreatedAge how long before it was created. Zero LogonAge:
	// never logged on.
	LogonAge, CreatedAge time.Duration
}

// EscrowedKey is one key held at a source. ProtectorID may name a protector
// the machine no longer has (a stale key).
type EscrowedKey struct {
	ProtectorID string // "{GUID}" upper case
	Created     time.Time
	// VolumeType is Graph's volumeType: 1 OS, 2 fixed data, 3 removable data.
	VolumeType int
	// DeviceObject, when set, names a different directory object than the
	// machine's own (a duplicate or stale device object after a re-image);
	// for ExternalFiles, the other computer's folder the file is filed in.
	DeviceObject string
}
