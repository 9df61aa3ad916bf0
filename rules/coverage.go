package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// EvaluateCoverage adds the directory findings, with waivers applied as of
// now: scope.not-audited to each in-scope computer no target names, and
// escrow.none-in-directory to each in-scope computer that was not audited
// and for which no directory holds a key, on the computer's coverage entry
// or, when a target names it, on that host (hosts indexes hosts by
// target). Waivers match the computer by its FQDN or name.
func (e *Engine) EvaluateCoverage(c *model.Coverage, hosts map[string]*model.HostResult, now time.Time) {
	for i := range c.Computers {
		ce := &c.Computers[i]
		if !ce.InScope() {
			ce.Findings = []model.Finding{}
			continue
		}
		var out []model.Finding
		if ce.Reason == model.NotInTargets && e.enabled[IDScopeNotAudited] {
			out = append(out, e.directoryFinding(IDScopeNotAudited, ce, notListedMessage(ce, c.StaleAfterDays)))
		}
		noKey := ce.Escrow == model.EscrowNone && e.enabled[IDEscrowNoneInDir]
		h := hosts[ce.Target]
		if noKey && (ce.Target == "" || h == nil) {
			out = append(out, e.directoryFinding(IDEscrowNoneInDir, ce, noKeyMessage(ce, "it is not in the targets")))
		}
		pseudo := &model.HostResult{Target: ce.Name}
		if ce.FQDN != "" {
			pseudo.Target = ce.FQDN
		}
		ce.Findings = e.finish(&evalCtx{e: e, p: e.p, h: pseudo}, out, now)
		if noKey && h != nil {
			f := e.directoryFinding(IDEscrowNoneInDir, ce, noKeyMessage(ce, "the host was "+string(h.Status)))
			h.Findings = e.finish(&evalCtx{e: e, p: e.p, h: h}, append(h.Findings, f), now)
		}
	}
}

func (e *Engine) directoryFinding(id string, ce *model.CoverageEntry, msg string) model.Finding {
	r := e.rules[id]
	ev := map[string]string{"computer": ce.Name}
	for k, v := range map[string]string{"fqdn": ce.FQDN, "ad_dn": ce.ADDN, "entra_device_id": ce.EntraDeviceID, "ou": ce.OU, "os": ce.OS} {
		if v != "" {
			ev[k] = v
		}
	}
	if ce.LastLogon != nil {
		ev["last_logon"] = ce.LastLogon.UTC().Format(time.DateOnly)
	}
	if ce.Census.ADKeys != nil {
		ev["ad_keys"] = fmt.Sprint(*ce.Census.ADKeys)
	}
	if ce.Census.EntraKeys != nil {
		ev["entra_keys"] = fmt.Sprint(*ce.Census.EntraKeys)
	}
	return model.Finding{RuleID: id, Title: r.Title, Severity: e.severity[id], Remediation: r.Remediation, Message: msg, Evidence: ev}
}

// where names the directories that list a computer.
func where(ce *model.CoverageEntry) string {
	var parts []string
	if ce.ADDN != "" {
		s := "AD"
		if ce.OU != "" {
			s += " (" + ce.OU + ")"
		}
		parts = append(parts, s)
	}
	if ce.EntraDeviceID != "" {
		parts = append(parts, "Entra ID (device "+ce.EntraDeviceID+")")
	}
	return strings.Join(parts, " and ")
}

func notListedMessage(ce *model.CoverageEntry, staleDays int) string {
	logon := "no logon recorded"
	if ce.LastLogon != nil {
		logon = "last logon " + ce.LastLogon.UTC().Format(time.DateOnly)
	}
	return fmt.Sprintf("%s is enabled in %s, %s (within %d days), and no target names it: it was not audited.", ce.Name, where(ce), logon, staleDays)
}

func noKeyMessage(ce *model.CoverageEntry, why string) string {
	return fmt.Sprintf("%s could not be audited (%s) and %s holds no recovery key for it.", ce.Name, why, where(ce))
}
