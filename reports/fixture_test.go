package reports

import (
	"fmt"
	"strings"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// The fixture: a realistic result built in code, so it stays valid as the
// model evolves. testdata/result.json is its JSON (TestFixtureDocument, -update).

var (
	cet       = time.FixedZone("", 3600)
	runStart  = time.Date(2026, 11, 2, 9, 0, 0, 0, cet)
	runFinish = runStart.Add(4*time.Minute + 12*time.Second)
)

// Waivers in the fixture policy: one active, one expiring within 30 days, one expired.
var (
	waiverActive   = model.WaiverRef{ID: "W-001", Reason: "Kiosk image re-imaged nightly; data volume holds no user data.", Owner: "desktop-eng@example.test", Ticket: "CHG-20411", Expires: time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)}
	waiverExpiring = model.WaiverRef{ID: "W-002", Reason: "Lab machine awaiting TPM firmware update before encryption.", Owner: "lab-ops@example.test", Ticket: "INC-88812", Expires: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)}
	waiverExpired  = model.WaiverRef{ID: "W-003", Reason: "Legacy CAD workstation, decommission planned.", Owner: "eng-it@example.test", Ticket: "CHG-19007", Expires: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}
)

const longRemediation = "Run `manage-bde -protectors -adbackup C: -id {ID}` on the host, or re-run bitaudit audit --fix=BA005 with an account that may write msFVE-RecoveryInformation objects under the computer object; then confirm the object exists in Active Directory Users and Computers › BitLocker Recovery. If the computer object was re-created after a re-image, the old keys are orphaned and must be reviewed by the directory team before deletion."

type rule struct {
	id, title, fix string
	sev            model.Severity
}

var (
	ruleNotEncrypted = rule{"BA002", "Volume not encrypted", "Enable BitLocker on the volume (Enable-BitLocker, XTS-AES 256) and back up its recovery password.", model.SeverityHigh}
	ruleSuspended    = rule{"BA003", "Protection off or suspended", "Resume protection: Resume-BitLocker -MountPoint <volume>.", model.SeverityHigh}
	ruleNoRP         = rule{"BA004", "No recovery-password protector", "Add a recovery password: manage-bde -protectors -add <volume> -RecoveryPassword, then back it up.", model.SeverityMedium}
	ruleNotBackedUp  = rule{"BA005", "Recovery password not backed up", longRemediation, model.SeverityCritical}
	ruleClaimedOnly  = rule{"BA006", "Backup only claimed by the host", "Verify the key at the directory; re-run the backup with bitaudit audit --fix.", model.SeverityMedium}
	ruleWeakMethod   = rule{"BA007", "Encryption method below policy", "Decrypt and re-encrypt with XTS-AES 256 at the next refresh.", model.SeverityLow}
	ruleStaleKey     = rule{"BA008", "Stale key in directory", "Review and remove directory keys that match no current protector.", model.SeverityInfo}
	ruleInProgress   = rule{"BA009", "Encryption not complete", "Leave the host powered on until encryption completes; check for paused conversion.", model.SeverityLow}
	// ruleNotAudited is what the rules engine gives a host it could not audit.
	ruleNotAudited = rule{"host.not-audited", "Host not audited", "Fix the cause in the reason and audit the host again.", model.SeverityHigh}
	// ruleCustom is a custom (CEL) rule whose severity depends on the volume: medium for the OS volume, low otherwise.
	ruleCustom = rule{"custom.recovery-age", "Recovery password older than policy", "Rotate the recovery password and back up the new one.", model.SeverityMedium}
)

func finding(r rule, vol, prot, msg string) model.Finding {
	return model.Finding{RuleID: r.id, Title: r.title, Severity: r.sev, Volume: vol, ProtectorID: prot, Message: msg, Remediation: r.fix,
		Evidence: map[string]string{"volume": vol, "rule": r.id}}
}

func protID(i, j int) string {
	return fmt.Sprintf("{%08X-1C2D-4E5F-8A9B-%012X}", 0x5A000000+i*16+j, 0xC0FFEE0000+i)
}

func tp(t time.Time) *time.Time { return &t }

func rp(i, j int, backups ...model.Backup) model.Protector {
	return model.Protector{ID: protID(i, j), Type: model.ProtectorRecoveryPassword, Backups: backups}
}

func verified(loc model.Location, obj string) model.Backup {
	return model.Backup{Location: loc, State: model.BackupVerified, Reason: "held by " + obj, Time: tp(runStart.AddDate(0, -3, 0)), Object: obj}
}

