package simulator

import (
	"strings"

	"github.com/bitaudit/bitaudit/simulator/windows"
)

// An Expectation is what an auditor should conclude about a host, derived
// from the definition of its profile and faults (never from running a
// client). It assumes the auditor checks escrow at the sources (the
// fleet's directory, Entra ID and external key store): without them a
// never-escrowed key is only unverified, and a key the event log claims
// may pass as escrowed. Status is one of the Status* values. Problems lists the
// problems the profile was built to exhibit (the Problem* values); an
// auditor may report more, derived from these (a suspended volume is also
// unprotected), but must report these.
//
// Each profile declares its expectation in the profile table below; a
// hostile profile also declares what it makes of its victim's. The JSON
// keys are those of `simulate --expect-out`; later keys are added here.
type Expectation struct {
	Status   string   `json:"status"`
	Problems []string `json:"problems"`
	// StatusAfterFix and ProblemsAfterFix are what a re-audit should
	// conclude after a fix pass under the default policy (back up every
	// recovery password missing at an accepted location; add no
	// protector, export nothing) applied to hosts whose identity is
	// confirmed: what the host's backup methods then achieve, by this
	// simulator's own rules (policy refusals, failing Entra ID, dropped
	// connections).
	StatusAfterFix   string   `json:"status_after_fix"`
	ProblemsAfterFix []string `json:"problems_after_fix"`
}

// after sets what a fix pass leaves.
func (e Expectation) after(status string, problems ...string) Expectation {
	e.StatusAfterFix, e.ProblemsAfterFix = status, problems
	return e
}

// Host statuses, spelled as bitaudit's result document spells them.
const (
	StatusCompliant     = "compliant"
	StatusNoncompliant  = "noncompliant"
	StatusUnreachable   = "unreachable"
	StatusAuthFailed    = "auth_failed"
	StatusTimeout       = "timeout"
	StatusProtocolError = "protocol_error"
)

// Problems a host profile is built to exhibit. bitaudit's default policy is
// assumed: OS and fixed data volumes encrypted (used-space-only and TPM
// without PIN allowed) with XTS-AES or AES-256 and protection on, every
// recovery password held at a source the join state implies (AD DS, Entra
// ID, either for hybrid, the external key store for workgroup machines),
// domain and hybrid hosts with OSRequireActiveDirectoryBackup=1, and no
// locked volume left unevaluated; removable drives are not required.
const (
	ProblemNoRecoveryPassword    = "no_recovery_password"     // a volume has no recovery-password protector
	ProblemEscrowMissing         = "escrow_missing"           // a recovery password is held by no source and no event claims it
	ProblemEscrowClaimedNotFound = "escrow_claimed_not_found" // event 784/845 claims a backup the source does not hold
	ProblemEscrowPartial         = "escrow_partial"           // one recovery password escrowed, another not
	ProblemStaleEscrow           = "stale_escrow"             // the source holds only keys of removed protectors
	ProblemProtectionSuspended   = "protection_suspended"     // encrypted, protection off, reboots counting down
	ProblemEncryptionInProgress  = "encryption_in_progress"   // conversion not finished
	ProblemProtectionOff         = "protection_off"           // protection off while encrypting
	ProblemOSVolumeDecrypted     = "os_volume_decrypted"      // the OS volume is not encrypted
	ProblemDataVolumeDecrypted   = "data_volume_decrypted"    // a fixed data volume is not encrypted
	ProblemNoProtectors          = "no_protectors"            // encrypted with a clear key, no protectors at all
	ProblemWeakEncryptionMethod  = "weak_encryption_method"   // AES-CBC 128 instead of XTS-AES
	ProblemVolumeLocked          = "volume_locked"            // a locked data volume cannot be evaluated
	ProblemBackupNotRequired     = "backup_not_required"      // AD-joined, FVE policy lacks OSRequireActiveDirectoryBackup=1
	ProblemBitLockerNotInstalled = "bitlocker_not_installed"  // the BitLocker feature is not installed: nothing is encrypted
	ProblemVolumeUnreadable      = "volume_unreadable"        // a volume's BitLocker state cannot be fully read (e.g. an eDrive's non-GUID protector ID)

	// Identity: what a hostile host says about itself disagrees with the
	// directory, or with another host of the fleet.
	ProblemIdentityMismatch   = "identity_mismatch"   // reports another host's name, FQDN and device ID
	ProblemDuplicateProtector = "duplicate_protector" // a protector ID another host of the fleet also reports
	ProblemJoinStateMismatch  = "join_state_mismatch" // claims workgroup while AD holds its computer object
	ProblemEscrowElsewhere    = "escrow_elsewhere"    // its key file sits in another host's folder of the key store
	ProblemNoOSVolume         = "no_os_volume"        // joined, yet reports no OS volume

	// Remediation: a value crafted as a PowerShell injection.
	ProblemHostileValue = "hostile_value" // a protector ID or mount point Windows never prints
)

