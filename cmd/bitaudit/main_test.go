package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator"
)

// recoveryPasswordShape matches a 48-digit BitLocker recovery password.
var recoveryPasswordShape = regexp.MustCompile(`\d{6}(-\d{6}){7}`)

// cli runs bitaudit in-process and returns its exit status and output.
func cli(t *testing.T, ctx context.Context, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, args, streams{In: strings.NewReader(""), Out: &out, Err: &errb}, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func readResult(t *testing.T, dir string) *model.Result {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r model.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("result.json: %v", err)
	}
	return &r
}

// startFleet starts the default simulated mix with HTTPS and NTLM and
// returns it with a targets file and CA file.
func startFleet(t *testing.T, hosts int, seed int64, password string) (*simulator.Fleet, string, string) {
	t.Helper()
	fleet, err := startFreeFleet(t.Context(), simulator.DefaultSpec(hosts, seed), simulator.Options{
		TLS: true, Auth: "ntlm", User: "auditor", Password: password,
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
	return fleet, targets, ca
}

// TestAuditMixedFleet drives "bitaudit audit" against the simulated default
// mix and checks every host's status against what its profile implies.
func TestAuditMixedFleet(t *testing.T) {
	const password = "Sim-Passw0rd!"
	fleet, targets, ca := startFleet(t, 40, 7, password)
	out := t.TempDir()
	escrowCfg, err := startDemoSources(t.Context(), fleet, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cli(t, t.Context(), map[string]string{"BITAUDIT_PASSWORD": password},
		"audit", "--targets", targets, "--user", "auditor", "--ca-cert", ca, "--out", out, "--escrow-config", escrowCfg,
		"--host-timeout", "8s", "--format", "json", "--log-level", "warn")
	if code != exitFindings {
		t.Fatalf("exit %d, want %d (findings)\nstdout:\n%s\nstderr:\n%s", code, exitFindings, stdout, stderr)
	}
	r := readResult(t, out)
	hosts := fleet.Hosts()
	if len(r.Hosts) != len(hosts) || r.Run.TargetCount != len(hosts) {
		t.Fatalf("result has %d hosts (target count %d), fleet has %d", len(r.Hosts), r.Run.TargetCount, len(hosts))
	}
	byTarget := map[string]model.HostResult{}
	for _, h := range r.Hosts {
		if _, dup := byTarget[h.Target]; dup {
			t.Errorf("%s appears twice", h.Target)
		}
		byTarget[h.Target] = h
	}
	for _, sh := range hosts {
		h, ok := byTarget[sh.Address]
		if !ok {
			t.Errorf("%s (%s) missing from the result", sh.Address, sh.Profile)
			continue
		}
		if string(h.Status) != sh.Expect.Status {
			t.Errorf("%s (%s, faults %v): status %s (%s), want %s", sh.Address, sh.Profile, sh.Faults, h.Status, h.Reason, sh.Expect.Status)
		}
		if h.Reason == "" {
			t.Errorf("%s: empty reason", sh.Address)
		}
	}
}

func TestAuditRejectsBadInputBeforeContactingHosts(t *testing.T) {
	// A listener that counts connections stands in for a host.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.txt", ln.Addr().String()+"\n")
	env := map[string]string{"BITAUDIT_PASSWORD": "x"}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"bad port", []string{"--targets", write("badport.txt", ln.Addr().String()+"\nhost:70000\n")}, env, "badport.txt:2: invalid port"},
		{"bad host", []string{"--targets", write("badhost.txt", "ok\nev il\n")}, env, "badhost.txt:2"},
		{"empty", []string{"--targets", write("empty.txt", "# none\n")}, env, "no targets"},
		{"missing file", []string{"--targets", filepath.Join(dir, "nope.txt")}, env, "no such file"},
		{"no password", []string{"--targets", good}, nil, "BITAUDIT_PASSWORD"},
		{"bad policy", []string{"--targets", good, "--policy", write("p.yaml", "nonsense_key: 1\n")}, env, "p.yaml:1"},
		{"bad format", []string{"--targets", good, "--format", "docx"}, env, "--format"},
		{"bad fail-on", []string{"--targets", good, "--fail-on", "urgent"}, env, "--fail-on"},
		{"bad transport", []string{"--targets", good, "--transport", "ssh"}, env, "--transport"},
		{"negative ramp", []string{"--targets", good, "--ramp", "-1s"}, env, "--ramp"},
		{"endless ramp", []string{"--targets", good, "--ramp", "2h"}, env, "--ramp"},
		{"unknown flag", []string{"--targets", good, "--password", "secret"}, env, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"audit", "--user", "auditor", "--out", filepath.Join(dir, "out")}, tt.args...)
			code, _, stderr := cli(t, t.Context(), tt.env, args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr %q does not mention %q", stderr, tt.wantErr)
			}
			if strings.Contains(stderr, "secret") && tt.name == "unknown flag" {
				t.Errorf("a flag value was echoed: %s", stderr)
			}
		})
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d connections to the host despite bad input", n)
	}
}

