package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// Built-in rule IDs. They are stable: policies, waivers and --fix name them.
const (
	IDNotAudited          = "host.not-audited"
	IDNotEncrypted        = "volume.not-encrypted"
	IDProtectionOff       = "volume.protection-off"
	IDClearKey            = "volume.clear-key"
	IDConversion          = "volume.conversion-incomplete"
	IDLocked              = "volume.locked"
	IDUnreadable          = "volume.unreadable"
	IDNotInstalled        = "host.bitlocker-not-installed"
	IDWeakMethod          = "volume.weak-method"
	IDUsedSpaceOnly       = "volume.used-space-only"
	IDTPMOnly             = "volume.tpm-only"
	IDNoRecoveryPassword  = "recovery.no-password"
	IDEscrowMissing       = "escrow.missing"
	IDEscrowUnverified    = "escrow.unverified"
	IDEscrowClaimed       = "escrow.claimed-missing"
	IDEscrowStaleOnly     = "escrow.stale-only"
	IDEscrowPartial       = "escrow.partial"
	IDBackupNotRequired   = "policy.backup-not-required"
	IDWaiverExpired       = "waiver.expired"
	IDFactsStale          = "facts.stale"
	IDScopeNotAudited     = "scope.not-audited"
	IDEscrowNoneInDir     = "escrow.none-in-directory"
	cisBenchmarkFramework = "CIS Microsoft Windows benchmark (BitLocker profile)"
)

// A checkFunc appends the findings of one rule for one host (v nil) or one
// volume. It sets RuleID-independent parts only: Volume, ProtectorID,
// Message, Evidence, and Severity when it grades findings itself.
type checkFunc func(c *evalCtx, v *model.Volume, out []model.Finding) []model.Finding

func nist(control, rel string) Reference {
	return Reference{Framework: "NIST SP 800-53 Rev. 5", Control: control, Relation: rel}
}

func iso(rel string) Reference {
	return Reference{Framework: "ISO/IEC 27001:2022", Control: "A.8.24", Relation: rel}
}

func cisControls(rel string) Reference {
	return Reference{Framework: "CIS Controls v8", Control: "3.6", Relation: rel}
}

func pci(control, rel string) Reference {
	return Reference{Framework: "PCI DSS v4.0", Control: control, Relation: rel}
}

// cisBenchmark cites the BitLocker items of the CIS Microsoft Windows
// benchmarks, whose section numbers moved between releases: 18.9.11.x
// (Windows 10 1909), 18.10.9.x (Windows 10 v3.0.0), 18.10.10.x (newer).
func cisBenchmark(item, rel string) Reference {
	return Reference{Framework: cisBenchmarkFramework, Control: "18.10.9.x (v3.0.0; 18.9.11.x in 1909, 18.10.10.x later): " + item, Relation: rel}
}