// A profile is one built-in kind of host. build fills the machine from the
// generator and returns what an auditor should conclude.
type profile struct {
	name   string
	prefix string   // computer-name prefix
	os     []string // releases drawn from
	build  func(g *gen) Expectation
	// borrow, set for hostile profiles that impersonate or copy another
	// host (the victim: a compliant, fault-free host of the fleet, chosen
	// by the seed), takes what it needs from the victim once the fleet is
	// built and returns both hosts' expectations. build's expectation is
	// the host's when the fleet offers no victim.
	borrow func(self, victim *Host) (own, victims Expectation)
}

var (
	clients = []string{"win10-22h2", "win11-23h2", "win11-23h2", "win11-24h2"}
	servers = []string{"server2019", "server2022"}
)

// reverse returns s with its bytes in reverse order (ASCII names).
func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

func compliant() Expectation { return Expectation{Status: StatusCompliant} }

func noncompliant(problems ...string) Expectation {
	return Expectation{Status: StatusNoncompliant, Problems: problems}
}

// osTPMRecovery adds the usual OS volume: XTS-AES, TPM plus one recovery
// password (sample manage-bde-protectors-get_os_tpm-legacy-pcr_numerical-password,
// Get-BitLockerVolume_ConvertTo-Json_ps51_WIN-VM C:).
func osTPMRecovery(g *gen) (*windows.Volume, *windows.Protector) {
	v := g.volume("C:", volOS, g.xts())
	g.protector(v, protTPM)
	return v, g.protector(v, protRecoveryPassword)
}

