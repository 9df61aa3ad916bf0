package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// factsFleet is a fleet spec with one host of most profiles, so that the
// facts audit is compared with the WinRM audit on every kind of finding.
const factsFleet = `seed: 15
profiles:
  - {name: domain-laptop, count: 2}
  - {name: domain-server, count: 1}
  - {name: entra-laptop, count: 2}
  - {name: hybrid-laptop, count: 2}
  - {name: workgroup, count: 2}
  - {name: data-autounlock, count: 1}
  - {name: used-space-only, count: 1}
  - {name: removable-unencrypted, count: 1}
  - {name: never-escrowed, count: 1}
  - {name: backup-not-required, count: 1}
  - {name: escrow-lost, count: 1}
  - {name: stale-escrow, count: 1}
  - {name: suspended, count: 1}
  - {name: encrypting, count: 1}
  - {name: data-decrypted, count: 1}
  - {name: os-decrypted, count: 1}
  - {name: clear-key, count: 1}
  - {name: data-locked, count: 1}
  - {name: impostor, count: 1}
  - {name: server-no-bitlocker, count: 1}
  - {name: odd-events, count: 1}
  - {name: constrained-language, count: 1}
  - {name: winre-partition, count: 1}
  - {name: edrive, count: 1}
  - {name: access-denied, count: 1}
`

// verdicts maps each host's reported computer name to its status and
// sorted finding rule IDs.
func verdicts(r *model.Result) map[string]string {
	out := map[string]string{}
	for _, h := range r.Hosts {
		if h.Facts == nil {
			continue
		}
		var ids []string
		for _, f := range h.Findings {
			ids = append(ids, f.RuleID)
		}
		slices.Sort(ids)
		out[strings.ToUpper(h.Facts.Hostname)] = string(h.Status) + " " + strings.Join(ids, ",")
	}
	return out
}