// Builtin returns the built-in rules in catalog order. Each call returns a
// fresh slice.
func Builtin() []Rule {
	return slices.Concat(identityRules(), []Rule{
		{
			ID: IDNotAudited, Title: "Host not audited", Severity: model.SeverityHigh, Scope: ScopeHost,
			Rationale: "A host whose BitLocker state could not be collected may hold unencrypted data or an unrecoverable volume; " +
				"it is never counted as compliant. Severity by status: auth_failed and protocol_error high, unreachable and timeout medium, interrupted low.",
			Remediation: "Check that the host is up, WinRM is enabled and reachable over HTTPS (5986), and the audit account may run the collection; then audit it again.",
			References:  []Reference{nist("SC-28", Supports), cisControls(Supports)},
			check:       checkNotAudited,
		},
		{
			ID: IDNotInstalled, Title: "BitLocker not installed", Severity: model.SeverityHigh, Scope: ScopeHost,
			Rationale: "The host lacks the BitLocker feature (Windows Server installs it only with Install-WindowsFeature BitLocker; " +
				"until then the MicrosoftVolumeEncryption WMI namespace does not exist), so none of its volumes can be encrypted. " +
				"Applies when policy requires OS or fixed volumes to be encrypted.",
			Remediation: "Install the feature (Install-WindowsFeature BitLocker -IncludeAllSubFeature -IncludeManagementTools, then restart) " +
				"and encrypt the volumes, or waive the host if its data need no encryption.",
			References: []Reference{nist("SC-28", Supports), nist("SC-28(1)", Supports), cisControls(Supports)},
			check:      checkNotInstalled,
		},
		{
			ID: IDNotEncrypted, Title: "Volume not encrypted", Severity: model.SeverityHigh, Scope: ScopeVolume,
			Rationale:   "Data on an unencrypted volume is readable by anyone who holds the disk. Which volume types must be encrypted is set by policy (default: OS and fixed).",
			Remediation: "Turn on BitLocker for the volume (Enable-BitLocker, or your MDM/GPO), with a recovery password protector backed up to the directory.",
			References: []Reference{nist("SC-28", Supports), nist("SC-28(1)", Satisfies), iso(Supports), cisControls(Satisfies),
				pci("3.5.1.2", Supports)},
			check: checkNotEncrypted,
		},
		{
			ID: IDProtectionOff, Title: "BitLocker protection suspended", Severity: model.SeverityHigh, Scope: ScopeVolume,
			Rationale: "While protection is suspended the volume key is stored in the clear on the disk, so the encryption protects nothing. " +
				"The evidence gives the reboots left before Windows resumes protection (0: suspended until resumed by hand).",
			Remediation: "Resume protection (Resume-BitLocker -MountPoint <volume>, or manage-bde -protectors -enable <volume>).",
			References:  []Reference{nist("SC-28(1)", Supports), cisControls(Supports), pci("3.5.1.2", Supports)},
			check:       checkProtectionOff,
		},
		{
			ID: IDClearKey, Title: "Encrypted volume without key protectors", Severity: model.SeverityHigh, Scope: ScopeVolume,
			Rationale: "An encrypted volume with protection off and no key protectors (\"waiting for activation\") keeps its key in the clear; " +
				"there is nothing to recover and nothing to back up.",
			Remediation: "Add a TPM protector and a recovery password (Add-BitLockerKeyProtector), back the recovery password up, and resume protection.",
			References:  []Reference{nist("SC-28(1)", Supports), cisControls(Supports), pci("3.5.1.2", Supports)},
			check:       checkClearKey,
		},
		{
			ID: IDConversion, Title: "Encryption or decryption not complete", Severity: model.SeverityMedium, Scope: ScopeVolume,
			Rationale: "Part of the volume is not encrypted while conversion runs or is paused. Graded: encryption in progress low, " +
				"encryption paused medium, decryption in progress or paused high (someone is turning BitLocker off).",
			Remediation: "Let encryption finish, or resume it (Resume-BitLocker); find out who started a decryption and re-encrypt the volume.",
			References:  []Reference{nist("SC-28(1)", Supports), cisControls(Supports)},
			check:       checkConversion,
		},
		{
			ID: IDLocked, Title: "Volume locked, not evaluated", Severity: model.SeverityMedium, Scope: ScopeVolume,
			Rationale: "A locked volume (or one whose conversion status was not reported) has no known conversion or protection state, " +
				"so none of the other volume rules could be evaluated; an unknown state is not compliance.",
			Remediation: "Unlock the volume (or set it to auto-unlock) and audit the host again.",
			References:  []Reference{nist("SC-28", Supports)},
			check:       checkLocked,
			onLocked:    true,
		},
		{
			ID: IDUnreadable, Title: "Volume state could not be read", Severity: model.SeverityMedium, Scope: ScopeVolume,
			Rationale: "Part of the volume's BitLocker state could not be read: a WMI method failed, a value was out of range, " +
				"or a key protector ID is not a GUID (hardware-encrypted eDrives name a protector \"BitLocker\"). " +
				"The other volume rules are not evaluated on it; an unknown state is not compliance. The evidence lists what failed.",
			Remediation: "Run manage-bde -status and manage-bde -protectors -get on the volume to see its state; for an eDrive, " +
				"decide whether hardware encryption is acceptable and add a recovery password that can be escrowed.",
			References: []Reference{nist("SC-28", Supports)},
			check:      checkUnreadable,
			onLocked:   true,
		},
		{
			ID: IDWeakMethod, Title: "Encryption method not allowed", Severity: model.SeverityMedium, Scope: ScopeVolume,
			Rationale:   "Policy lists the encryption methods it accepts (default XTS-AES 128/256 and AES-CBC 256); older or hardware (eDrive) encryption is weaker or unverifiable.",
			Remediation: "Set the allowed method in policy (EncryptionMethodWithXtsOs/Fdv/Rdv), decrypt and re-encrypt the volume.",
			References:  []Reference{nist("SC-28(1)", Supports), nist("SC-13", Supports), iso(Supports)},
			check:       checkWeakMethod,
		},
		{
			ID: IDUsedSpaceOnly, Title: "Used space only encrypted", Severity: model.SeverityMedium, Scope: ScopeVolume,
			Rationale:   "With used-space-only encryption, data deleted before BitLocker was turned on may remain readable in free space. Applies only when policy requires full encryption.",
			Remediation: "Wipe free space (manage-bde -w <volume>) or re-encrypt the volume with full encryption (OSEncryptionType/FDVEncryptionType = 1).",
			References:  []Reference{nist("SC-28(1)", Supports), pci("3.5.1.2", Supports)},
			check:       checkUsedSpaceOnly,
		},
		{
			ID: IDTPMOnly, Title: "OS volume unlocked by TPM only", Severity: model.SeverityMedium, Scope: ScopeVolume,
			Rationale:   "A TPM-only OS volume unlocks at boot without user input; policy requires pre-boot authentication (TPM+PIN). Applies only when policy requires a PIN.",
			Remediation: "Enable \"Require additional authentication at startup\" and add a TPM+PIN protector (Add-BitLockerKeyProtector -TpmAndPinProtector).",
			References:  []Reference{nist("SC-28(1)", Supports), pci("3.5.1.3", Supports)},
			check:       checkTPMOnly,
		},
		{
			ID: IDNoRecoveryPassword, Title: "No recovery password", Severity: model.SeverityHigh, Scope: ScopeVolume,
			Rationale:   "Only a recovery password (numerical password) protector can be escrowed to AD DS or Entra ID; without one, a TPM or PIN failure loses the data.",
			Remediation: "Add a recovery password protector (Add-BitLockerKeyProtector -RecoveryPasswordProtector) and back it up.",
			References:  []Reference{nist("SC-12(1)", Supports), iso(Supports), pci("3.5.1.3", Supports)},
			check:       checkNoRecoveryPassword,
		},
		{
			ID: IDEscrowMissing, Title: "Recovery key not backed up", Severity: model.SeverityHigh, Scope: ScopeProtector,
			Rationale: "No current recovery password of the volume is held at an accepted location (policy: by join state and volume type), and a source was checked and lacks it. " +
				"If the volume must be recovered, the data is lost.",
			Remediation: "Back the protector up: BackupToAAD-BitLockerKeyProtector (Entra ID) or Backup-BitLockerKeyProtector / manage-bde -protectors -adbackup (AD DS), naming the protector ID with -KeyProtectorId or -id.",
			References:  []Reference{nist("SC-12(1)", Satisfies), iso(Supports), pci("3.5.1.3", Supports)},
			check:       checkEscrow,
			emits:       []string{IDEscrowUnverified, IDEscrowPartial},
		},
		{
			ID: IDEscrowUnverified, Title: "Recovery key backup not verified", Severity: model.SeverityMedium, Scope: ScopeProtector,
			Rationale: "No accepted location could confirm or deny the backup (source not configured or not reachable, or only the host's own event claims it when policy does not accept claims). " +
				"An unverified backup is not counted as compliant.",
			Remediation: "Configure the escrow source for this join state (AD DS or Entra ID credentials) and audit again, or back the key up and verify it at the source.",
			References:  []Reference{nist("SC-12(1)", Supports)},
		},
		{
			ID: IDEscrowClaimed, Title: "Backup claimed by host but missing at source", Severity: model.SeverityHigh, Scope: ScopeProtector,
			Rationale: "The host logged a successful backup (event 784/845) but the directory does not hold the key: it was deleted, went to another (duplicate or old) device object, " +
				"or the event is wrong. Trusting the event would hide a lost key.",
			Remediation: "Back the protector up again and check the device object it lands on (duplicate Entra devices, re-imaged AD computer objects).",
			References:  []Reference{nist("SC-12(1)", Supports)},
			check:       checkClaimedMissing,
		},
		{
			ID: IDEscrowStaleOnly, Title: "Only stale keys escrowed", Severity: model.SeverityMedium, Scope: ScopeVolume,
			Rationale: "The directory holds recovery keys for this host that match no current protector (after re-encryption or rotation), and no current protector is verified: " +
				"those keys will not unlock the volume, though a report that counts objects would call it escrowed.",
			Remediation: "Back up the current recovery password; stale keys may be kept for old disks or removed per retention policy.",
			References:  []Reference{nist("SC-12(1)", Supports)},
			check:       checkStaleOnly,
		},
		{
			ID: IDEscrowPartial, Title: "Some recovery passwords not backed up", Severity: model.SeverityLow, Scope: ScopeVolume,
			Rationale: "The volume has several recovery passwords and at least one is verified at an accepted location, so it is recoverable; " +
				"the others are not backed up, and whoever holds them can unlock the volume outside the escrow process.",
			Remediation: "Back up the remaining recovery passwords, or remove the ones nobody should hold (Remove-BitLockerKeyProtector) after checking they are unused.",
			References:  []Reference{nist("SC-12(1)", Supports), pci("3.5.1.3", Supports)},
		},
		{
			ID: IDBackupNotRequired, Title: "Backup before encryption not required", Severity: model.SeverityMedium, Scope: ScopeHost,
			Rationale: "On a domain or hybrid-joined host, FVE policy OSRequireActiveDirectoryBackup=1 keeps BitLocker from starting until the recovery information is stored in AD DS; " +
				"without it a volume can be encrypted with no escrowed key. Applies when policy sets require_backup_before_encryption.",
			Remediation: "Set \"Do not enable BitLocker until recovery information is stored to AD DS for operating system drives\" to Enabled (OSRequireActiveDirectoryBackup=1) in the BitLocker GPO.",
			References: []Reference{cisBenchmark("Do not enable BitLocker until recovery information is stored to AD DS for operating system drives", Satisfies),
				nist("SC-12(1)", Supports)},
			check: checkBackupNotRequired,
		},
		{
			ID: IDFactsStale, Title: "Local facts older than the policy allows", Severity: model.SeverityMedium, Scope: ScopeHost,
			Rationale: "A host audited from a facts file (bitaudit collect, run on the host) is judged by what was true when the file was written; " +
				"past the policy's facts.max_age (default 7 days) the verdict may no longer hold.",
			Remediation: "Check that the local collection task still runs on the host and that its facts files reach the share the audit reads; or audit the host over WinRM.",
			References:  []Reference{nist("CA-7", Supports)},
			check:       checkFactsStale,
		},
		{
			ID: IDScopeNotAudited, Title: "Directory computer not in the targets", Severity: model.SeverityMedium, Scope: ScopeDirectory,
			Rationale: "An enabled computer the directory saw log on recently was never audited: nothing is known about its volumes or its keys. " +
				"Raised per enabled AD computer or Entra device, active within the stale window, that no target names.",
			Remediation: "Add the computer to the targets (bitaudit inventory writes a targets file from the directory, or use audit --targets-from), or retire its account.",
			References:  []Reference{nist("CM-8", Supports), cisControls(Supports)},
		},
		{
			ID: IDEscrowNoneInDir, Title: "No recovery key escrowed in the directory", Severity: model.SeverityHigh, Scope: ScopeDirectory,
			Rationale: "A computer that could not be audited, for which neither AD nor Entra ID holds any recovery key: if its volume is encrypted " +
				"and it locks out, nobody can unlock it. Raised only when every directory that applies was read in full.",
			Remediation: "Audit the host, then back its recovery password up (Backup-BitLockerKeyProtector, BackupToAAD-BitLockerKeyProtector).",
			References:  []Reference{nist("SC-12(1)", Supports), pci("3.6.1", Supports)},
		},
		{
			ID: IDWaiverExpired, Title: "Waiver expired", Severity: model.SeverityLow, Scope: ScopeHost,
			Rationale:   "An exception that has passed its expiry no longer covers the finding; the finding counts again until the waiver is renewed or the host is fixed.",
			Remediation: "Fix the finding, or renew the waiver with a new expiry, owner and ticket after review.",
			References:  []Reference{nist("CA-7", Supports)},
		},
	})
}