// specFleet starts the fleet a spec (YAML) describes, with HTTPS and NTLM
// for user "auditor" and the given password, on free addresses until the
// test ends, and writes its targets and CA files into a temporary
// directory, which it returns with them.
func specFleet(t *testing.T, specYAML, password string) (fleet *simulator.Fleet, dir, targets, ca string) {
	t.Helper()
	spec, err := simulator.LoadSpec(strings.NewReader(specYAML), "spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fleet, err = startFreeFleet(t.Context(), spec, simulator.Options{TLS: true, Auth: "ntlm", User: "auditor", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Close() })
	dir = t.TempDir()
	targets, ca = filepath.Join(dir, "t.txt"), filepath.Join(dir, "ca.pem")
	if err := writeFleetFiles(fleet, targets, ca); err != nil {
		t.Fatal(err)
	}
	return fleet, dir, targets, ca
}

// TestAuditInterrupted cancels a run against hung hosts: the result is still
// written, with every target present, and the exit status is 130.
func TestAuditInterrupted(t *testing.T) {
	const password = "Sim-Passw0rd!"
	_, dir, targets, ca := specFleet(t, "seed: 3\nhosts: 12\nprofiles:\n  - name: domain-laptop\n    share: 1\nfaults:\n  - kind: hung\n    count: 8\n", password)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(3*time.Second, cancel)
	out := filepath.Join(dir, "out")
	code, stdout, stderr := cli(t, ctx, map[string]string{"BITAUDIT_PASSWORD": password},
		"audit", "--targets", targets, "--user", "auditor", "--ca-cert", ca, "--out", out,
		"--concurrency", "2", "--host-timeout", "5m", "--format", "json")
	if code != exitInterrupted {
		t.Fatalf("exit %d, want 130\n%s\n%s", code, stdout, stderr)
	}
	r := readResult(t, out)
	if !r.Run.Interrupted || len(r.Hosts) != 12 {
		t.Fatalf("interrupted=%v hosts=%d", r.Run.Interrupted, len(r.Hosts))
	}
	interrupted := 0
	for _, h := range r.Hosts {
		if h.Status == model.StatusInterrupted {
			interrupted++
		}
	}
	if interrupted == 0 {
		t.Error("no host marked interrupted")
	}
}

// TestDemoWritesNoKeyMaterial runs the demo and scans everything it wrote
// and printed for recovery-password-shaped strings.
func TestDemoWritesNoKeyMaterial(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	code, stdout, stderr := cli(t, t.Context(), nil, "demo", "--out", out, "--log-level", "debug")
	if code != exitOK {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	scan := func(name, s string) {
		if m := recoveryPasswordShape.FindString(s); m != "" {
			t.Errorf("%s contains a recovery-password-shaped string", name)
		}
	}
	scan("stdout", stdout)
	scan("stderr", stderr)
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"result.json": false, "report.pdf": false, "report.xlsx": false, "report.csv": false, "manifest.json": false}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		scan(e.Name(), string(b))
		want[e.Name()] = true
	}
	for name, ok := range want {
		if !ok {
			t.Errorf("demo did not write %s", name)
		}
	}
	r := readResult(t, out)
	if r.Run.TargetCount < 25 || len(r.Hosts) != r.Run.TargetCount {
		t.Errorf("demo result: %d targets, %d hosts", r.Run.TargetCount, len(r.Hosts))
	}
	if code, _, stderr := cli(t, t.Context(), nil, "verify", out); code != 0 {
		t.Errorf("verify of the demo output failed: %s", stderr)
	}
}