// TestAuditFactsAgreesWithWinRM audits one simulated fleet twice, over WinRM
// and from the facts files "simulate --facts-out" wrote for it (what "bitaudit
// collect" on each host would write), with the same escrow sources: every
// host gets the same verdict and findings. A malformed file is rejected and
// named without stopping the run; a stale file gets facts.stale; the
// impostor's file and its victim's claim one computer, so neither is used.
func TestAuditFactsAgreesWithWinRM(t *testing.T) {
	const password = "Facts-Passw0rd!"
	factsDir := filepath.Join(t.TempDir(), "facts")
	s := startSimulate(t, factsFleet, "127.0.66.1", password, "--facts-out", factsDir)
	env := map[string]string{"BITAUDIT_PASSWORD": password}

	live := t.TempDir()
	code, stdout, stderr := cli(t, t.Context(), env, "audit", "--targets", s.targets, "--user", "auditor", "--ca-cert", s.ca,
		"--escrow-config", s.escrow, "--out", live, "--format", "json", "--log-level", "warn")
	if code != exitFindings {
		t.Fatalf("live audit: exit %d\n%s\n%s", code, stdout, stderr)
	}

	files, _ := filepath.Glob(filepath.Join(factsDir, "*.json"))
	if len(files) != 29 {
		t.Fatalf("simulate --facts-out wrote %d files, want 29", len(files))
	}
	if err := os.WriteFile(filepath.Join(factsDir, "zz-broken.json"), []byte(`{"schema": 99, "garbage": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	stale := ageFactsFile(t, files[len(files)-1], 10*24*time.Hour)

	fromFacts := t.TempDir()
	code, stdout, stderr = cli(t, t.Context(), nil, "audit", "--facts", factsDir, "--escrow-config", s.escrow,
		"--out", fromFacts, "--format", "json", "--log-level", "warn")
	if code != exitFindings {
		t.Fatalf("facts audit: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "zz-broken.json") {
		t.Errorf("the malformed facts file is not named in the log:\n%s", stderr)
	}
	lr, fr := readResult(t, live), readResult(t, fromFacts)
	if len(fr.Hosts) != 28 {
		t.Fatalf("facts audit: %d hosts, want 28 (27 computers with one file each, 1 claimed by two)", len(fr.Hosts))
	}
	rejected := map[string]string{}
	for _, ri := range fr.Run.RejectedInputs {
		rejected[ri.File] = ri.Reason
	}
	if len(rejected) != 3 || !strings.Contains(rejected["zz-broken.json"], "not a facts document") {
		t.Errorf("rejected inputs %+v; want zz-broken.json and the two files of one computer", fr.Run.RejectedInputs)
	}
	var conflicted string
	for _, h := range fr.Hosts {
		if strings.Contains(h.Reason, "claim this computer") {
			if h.Status != model.StatusProtocolError || conflicted != "" {
				t.Errorf("%s: %s (%s)", h.Target, h.Status, h.Reason)
			}
			conflicted, _, _ = strings.Cut(strings.ToUpper(h.Target), ".")
		}
	}
	if conflicted == "" || conflicted == stale {
		t.Fatalf("conflicted computer %q, stale one %q: want one of each, different", conflicted, stale)
	}
	want, got := verdicts(lr), verdicts(fr)
	if len(want) != 27 { // the impostor and its victim report one name; access-denied gave no facts
		t.Fatalf("live audit has facts for %d computer names, want 27", len(want))
	}
	for name, w := range want {
		g := got[name]
		if name == conflicted {
			continue
		}
		if name == stale {
			if !strings.Contains(g, "facts.stale") || strings.TrimSuffix(strings.Replace(g, "facts.stale", "", 1), ",") == w {
				t.Errorf("%s: stale facts file gives %q (live %q), want facts.stale added", name, g, w)
			}
			continue
		}
		if g != w {
			t.Errorf("%s: from facts %q, over WinRM %q", name, g, w)
		}
	}
	for _, h := range fr.Hosts {
		if h.Facts == nil {
			continue // the conflicted computer
		}
		src := h.Facts.Source
		if src.Collector != "wmi" || src.FactsFile == "" || src.CollectedAt.IsZero() || !h.CollectedAt.Equal(src.CollectedAt) {
			t.Errorf("%s: collection %+v, collected_at %v; want the facts file and its time", h.Target, src, h.CollectedAt)
		}
	}
	for _, dir := range []string{fromFacts, factsDir} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if b, _ := os.ReadFile(filepath.Join(dir, e.Name())); recoveryPasswordShape.Match(b) {
				t.Errorf("%s holds a recovery-password-shaped string", e.Name())
			}
		}
	}
}

// ageFactsFile moves a facts file's collection time back by age and returns
// its computer name.
func ageFactsFile(t *testing.T, path string, age time.Duration) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339Nano, doc["collected_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	doc["collected_at"] = at.Add(-age).Format(time.RFC3339Nano)
	if b, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(doc["identity"].(map[string]any)["computer_name"].(string))
}

// TestAuditFactsWithTargets audits part of a fleet over WinRM with --facts
// beside it: a target reachable live uses the live collection (newer) and
// says so, an unreachable one falls back to its facts file and says so, and
// facts files of computers outside the targets are reported, not audited.
func TestAuditFactsWithTargets(t *testing.T) {
	const password = "Facts-Passw0rd!"
	factsDir := filepath.Join(t.TempDir(), "facts")
	s := startSimulate(t, "seed: 5\nprofiles:\n  - {name: domain-laptop, count: 3}\n  - {name: workgroup, count: 1}\n", "127.0.67.1", password, "--facts-out", factsDir)
	rows := readCSV(t, s.targets)
	// Keep the header and two domain hosts; point the second at a closed port.
	if len(rows) != 5 {
		t.Fatalf("targets: %d rows", len(rows))
	}
	closed := strings.TrimSpace(mustRead(t, closedTarget(t)))
	rows[2][0] = closed
	targets := filepath.Join(t.TempDir(), "targets.csv")
	writeCSV(t, targets, rows[:3])

	out := t.TempDir()
	code, stdout, stderr := cli(t, t.Context(), map[string]string{"BITAUDIT_PASSWORD": password}, "audit", "--targets", targets,
		"--facts", factsDir, "--user", "auditor", "--ca-cert", s.ca, "--escrow-config", s.escrow, "--out", out,
		"--format", "json", "--log-level", "warn", "--host-timeout", "20s")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	r := readResult(t, out)
	if len(r.Hosts) != 2 {
		t.Fatalf("%d hosts, want the 2 targets", len(r.Hosts))
	}
	byTarget := map[string]model.HostResult{}
	for _, h := range r.Hosts {
		byTarget[h.Target] = h
	}
	if h := byTarget[rows[1][0]]; h.Facts == nil || h.Facts.Source.Collector != "winrm" || !strings.HasPrefix(h.Facts.Source.Note, "collected live; the facts file") {
		t.Errorf("reachable target: %+v", h.Facts)
	}
	if h := byTarget[closed]; h.Status != model.StatusCompliant || h.Facts == nil || h.Facts.Source.Collector != "wmi" ||
		!strings.HasPrefix(h.Facts.Source.Note, "live collection failed") {
		t.Errorf("unreachable target: %s (%s), facts %+v; want compliant from its facts file", h.Status, h.Reason, h.Facts)
	}
	if len(r.Run.RejectedInputs) != 2 {
		t.Fatalf("rejected inputs %+v, want the 2 files of computers outside the targets", r.Run.RejectedInputs)
	}
	for _, ri := range r.Run.RejectedInputs {
		if !strings.Contains(ri.Reason, "not among the targets") {
			t.Errorf("rejected input %+v", ri)
		}
	}
}

func TestCollectOffWindows(t *testing.T) {
	out := filepath.Join(t.TempDir(), "facts.json")
	code, _, stderr := cli(t, t.Context(), nil, "collect", "--out", out)
	if code != exitFatal || !strings.Contains(stderr, "only on Windows") {
		t.Errorf("collect off Windows: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("collect off Windows wrote a file")
	}
	if code, _, _ := cli(t, t.Context(), nil, "collect"); code != exitUsage {
		t.Errorf("collect without --out: exit %d, want %d", code, exitUsage)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func writeCSV(t *testing.T, path string, rows [][]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.WriteAll(rows)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