// Evidence helpers.

func volumeEvidence(v *model.Volume, kv ...string) map[string]string {
	ev := map[string]string{
		"volume_type":       string(v.Type),
		"conversion_status": string(v.Conversion),
		"protection_status": string(v.Protection),
	}
	for i := 0; i+1 < len(kv); i += 2 {
		ev[kv[i]] = kv[i+1]
	}
	return ev
}

func checkNotAudited(c *evalCtx, _ *model.Volume, out []model.Finding) []model.Finding {
	h := c.h
	sev := model.SeverityHigh
	switch h.Status {
	case model.StatusUnreachable, model.StatusTimeout:
		sev = model.SeverityMedium
	case model.StatusInterrupted:
		sev = model.SeverityLow
	}
	return append(out, model.Finding{
		Severity: sev,
		Message:  fmt.Sprintf("The host was not audited (%s): its BitLocker state is unknown.", strings.ReplaceAll(string(h.Status), "_", " ")),
		Evidence: map[string]string{"status": string(h.Status), "reason": h.Reason},
	})
}

func checkNotEncrypted(c *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
	if v.Conversion != model.FullyDecrypted || !c.p.requiredTypes[v.Type] {
		return out
	}
	return append(out, model.Finding{
		Message:  fmt.Sprintf("%s volume %s is not encrypted.", volumeTypeName(v.Type), v.MountPoint),
		Evidence: volumeEvidence(v),
	})
}

