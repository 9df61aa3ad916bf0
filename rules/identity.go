package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bitaudit/bitaudit/model"
)

// Identity rule IDs: a host cannot vouch for itself.
const (
	IDIdentityMismatch     = "identity.mismatch"
	IDIdentityUnverified   = "identity.unverified"
	IDIdentityJoinMismatch = "identity.join-mismatch"
	IDDuplicateProtector   = "identity.duplicate-protector"
	IDNoOSVolume           = "volume.no-os-volume"
)

// identityRules are the rules on what a host says about itself. They come
// first in the catalog: when they fire, the other verdicts rest on claims.
func identityRules() []Rule {
	return []Rule{
		{
			ID: IDIdentityMismatch, Title: "Host identity does not match the directory", Severity: model.SeverityHigh, Scope: ScopeHost,
			Rationale: "The host reports another name, DNS name or Entra device than the directory holds for the target (a compromised or rogue machine, " +
				"a re-used address, a stale inventory): evidence found under the names it reports belongs to another computer, so none is credited to it.",
			Remediation: "Find out which machine answers at the target's address; correct the targets file or DNS, or re-image the host and join it again.",
			References:  []Reference{nist("IA-3", Supports), nist("SC-28", Supports)},
			check:       checkIdentityMismatch,
		},
		{
			ID: IDIdentityUnverified, Title: "Host identity not verified", Severity: model.SeverityMedium, Scope: ScopeHost,
			Rationale: "Nothing independent of the host names it (an IP address without identity columns), or the directory object the targets file names " +
				"could not be found: what the host reports about itself cannot be checked, so its backups count at most as claimed.",
			Remediation: "Name the target by its DNS name, or give the targets CSV the fqdn, ad_dn or entra_device_id columns (as a directory inventory writes them).",
			References:  []Reference{nist("IA-3", Supports)},
			check:       checkIdentityUnverified,
		},
		{
			ID: IDIdentityJoinMismatch, Title: "Host misreports its join state", Severity: model.SeverityHigh, Scope: ScopeHost,
			Rationale: "The host reports itself not joined (workgroup or unknown) or joined elsewhere, while the directory holds its computer object or " +
				"Entra ID its joined device; it is evaluated by the locations of its real join state.",
			Remediation: "Check the host's domain membership and dsregcmd /status; back its recovery key up where its real join state requires.",
			References:  []Reference{nist("IA-3", Supports), nist("CM-8", Supports)},
			check:       checkJoinMismatch,
		},
		{
			ID: IDDuplicateProtector, Title: "Protector ID reported twice", Severity: model.SeverityHigh, Scope: ScopeProtector,
			Rationale: "A key protector ID is unique to one volume; reported by two hosts or two volumes in one run, one report is a copy " +
				"(protector IDs are printed in every report), and nobody can tell which: neither is verified.",
			Remediation: "Inspect both hosts (manage-bde -protectors -get); add a fresh recovery password on the genuine volume and back it up.",
			References:  []Reference{nist("IA-3", Supports), nist("SC-12(1)", Supports)},
			check:       checkDuplicateProtector,
		},
		{
			ID: IDNoOSVolume, Title: "No OS volume reported", Severity: model.SeverityHigh, Scope: ScopeHost,
			Rationale: "Every joined Windows computer has an OS volume; a host reporting none hides its volumes or could not read them, " +
				"so nothing about its encryption is known.",
			Remediation: "Check that Win32_EncryptableVolume answers on the host (Get-CimInstance -Namespace root/cimv2/Security/MicrosoftVolumeEncryption) and audit it again.",
			References:  []Reference{nist("SC-28", Supports)},
			check:       checkNoOSVolume,
		},
	}
}

