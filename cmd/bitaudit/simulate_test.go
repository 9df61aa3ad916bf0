package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/collectors/escrow"
	"github.com/bitaudit/bitaudit/model"
)

// simulated is a running "bitaudit simulate" with its output files.
type simulated struct {
	targets, ca, escrow, expect string
}

// startSimulate runs "bitaudit simulate" in-process on spec until the test
// ends and waits for its targets file. extra are more simulate flags.
func startSimulate(t *testing.T, spec, listenBase, password string, extra ...string) simulated {
	t.Helper()
	dir := t.TempDir()
	s := simulated{filepath.Join(dir, "targets.csv"), filepath.Join(dir, "ca.pem"), filepath.Join(dir, "escrow.yaml"), filepath.Join(dir, "expect.json")}
	specFile := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(specFile, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(listenBase, "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan string, 1)
	go func() {
		// A port of our own: other engineers' runs of these tests use the same addresses.
		args := append([]string{"simulate", "--fleet", specFile, "--tls", "--ca-out", s.ca, "--listen-base", listenBase,
			"--port", strconv.Itoa(port), "--targets-out", s.targets, "--escrow-out", s.escrow, "--expect-out", s.expect}, extra...)
		code, stdout, stderr := cli(t, ctx, map[string]string{"BITAUDIT_PASSWORD": password}, args...)
		done <- strings.Join([]string{string(rune('0' + code)), stdout, stderr}, "\n")
	}()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(s.targets); err == nil {
			return s
		}
		select {
		case out := <-done:
			done <- out
			t.Fatalf("simulate exited:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("simulate wrote no targets file in 30 s")
		}
	}
}

type expectation struct {
	Target, Profile, Status string
	Problems                []string
}

func readExpectations(t *testing.T, path string) map[string]expectation {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var list []expectation
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]expectation{}
	for _, e := range list {
		out[e.Target] = e
	}
	return out
}

// TestSimulateEscrowOutAndExpectations audits a fleet served by "bitaudit
// simulate --escrow-out --expect-out" with the escrow config it wrote, and
// holds every verdict against the simulator's own expectation.
func TestSimulateEscrowOutAndExpectations(t *testing.T) {
	const password = "Sim-Passw0rd!"
	s := startSimulate(t, `seed: 4
hosts: 18
profiles:
  - {name: domain-laptop, share: 0.4}
  - {name: entra-laptop, share: 0.2}
  - {name: hybrid-laptop, share: 0.2}
  - {name: workgroup, count: 2}
  - {name: never-escrowed, count: 1}
  - {name: escrow-lost, count: 1}
  - {name: impostor, count: 1}
  - {name: workgroup-liar, count: 1}
  - {name: no-volumes, count: 1}
  - {name: duplicate-protector, count: 1}
`, "127.0.63.1", password)
	for _, f := range []string{s.escrow, s.expect, s.targets} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, fi.Mode().Perm())
		}
	}
	f, err := os.Open(s.escrow)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := escrow.LoadConfig(f, s.escrow)
	f.Close()
	if err != nil || cfg.AD == nil || cfg.Entra == nil || cfg.External == nil {
		t.Fatalf("escrow config %+v: %v", cfg, err)
	}
	b, _ := os.ReadFile(s.targets)
	if !strings.HasPrefix(string(b), "host,fqdn,ad_dn,entra_device_id\n") || !strings.Contains(string(b), `,"CN=`) {
		t.Errorf("targets file lacks the identity columns:\n%s", b)
	}
	want := readExpectations(t, s.expect)
	if len(want) != 18 {
		t.Fatalf("%d expectations, want 18", len(want))
	}
	out := filepath.Join(t.TempDir(), "results")
	code, stdout, stderr := cli(t, t.Context(), map[string]string{"BITAUDIT_PASSWORD": password},
		"audit", "--targets", s.targets, "--user", "auditor", "--ca-cert", s.ca, "--out", out,
		"--escrow-config", s.escrow, "--format", "json", "--log-level", "warn")
	if code != exitFindings {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFindings, stdout, stderr)
	}
	// The results list host names and protector IDs: 0700 and 0600.
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("--out directory mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if fi, err := e.Info(); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	r := readResult(t, out)
	if len(r.Hosts) != len(want) {
		t.Fatalf("%d hosts, want %d", len(r.Hosts), len(want))
	}
	for _, h := range r.Hosts {
		w, ok := want[h.Target]
		if !ok {
			t.Errorf("%s: no expectation", h.Target)
			continue
		}
		if string(h.Status) != w.Status {
			t.Errorf("%s (%s): %s (%s), simulator expects %s %v", h.Target, w.Profile, h.Status, h.Reason, w.Status, w.Problems)
		}
		if h.Identity == nil || h.Identity.DNSName == "" {
			t.Errorf("%s: identity %+v, want the fqdn column", h.Target, h.Identity)
		}
		// A hostile host: noncompliant with its finding, nothing verified.
		if rule, hostile := hostileRule[w.Profile]; hostile {
			if !hasFinding(h, rule) {
				t.Errorf("%s (%s): no %s finding among %v", h.Target, w.Profile, rule, ruleIDs(h))
			}
			for _, v := range h.Volumes {
				for _, p := range v.Protectors {
					for _, b := range p.Backups {
						if b.State == model.BackupVerified {
							t.Errorf("%s (%s): %s %s verified", h.Target, w.Profile, p.ID, b.Location)
						}
					}
				}
			}
		}
		if slices.Contains(w.Problems, "duplicate_protector") && !hasFinding(h, "identity.duplicate-protector") {
			t.Errorf("%s (%s): no identity.duplicate-protector finding", h.Target, w.Profile)
		}
	}

	// A waiver for the name the impostor borrows covers the genuine host,
	// never the impostor.
	var impostor, victim string
	for _, h := range r.Hosts {
		if want[h.Target].Profile == "impostor" {
			impostor, victim = h.Target, h.Facts.Hostname
		}
	}
	if impostor == "" || victim == "" {
		t.Fatal("the fleet has no impostor reporting a name")
	}
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte(`waivers:
  - id: W-SPOOF
    hosts: ["`+strings.ToLower(victim)+`"]
    rules: [identity.mismatch, escrow.missing, escrow.unverified]
    reason: test
    owner: test@example.test
    expires: 2099-01-01
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out2 := t.TempDir()
	cli(t, t.Context(), map[string]string{"BITAUDIT_PASSWORD": password},
		"audit", "--targets", s.targets, "--user", "auditor", "--ca-cert", s.ca, "--out", out2,
		"--escrow-config", s.escrow, "--format", "json", "--log-level", "warn", "--policy", policy)
	for _, h := range readResult(t, out2).Hosts {
		if h.Target != impostor {
			continue
		}
		for _, f := range h.Findings {
			if f.Waived() {
				t.Errorf("impostor reporting %s inherits waiver %s for %s", victim, f.Waiver.ID, f.RuleID)
			}
		}
		if h.Status != model.StatusNoncompliant {
			t.Errorf("impostor with a spoofed waiver: %s", h.Status)
		}
	}
}

// hostileRule is the finding each hostile profile must raise.
var hostileRule = map[string]string{
	"impostor": "identity.mismatch", "workgroup-liar": "identity.join-mismatch",
	"no-volumes": "volume.no-os-volume", "duplicate-protector": "identity.duplicate-protector",
}

func hasFinding(h model.HostResult, rule string) bool { return slices.Contains(ruleIDs(h), rule) }

func ruleIDs(h model.HostResult) []string {
	var ids []string
	for _, f := range h.Findings {
		ids = append(ids, f.RuleID)
	}
	return ids
}

func TestDemoFleet(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(spec, []byte("seed: 3\nprofiles:\n  - {name: domain-laptop, count: 3}\n  - {name: workgroup, count: 2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := cli(t, t.Context(), nil, "demo", "--fleet", spec, "--out", out, "--format", "json")
	if code != exitOK {
		t.Fatalf("demo --fleet exit %d\n%s\n%s", code, stdout, stderr)
	}
	r := readResult(t, out)
	if len(r.Hosts) != 5 || r.Summary.HostsByStatus["compliant"] != 5 {
		t.Errorf("demo --fleet: %d hosts, by status %v; want 5 compliant", len(r.Hosts), r.Summary.HostsByStatus)
	}
	if code, _, stderr := cli(t, t.Context(), nil, "demo", "--fleet", filepath.Join(dir, "nope.yaml")); code != exitUsage || !strings.Contains(stderr, "nope.yaml") {
		t.Errorf("demo with a missing fleet file: exit %d, %s", code, stderr)
	}
}

// TestAuditNeverOverstates: a run whose every host refused the password
// has no coverage (null, n/a), and a run without any escrow source warns
// at start and says on page 1 of the PDF that nothing was verified at a
// source.
func TestAuditNeverOverstates(t *testing.T) {
	const password = "Sim-Passw0rd!"
	s := startSimulate(t, "seed: 6\nprofiles:\n  - {name: domain-laptop, count: 3}\n  - {name: workgroup, count: 1}\n", "127.0.64.1", password)
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong.pw")
	if err := os.WriteFile(wrong, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "wrong")
	cli(t, t.Context(), nil, "audit", "--targets", s.targets, "--user", "auditor", "--ca-cert", s.ca, "--password-file", wrong,
		"--escrow-config", s.escrow, "--out", out, "--format", "json,pdf", "--log-level", "warn")
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Summary map[string]any `json:"summary"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"backup_coverage", "compliant_share", "compliant_share_without_waivers"} {
		if v, ok := raw.Summary[k]; !ok || v != nil {
			t.Errorf("every host auth_failed, yet summary %s = %v (want null)", k, v)
		}
	}
	if text := pdfPage1(t, filepath.Join(out, "report.pdf")); !strings.Contains(text, "n/a") || strings.Contains(text, "100.0 %") {
		t.Errorf("PDF page 1 of a run that audited nothing shows no n/a, or 100 %%:\n%s", text)
	}

	out = filepath.Join(dir, "nosource")
	_, stdout, stderr := cli(t, t.Context(), map[string]string{"BITAUDIT_PASSWORD": password}, "audit", "--targets", s.targets,
		"--user", "auditor", "--ca-cert", s.ca, "--out", out, "--format", "json,pdf")
	for name, got := range map[string]string{"terminal": stdout, "log": stderr} {
		if !strings.Contains(got, "no escrow source configured") || !strings.Contains(got, "not be verified at any source") {
			t.Errorf("%s does not warn that no escrow source is configured:\n%s", name, got)
		}
	}
	if text := pdfPage1(t, filepath.Join(out, "report.pdf")); !strings.Contains(text, "recovery-key backups were not verified at any source") {
		t.Errorf("PDF page 1 does not say backups were not verified at any source:\n%s", text)
	}
	r := readResult(t, out)
	if r.Summary.ByState.Verified != 0 || r.Summary.ByState.Claimed == 0 || r.Run.Options["escrow_sources"] != "none" {
		t.Errorf("no source, yet by state %+v, escrow_sources %q", r.Summary.ByState, r.Run.Options["escrow_sources"])
	}
	for _, h := range r.Hosts {
		if h.Status == model.StatusCompliant {
			t.Errorf("%s compliant without any escrow source (%s)", h.Target, h.Reason)
		}
	}
}

// pdfPage1 returns the text of a PDF's first page, words joined by spaces.
func pdfPage1(t *testing.T, path string) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext not installed (apt-get install poppler-utils)")
	}
	b, err := exec.CommandContext(t.Context(), "pdftotext", "-f", "1", "-l", "1", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}