// checkProtectionOff reports suspended protection on fully encrypted volumes;
// while a conversion runs, ProtectionStatus is 0 anyway (bitlocker.md §1.3),
// and volume.conversion-incomplete reports that state.
func checkProtectionOff(_ *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
	if !v.Suspended() || v.Conversion != model.FullyEncrypted {
		return out
	}
	ev := volumeEvidence(v)
	msg := fmt.Sprintf("BitLocker protection on %s is suspended: the volume key is stored in the clear.", v.MountPoint)
	if v.SuspendCount != nil {
		ev["suspend_count"] = strconv.Itoa(*v.SuspendCount)
		if *v.SuspendCount == 0 {
			msg = fmt.Sprintf("BitLocker protection on %s is suspended until resumed by hand: the volume key is stored in the clear.", v.MountPoint)
		} else {
			msg = fmt.Sprintf("BitLocker protection on %s is suspended for %d more reboot(s): the volume key is stored in the clear.", v.MountPoint, *v.SuspendCount)
		}
	}
	return append(out, model.Finding{Message: msg, Evidence: ev})
}

func checkClearKey(_ *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
	if !v.Encrypted() || v.Protection != model.ProtectionOff || len(v.Protectors) > 0 {
		return out
	}
	return append(out, model.Finding{
		Message:  fmt.Sprintf("%s is encrypted but has no key protectors: its key is stored in the clear.", v.MountPoint),
		Evidence: volumeEvidence(v, "protectors", "0"),
	})
}