// TestAuditSealedHTTP audits hosts that, like Windows' default, refuse
// unencrypted messages over HTTP: NTLM sealing is used without any flag, and
// the result records it per host. Without sealing (--allow-unencrypted) the
// same hosts refuse the credentials.
func TestAuditSealedHTTP(t *testing.T) {
	const password = "Sim-Passw0rd!"
	spec, err := simulator.LoadSpec(strings.NewReader("seed: 5\nhosts: 6\nprofiles:\n  - name: domain-laptop\n    share: 1\n"), "spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := startFreeFleet(t.Context(), spec, simulator.Options{Auth: "ntlm", User: "auditor", Password: password,
		RequireEncryption: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()
	dir := t.TempDir()
	targets := filepath.Join(dir, "t.txt")
	if err := os.WriteFile(targets, []byte(strings.Join(fleet.Targets(), "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BITAUDIT_PASSWORD": password}
	out := filepath.Join(dir, "sealed")
	code, stdout, stderr := cli(t, t.Context(), env, "audit", "--targets", targets, "--user", "auditor",
		"--transport", "http", "--auth", "ntlm", "--out", out, "--format", "json", "--fail-on", "none")
	if code != exitOK {
		t.Fatalf("sealed audit exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, h := range readResult(t, out).Hosts {
		if !h.Status.Audited() || h.Facts == nil || h.Facts.Source.Protection != "ntlm-sealing" || h.Facts.Source.Transport != "http" {
			t.Errorf("%s: status %s (%s), collection %+v", h.Target, h.Status, h.Reason, h.Facts)
		}
	}
	out = filepath.Join(dir, "unsealed")
	code, _, stderr = cli(t, t.Context(), env, "audit", "--targets", targets, "--user", "auditor",
		"--transport", "http", "--auth", "ntlm", "--allow-unencrypted", "--out", out, "--format", "json", "--fail-on", "none")
	if code != exitIncomplete || !strings.Contains(stderr, "without message encryption") {
		t.Fatalf("unsealed audit exit %d, want %d with a warning; stderr: %s", code, exitIncomplete, stderr)
	}
	for _, h := range readResult(t, out).Hosts {
		if h.Status != model.StatusAuthFailed || !strings.Contains(h.Reason, "encrypt") {
			t.Errorf("%s: unsealed status %s (%s), want auth_failed saying the host requires encryption", h.Target, h.Status, h.Reason)
		}
	}
}

// TestAuditWithoutSpoolKeepsResultsInMemory: with no writable temporary
// directory for the spool, the run says so and keeps its results in
// memory; every host is still in the result.
func TestAuditWithoutSpoolKeepsResultsInMemory(t *testing.T) {
	const password = "Sim-Passw0rd!"
	fleet, targets, ca := startFleet(t, 8, 5, password)
	out := t.TempDir()
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	code, stdout, stderr := cli(t, t.Context(), map[string]string{"BITAUDIT_PASSWORD": password},
		"audit", "--targets", targets, "--user", "auditor", "--ca-cert", ca, "--out", out, "--no-history",
		"--host-timeout", "8s", "--format", "json")
	if code != exitFindings && code != exitIncomplete {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "results kept in memory: no spool file") {
		t.Errorf("no warning about the missing spool:\n%s", stderr)
	}
	if r := readResult(t, out); len(r.Hosts) != len(fleet.Hosts()) || r.Summary.Hosts != len(fleet.Hosts()) {
		t.Errorf("result has %d hosts (summary %d), fleet %d", len(r.Hosts), r.Summary.Hosts, len(fleet.Hosts()))
	}
}