func osVolume(i int, conv model.ConversionStatus, prot model.ProtectionStatus, ps ...model.Protector) model.Volume {
	pct := 100.0
	switch conv {
	case model.FullyDecrypted:
		pct = 0
	case model.EncryptionInProgress:
		pct = 47.5
	case model.DecryptionPaused:
		pct = 62.25
	}
	method := model.MethodXTSAES256
	if conv == model.FullyDecrypted {
		method = model.MethodNone
	}
	return model.Volume{MountPoint: "C:", DeviceID: fmt.Sprintf(`\\?\Volume{%08x-0000-0000-0000-100000000000}\`, i), Type: model.VolumeOS,
		Conversion: conv, EncryptionPercent: pct, UsedSpaceOnly: i%2 == 0, Protection: prot, Method: method,
		Protectors: append([]model.Protector{{ID: protID(i, 9), Type: model.ProtectorTPM}}, ps...)}
}

func facts(name string, join model.JoinState) *model.HostFacts {
	f := &model.HostFacts{
		Hostname: name,
		OS:       model.OSInfo{Caption: "Microsoft Windows 11 Enterprise", Version: "10.0.22631", Build: "22631"},
		Join:     model.JoinInfo{State: join},
		Policy:   map[string]int64{"ActiveDirectoryBackup": 1, "RequireActiveDirectoryBackup": 1, "EncryptionMethodWithXtsOs": 7},
		Source:   model.Collection{Collector: "winrm", Transport: "https", Auth: "ntlm", Protection: "tls"},
	}
	if join == model.JoinDomain || join == model.JoinHybrid {
		f.FQDN = name + ".corp.example.test"
		f.Join.DomainName = "CORP"
	}
	if join == model.JoinEntra || join == model.JoinHybrid {
		f.Join.EntraDeviceID = "6f1c2a9e-0b7d-4c55-9a61-0d2f3e4b5c6d"
		f.Join.TenantID = "11111111-2222-3333-4444-555555555555"
	}
	return f
}

// profile builds host i of the fixture fleet; profiles cycle for large fleets.
func profile(i int, target string) model.HostResult {
	h := model.HostResult{Target: target, Status: model.StatusCompliant, Reason: "All volumes meet policy.",
		CollectedAt: runStart.Add(time.Duration(i%240) * time.Second), Duration: time.Duration(800+i%700) * time.Millisecond,
		Volumes: []model.Volume{}, Findings: []model.Finding{}}
	name, _, _ := strings.Cut(strings.ToUpper(target), ".")
	adObj := fmt.Sprintf("CN=2026-08-02T09:00:00-00:00{%s},CN=%s,OU=Workstations,DC=corp,DC=example,DC=test", protID(i, 1)[1:37], name)
	nonCompliant := func(reason string, fs ...model.Finding) {
		h.Status, h.Reason, h.Findings = model.StatusNoncompliant, reason, fs
	}
	notAudited := func(st model.Status, reason string) {
		h.Status, h.Reason, h.Facts, h.Volumes = st, reason, nil, []model.Volume{}
		h.Findings = []model.Finding{finding(ruleNotAudited, "", "", "The host was not audited ("+strings.ReplaceAll(string(st), "_", " ")+"): its BitLocker state is unknown.")}
	}
	h.Facts = facts(name, model.JoinDomain)
	switch i % 20 {
	case 0: // compliant, domain, AD verified
		h.Volumes = []model.Volume{osVolume(i, model.FullyEncrypted, model.ProtectionOn, rp(i, 1, verified(model.LocationAD, adObj)))}
	case 1: // compliant, hybrid, OS + fixed data volume, AD and Entra
		h.Facts = facts(name, model.JoinHybrid)
		d := osVolume(i, model.FullyEncrypted, model.ProtectionOn, rp(i, 2, verified(model.LocationAD, adObj), verified(model.LocationEntra, "graph:"+protID(i, 2))))
		d.MountPoint, d.Type, d.Protectors = "D:", model.VolumeFixed, d.Protectors[1:]
		h.Volumes = []model.Volume{osVolume(i, model.FullyEncrypted, model.ProtectionOn, rp(i, 1, verified(model.LocationAD, adObj), verified(model.LocationEntra, "graph:"+protID(i, 1)))), d}
	case 2: // compliant, Entra-only
		h.Facts = facts(name, model.JoinEntra)
		h.Volumes = []model.Volume{osVolume(i, model.FullyEncrypted, model.ProtectionOn, rp(i, 1, verified(model.LocationEntra, "graph:"+protID(i, 1))))}
	case 3: // not encrypted
		h.Volumes = []model.Volume{osVolume(i, model.FullyDecrypted, model.ProtectionOff)}
		h.Volumes[0].Protectors = []model.Protector{}
		nonCompliant("C: is not encrypted.", finding(ruleNotEncrypted, "C:", "", "Volume C: is fully decrypted (ConversionStatus 0)."))
	case 4: // suspended
		v := osVolume(i, model.FullyEncrypted, model.ProtectionOff, rp(i, 1, verified(model.LocationAD, adObj)))
		v.SuspendCount = new(int)
		*v.SuspendCount = 1
		h.Volumes = []model.Volume{v}
		nonCompliant("Protection on C: is suspended.", finding(ruleSuspended, "C:", "", "Protection is suspended on C: with 1 reboot left; the clear key is on disk."))
	case 5: // no recovery password
		h.Volumes = []model.Volume{osVolume(i, model.FullyEncrypted, model.ProtectionOn)}
		nonCompliant("C: has no recovery-password protector.", finding(ruleNoRP, "C:", "", "C: is protected by TPM only; no recovery password exists."))
	case 6: // recovery password missing in AD
		h.Volumes = []model.Volume{osVolume(i, model.FullyEncrypted, model.ProtectionOn, rp(i, 1,
			model.Backup{Location: model.LocationAD, State: model.BackupMissing, Reason: "no msFVE-RecoveryInformation object matches the protector ID"},
			model.Backup{Location: model.LocationEntra, State: model.BackupUnknown, Reason: "host is not joined to Entra ID"}))}
		nonCompliant("The recovery password of C: is not backed up.", finding(ruleNotBackedUp, "C:", protID(i, 1), "Recovery password "+protID(i, 1)+" on C: has no backup in Active Directory."))
	case 7: // claimed only, by event 784
		h.Volumes = []model.Volume{osVolume(i, model.FullyEncrypted, model.ProtectionOn, rp(i, 1,
			model.Backup{Location: model.LocationAD, State: model.BackupClaimed, Reason: "event 784 on the host; directory not checked", Event: 784, Time: tp(runStart.AddDate(0, -1, 0))}))}
		h.Facts.Events = []model.BackupEvent{{ID: 784, Time: runStart.AddDate(0, -1, 0), ProtectorID: model.NormalizeProtectorID(protID(i, 1)), MountPoint: "C:"}}
		nonCompliant("Backup of C: is only claimed by the host.", finding(ruleClaimedOnly, "C:", protID(i, 1), "Only event 784 claims the backup; the directory could not be checked."))
	case 8: // encryption in progress
		h.Volumes = []model.Volume{osVolume(i, model.EncryptionInProgress, model.ProtectionOff, rp(i, 1, verified(model.LocationAD, adObj)))}
		nonCompliant("C: is still encrypting.", finding(ruleInProgress, "C:", "", "C: is 47.5 % encrypted."))
	case 9: // compliant thanks to an active waiver (removable volume not encrypted)
		e := osVolume(i, model.FullyDecrypted, model.ProtectionOff)
		e.MountPoint, e.Type, e.Protectors = "E:", model.VolumeRemovable, []model.Protector{}
		h.Volumes = []model.Volume{osVolume(i, model.FullyEncrypted, model.ProtectionOn, rp(i, 1, verified(model.LocationAD, adObj))), e}
		f := finding(ruleNotEncrypted, "E:", "", "Removable volume E: is not encrypted.")
		w := waiverActive
		f.Waiver = &w
		h.Findings = []model.Finding{f}
		h.Reason = "All volumes meet policy (1 finding waived)."
	case 10: // compliant with an expiring waiver; also a stale key (info)
		v := osVolume(i, model.FullyEncrypted, model.ProtectionOn, rp(i, 1, verified(model.LocationAD, adObj)))
		v.Method = model.MethodAES128
		v.StaleKeys = []model.EscrowedKey{{Location: model.LocationAD, ID: "0f0e0d0c-0b0a-0908-0706-050403020100", Created: tp(runStart.AddDate(-2, 0, 0)), Object: "CN=2024-11-02T09:00:00-00:00{0F0E0D0C-0B0A-0908-0706-050403020100},CN=" + name}}
		h.Volumes = []model.Volume{v}
		f := finding(ruleWeakMethod, "C:", "", "C: uses AES-128; policy requires XTS-AES 256.")
		w := waiverExpiring
		f.Waiver = &w
		h.Findings = []model.Finding{f, finding(ruleStaleKey, "C:", "", "Active Directory holds 1 key that matches no current protector.")}
		h.Reason = "All volumes meet policy (1 finding waived)."
	case 11: // expired waiver brings the finding back
		v := osVolume(i, model.FullyEncrypted, model.ProtectionOn, rp(i, 1, verified(model.LocationAD, adObj)))
		v.Method = model.MethodAES128
		h.Volumes = []model.Volume{v}
		f := finding(ruleWeakMethod, "C:", "", "C: uses AES-128; policy requires XTS-AES 256 (waiver W-003 expired 2026-10-01).")
		nonCompliant("C: uses a weak encryption method.", f)
	case 12:
		notAudited(model.StatusUnreachable, "Connection refused on 5986: WinRM HTTPS listener not reachable.")
	case 13:
		notAudited(model.StatusAuthFailed, "HTTP 401 from WinRM: the account was refused (check the password and WinRM permissions).")
	case 14:
		notAudited(model.StatusTimeout, "No complete answer within the 2m0s host deadline.")
	case 15:
		notAudited(model.StatusProtocolError, "Collection output truncated: framed length 18211 bytes, received 4096.")
	case 16:
		notAudited(model.StatusInterrupted, "The run was interrupted before this host finished.")
	case 17: // locked data volume and decryption paused
		l := model.Volume{MountPoint: "F:", Type: model.VolumeFixed, Conversion: model.ConversionUnknown, Protection: model.ProtectionUnknown, Locked: true, Method: model.MethodUnknown,
			Protectors: []model.Protector{{ID: protID(i, 3), Type: model.ProtectorPassword}}}
		h.Volumes = []model.Volume{osVolume(i, model.DecryptionPaused, model.ProtectionOff, rp(i, 1, verified(model.LocationAD, adObj))), l}
		low := finding(ruleCustom, "F:", "", "The recovery password of F: is 400 days old (policy: 365).")
		low.Severity = model.SeverityLow
		nonCompliant("C: is being decrypted; F: is locked.",
			finding(ruleSuspended, "C:", "", "Decryption of C: is paused at 62.25 %; protection is off."),
			finding(ruleNoRP, "F:", "", "Locked volume F: has only a password protector."),
			finding(ruleCustom, "C:", "", "The recovery password of C: is 500 days old (policy: 365)."), low)
	case 18: // several findings on one host, external backup
		v := osVolume(i, model.FullyEncrypted, model.ProtectionOn, rp(i, 1,
			model.Backup{Location: model.LocationAD, State: model.BackupMissing, Reason: "no matching object"},
			model.Backup{Location: model.LocationExternal, State: model.BackupVerified, Reason: "attested in keystore", Object: "keystore://vault/bitlocker/" + name}), rp(i, 2,
			model.Backup{Location: model.LocationAD, State: model.BackupMissing, Reason: "no matching object"}))
		v.Method = model.MethodAES128
		h.Volumes = []model.Volume{v}
		nonCompliant("Two recovery passwords on C:, one not backed up anywhere.",
			finding(ruleNotBackedUp, "C:", protID(i, 2), "Recovery password "+protID(i, 2)+" on C: has no backup at any accepted location."),
			finding(ruleWeakMethod, "C:", "", "C: uses AES-128; policy requires XTS-AES 256."))
	case 19: // compliant workgroup server with a fixed volume and an external key
		h.Facts = facts(name, model.JoinWorkgroup)
		h.Facts.OS = model.OSInfo{Caption: "Microsoft Windows Server 2022 Datacenter", Version: "10.0.20348", Build: "20348"}
		d := osVolume(i, model.FullyEncrypted, model.ProtectionOn, rp(i, 2, model.Backup{Location: model.LocationExternal, State: model.BackupVerified, Reason: "attested", Object: "keystore://vault/bitlocker/" + name + "/D"}))
		d.MountPoint, d.Type = "D:", model.VolumeFixed
		d.Protectors[0] = model.Protector{ID: protID(i, 4), Type: model.ProtectorExternalKey}
		h.Volumes = []model.Volume{osVolume(i, model.FullyEncrypted, model.ProtectionOn, rp(i, 1, model.Backup{Location: model.LocationExternal, State: model.BackupVerified, Reason: "attested", Object: "keystore://vault/bitlocker/" + name})), d}
	}
	// What the rules engine records: the locations the policy accepts.
	accepted := []model.Location{model.LocationAD, model.LocationEntra}
	switch i % 20 {
	case 18:
		accepted = []model.Location{model.LocationAD, model.LocationExternal}
	case 19:
		accepted = []model.Location{model.LocationExternal}
	}
	for k := range h.Volumes {
		h.Volumes[k].AcceptedLocations = accepted
	}
	return h
}

// fixtureResult builds a result of n hosts (n >= 30 gives every profile,
// the Unicode host and the long values).
func fixtureResult(n int) *model.Result {
	hosts := make([]model.HostResult, 0, n)
	for i := range n {
		target := fmt.Sprintf("ws-%05d.corp.example.test", (i*7919)%n) // audit order is not report order
		switch i {
		case 3:
			target = "ПК-Бухгалтерия-01"
		case 6:
			target = "finance-reporting-and-consolidation-workstation-with-an-exceptionally-long-name-0001.emea-branch-offices.corp.example.test:5986"
		}
		h := profile(i, target)
		if i == 3 && h.Facts != nil {
			h.Facts.Hostname = "ПК-БУХГАЛТЕРИЯ-01"
			h.Labels = map[string]string{"site": "Москва", "owner": "Бухгалтерия"}
		}
		switch i { // the conversion states the first twenty profiles leave out
		case 24:
			h.Volumes[0].Conversion, h.Volumes[0].EncryptionPercent = model.DecryptionInProgress, 88.5
		case 28:
			h.Volumes[0].Conversion = model.EncryptionPaused
		}
		if i == 17 {
			h.Volumes[1].MountPoint = `\\?\Volume{7d3a9c1e-55aa-4b0c-9e1f-2a3b4c5d6e7f}\`
			for j := range h.Findings {
				if h.Findings[j].Volume == "F:" {
					h.Findings[j].Volume = h.Volumes[1].MountPoint
				}
			}
		}
		hosts = append(hosts, h)
	}
	r := &model.Result{
		Schema: model.ResultSchema,
		Run: model.Run{
			ID: "20261102T080000Z-7c1e", Started: runStart, Finished: runFinish, ToolVersion: "0.4.0",
			Organisation: "Example Corp — IT Security",
			Options:      map[string]string{"concurrency": "64", "host_timeout": "2m0s", "transport": "https", "auth": "ntlm", "fail_on": "high", "format": "all"},
			TargetCount:  n,
			Duplicates:   []model.Duplicate{{Target: "WS-00007.corp.example.test", Line: 34, FirstLine: 9}},
			Policy:       model.PolicyInfo{Source: "policies/fleet-2026.yaml", SHA256: "9b1f6a0c4d2e8f7a3b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f70"},
		},
		Hosts: hosts,
		Waivers: []model.WaiverStatus{
			{WaiverRef: waiverActive, Scope: "volume_type=removable, labels.site=Kiosk", State: "active", Matched: 1},
			{WaiverRef: waiverExpiring, Scope: "rule=BA007, target=ws-00010*", State: "expiring", Matched: 1},
			{WaiverRef: waiverExpired, Scope: "rule=BA007, target=ws-00011*", State: "expired", Matched: 1},
		},
		Remediation: []model.RemediationEntry{
			{Target: hosts[6].Target, Volume: "C:", ProtectorID: protID(6, 1), Action: "backup", Location: model.LocationAD, Outcome: "failed",
				Detail: "BackupRecoveryInformationToActiveDirectory returned 1: refused by Group Policy (ActiveDirectoryBackup not enabled).", Time: runFinish.Add(30 * time.Second)},
			{Target: hosts[7].Target, Volume: "C:", ProtectorID: protID(7, 1), Action: "backup", Location: model.LocationAD, Outcome: "succeeded",
				Detail: "Object present in the directory on re-check.", Time: runFinish.Add(40 * time.Second), Verified: true},
			{Target: hosts[18].Target, Volume: "C:", ProtectorID: protID(18, 2), Action: "backup", Location: model.LocationAD, Outcome: "succeeded",
				Detail: "Backed up; directory replication pending, not yet verified.", Time: runFinish.Add(50 * time.Second)},
		},
	}
	matched := map[string]int{}
	for _, h := range hosts {
		for _, f := range h.Findings {
			switch {
			case f.Waiver != nil:
				matched[f.Waiver.ID]++
			case strings.Contains(f.Message, waiverExpired.ID):
				matched[waiverExpired.ID]++
			}
		}
	}
	for i := range r.Waivers {
		r.Waivers[i].Matched = matched[r.Waivers[i].ID]
	}
	r.Summary = model.Summarize(r.Hosts)
	return r
}
