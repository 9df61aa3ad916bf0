package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/reports"
	"github.com/bitaudit/bitaudit/simulator"
)

// closedTarget returns a targets file naming a loopback port nothing
// listens on: an audit of it is quick and ends unreachable.
func closedTarget(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := filepath.Join(t.TempDir(), "targets.txt")
	if err := os.WriteFile(p, []byte(addr+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var quickEnv = map[string]string{"BITAUDIT_PASSWORD": "x"}

func quickAudit(t *testing.T, targets, out string, extra ...string) (int, string, string) {
	t.Helper()
	args := append([]string{"audit", "--targets", targets, "--user", "auditor", "--out", out, "--host-timeout", "5s", "--log-level", "error"}, extra...)
	return cli(t, t.Context(), quickEnv, args...)
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestReusedOutDir: a directory holding an earlier run is refused before any
// host is contacted; --force replaces it and removes the stale reports, so
// verify passes and no file of the first run is left.
func TestReusedOutDir(t *testing.T) {
	targets := closedTarget(t)
	out := filepath.Join(t.TempDir(), "r")
	if code, _, stderr := quickAudit(t, targets, out); code != exitIncomplete {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	first := readResult(t, out).Run.ID
	code, _, stderr := quickAudit(t, targets, out, "--format", "csv")
	if code != exitUsage || !strings.Contains(stderr, "holds an earlier run's results") || !strings.Contains(stderr, "--force") {
		t.Fatalf("reused --out: exit %d, want 2 naming --force: %s", code, stderr)
	}
	if readResult(t, out).Run.ID != first {
		t.Fatal("a refused run changed the earlier results")
	}
	if code, _, stderr := quickAudit(t, targets, out, "--format", "csv", "--force"); code != exitIncomplete {
		t.Fatalf("--force: exit %d: %s", code, stderr)
	}
	if got, want := names(t, out), []string{"manifest.json", "report.csv", "result.json"}; !slices.Equal(got, want) {
		t.Errorf("after --force: %v, want %v", got, want)
	}
	if readResult(t, out).Run.ID == first {
		t.Error("--force kept the first run's result")
	}
	if code, stdout, stderr := cli(t, t.Context(), nil, "verify", out); code != 0 || !strings.Contains(stdout, "UNSIGNED: hashes only") {
		t.Errorf("verify after --force: exit %d\n%s%s", code, stdout, stderr)
	}

	// report into the directory it reads from: refused without --force,
	// and with it the bundle holds only what this rendering wrote.
	in := filepath.Join(out, "result.json")
	if code, _, stderr := cli(t, t.Context(), nil, "report", "--in", in, "--out", out, "--format", "pdf"); code != exitUsage {
		t.Errorf("report into its own directory without --force: exit %d: %s", code, stderr)
	}
	if code, _, stderr := cli(t, t.Context(), nil, "report", "--in", in, "--out", out, "--format", "pdf", "--force"); code != 0 {
		t.Fatalf("report --force: exit %d: %s", code, stderr)
	}
	if got, want := names(t, out), []string{"manifest.json", "report.pdf", "result.json"}; !slices.Equal(got, want) {
		t.Errorf("after report --force: %v, want %v", got, want)
	}
	if code, _, stderr := cli(t, t.Context(), nil, "verify", out); code != 0 {
		t.Errorf("verify after report --force: %s", stderr)
	}

	// Files bitaudit did not write are never removed: the directory is refused.
	if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = quickAudit(t, targets, out, "--force")
	if code != exitUsage || !strings.Contains(stderr, "notes.txt") {
		t.Errorf("directory with a foreign file: exit %d: %s", code, stderr)
	}
}

// TestOutDirNotWritable: an output directory that cannot take a file stops
// the run before any host is contacted.
func TestOutDirNotWritable(t *testing.T) {
	targets := closedTarget(t)
	var out string
	switch {
	case os.Geteuid() != 0:
		out = filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(out, 0o555); err != nil {
			t.Fatal(err)
		}
	case runtime.GOOS == "linux":
		out = "/proc/self" // a directory root cannot write into either
	default:
		t.Skip("running as root: no read-only directory to test with")
	}
	code, _, stderr := quickAudit(t, targets, out)
	if code != exitUsage || !strings.Contains(stderr, "cannot write into it") || !strings.Contains(stderr, "no host contacted") {
		t.Errorf("exit %d, want 2 before contacting hosts: %s", code, stderr)
	}
	// A parent that is a file: the directory cannot be created.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	code, _, stderr = quickAudit(t, targets, filepath.Join(file, "out"))
	if code != exitUsage || !strings.Contains(stderr, "cannot use it") {
		t.Errorf("out under a file: exit %d: %s", code, stderr)
	}
}

// TestWriteResultsFallback: when the bundle cannot be written at the end,
// result.json goes to the fallback directory and the error names it.
func TestWriteResultsFallback(t *testing.T) {
	targets := closedTarget(t)
	out := filepath.Join(t.TempDir(), "r")
	if code, _, stderr := quickAudit(t, targets, out, "--format", "json"); code != exitIncomplete {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := readResult(t, out)
	// The directory disappears under the run, replaced by a file.
	gone := filepath.Join(t.TempDir(), "gone")
	o := &outDir{path: gone}
	if err := os.WriteFile(gone, []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	fallback := t.TempDir()
	err := writeResults(t.Context(), o, r, reports.Options{}, fallback, slog.New(slog.DiscardHandler))
	if exitCode(err) != exitFatal || err == nil || !strings.Contains(err.Error(), "the result was saved to "+fallback) {
		t.Fatalf("writeResults: %v", err)
	}
	saved := names(t, fallback)
	if len(saved) != 1 || !strings.HasPrefix(saved[0], "bitaudit-result-"+r.Run.ID) {
		t.Fatalf("fallback directory holds %v", saved)
	}
	f, err := os.Open(filepath.Join(fallback, saved[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := reports.ReadResult(f)
	if err != nil || back.Run.ID != r.Run.ID || len(back.Hosts) != len(r.Hosts) {
		t.Errorf("fallback result: %v", err)
	}
}

// TestVerifySignatureStatus: verify says what it checked, and fails when a
// signature is present but not checked, or absent with --require-signature.
func TestVerifySignatureStatus(t *testing.T) {
	targets := closedTarget(t)
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "k.pem"), filepath.Join(dir, "k.pub")
	privPEM, pubPEM, err := reports.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(priv, privPEM, 0o600)
	os.WriteFile(pub, pubPEM, 0o644)
	signed, unsigned := filepath.Join(dir, "signed"), filepath.Join(dir, "unsigned")
	if code, _, stderr := quickAudit(t, targets, signed, "--format", "csv", "--sign-key", priv); code != exitIncomplete {
		t.Fatalf("signed run: exit %d: %s", code, stderr)
	}
	if code, _, stderr := quickAudit(t, targets, unsigned, "--format", "csv"); code != exitIncomplete {
		t.Fatalf("unsigned run: exit %d: %s", code, stderr)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		want     string
		notWant  string
		inStderr bool
	}{
		{"signed, checked", []string{signed, "--pub-key", pub}, 0, "signature valid", "", false},
		{"signed, no key", []string{signed}, exitFindings, "signature present", "all files match", true},
		{"unsigned", []string{unsigned}, 0, "UNSIGNED: hashes only", "", false},
		{"unsigned, required", []string{unsigned, "--require-signature"}, exitFindings, "UNSIGNED, and --require-signature", "", true},
		{"unsigned, key given", []string{unsigned, "--pub-key", pub}, exitFindings, "not signed", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, t.Context(), nil, append([]string{"verify"}, tt.args...)...)
			text := stdout
			if tt.inStderr {
				text = stderr
			}
			if code != tt.code || !strings.Contains(text, tt.want) || (tt.notWant != "" && strings.Contains(stdout+stderr, tt.notWant)) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, tt.code, stdout, stderr, tt.want)
			}
		})
	}
}

// TestBadGlobalFlags: unknown log levels and formats are usage errors, and
// a usage error leaves no empty --out behind.
func TestBadGlobalFlags(t *testing.T) {
	targets := closedTarget(t)
	bin := filepath.Join(t.TempDir(), "garbage")
	junk := make([]byte, 4096)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	os.WriteFile(bin, junk, 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"log level", []string{"--log-level", "bogus"}, "--log-level must be"},
		{"log format", []string{"--log-format", "xml"}, "--log-format must be"},
		{"binary targets", []string{"--targets", bin}, "not a text file"},
		{"ca-cert not PEM", []string{"--ca-cert", bin}, bin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"audit", "--targets", targets, "--user", "a", "--out", out}, tt.args...)
			code, _, stderr := cli(t, t.Context(), quickEnv, args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) || len(stderr) > 2000 {
				t.Errorf("exit %d, want 2 mentioning %q (in under 2,000 bytes): %s", code, tt.want, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a usage error left --out behind")
			}
		})
	}
}

// TestAuditMaxAuthFailures: after N consecutive hosts refuse the
// credentials no further host is started; the rest are interrupted with the
// reason, the result is written, and the exit status is 3.
func TestAuditMaxAuthFailures(t *testing.T) {
	_, dir, targets, ca := specFleet(t, "seed: 4\nhosts: 8\nprofiles:\n  - name: domain-laptop\n    share: 1\n", "the-right-one")
	out := filepath.Join(dir, "out")
	code, stdout, stderr := cli(t, t.Context(), map[string]string{"BITAUDIT_PASSWORD": "a-wrong-one"}, "audit", "--targets", targets,
		"--user", "auditor", "--ca-cert", ca, "--out", out, "--concurrency", "1", "--max-auth-failures", "3", "--format", "json")
	if code != exitIncomplete || !strings.Contains(stderr, "3 consecutive hosts refused the credentials") {
		t.Fatalf("exit %d, want 3 naming the stop\n%s\n%s", code, stdout, stderr)
	}
	r := readResult(t, out)
	byStatus := map[model.Status]int{}
	for _, h := range r.Hosts {
		byStatus[h.Status]++
		if h.Status == model.StatusInterrupted && !strings.Contains(h.Reason, "--max-auth-failures 3") {
			t.Errorf("%s: reason %q does not name --max-auth-failures", h.Target, h.Reason)
		}
	}
	if len(r.Hosts) != 8 || byStatus[model.StatusAuthFailed] != 3 || byStatus[model.StatusInterrupted] != 5 {
		t.Errorf("%d hosts, by status %v; want 3 auth_failed then 5 interrupted", len(r.Hosts), byStatus)
	}
	if !r.Run.Interrupted || !strings.Contains(r.Run.StopReason, "refused the credentials") {
		t.Errorf("run: interrupted=%v stop_reason=%q", r.Run.Interrupted, r.Run.StopReason)
	}
}

// TestAuditSecondInterrupt: the first interrupt says how many hosts are
// finishing; the second stops them at once (the grace period would be
// seconds), and every target is still in the written result.
func TestAuditSecondInterrupt(t *testing.T) {
	_, dir, targets, ca := specFleet(t, "seed: 3\nhosts: 6\nprofiles:\n  - name: domain-laptop\n    share: 1\nfaults:\n  - kind: hung\n    count: 6\n", "pw")
	ctx, cancel := context.WithCancel(t.Context())
	abort := make(chan struct{})
	time.AfterFunc(2*time.Second, func() { cancel(); time.Sleep(100 * time.Millisecond); close(abort) })
	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "out")
	code := run(ctx, []string{"audit", "--targets", targets, "--user", "auditor", "--ca-cert", ca, "--out", out,
		"--concurrency", "2", "--host-timeout", "5m", "--format", "json"},
		streams{In: strings.NewReader(""), Out: &stdout, Err: &stderr, Abort: abort}, func(k string) string { return map[string]string{"BITAUDIT_PASSWORD": "pw"}[k] })
	if code != exitInterrupted {
		t.Fatalf("exit %d, want 130\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "finishing 2 running hosts (Ctrl-C again to stop now)") {
		t.Errorf("no notice of the running hosts on the first interrupt:\n%s", stderr.String())
	}
	r := readResult(t, out)
	if len(r.Hosts) != 6 {
		t.Fatalf("%d hosts in the result, want 6", len(r.Hosts))
	}
	for _, h := range r.Hosts {
		if h.Status != model.StatusInterrupted {
			t.Errorf("%s: %s (%s), want interrupted", h.Target, h.Status, h.Reason)
		}
	}
}

// TestDuplicateTargetsSummarised: thousands of repeated lines give one
// warning line with the count, and the result counts them.
func TestDuplicateTargetsSummarised(t *testing.T) {
	targets := closedTarget(t)
	b, _ := os.ReadFile(targets)
	os.WriteFile(targets, bytes.Repeat(b, 5000), 0o600)
	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr := cli(t, t.Context(), quickEnv, "audit", "--targets", targets, "--user", "a", "--out", out, "--format", "json")
	if code != exitIncomplete {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := strings.Count(stderr, "duplicate"); n != 1 || !strings.Contains(stderr, "4,999 duplicate target lines audited once") && !strings.Contains(stderr, "4999 duplicate target lines audited once") {
		t.Errorf("%d lines mention duplicates; want one with the count:\n%.2000s", n, stderr)
	}
	r := readResult(t, out)
	if r.Run.DuplicateLines != 4999 || len(r.Run.Duplicates) != model.MaxDuplicatesListed || len(r.Hosts) != 1 {
		t.Errorf("duplicate_lines %d, %d listed, %d hosts", r.Run.DuplicateLines, len(r.Run.Duplicates), len(r.Hosts))
	}
}

// TestStartFreeFleetAvoidsTakenAddresses: a second fleet while the first
// holds the default addresses starts elsewhere; an explicit base is kept.
func TestStartFreeFleetAvoidsTakenAddresses(t *testing.T) {
	spec := simulator.DefaultSpec(25, 2)
	first, err := startFreeFleet(t.Context(), spec, simulator.Options{Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := startFreeFleet(t.Context(), spec, simulator.Options{Password: "pw"})
	if err != nil {
		t.Fatalf("second fleet: %v", err)
	}
	defer second.Close()
	if first.Targets()[0] == second.Targets()[0] {
		t.Fatalf("both fleets on %s", first.Targets()[0])
	}
	at, _ := netip.ParseAddrPort(first.Hosts()[0].Address)
	if _, err := startFreeFleet(t.Context(), spec, simulator.Options{Password: "pw", ListenBase: at.Addr()}); err == nil || !strings.Contains(err.Error(), "another fleet") {
		t.Errorf("explicit taken base: %v, want the collision reported", err)
	}
}

// TestTransportMixUp: plain HTTP against an HTTPS listener and HTTPS
// against a plain HTTP one each get a reason naming the likely mix-up.
func TestTransportMixUp(t *testing.T) {
	spec, err := simulator.LoadSpec(strings.NewReader("seed: 6\nhosts: 1\nprofiles:\n  - name: domain-laptop\n    share: 1\n"), "spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		tls       bool
		transport string
		want      string
	}{
		{true, "http", "the port likely expects HTTPS"},
		{false, "https", "the port does not speak HTTPS"},
	} {
		t.Run(tt.transport, func(t *testing.T) {
			fleet, err := startFreeFleet(t.Context(), spec, simulator.Options{TLS: tt.tls, Auth: "ntlm", User: "auditor", Password: "pw"})
			if err != nil {
				t.Fatal(err)
			}
			defer fleet.Close()
			dir := t.TempDir()
			targets := filepath.Join(dir, "t.txt")
			os.WriteFile(targets, []byte(strings.Join(fleet.Targets(), "\n")), 0o600)
			out := filepath.Join(dir, "out")
			code, _, stderr := cli(t, t.Context(), map[string]string{"BITAUDIT_PASSWORD": "pw"}, "audit", "--targets", targets, "--user", "auditor",
				"--transport", tt.transport, "--out", out, "--format", "json", "--insecure-skip-verify")
			if code != exitIncomplete {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if h := readResult(t, out).Hosts[0]; h.Status != model.StatusProtocolError || !strings.Contains(h.Reason, tt.want) {
				t.Errorf("%s (%s), want a protocol error saying %q", h.Status, h.Reason, tt.want)
			}
		})
	}
}

// TestPolicyValidateWarnsExpiredWaiver: a policy with an expired waiver is
// valid, with a warning naming it.
func TestPolicyValidateWarnsExpiredWaiver(t *testing.T) {
	p := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(p, []byte("waivers:\n  - {id: W-OLD, hosts: \"*\", rules: [volume.not-encrypted], reason: r, owner: o@example.test, expires: 2020-01-01}\n"), 0o600)
	code, stdout, stderr := cli(t, t.Context(), nil, "policy", "validate", p)
	if code != 0 || !strings.Contains(stdout, "valid") || !strings.Contains(stderr, "warning: waiver W-OLD expired on 2020-01-01") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

// TestPasswordFileReadableByOthers warns (Unix permissions only).
func TestPasswordFileReadableByOthers(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("secret-pw\n"), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	_, _, stderr := cli(t, t.Context(), nil, "audit", "--targets", closedTarget(t), "--user", "a", "--password-file", pw, "--out", out, "--format", "json")
	if !strings.Contains(stderr, "--password-file is readable by others") || strings.Contains(stderr, "secret-pw") {
		t.Errorf("stderr: %s", stderr)
	}
	os.Chmod(pw, 0o600)
	_, _, stderr = cli(t, t.Context(), nil, "audit", "--targets", closedTarget(t), "--user", "a", "--password-file", pw, "--out", filepath.Join(t.TempDir(), "o"), "--format", "json")
	if strings.Contains(stderr, "readable by others") {
		t.Errorf("warned about a 0600 file: %s", stderr)
	}
}

// TestAuditRefusesBidiName: a host whose computer name carries a
// right-to-left override (simulator profile bidi-name) is a protocol error,
// as the simulator's own expectation says (the decoder refuses the name;
// model.CheckText refuses such text in every other field), and the
// override is in no report.
func TestAuditRefusesBidiName(t *testing.T) {
	fleet, dir, targets, ca := specFleet(t, "seed: 8\nhosts: 2\nprofiles:\n  - name: bidi-name\n    share: 1\n", "pw")
	out := filepath.Join(dir, "out")
	code, _, stderr := cli(t, t.Context(), map[string]string{"BITAUDIT_PASSWORD": "pw"}, "audit", "--targets", targets, "--user", "auditor",
		"--ca-cert", ca, "--out", out, "--format", "all")
	if code != exitIncomplete {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for i, h := range readResult(t, out).Hosts {
		want := fleet.Hosts()[i].Expect.Status
		if string(h.Status) != string(want) || h.Facts != nil {
			t.Errorf("%s: %s (%s), the simulator expects %s and no facts kept", h.Target, h.Status, h.Reason, want)
		}
	}
	for _, name := range []string{"result.json", "report.csv", "report.pdf", "report.xlsx"} {
		b, _ := os.ReadFile(filepath.Join(out, name))
		if bytes.Contains(b, []byte("\u202e")) {
			t.Errorf("%s holds the override character", name)
		}
	}
}