func checkConversion(c *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
	if !c.p.requiredTypes[v.Type] {
		return out
	}
	var sev model.Severity
	var what string
	switch v.Conversion {
	case model.EncryptionInProgress:
		sev, what = model.SeverityLow, "encryption is in progress"
	case model.EncryptionPaused:
		sev, what = model.SeverityMedium, "encryption is paused"
	case model.DecryptionInProgress:
		sev, what = model.SeverityHigh, "decryption is in progress"
	case model.DecryptionPaused:
		sev, what = model.SeverityHigh, "decryption is paused"
	default:
		return out
	}
	pct := strconv.FormatFloat(v.EncryptionPercent, 'f', -1, 64)
	return append(out, model.Finding{
		Severity: sev,
		Message:  fmt.Sprintf("On %s %s (%s%% encrypted).", v.MountPoint, what, pct),
		Evidence: volumeEvidence(v, "encryption_percentage", pct),
	})
}

// unevaluable reports whether a volume's state cannot be judged: it is
// locked, part of it could not be read, or its conversion status was not
// reported.
func unevaluable(v *model.Volume) bool {
	return v.Locked || v.Unreadable() || v.Conversion == model.ConversionUnknown || v.Conversion == ""
}

func checkLocked(_ *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
	if !unevaluable(v) || v.Unreadable() {
		return out // an unreadable volume is volume.unreadable's
	}
	msg := fmt.Sprintf("%s is locked, so its BitLocker state could not be evaluated.", v.MountPoint)
	if !v.Locked {
		msg = fmt.Sprintf("The conversion status of %s was not reported, so its BitLocker state could not be evaluated.", v.MountPoint)
	}
	return append(out, model.Finding{
		Message:  msg,
		Evidence: map[string]string{"volume_type": string(v.Type), "locked": strconv.FormatBool(v.Locked), "conversion_status": string(v.Conversion)},
	})
}

