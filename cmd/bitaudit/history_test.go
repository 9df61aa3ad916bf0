package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator"
)

// fleetAudit runs "bitaudit audit" against a fleet started by startFleet.
func fleetAudit(t *testing.T, targets, ca, escrowCfg, out string, extra ...string) (int, string, string) {
	t.Helper()
	args := append([]string{"audit", "--targets", targets, "--user", "auditor", "--ca-cert", ca, "--out", out,
		"--escrow-config", escrowCfg, "--host-timeout", "3s", "--format", "json", "--log-level", "warn"}, extra...)
	return cli(t, t.Context(), map[string]string{"BITAUDIT_PASSWORD": "Sim-Passw0rd!"}, args...)
}

type hostVerdict struct {
	Status   model.Status
	Findings []string
}

func hostVerdicts(r *model.Result) map[string]hostVerdict {
	out := map[string]hostVerdict{}
	for _, h := range r.Hosts {
		v := hostVerdict{Status: h.Status}
		for _, f := range h.Findings {
			v.Findings = append(v.Findings, f.RuleID+"@"+f.Volume+"/"+f.ProtectorID+"/"+f.Severity.String())
		}
		slices.Sort(v.Findings)
		out[h.Target] = v
	}
	return out
}

// TestMergedShardsEqualUnshardedRun: three shards of the simulated mix,
// audited separately and merged, give every verdict and total of the
// unsharded run, each target once.
func TestMergedShardsEqualUnshardedRun(t *testing.T) {
	fleet, targets, ca := startFleet(t, 36, 11, "Sim-Passw0rd!")
	escrowCfg, err := startDemoSources(t.Context(), fleet, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fleetAudit(t, targets, ca, escrowCfg, filepath.Join(dir, "all"), "--no-history")
	whole := readResult(t, filepath.Join(dir, "all"))
	var shards []string
	total := 0
	for i, s := range []string{"0/3", "1/3", "2/3"} {
		out := filepath.Join(dir, "s"+s[:1])
		hist := filepath.Join(dir, "h.db")
		_, _, stderr := fleetAudit(t, targets, ca, escrowCfg, out, "--shard", s, "--run-group", "job-1", "--history", hist)
		r := readResult(t, out)
		if r.Run.Shard == nil || r.Run.Shard.Index != i || r.Run.Shard.Group != "job-1" || r.Run.Shard.Targets != 36 {
			t.Fatalf("shard %s result describes itself as %+v\n%s", s, r.Run.Shard, stderr)
		}
		if r.History != nil {
			t.Errorf("shard %s compared with earlier runs: a shard is compared once merged", s)
		}
		total += len(r.Hosts)
		shards = append(shards, filepath.Join(out, "result.json"))
	}
	if total != 36 {
		t.Fatalf("the shards audited %d hosts, want 36", total)
	}
	hist := filepath.Join(dir, "h.db")
	code, stdout, stderr := cli(t, t.Context(), nil, append([]string{"merge", "--out", filepath.Join(dir, "m"), "--history", hist, "--format", "json"}, shards...)...)
	if code != 0 {
		t.Fatalf("merge exit %d\n%s\n%s", code, stdout, stderr)
	}
	merged := readResult(t, filepath.Join(dir, "m"))
	if diff := cmp.Diff(hostVerdicts(whole), hostVerdicts(merged)); diff != "" {
		t.Errorf("merged verdicts differ from the unsharded run (-whole +merged):\n%s", diff)
	}
	if diff := cmp.Diff(whole.Summary, merged.Summary); diff != "" {
		t.Errorf("merged totals differ from the unsharded run (-whole +merged):\n%s", diff)
	}
	if merged.Run.TargetCount != 36 || len(merged.Run.MergedFrom) != 3 {
		t.Errorf("merged run: target count %d, merged from %v", merged.Run.TargetCount, merged.Run.MergedFrom)
	}
	// Only the merged run is in the history.
	code, stdout, _ = cli(t, t.Context(), nil, "history", "--history", hist, "--format", "json")
	var listed struct{ Runs []struct{ ID string } }
	if err := json.Unmarshal([]byte(stdout), &listed); code != 0 || err != nil || len(listed.Runs) != 1 || listed.Runs[0].ID != merged.Run.ID {
		t.Errorf("history after merging: exit %d, %v, %+v; want the merged run alone", code, err, listed)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing shard", shards[:2], "missing shard(s) 2 of 3"},
		{"overlap", []string{shards[0], shards[0], shards[1], shards[2]}, "given twice"},
		{"not a shard", []string{filepath.Join(dir, "all", "result.json"), shards[1]}, "is not a shard result"},
	} {
		out := filepath.Join(dir, "bad-"+strings.ReplaceAll(tc.name, " ", "-"))
		code, _, stderr := cli(t, t.Context(), nil, append([]string{"merge", "--no-history", "--out", out}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("merge with %s: exit %d, %q; want %d saying %q", tc.name, code, stderr, exitUsage, tc.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("merge with %s wrote %s", tc.name, out)
		}
	}
}

// TestHistoryDiffThroughCLI records two runs of one scope, the second over
// fewer targets, and reads them back with history and diff, and compares
// the same runs from result files with --previous.
func TestHistoryDiffThroughCLI(t *testing.T) {
	fleet, targets, ca := startFleet(t, 30, 5, "Sim-Passw0rd!")
	escrowCfg, err := startDemoSources(t.Context(), fleet, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hist := filepath.Join(dir, "sub", "h.db")
	b, _ := os.ReadFile(targets)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	fewer := filepath.Join(dir, "fewer.txt")
	// The targets file may be CSV: keep its header, drop three hosts.
	header, rows := lines[:0], lines
	if strings.Contains(lines[0], "host") {
		header, rows = lines[:1], lines[1:]
	}
	var gone []string
	for _, l := range rows[:3] {
		h, _, _ := strings.Cut(l, ",")
		gone = append(gone, h)
	}
	os.WriteFile(fewer, []byte(strings.Join(append(append([]string{}, header...), rows[3:]...), "\n")+"\n"), 0o600)

	fleetAudit(t, targets, ca, escrowCfg, filepath.Join(dir, "r1"), "--history", hist, "--scope", "fleet")
	r1 := readResult(t, filepath.Join(dir, "r1"))
	if r1.History == nil || r1.History.Previous != nil || len(r1.History.Trend) != 1 {
		t.Errorf("first run's history: %+v, want a one-point trend and no previous run", r1.History)
	}
	code, stdout, stderr := fleetAudit(t, fewer, ca, escrowCfg, filepath.Join(dir, "r2"), "--history", hist, "--scope", "fleet")
	if code != exitFindings && code != exitIncomplete {
		t.Fatalf("second run: exit %d\n%s%s", code, stdout, stderr)
	}
	r2 := readResult(t, filepath.Join(dir, "r2"))
	if r2.History == nil || r2.History.Previous == nil || r2.History.Previous.ID != r1.Run.ID || r2.History.Previous.Source != "history" {
		t.Fatalf("second run not compared with the first: %+v\n%s", r2.History, stderr)
	}
	if !strings.Contains(stdout, "Since run "+r1.Run.ID) {
		t.Errorf("run summary does not say what changed since the previous run:\n%s", stdout)
	}
	since := r2.History.Since
	var left []string
	for _, h := range since.Left {
		left = append(left, h.Target)
	}
	slices.Sort(gone)
	slices.Sort(left)
	if diff := cmp.Diff(gone, left); diff != "" {
		t.Errorf("hosts that left (-want +got):\n%s", diff)
	}
	wantRecurring := 0
	for _, h := range r2.Hosts {
		wantRecurring += len(h.Findings)
	}
	if len(since.Recurring) != wantRecurring || len(since.NewFindings) != 0 || len(since.Resolved) != 0 {
		t.Errorf("since the first run: %d recurring (want %d), %d new, %d resolved", len(since.Recurring), wantRecurring, len(since.NewFindings), len(since.Resolved))
	}
	for _, f := range since.Recurring {
		if !f.FirstSeen.Equal(r1.Run.Started) {
			t.Errorf("%s %s first seen %v, want the first run's start %v", f.Target, f.RuleID, f.FirstSeen, r1.Run.Started)
		}
	}

	code, stdout, stderr = cli(t, t.Context(), nil, "history", "--history", hist)
	if code != 0 || !strings.Contains(stdout, r1.Run.ID) || !strings.Contains(stdout, r2.Run.ID) || !strings.Contains(stdout, "fleet") {
		t.Errorf("history: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = cli(t, t.Context(), nil, "diff", "--history", hist, "--format", "json")
	var got struct {
		From, To model.RunRef
		Delta    *model.Delta
	}
	if err := json.Unmarshal([]byte(stdout), &got); code != 0 || err != nil {
		t.Fatalf("diff --format json: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	if got.From.ID != r1.Run.ID || got.To.ID != r2.Run.ID {
		t.Errorf("diff compared %s with %s, want the last two runs", got.From.ID, got.To.ID)
	}
	if diff := cmp.Diff(since, got.Delta); diff != "" {
		t.Errorf("diff from the history differs from the run's own comparison (-run +diff):\n%s", diff)
	}
	code, stdout, _ = cli(t, t.Context(), nil, "diff", "--history", hist, r1.Run.ID[:len(r1.Run.ID)-2], r2.Run.ID)
	if code != 0 || !strings.Contains(stdout, "Hosts that left the scope: 3") || !strings.Contains(stdout, "first seen") {
		t.Errorf("diff RUN_A RUN_B: exit %d\n%s", code, stdout)
	}

	// The same comparison from result files: --previous without a history.
	_, _, stderr = fleetAudit(t, fewer, ca, escrowCfg, filepath.Join(dir, "r3"), "--no-history", "--previous", filepath.Join(dir, "r1", "result.json"))
	r3 := readResult(t, filepath.Join(dir, "r3"))
	if r3.History == nil || r3.History.Previous == nil || r3.History.Previous.ID != r1.Run.ID || len(r3.History.Since.Left) != 3 {
		t.Errorf("--previous: history %+v\n%s", r3.History, stderr)
	}
	code, stdout, _ = cli(t, t.Context(), nil, "diff", filepath.Join(dir, "r1", "result.json"), filepath.Join(dir, "r3", "result.json"))
	if code != 0 || !strings.Contains(stdout, "Hosts that left the scope: 3") {
		t.Errorf("diff of two result files: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = cli(t, t.Context(), nil, "history", "--history", hist, "--format", "json")
	if code != 0 || strings.Count(stdout, `"id"`) != 2 {
		t.Errorf("--no-history recorded the run anyway:\n%s", stdout)
	}
}

func TestHistoryErrorsAreClear(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	os.WriteFile(notDB, []byte("hello\n"), 0o600)
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"history", "--history", filepath.Join(dir, "missing.db")}, nil, "no history at"},
		{[]string{"history", "--history", notDB}, nil, "not an SQLite database"},
		{[]string{"history"}, nil, "no per-user data directory"},
		{[]string{"diff", "--history", notDB}, nil, "not an SQLite database"},
		{[]string{"history", "--history", "postgres://u:hunter2@127.0.0.1:1/db"}, nil, "PGPASSWORD"},
		{[]string{"history", "--format", "yaml"}, nil, "--format must be text or json"},
		{[]string{"audit", "--targets", notDB, "--user", "u", "--history", notDB}, map[string]string{"BITAUDIT_PASSWORD": "x"}, "not an SQLite database"},
		{[]string{"audit", "--targets", notDB, "--user", "u", "--shard", "2/2"}, map[string]string{"BITAUDIT_PASSWORD": "x"}, "I must be 0 to 1"},
		{[]string{"audit", "--targets", notDB, "--user", "u", "--history", notDB, "--no-history"}, map[string]string{"BITAUDIT_PASSWORD": "x"}, "contradict"},
	} {
		code, stdout, stderr := cli(t, t.Context(), tc.env, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d saying %q", tc.args, code, stderr, exitUsage, tc.want)
		}
		if strings.Contains(stdout+stderr, "hunter2") {
			t.Errorf("%v: the password appears in the output", tc.args)
		}
	}
}

// TestHistoryDiffCountedAsStored audits a fleet whose hosts are each stored
// once (no hostile host, no directory), so the run's snapshot is taken as
// the hosts are stored (hostTally), twice into one history: the second
// run's comparison must see every finding of the first recur, as the
// history's own diff of the two runs does.
func TestHistoryDiffCountedAsStored(t *testing.T) {
	four := 4
	spec := &simulator.Spec{Seed: 9, Hosts: 12, Profiles: []simulator.ProfileMix{
		{Name: "never-escrowed", Count: &four}, {Name: "suspended", Count: &four}, {Name: "domain-laptop", Count: &four}}}
	fleet, err := startFreeFleet(t.Context(), spec, simulator.Options{TLS: true, Auth: "ntlm", User: "auditor", Password: "Sim-Passw0rd!"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Close() })
	dir := t.TempDir()
	targets, ca, hist := filepath.Join(dir, "targets.txt"), filepath.Join(dir, "ca.pem"), filepath.Join(dir, "h.db")
	if err := writeFleetFiles(fleet, targets, ca); err != nil {
		t.Fatal(err)
	}
	audit := func(out string) *model.Result {
		t.Helper()
		code, stdout, stderr := cli(t, t.Context(), map[string]string{"BITAUDIT_PASSWORD": "Sim-Passw0rd!"}, "audit", "--targets", targets,
			"--user", "auditor", "--ca-cert", ca, "--out", filepath.Join(dir, out), "--history", hist, "--host-timeout", "10s",
			"--format", "json", "--log-level", "warn")
		if code != exitFindings {
			t.Fatalf("audit: exit %d\n%s%s", code, stdout, stderr)
		}
		return readResult(t, filepath.Join(dir, out))
	}
	r1 := audit("r1")
	r2 := audit("r2")
	findings := 0
	for _, h := range r1.Hosts {
		findings += len(h.Findings)
	}
	since := r2.History.Since
	if since == nil || findings < 8 || len(since.Recurring) != findings || len(since.NewFindings)+len(since.Resolved)+len(since.Joined)+len(since.Left) != 0 {
		t.Fatalf("second run since the first (%d findings): %+v", findings, since)
	}
	code, stdout, stderr := cli(t, t.Context(), nil, "diff", "--history", hist, "--format", "json")
	var got struct{ Delta *model.Delta }
	if err := json.Unmarshal([]byte(stdout), &got); code != 0 || err != nil {
		t.Fatalf("diff --format json: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	if diff := cmp.Diff(since, got.Delta); diff != "" {
		t.Errorf("the run's own comparison differs from the history's diff (-run +diff):\n%s", diff)
	}
}
