package main

import (
	"net/netip"
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
	two := 2
	var mix []simulator.ProfileMix
	for _, p := range []string{"server-no-bitlocker", "odd-events", "constrained-language", "winre-partition", "edrive", "access-denied", "domain-laptop"} {
		mix = append(mix, simulator.ProfileMix{Name: p, Count: &two})
	}
	fleet, err := simulator.Start(t.Context(), &simulator.Spec{Seed: 11, Profiles: mix}, simulator.Options{
		TLS: true, Auth: "ntlm", User: "auditor", Password: password, ListenBase: netip.MustParseAddr("127.0.113.1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Close() })
	dir := t.TempDir()
	targets, ca := filepath.Join(dir, "targets.txt"), filepath.Join(dir, "ca.pem")
	if err := writeFleetFiles(fleet, targets, ca); err != nil {
		t.Fatal(err)
	}
	escrowCfg, err := startDemoSources(t.Context(), fleet, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	code, stdout, stderr := cli(t, t.Context(), map[string]string{"BITAUDIT_PASSWORD": password},
		"audit", "--targets", targets, "--user", "auditor", "--ca-cert", ca, "--out", out, "--escrow-config", escrowCfg,
		"--host-timeout", "20s", "--format", "json,pdf,xlsx", "--log-level", "warn")
	if code != exitFindings {
		t.Fatalf("exit %d, want %d (findings)\nstdout:\n%s\nstderr:\n%s", code, exitFindings, stdout, stderr)
	}
	r := readResult(t, out)
	byTarget := map[string]model.HostResult{}
	for _, h := range r.Hosts {
		byTarget[h.Target] = h
	}
	problemRule := map[string]string{
		simulator.ProblemBitLockerNotInstalled: "host.bitlocker-not-installed",
		simulator.ProblemVolumeUnreadable:      "volume.unreadable",
	}
	for _, sh := range fleet.Hosts() {
		h, ok := byTarget[sh.Address]
		if !ok {
			t.Fatalf("%s (%s) missing from the result", sh.Address, sh.Profile)
		}
		if string(h.Status) != sh.Expect.Status {
			t.Errorf("%s (%s): status %s (%s), want %s", sh.Address, sh.Profile, h.Status, h.Reason, sh.Expect.Status)
			continue
		}
		var rules []string
		for _, f := range h.Findings {
			rules = append(rules, f.RuleID)
		}
		for _, p := range sh.Expect.Problems {
			if id := problemRule[p]; id != "" && !slices.Contains(rules, id) {
				t.Errorf("%s (%s): findings %v lack %s", sh.Address, sh.Profile, rules, id)
			}
		}
		if sh.Expect.Status == simulator.StatusAuthFailed {
			if !strings.Contains(h.Reason, "Access denied") {
				t.Errorf("%s (%s): reason %q does not say access was denied", sh.Address, sh.Profile, h.Reason)
			}
			continue
		}
		f := h.Facts
		if f == nil || f.OS.Caption == "" || f.Hostname == "" || f.Join.State == model.JoinUnknown {
			t.Errorf("%s (%s): facts lost: %+v", sh.Address, sh.Profile, f)
			continue
		}
		var gaps []string
		for _, e := range f.Source.SectionErrors {
			gaps = append(gaps, e.Section)
		}
		switch sh.Profile {
		case "server-no-bitlocker":
			if !f.BitLockerNotInstalled || len(h.Volumes) != 0 || !slices.Contains(gaps, "events") {
				t.Errorf("%s: not-installed %v, %d volumes, section errors %v", sh.Address, f.BitLockerNotInstalled, len(h.Volumes), gaps)
			}
		case "odd-events":
			if len(f.Events) < 3 || f.Source.EventsSkipped != 0 || len(gaps) != 0 {
				t.Errorf("%s: %d events, %d skipped, section errors %v", sh.Address, len(f.Events), f.Source.EventsSkipped, gaps)
			}
		case "constrained-language":
			if f.Source.LanguageMode != "ConstrainedLanguage" || len(f.Events) == 0 || len(gaps) != 0 {
				t.Errorf("%s: language mode %q, %d events, section errors %v", sh.Address, f.Source.LanguageMode, len(f.Events), gaps)
			}
		case "winre-partition":
			if len(f.SystemVolumes) != 1 || f.SystemVolumes[0].Role != "recovery" || len(h.Volumes) != 1 || slices.Contains(rules, "volume.not-encrypted") {
				t.Errorf("%s: system volumes %+v, %d audited, findings %v", sh.Address, f.SystemVolumes, len(h.Volumes), rules)
			}
		case "edrive":
			if len(h.Volumes) != 1 || !h.Volumes[0].Unreadable() || h.Volumes[0].Method != model.MethodHardware {
				t.Errorf("%s: volumes %+v", sh.Address, h.Volumes)
			}
		case "domain-laptop":
			if f.Source.LanguageMode != "FullLanguage" || len(gaps) != 0 || len(f.SystemVolumes) != 0 {
				t.Errorf("%s: %+v", sh.Address, f.Source)
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