// profiles lists the built-in host profiles. Each comment names the sample
// in shared/samples or the section of bitlocker.md it is grounded in.
var profiles = []profile{
	// Domain-joined laptop, escrowed to AD with event 784 (bitlocker.md §3, §4;
	// samples manage-bde-protectors-get_os_tpm-legacy-pcr, DELL7390 Select-Object *).
	{"domain-laptop", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		return compliant()
	}, nil},
	// Domain-joined desktop: as the laptop, named WS-.
	{"domain-desktop", "WS-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		return compliant()
	}, nil},
	// Domain member server, XTS-AES 256 OS and data volume, both escrowed.
	{"domain-server", "SRV-", servers, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v := g.volume("C:", volOS, methodXTSAES256)
		g.protector(v, protTPM)
		g.escrow(v, g.protector(v, protRecoveryPassword))
		d := g.volume("D:", volFixed, methodXTSAES256)
		rp := g.protector(d, protRecoveryPassword)
		ek := g.protector(d, protExternalKey)
		ek.KeyFileName, ek.AutoUnlock = ek.ID[1:len(ek.ID)-1]+".BEK", true
		g.escrow(d, rp)
		return compliant()
	}, nil},
	// Entra-joined laptop escrowed to Entra ID with event 845 (bitlocker.md §3, §5;
	// sample graph_bitlocker_recoveryKeys_list).
	{"entra-laptop", "LT-", clients, func(g *gen) Expectation {
		g.joinEntra()
		g.somePolicy()
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		return compliant()
	}, nil},
	// Hybrid-joined laptop, escrowed to AD (784) and Entra ID (845)
	// (sample dsregcmd-status_hybrid-joined_fragment).
	{"hybrid-laptop", "LT-", clients, func(g *gen) Expectation {
		g.joinHybrid()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		return compliant()
	}, nil},
	// Data volume with recovery password and an auto-unlock external key
	// (sample manage-bde-protectors-get_datavolume_numpw_externalkey_autounlock).
	{"data-autounlock", "WS-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		d := g.volume("E:", volFixed, methodXTSAES128)
		drp := g.protector(d, protRecoveryPassword)
		ek := g.protector(d, protExternalKey)
		ek.KeyFileName, ek.AutoUnlock = ek.ID[1:len(ek.ID)-1]+".BEK", true
		g.escrow(d, drp)
		return compliant()
	}, nil},
	// Used-space-only encryption on OS and data volume
	// (sample manage-bde-status_win11pro_3vols_usedspace_autounlock_decrypted C:, D:).
	{"used-space-only", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		v.EncryptionMethod, v.EncryptionFlags = methodXTSAES128, 0x1
		g.escrow(v, rp)
		d := g.volume("D:", volFixed, methodXTSAES128)
		d.EncryptionFlags = 0x1
		drp := g.protector(d, protRecoveryPassword)
		ek := g.protector(d, protExternalKey)
		ek.KeyFileName, ek.AutoUnlock = ek.ID[1:len(ek.ID)-1]+".BEK", true
		g.escrow(d, drp)
		return compliant()
	}, nil},
	// TPM+PIN pre-boot authentication plus a recovery password (bitlocker.md §1.4 type 4).
	{"tpm-pin", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v := g.volume("C:", volOS, g.xts())
		g.protector(v, protTPMPIN)
		g.escrow(v, g.protector(v, protRecoveryPassword))
		return compliant()
	}, nil},
	// Workgroup machine: recovery password saved to the external key store
	// ("BitLocker Recovery Key <ID>.TXT"), the only escrow it can have.
	{"workgroup", "WS-", clients, func(g *gen) Expectation {
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		return compliant()
	}, nil},
	// Unencrypted removable drive next to a compliant OS volume; removable
	// drives are outside the default policy (VolumeType 2, bitlocker.md §1.1).
	{"removable-unencrypted", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		g.volume("F:", volRemovable, methodNone).Label = "USB DISK"
		return compliant()
	}, nil},

	// TPM-only OS volume, no recovery password (sample
	// manage-bde-protectors-get_tpm-only-type_pcr7-secureboot_fragment; no policy requiring one).
	{"tpm-only", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		v := g.volume("C:", volOS, g.xts())
		g.protector(v, protTPM)
		return noncompliant(ProblemNoRecoveryPassword, ProblemBackupNotRequired)
	}, nil},
	// Recovery password never escrowed: no 784, nothing in AD; backup not required by policy.
	// After a fix: with the FVE policy (OSActiveDirectoryBackup=1) the
	// backup succeeds; without any, BackupRecoveryInformationToActiveDirectory
	// returns S_FALSE (bitlocker.md §1.2) and the key stays missing.
	{"never-escrowed", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		withPolicy := g.r.IntN(2) == 0
		if withPolicy {
			g.policy(false)
		}
		osTPMRecovery(g)
		e := noncompliant(ProblemEscrowMissing, ProblemBackupNotRequired)
		if withPolicy {
			return e.after(StatusNoncompliant, ProblemBackupNotRequired)
		}
		return e.after(StatusNoncompliant, ProblemEscrowMissing, ProblemBackupNotRequired)
	}, nil},
	// Escrowed to AD, but the FVE policy does not require the backup before
	// encryption (OSRequireActiveDirectoryBackup absent or no FVE key at
	// all; bitlocker.md §6, CIS 18.10.9.x).
	{"backup-not-required", "WS-", clients, func(g *gen) Expectation {
		g.joinDomain()
		if g.r.IntN(2) == 0 {
			g.policy(false)
		}
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		return noncompliant(ProblemBackupNotRequired)
	}, nil},
	// Event 784 (or 845 when Entra-joined) claims the backup, but the
	// source lost it (bitlocker.md §3: "keys can be deleted later").
	{"escrow-lost", "LT-", clients, func(g *gen) Expectation {
		entra := g.r.IntN(3) == 0
		if entra {
			g.joinEntra()
			g.somePolicy()
		} else {
			g.joinDomain()
			g.policy(true)
		}
		v, rp := osTPMRecovery(g)
		if entra {
			g.backupEntra(v, rp, false)
		} else {
			g.backupAD(v, rp, false)
		}
		return noncompliant(ProblemEscrowClaimedNotFound).after(StatusCompliant)
	}, nil},
	// Protector rotated: AD holds only the removed protector's key; the
	// current recovery password was never backed up (bitlocker.md §4 History).
	{"stale-escrow", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, _ := osTPMRecovery(g)
		old := &windows.Protector{ID: "{" + g.guid() + "}", Type: protRecoveryPassword}
		g.backupAD(v, old, true)
		return noncompliant(ProblemEscrowMissing, ProblemStaleEscrow).after(StatusCompliant)
	}, nil},
	// Two recovery passwords (Add-BitLockerKeyProtector run twice,
	// bitlocker.md §2.3); only the first is escrowed.
	{"two-passwords", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		g.protector(v, protRecoveryPassword)
		return noncompliant(ProblemEscrowPartial).after(StatusCompliant)
	}, nil},
	// Protection suspended with 1..3 reboots left (sample
	// Win32_EncryptableVolume-derived_C3-Protect_suspended).
	{"suspended", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		v.ProtectionStatus, v.SuspendCount = 0, uint32(1+g.r.IntN(3))
		g.event(773, windows.EventData{Name: "VolumeMountPoint", Value: "C:"})
		return noncompliant(ProblemProtectionSuspended)
	}, nil},
	// Encryption in progress at 99%, protection off until it finishes
	// (sample manage-bde-status_win11_encryption-in-progress_99pct).
	{"encrypting", "LT-", []string{"win11-24h2"}, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		v.EncryptionMethod = methodXTSAES128
		v.ConversionStatus, v.EncryptionPercentage, v.ProtectionStatus = 2, 99, 0
		g.escrow(v, rp)
		return noncompliant(ProblemEncryptionInProgress, ProblemProtectionOff)
	}, nil},
	// Encrypted OS volume, fully decrypted fixed data volume with no
	// protectors (sample Get-BitLockerVolume_ConvertTo-Json_ps51_WIN-VM E:).
	{"data-decrypted", "WS-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		g.volume("E:", volFixed, methodNone)
		return noncompliant(ProblemDataVolumeDecrypted)
	}, nil},
	// Fully decrypted OS volume, no protectors (sample
	// Get-BitLockerVolume_FormatList_WIN10-BOOK-2_decrypted).
	{"os-decrypted", "LT-", []string{"win10-22h2"}, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		g.volume("C:", volOS, methodNone)
		return noncompliant(ProblemOSVolumeDecrypted)
	}, nil},
	// Device-encryption clear key: used-space encrypted, protection off,
	// no protectors (sample manage-bde-status_clearkey_no-protectors).
	{"clear-key", "LT-", []string{"win11-23h2", "win11-24h2"}, func(g *gen) Expectation {
		g.joinEntra()
		v := g.volume("C:", volOS, methodXTSAES128)
		v.EncryptionFlags, v.ProtectionStatus = 0x1, 0
		return noncompliant(ProblemNoProtectors)
	}, nil},
	// Pre-XTS AES-CBC 128 (method 3), kept from a Windows 8.1 era
	// encryption (bitlocker.md §1.3 defaults); escrowed.
	{"legacy-aes128", "WS-", []string{"win10-22h2"}, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		v.EncryptionMethod = methodAES128
		g.escrow(v, rp)
		return noncompliant(ProblemWeakEncryptionMethod)
	}, nil},
	// Locked fixed data volume unlocked by a password: protection status
	// unknown (2), lock status 1, so its state cannot be evaluated; its
	// recovery password is escrowed (bitlocker.md §1.2, §1.3).
	{"data-locked", "WS-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		d := g.volume("E:", volFixed, methodXTSAES128)
		d.ProtectionStatus, d.LockStatus = 2, 1
		g.escrow(d, g.protector(d, protRecoveryPassword))
		g.protector(d, protPassword)
		return noncompliant(ProblemVolumeLocked)
	}, nil},

	// Real-fleet cases (issue: collection that survives real Windows fleets).

	// Windows Server without the BitLocker feature: Win32_EncryptableVolume
	// "requires the BitLocker Drive Encryption feature" (Microsoft Learn,
	// Win32_EncryptableVolume), so its namespace is missing (0x8004100E),
	// the BitLocker module and event channel too; the OS volume is not
	// encrypted.
	{"server-no-bitlocker", "SRV-", servers, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		g.volume("C:", volOS, methodNone)
		g.m.NoBitLockerFeature = true
		return noncompliant(ProblemBitLockerNotInstalled)
	}, nil},
	// Hybrid laptop whose event log holds the forms real logs have: volume
	// paths \\?\Volume{…} without the trailing backslash and unbraced GUIDs
	// (sample event_768_bitlocker-api_json: VolumeName, IdentificationGUID),
	// an 845 naming a volume mounted in a folder, an 846 with an empty
	// ErrorCode and an unbraced ProtectorGUID of a protector since removed. Compliant: the events are
	// claims, the directories hold the key.
	{"odd-events", "LT-", clients, func(g *gen) Expectation {
		g.joinHybrid()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		g.event(768, windows.EventData{Name: "IdentificationGUID", Value: g.guid()},
			windows.EventData{Name: "VolumeName", Value: strings.TrimSuffix(v.DeviceID, `\`)},
			windows.EventData{Name: "VolumeMountPoint", Value: "C:"}, windows.EventData{Name: "AlgorithmType", Value: "32772"})
		g.escrow(v, rp)
		old := strings.ToLower(g.guid())
		g.event(845, windows.EventData{Name: "VolumeMountPoint", Value: `C:\mnt\data\`},
			windows.EventData{Name: "ProtectorGUID", Value: "{" + old + "}"}, windows.EventData{Name: "TraceGUID", Value: "{" + g.guid() + "}"})
		g.event(846, windows.EventData{Name: "VolumeMountPoint", Value: strings.TrimSuffix(v.DeviceID, `\`)},
			windows.EventData{Name: "ProtectorGUID", Value: old}, windows.EventData{Name: "ErrorCode", Value: ""},
			windows.EventData{Name: "TraceGUID", Value: "{" + g.guid() + "}"})
		return compliant()
	}, nil},
	// Domain laptop in Constrained Language Mode, as a WDAC or AppLocker
	// policy in enforcement imposes it (about_Language_Modes): method
	// calls on non-core types such as EventLogRecord.ToXml() fail.
	// Otherwise compliant.
	{"constrained-language", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		g.m.LanguageMode = "ConstrainedLanguage"
		return compliant()
	}, nil},
	// Domain laptop with a letterless Windows RE partition (GPT type
	// de94bba4-…, "Recovery" in Get-Partition; Microsoft Learn, "Configure
	// UEFI/GPT-based hard drive partitions"), never encrypted. Compliant:
	// a recovery partition is not a data volume.
	{"winre-partition", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		re := g.volume("", volFixed, methodNone)
		re.Label, re.CapacityBytes, re.PartitionGptType = "", 750<<20, "{de94bba4-06d1-4d40-a16a-bfd50179d6ac}"
		return compliant()
	}, nil},
	// Self-encrypting drive (eDrive) encrypted by hardware (EncryptionMethod
	// 5): its numerical-password protector's ID is the literal "BitLocker"
	// (bitlocker.md §1.2, ProtectKeyWithNumericalPassword on an eDrive),
	// which no directory can hold under that name.
	{"edrive", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v := g.volume("C:", volOS, methodHardware)
		g.protector(v, protTPM)
		v.Protectors = append(v.Protectors, &windows.Protector{ID: "BitLocker", Type: protRecoveryPassword, RecoveryPassword: g.recoveryPassword()})
		return noncompliant(ProblemVolumeUnreadable)
	}, nil},
	// The audit account may use WinRM (Remote Management Users) but is no
	// local administrator: the BitLocker namespace answers "Access denied"
	// (0x80041003; Win32_EncryptableVolume requires administrator rights).
	{"access-denied", "WS-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, rp := osTPMRecovery(g)
		g.escrow(v, rp)
		g.m.NotAdmin = true
		return Expectation{Status: StatusAuthFailed}
	}, nil},

	// Hostile hosts: what a host says about itself is a claim (design.md,
	// "a host cannot vouch for itself"). A compromised or rogue machine
	// controls its computer name, dsregcmd output, event log and the
	// protector IDs it reports; it does not control the directory.

	// Impostor: its own hybrid-joined account holds no key; it reports the
	// victim's computer name, domain, join state and Entra deviceId, the
	// victim's volumes with their protector IDs (printed in every report)
	// and the victim's backup events. The victim keeps its verdict: its
	// identity matches its directory object, the impostor's does not.
	{"impostor", "WS-", clients, unescrowed((*gen).joinHybrid), impersonate},
	// Workgroup liar: AD holds its computer object, it reports workgroup
	// (no domain, dsregcmd DomainJoined NO), and its key file sits in the
	// victim's folder of the external key store, where a flat store would
	// have accepted it; AD does not hold its key.
	{"workgroup-liar", "WS-", clients, unescrowed((*gen).joinDomain), claimWorkgroup},
	// No volumes: a joined host whose Win32_EncryptableVolume query returns
	// nothing (a host that hides its volumes, or a broken WMI repository).
	{"no-volumes", "WS-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		return noncompliant(ProblemNoOSVolume)
	}, nil},
	// Duplicate protector: an honest name, but its OS volume's recovery
	// password carries the victim's protector ID, which AD holds under the
	// victim's object. The auditor cannot tell which host lies: both are
	// noncompliant, neither verified for that ID.
	{"duplicate-protector", "WS-", clients, unescrowed((*gen).joinDomain), copyProtector},
	// A computer name carrying a right-to-left override (U+202E): shown
	// as is, "LT-\u202e8100" displays as "LT-0018", another machine's name,
	// in every report (the "Trojan Source" trick, CVE-2021-42574). Windows
	// forbids it in a NetBIOS name; a hostile host answers what it likes.
	// The collector's answer is refused, never reported.
	{"bidi-name", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		osTPMRecovery(g)
		account := g.m.Identity() // the directory and its certificate keep the real name
		g.m.Account = &account
		g.m.ComputerName = g.m.ComputerName[:3] + "\u202e" + reverse(g.m.ComputerName[3:])
		return Expectation{Status: StatusProtocolError, Problems: []string{ProblemHostileValue}}
	}, nil},

	// Remediation hosts: what a --fix pass meets on real estates.

	// A protector ID crafted as a PowerShell injection. Windows never
	// prints one (IDs are braced GUIDs, bitlocker.md §1.2; an eDrive's
	// literal "BitLocker" is the one exception): the volume cannot be
	// evaluated, and no command may be built from the ID.
	{"inject-protector", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		_, rp := osTPMRecovery(g)
		rp.ID = injections[g.r.IntN(len(injections))]("{" + g.guid() + "}")
		return noncompliant(ProblemVolumeUnreadable, ProblemHostileValue)
	}, nil},
	// A mount point (DriveLetter) crafted as a PowerShell injection, on a
	// volume whose recovery password is not escrowed: the bait for a fix.
	// The collector refuses the answer (a DriveLetter is a letter and a colon).
	{"inject-mountpoint", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		v, _ := osTPMRecovery(g)
		v.DriveLetter = injections[g.r.IntN(len(injections))]("C:")
		return Expectation{Status: StatusProtocolError, Problems: []string{ProblemHostileValue}}
	}, nil},
	// Recovery password never escrowed; the connection drops while the
	// backup runs: the backup completes on the host and in AD, the client
	// never hears the answer, so only verification at the source can tell.
	{"drop-mid-action", "LT-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(true)
		osTPMRecovery(g)
		g.m.DropDuringBackup = true
		return noncompliant(ProblemEscrowMissing).after(StatusCompliant)
	}, nil},
	// The BitLocker GPO sets "Do not allow" AD DS backup for OS drives
	// (OSActiveDirectoryBackup=0): the backup method returns S_FALSE
	// (bitlocker.md §1.2, §1.5) and logs nothing; the key stays missing.
	{"gpo-forbids-ad-backup", "WS-", clients, func(g *gen) Expectation {
		g.joinDomain()
		g.policy(false)
		g.m.FVEPolicy["OSActiveDirectoryBackup"] = uint32(0)
		osTPMRecovery(g)
		return noncompliant(ProblemEscrowMissing, ProblemBackupNotRequired).
			after(StatusNoncompliant, ProblemEscrowMissing, ProblemBackupNotRequired)
	}, nil},
	// Entra-joined, never escrowed, and the Entra ID backup fails: the
	// device cannot reach the service (WININET_E_NAME_NOT_RESOLVED,
	// 0x80072EE7), event 846 is logged with the error, nothing is stored
	// (bitlocker.md §3).
	{"entra-backup-fails", "LT-", clients, func(g *gen) Expectation {
		g.joinEntra()
		g.somePolicy()
		osTPMRecovery(g)
		g.m.EntraBackupError = 0x80072EE7
		return noncompliant(ProblemEscrowMissing).after(StatusNoncompliant, ProblemEscrowMissing)
	}, nil},
}

// injections turn a value into a PowerShell injection: a quote closing
// the string then a command, a subexpression, a backtick escape, a newline.
var injections = []func(string) string{
	func(v string) string { return v + "'; Remove-Item -Recurse -Force C:\\ ; '" },
	func(v string) string { return v + "$(Remove-Item -Recurse -Force C:\\)" },
	func(v string) string { return v + "`'; Stop-Computer -Force #" },
	func(v string) string { return v + "\nRemove-Item -Recurse -Force C:\\" },
}

// unescrowed builds a hostile host's own machine: joined by join, with
// the usual policy and an OS volume whose recovery password no source holds.
func unescrowed(join func(*gen)) func(*gen) Expectation {
	return func(g *gen) Expectation {
		join(g)
		g.policy(true)
		osTPMRecovery(g)
		// Alone (no victim), the host is honest and its key can be backed up.
		return noncompliant(ProblemEscrowMissing).after(StatusCompliant)
	}
}

// zeroRecoveryPassword is a format-valid recovery password of zeros, built
// rather than written out so no source file holds one.
var zeroRecoveryPassword = strings.TrimSuffix(strings.Repeat("000000-", 8), "-")

// impersonate makes self report victim's identity, volumes and events.
func impersonate(self, victim *Host) (Expectation, Expectation) {
	m, v := self.Machine, victim.Machine
	own := m.Identity()
	m.Account = &own
	m.ComputerName, m.DNSDomain, m.NetBIOSDomain, m.Join = v.ComputerName, v.DNSDomain, v.NetBIOSDomain, v.Join
	m.Volumes = nil
	for _, vol := range v.Volumes {
		c := *vol
		c.Protectors = nil
		for _, p := range vol.Protectors {
			cp := *p
			if cp.RecoveryPassword != "" {
				// The victim's protector ID, not its password: the impostor
				// never saw that. Any format-valid value will do.
				cp.RecoveryPassword = zeroRecoveryPassword
			}
			c.Protectors = append(c.Protectors, &cp)
		}
		m.Volumes = append(m.Volumes, &c)
	}
	m.Events = append([]windows.Event(nil), v.Events...)
	m.FVEPolicy = v.FVEPolicy
	return noncompliant(ProblemIdentityMismatch), victim.Expect
}

// claimWorkgroup makes self report workgroup and files its key in the
// victim's folder of the external key store.
func claimWorkgroup(self, victim *Host) (Expectation, Expectation) {
	m := self.Machine
	own := m.Identity()
	m.Account = &own
	m.DNSDomain, m.NetBIOSDomain, m.Join = "", "WORKGROUP", windows.JoinState{}
	if rp := firstRecoveryPassword(m); rp != nil {
		m.Escrow.ExternalFiles = append(m.Escrow.ExternalFiles, windows.EscrowedKey{
			ProtectorID: rp.ID, Created: refTime, VolumeType: 1, DeviceObject: victim.Machine.Identity().ComputerName})
	}
	return noncompliant(ProblemJoinStateMismatch, ProblemEscrowElsewhere), victim.Expect
}

// copyProtector gives self's recovery password the victim's protector ID.
func copyProtector(self, victim *Host) (Expectation, Expectation) {
	if rp, vrp := firstRecoveryPassword(self.Machine), firstRecoveryPassword(victim.Machine); rp != nil && vrp != nil {
		rp.ID = vrp.ID
	}
	ve := victim.Expect
	ve.Status = StatusNoncompliant
	ve.Problems = append(append([]string(nil), ve.Problems...), ProblemDuplicateProtector)
	return noncompliant(ProblemDuplicateProtector), ve
}

// firstRecoveryPassword returns the OS volume's first recovery-password
// protector, or nil.
func firstRecoveryPassword(m *windows.Machine) *windows.Protector {
	for _, v := range m.Volumes {
		if v.VolumeType != volOS {
			continue
		}
		for _, p := range v.Protectors {
			if p.Type == protRecoveryPassword {
				return p
			}
		}
	}
	return nil
}

// ProfileNames lists the built-in host profiles in documentation order.
func ProfileNames() []string {
	names := make([]string, len(profiles))
	for i, p := range profiles {
		names[i] = p.name
	}
	return names
}

func profileByName(name string) (profile, bool) {
	for _, p := range profiles {
		if p.name == name {
			return p, true
		}
	}
	return profile{}, false
}