func checkUnreadable(_ *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
	if !v.Unreadable() {
		return out
	}
	ev := volumeEvidence(v, "read_errors", strings.Join(v.ReadErrors, "; "))
	return append(out, model.Finding{
		Message:  fmt.Sprintf("Part of the BitLocker state of %s could not be read, so it was not evaluated.", v.MountPoint),
		Evidence: ev,
	})
}

func checkNotInstalled(c *evalCtx, _ *model.Volume, out []model.Finding) []model.Finding {
	h := c.h
	if h.Facts == nil || !h.Facts.BitLockerNotInstalled || (!c.p.requiredTypes[model.VolumeOS] && !c.p.requiredTypes[model.VolumeFixed]) {
		return out
	}
	return append(out, model.Finding{
		Message:  "The BitLocker feature is not installed on this host, so none of its volumes can be encrypted.",
		Evidence: map[string]string{"os": h.Facts.OS.Caption, "required_volume_types": requiredTypeList(c.p)},
	})
}

// requiredTypeList is policy's required volume types, in catalog order.
func requiredTypeList(p *Policy) string {
	var ts []string
	for _, t := range []model.VolumeType{model.VolumeOS, model.VolumeFixed, model.VolumeRemovable} {
		if p.requiredTypes[t] {
			ts = append(ts, string(t))
		}
	}
	return strings.Join(ts, ",")
}

func checkWeakMethod(c *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
	if !v.Encrypted() || v.Method == "" || v.Method == model.MethodUnknown || v.Method == model.MethodNone || c.p.allowedMethods[v.Method] {
		return out
	}
	return append(out, model.Finding{
		Message:  fmt.Sprintf("%s is encrypted with %s, which policy does not allow.", v.MountPoint, v.Method),
		Evidence: volumeEvidence(v, "encryption_method", string(v.Method), "allowed_methods", strings.Join(c.p.allowedMethodList, ",")),
	})
}

func checkUsedSpaceOnly(c *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
	if !c.p.requireFull || !v.Encrypted() || !v.UsedSpaceOnly {
		return out
	}
	return append(out, model.Finding{
		Message:  fmt.Sprintf("Only the used space of %s is encrypted; policy requires full encryption.", v.MountPoint),
		Evidence: volumeEvidence(v, "used_space_only", "true"),
	})
}

func checkTPMOnly(c *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
	if !c.p.requireTPMPIN || v.Type != model.VolumeOS || !v.Encrypted() {
		return out
	}
	tpm, pin := false, false
	for _, p := range v.Protectors {
		switch p.Type {
		case model.ProtectorTPM, model.ProtectorTPMStartupKey:
			tpm = true
		case model.ProtectorTPMPIN, model.ProtectorTPMPINStartupKey:
			pin = true
		}
	}
	if !tpm || pin {
		return out
	}
	return append(out, model.Finding{
		Message:  fmt.Sprintf("OS volume %s unlocks with the TPM alone; policy requires a TPM+PIN protector.", v.MountPoint),
		Evidence: volumeEvidence(v, "protector_types", protectorTypes(v)),
	})
}

func checkNoRecoveryPassword(_ *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
	if !v.Encrypted() || len(v.Protectors) == 0 {
		return out // clear-key volumes are their own finding
	}
	for _, p := range v.Protectors {
		if p.Type == model.ProtectorRecoveryPassword {
			return out
		}
	}
	return append(out, model.Finding{
		Message:  fmt.Sprintf("%s is encrypted but has no recovery password protector, so no recovery key can be backed up.", v.MountPoint),
		Evidence: volumeEvidence(v, "protector_types", protectorTypes(v)),
	})
}

func protectorTypes(v *model.Volume) string {
	ts := make([]string, len(v.Protectors))
	for i, p := range v.Protectors {
		ts[i] = string(p.Type)
	}
	return strings.Join(ts, ",")
}

// escrowVerdict is what is known about one recovery password at the
// locations accepted for its volume.
type escrowVerdict int

const (
	escrowOK         escrowVerdict = iota
	escrowUnverified               // nothing missing, but not enough verified
	escrowMissing                  // a checked accepted location lacks it
)

