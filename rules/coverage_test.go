package rules

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

func TestEvaluateCoverage(t *testing.T) {
	zero, one := 0, 1
	logon := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	entry := func(name, reason, escrow, target string, ad *int) model.CoverageEntry {
		return model.CoverageEntry{Computer: model.Computer{Name: name, FQDN: strings.ToLower(name) + ".corp.test", ADDN: "CN=" + name + ",OU=PCs,DC=corp,DC=test",
			OU: "OU=PCs,DC=corp,DC=test", LastLogon: &logon, Account: model.ComputerEnabled}, Reason: reason, Escrow: escrow, Target: target, Census: model.Census{ADKeys: ad}}
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		policy string
		want   map[string]string // computer or host -> rule:severity[:waived], comma-separated
	}{
		{"default", "", map[string]string{
			"PC-KEY":  "scope.not-audited:medium",
			"PC-NONE": "escrow.none-in-directory:high,scope.not-audited:medium",
			"PC-DOWN": "", "host:10.0.0.9": "escrow.none-in-directory:high,host.not-audited:medium",
			"PC-UNKNOWN": "scope.not-audited:medium", "PC-OFF": "",
		}},
		{"severity, disabled rule and waiver", `
rules:
  severity:
    scope.not-audited: low
  disabled: [escrow.none-in-directory]
waivers:
  - id: W-9
    hosts: ["pc-key.corp.test"]
    rules: [scope.not-audited]
    reason: retired next week
    owner: bob@example.test
    expires: 2027-01-31
`, map[string]string{
			"PC-KEY": "scope.not-audited:low:waived", "PC-NONE": "scope.not-audited:low",
			"PC-DOWN": "", "host:10.0.0.9": "host.not-audited:medium", "PC-UNKNOWN": "scope.not-audited:low", "PC-OFF": "",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy()
			if tt.policy != "" {
				var err error
				if p, err = LoadPolicy(strings.NewReader(tt.policy), "policy.yaml"); err != nil {
					t.Fatal(err)
				}
			}
			e, err := NewEngine(p, Builtin())
			if err != nil {
				t.Fatal(err)
			}
			host := &model.HostResult{Target: "10.0.0.9", Status: model.StatusUnreachable, Reason: "connection refused"}
			e.Evaluate(host, now)
			off := entry("PC-OFF", model.ComputerDisabled, model.EscrowNone, "", &zero)
			off.Account = model.ComputerDisabled
			c := &model.Coverage{StaleAfterDays: 90, Computers: []model.CoverageEntry{
				entry("PC-KEY", model.NotInTargets, model.EscrowExists, "", &one),
				entry("PC-NONE", model.NotInTargets, model.EscrowNone, "", &zero),
				entry("PC-DOWN", string(model.StatusUnreachable), model.EscrowNone, "10.0.0.9", &zero),
				entry("PC-UNKNOWN", model.NotInTargets, model.EscrowUnknown, "", nil),
				off,
			}}
			e.EvaluateCoverage(c, map[string]*model.HostResult{"10.0.0.9": host}, now)
			got := map[string]string{"host:10.0.0.9": describeFindings(host.Findings)}
			for _, ce := range c.Computers {
				got[ce.Name] = describeFindings(ce.Findings)
				for _, f := range ce.Findings {
					if f.Message == "" || f.Evidence["ad_dn"] == "" || f.Remediation == "" {
						t.Errorf("%s: finding %s lacks message, evidence or remediation", ce.Name, f.RuleID)
					}
				}
			}
			for k, w := range tt.want {
				if got[k] != w {
					t.Errorf("%s: %q, want %q", k, got[k], w)
				}
			}
		})
	}
}

func describeFindings(fs []model.Finding) string {
	var out []string
	for _, f := range fs {
		s := f.RuleID + ":" + f.Severity.String()
		if f.Waived() {
			s += ":waived"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