// identityEvidence is what the host reports about itself beside what the
// target's identity is.
func identityEvidence(h *model.HostResult) map[string]string {
	ev := map[string]string{"target": h.Target}
	set := func(k, v string) {
		if v != "" {
			ev[k] = v
		}
	}
	if f := h.Facts; f != nil {
		set("reported_name", f.Hostname)
		set("reported_fqdn", f.FQDN)
		set("reported_join_state", string(f.Join.State))
		set("reported_entra_device_id", f.Join.EntraDeviceID)
	}
	if id := h.Identity; id != nil {
		set("target_dns_name", id.DNSName)
		set("target_ad_dn", id.ADDN)
		set("target_entra_device_id", id.EntraDeviceID)
		set("directory_name", id.ComputerName)
		set("directory_objects", strings.Join(id.Objects, "; "))
	}
	return ev
}

func checkIdentityMismatch(c *evalCtx, _ *model.Volume, out []model.Finding) []model.Finding {
	id := c.h.Identity
	if id == nil || id.State != model.IdentityMismatch {
		return out
	}
	ev := identityEvidence(c.h)
	ev["mismatches"] = strings.Join(id.Mismatches, "; ")
	return append(out, model.Finding{
		Message:  fmt.Sprintf("%s answers as another computer: %s. No backup is credited to it.", c.h.Target, strings.Join(id.Mismatches, "; ")),
		Evidence: ev,
	})
}

func checkIdentityUnverified(c *evalCtx, _ *model.Volume, out []model.Finding) []model.Finding {
	id := c.h.Identity
	if id == nil || id.State != model.IdentityUnverified {
		return out
	}
	ev := identityEvidence(c.h)
	ev["reason"] = id.Reason
	return append(out, model.Finding{
		Message: fmt.Sprintf("The identity of %s is not verified (%s); its backups count at most as claimed. "+
			"Use its DNS name, or the fqdn, ad_dn or entra_device_id columns of a targets CSV.", c.h.Target, id.Reason),
		Evidence: ev,
	})
}

func checkJoinMismatch(c *evalCtx, _ *model.Volume, out []model.Finding) []model.Finding {
	id, f := c.h.Identity, c.h.Facts
	if id == nil || id.Join == "" || f == nil {
		return out
	}
	reported := f.Join.State
	if reported == "" {
		reported = model.JoinUnknown
	}
	ev := identityEvidence(c.h)
	ev["directory_join_state"] = string(id.Join)
	return append(out, model.Finding{
		Message: fmt.Sprintf("The host reports join state %s, but %s shows it %s-joined; it is evaluated as %s.",
			reported, strings.Join(id.Objects, " and "), id.Join, id.Join),
		Evidence: ev,
	})
}

func checkDuplicateProtector(_ *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
	for _, p := range v.Protectors {
		if len(p.Duplicates) == 0 {
			continue
		}
		out = append(out, model.Finding{
			ProtectorID: p.ID,
			Message: fmt.Sprintf("Protector %s of %s is also reported by %s; neither report is verified.",
				p.ID, v.MountPoint, strings.Join(p.Duplicates, ", ")),
			Evidence: map[string]string{"protector_id": p.ID, "also_reported_by": strings.Join(p.Duplicates, "; ")},
		})
	}
	return out
}

func checkNoOSVolume(c *evalCtx, _ *model.Volume, out []model.Finding) []model.Finding {
	switch c.join() {
	case model.JoinDomain, model.JoinEntra, model.JoinHybrid:
	default:
		return out
	}
	if slices.ContainsFunc(c.h.Volumes, func(v model.Volume) bool { return v.Type == model.VolumeOS }) ||
		c.h.Facts != nil && c.h.Facts.BitLockerNotInstalled {
		return out // without the BitLocker feature no volume is listed: host.bitlocker-not-installed says so
	}
	ev := identityEvidence(c.h)
	ev["volumes"] = fmt.Sprint(len(c.h.Volumes))
	return append(out, model.Finding{
		Message:  fmt.Sprintf("The %s-joined host reports no OS volume (%d volumes in all): its encryption state is unknown.", c.join(), len(c.h.Volumes)),
		Evidence: ev,
	})
}