// verdict judges one protector against the accepted locations.
func (c *evalCtx) verdict(p *model.Protector, accepted []model.Location) (escrowVerdict, map[string]string) {
	ev := make(map[string]string, len(accepted)+1)
	ok, missing := 0, 0
	for _, loc := range accepted {
		st := model.BackupUnknown
		for _, b := range p.Backups {
			if b.Location == loc {
				st = b.State
				break
			}
		}
		ev["backup_"+string(loc)] = string(st)
		switch {
		case st == model.BackupVerified, st == model.BackupClaimed && c.p.acceptClaimed:
			ok++
		case st == model.BackupMissing:
			missing++
		}
	}
	ev["accepted_locations"] = locationList(accepted)
	switch {
	case ok == len(accepted), ok > 0 && !c.p.requireAll:
		return escrowOK, ev
	case c.p.requireAll && missing > 0, missing == len(accepted):
		// Under "all", one checked location lacking the key is enough;
		// under "any", every accepted location must have been checked
		// and lack it, else the key may sit where nobody could look.
		return escrowMissing, ev
	}
	return escrowUnverified, ev
}

func locationList(locs []model.Location) string {
	s := make([]string, len(locs))
	for i, l := range locs {
		s[i] = string(l)
	}
	return strings.Join(s, ",")
}

// checkEscrow reports escrow.missing and escrow.unverified per recovery
// password when no current recovery password of the volume is backed up, and
// escrow.partial when some are and some are not.
func checkEscrow(c *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
	if !v.Encrypted() {
		return out
	}
	accepted := c.e.accepted(c.join(), v.Type)
	type bad struct {
		p  *model.Protector
		vd escrowVerdict
		ev map[string]string
	}
	var bads []bad
	rps, good := 0, 0
	for i := range v.Protectors {
		p := &v.Protectors[i]
		if p.Type != model.ProtectorRecoveryPassword {
			continue
		}
		rps++
		vd, ev := c.verdict(p, accepted)
		if vd == escrowOK {
			good++
			continue
		}
		bads = append(bads, bad{p, vd, ev})
	}
	if len(bads) == 0 {
		return out
	}
	if good > 0 {
		ids := make([]string, len(bads))
		for i, b := range bads {
			ids[i] = b.p.ID
		}
		return append(out, model.Finding{
			RuleID: IDEscrowPartial,
			Message: fmt.Sprintf("%d of %d recovery passwords on %s are not backed up at an accepted location (%s).",
				len(bads), rps, v.MountPoint, locationList(accepted)),
			Evidence: volumeEvidence(v, "recovery_passwords", strconv.Itoa(rps), "backed_up", strconv.Itoa(good),
				"not_backed_up", strings.Join(ids, ","), "accepted_locations", locationList(accepted)),
		})
	}
	for _, b := range bads {
		f := model.Finding{RuleID: IDEscrowMissing, Volume: v.MountPoint, ProtectorID: b.p.ID, Evidence: b.ev}
		switch {
		case b.vd == escrowMissing && c.p.requireAll:
			f.Message = fmt.Sprintf("Recovery password %s of %s is not backed up at every accepted location (%s), as policy requires.", b.p.ID, v.MountPoint, locationList(accepted))
		case b.vd == escrowMissing:
			f.Message = fmt.Sprintf("Recovery password %s of %s is not backed up at an accepted location (%s).", b.p.ID, v.MountPoint, locationList(accepted))
		default:
			f.RuleID = IDEscrowUnverified
			f.Message = fmt.Sprintf("The backup of recovery password %s of %s could not be verified at any accepted location (%s).", b.p.ID, v.MountPoint, locationList(accepted))
		}
		out = append(out, f)
	}
	return out
}

func checkClaimedMissing(c *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
	for i := range v.Protectors {
		p := &v.Protectors[i]
		if p.Type != model.ProtectorRecoveryPassword {
			continue
		}
		for _, b := range p.Backups {
			if b.State != model.BackupMissing {
				continue
			}
			event := b.Event
			if event == 0 {
				event = c.claimEvent(p.ID, b.Location)
			}
			if event == 0 {
				continue
			}
			out = append(out, model.Finding{
				ProtectorID: p.ID,
				Message: fmt.Sprintf("The host logged event %d claiming recovery password %s of %s was backed up to %s, but %s does not hold it.",
					event, p.ID, v.MountPoint, locationName(b.Location), locationName(b.Location)),
				Evidence: map[string]string{"location": string(b.Location), "state": string(b.State), "event": strconv.Itoa(event), "reason": b.Reason},
			})
		}
	}
	return out
}

