package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator"
)

// TestAuditRealWindowsCases drives "bitaudit audit" against the cases real
// Windows fleets have (simulator profiles server-no-bitlocker, odd-events,
// constrained-language, winre-partition, edrive, access-denied) and holds
// every host to the simulator's own expectation for its profile, then
// checks the findings and facts each case calls for.
func TestAuditRealWindowsCases(t *testing.T) {
	const password = "Sim-Passw0rd!"
	s := startSimulate(t, `seed: 11
profiles:
  - {name: server-no-bitlocker, count: 2}
  - {name: odd-events, count: 2}
  - {name: constrained-language, count: 2}
  - {name: winre-partition, count: 2}
  - {name: edrive, count: 2}
  - {name: access-denied, count: 2}
  - {name: domain-laptop, count: 2}
`, "127.0.113.1", password)
	want := readExpectations(t, s.expect)
	out := t.TempDir()
	code, stdout, stderr := cli(t, t.Context(), map[string]string{"BITAUDIT_PASSWORD": password},
		"audit", "--targets", s.targets, "--user", "auditor", "--ca-cert", s.ca, "--out", out, "--escrow-config", s.escrow,
		"--host-timeout", "20s", "--format", "json,pdf,xlsx", "--log-level", "warn")
	if code != exitFindings {
		t.Fatalf("exit %d, want %d (findings)\nstdout:\n%s\nstderr:\n%s", code, exitFindings, stdout, stderr)
	}
	r := readResult(t, out)
	if len(r.Hosts) != 14 || len(want) != 14 {
		t.Fatalf("%d hosts, %d expectations; want 14", len(r.Hosts), len(want))
	}
	problemRule := map[string]string{
		simulator.ProblemBitLockerNotInstalled: "host.bitlocker-not-installed",
		simulator.ProblemVolumeUnreadable:      "volume.unreadable",
	}
	for _, h := range r.Hosts {
		sh, ok := want[h.Target]
		if !ok {
			t.Fatalf("%s: no expectation", h.Target)
		}
		if string(h.Status) != sh.Status {
			t.Errorf("%s (%s): status %s (%s), simulator expects %s %v", h.Target, sh.Profile, h.Status, h.Reason, sh.Status, sh.Problems)
			continue
		}
		var rules []string
		for _, f := range h.Findings {
			rules = append(rules, f.RuleID)
		}
		for _, p := range sh.Problems {
			if id := problemRule[p]; id != "" && !slices.Contains(rules, id) {
				t.Errorf("%s (%s): findings %v lack %s", h.Target, sh.Profile, rules, id)
			}
		}
		if sh.Status == simulator.StatusAuthFailed {
			if !strings.Contains(h.Reason, "Access denied") {
				t.Errorf("%s (%s): reason %q does not say access was denied", h.Target, sh.Profile, h.Reason)
			}
			continue
		}
		f := h.Facts
		if f == nil || f.OS.Caption == "" || f.Hostname == "" || f.Join.State == model.JoinUnknown {
			t.Errorf("%s (%s): facts lost: %+v", h.Target, sh.Profile, f)
			continue
		}
		var gaps []string
		for _, e := range f.Source.SectionErrors {
			gaps = append(gaps, e.Section)
		}
		switch sh.Profile {
		case "server-no-bitlocker":
			if !f.BitLockerNotInstalled || len(h.Volumes) != 0 || !slices.Contains(gaps, "events") {
				t.Errorf("%s: not-installed %v, %d volumes, section errors %v", h.Target, f.BitLockerNotInstalled, len(h.Volumes), gaps)
			}
		case "odd-events":
			if len(f.Events) < 3 || f.Source.EventsSkipped != 0 || len(gaps) != 0 {
				t.Errorf("%s: %d events, %d skipped, section errors %v", h.Target, len(f.Events), f.Source.EventsSkipped, gaps)
			}
		case "constrained-language":
			if f.Source.LanguageMode != "ConstrainedLanguage" || len(f.Events) == 0 || len(gaps) != 0 {
				t.Errorf("%s: language mode %q, %d events, section errors %v", h.Target, f.Source.LanguageMode, len(f.Events), gaps)
			}
		case "winre-partition":
			if len(f.SystemVolumes) != 1 || f.SystemVolumes[0].Role != "recovery" || len(h.Volumes) != 1 || slices.Contains(rules, "volume.not-encrypted") {
				t.Errorf("%s: system volumes %+v, %d audited, findings %v", h.Target, f.SystemVolumes, len(h.Volumes), rules)
			}
		case "edrive":
			if len(h.Volumes) != 1 || !h.Volumes[0].Unreadable() || h.Volumes[0].Method != model.MethodHardware {
				t.Errorf("%s: volumes %+v", h.Target, h.Volumes)
			}
		case "domain-laptop":
			if f.Source.LanguageMode != "FullLanguage" || len(gaps) != 0 || len(f.SystemVolumes) != 0 {
				t.Errorf("%s: %+v", h.Target, f.Source)
			}
		}
	}
	for _, name := range []string{"report.pdf", "report.xlsx", "result.json"} {
		if b := readFile(t, filepath.Join(out, name)); recoveryPasswordShape.Match(b) {
			t.Errorf("%s holds a recovery-password-shaped string", name)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