// claimEvent returns the ID of a successful backup event on the host for the
// protector at loc, or 0.
func (c *evalCtx) claimEvent(protectorID string, loc model.Location) int {
	if c.h.Facts == nil {
		return 0
	}
	id := model.NormalizeProtectorID(protectorID)
	for _, e := range c.h.Facts.Events {
		if l, ok := e.Location(); ok && l == loc && e.ProtectorID != "" && model.NormalizeProtectorID(e.ProtectorID) == id {
			return e.ID
		}
	}
	return 0
}

func locationName(l model.Location) string {
	switch l {
	case model.LocationAD:
		return "AD DS"
	case model.LocationEntra:
		return "Entra ID"
	case model.LocationExternal:
		return "the external key store"
	}
	return string(l)
}

func checkStaleOnly(c *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
	if len(v.StaleKeys) == 0 {
		return out
	}
	for _, p := range v.Protectors {
		for _, b := range p.Backups {
			if b.State == model.BackupVerified {
				return out
			}
		}
	}
	ids := make([]string, len(v.StaleKeys))
	for i, k := range v.StaleKeys {
		ids[i] = string(k.Location) + ":" + k.ID
	}
	slices.Sort(ids)
	return append(out, model.Finding{
		Message: fmt.Sprintf("The escrow sources hold %d recovery key(s) for %s, but none matches a current protector, so none would unlock it.", len(v.StaleKeys), v.MountPoint),
		Evidence: map[string]string{"volume_type": string(v.Type), "stale_keys": strings.Join(ids, ","),
			"recovery_passwords": strconv.Itoa(len(v.RecoveryPasswords()))},
	})
}

func checkBackupNotRequired(c *evalCtx, _ *model.Volume, out []model.Finding) []model.Finding {
	f := c.h.Facts
	if !c.p.requireBackupFirst || f == nil || !f.Join.InAD() {
		return out
	}
	val, set := f.Policy["OSRequireActiveDirectoryBackup"]
	if set && val == 1 {
		return out
	}
	observed := "not configured"
	if set {
		observed = strconv.FormatInt(val, 10)
	}
	return append(out, model.Finding{
		Message:  fmt.Sprintf("FVE policy lets BitLocker encrypt the OS volume before its recovery information is stored in AD DS (OSRequireActiveDirectoryBackup %s).", observed),
		Evidence: map[string]string{"join_state": string(f.Join.State), "OSRequireActiveDirectoryBackup": observed},
	})
}

func checkFactsStale(c *evalCtx, _ *model.Volume, out []model.Finding) []model.Finding {
	f := c.h.Facts
	if f == nil || f.Source.FactsFile == "" || f.Source.CollectedAt.IsZero() {
		return out
	}
	age := c.now.Sub(f.Source.CollectedAt)
	if age <= c.p.factsMaxAge {
		return out
	}
	return append(out, model.Finding{
		Message: fmt.Sprintf("The host's facts were collected %s ago (%s), longer than the policy's facts.max_age of %s.",
			roundAge(age), f.Source.CollectedAt.UTC().Format(time.RFC3339), roundAge(c.p.factsMaxAge)),
		Evidence: map[string]string{"facts_file": f.Source.FactsFile, "collected_at": f.Source.CollectedAt.UTC().Format(time.RFC3339), "max_age": roundAge(c.p.factsMaxAge)},
	})
}

// roundAge prints a duration in days and hours ("9d4h", "36h").
func roundAge(d time.Duration) string {
	d = d.Round(time.Hour)
	if d >= 48*time.Hour {
		days := d / (24 * time.Hour)
		if rest := d - days*24*time.Hour; rest > 0 {
			return fmt.Sprintf("%dd%dh", days, rest/time.Hour)
		}
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dh", d/time.Hour)
}

func volumeTypeName(t model.VolumeType) string {
	switch t {
	case model.VolumeOS:
		return "OS"
	case model.VolumeFixed:
		return "Fixed"
	case model.VolumeRemovable:
		return "Removable"
	}
	return "Unknown-type"
}
