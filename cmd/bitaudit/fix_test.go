package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/bitaudit/bitaudit/audit"
	"github.com/bitaudit/bitaudit/collectors/escrow"
	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator"
	"github.com/bitaudit/bitaudit/simulator/windows"
)

const fixPassword = "Fix-Passw0rd!"

// fixSpec is a fleet with every kind of host a fix pass meets.
func fixSpec(extra ...simulator.ProfileMix) *simulator.Spec {
	n := func(name string, c int) simulator.ProfileMix { return simulator.ProfileMix{Name: name, Count: &c} }
	mix := []simulator.ProfileMix{
		n("domain-laptop", 2), n("entra-laptop", 1), n("hybrid-laptop", 1), n("workgroup", 1),
		n("never-escrowed", 3), n("escrow-lost", 3), n("stale-escrow", 1), n("two-passwords", 1), n("tpm-only", 1),
		n("inject-protector", 1), n("inject-mountpoint", 1), n("drop-mid-action", 1),
		n("gpo-forbids-ad-backup", 1), n("entra-backup-fails", 1),
	}
	total := 0
	for _, m := range append(mix, extra...) {
		total += *m.Count
	}
	return &simulator.Spec{Seed: 13, Hosts: total, Profiles: append(mix, extra...)}
}

type fixFleet struct {
	fleet           *simulator.Fleet
	targets, ca     string
	escrow          string
	args            []string
	env             map[string]string
	byTarget        map[string]*simulator.Host
	collectCommands map[string]int
}

// startFixFleet starts spec with its AD, Entra ID and key store, and writes
// a targets CSV with the identity columns an operator's inventory gives.
func startFixFleet(t *testing.T, spec *simulator.Spec, base string) *fixFleet {
	t.Helper()
	// A free port, so concurrent runs of the suite on one machine do not collide.
	ln, err := net.Listen("tcp", base+":0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	fleet, err := simulator.Start(t.Context(), spec, simulator.Options{
		TLS: true, Auth: "ntlm", User: "auditor", Password: fixPassword, ListenBase: netip.MustParseAddr(base), Port: port,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Close() })
	dir := t.TempDir()
	ff := &fixFleet{fleet: fleet, targets: filepath.Join(dir, "targets.csv"), ca: filepath.Join(dir, "ca.pem"),
		env: map[string]string{"BITAUDIT_PASSWORD": fixPassword}, byTarget: map[string]*simulator.Host{}}
	if err := writeFleetFiles(fleet, ff.targets, ff.ca); err != nil {
		t.Fatal(err)
	}
	for _, h := range fleet.Hosts() {
		ff.byTarget[h.Address] = h
	}
	if ff.escrow, err = startDemoSources(t.Context(), fleet, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	ff.args = []string{"audit", "--targets", ff.targets, "--user", "auditor", "--ca-cert", ff.ca, "--escrow-config", ff.escrow,
		"--host-timeout", "15s", "--format", "json", "--log-level", "warn"}
	return ff
}

func (ff *fixFleet) audit(t *testing.T, out string, extra ...string) (int, string, string) {
	t.Helper()
	return cli(t, t.Context(), ff.env, append(append(append([]string{}, ff.args...), "--out", out), extra...)...)
}

// state digests every machine's BitLocker state, escrow truth and events.
func (ff *fixFleet) state(t *testing.T) string {
	t.Helper()
	h := sha256.New()
	for _, sh := range ff.fleet.Hosts() {
		m := sh.Machine
		m.Mu.Lock()
		b, err := json.Marshal([]any{m.Volumes, m.Escrow, m.Events, m.FVEPolicy})
		m.Mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// commands returns how many distinct command lines each host received.
func (ff *fixFleet) commands() map[string]int {
	out := map[string]int{}
	for _, sh := range ff.fleet.Hosts() {
		sh.Machine.Mu.Lock()
		out[sh.Address] = len(sh.Machine.Received)
		sh.Machine.Mu.Unlock()
	}
	return out
}

func escrowFindings(r *model.Result) int {
	n := 0
	for _, h := range r.Hosts {
		for _, f := range h.Findings {
			if !f.Waived() && strings.HasPrefix(f.RuleID, "escrow.") {
				n++
			}
		}
	}
	return n
}

func journalIntents(t *testing.T, dir string) []audit.JournalRecord {
	t.Helper()
	recs, torn, err := audit.ReadJournal(filepath.Join(dir, audit.JournalName))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil || torn {
		t.Fatalf("journal: %v (torn %v)", err, torn)
	}
	var out []audit.JournalRecord
	for _, r := range recs {
		if r.Record == audit.RecordIntent {
			out = append(out, r)
		}
	}
	return out
}

// TestFixEndToEnd: audit, plan (nothing changes), apply, re-audit (the
// escrow findings are gone and verified at the source, every host at the
// simulator's status after a fix), hostile values refused with no command
// sent, and a second apply plans nothing.
func TestFixEndToEnd(t *testing.T) {
	ff := startFixFleet(t, fixSpec(), "127.0.62.1")
	root := t.TempDir()
	dir := func(name string) string { return filepath.Join(root, name) }

	code, stdout, stderr := ff.audit(t, dir("before"))
	if code != exitFindings {
		t.Fatalf("audit: exit %d\n%s\n%s", code, stdout, stderr)
	}
	before := readResult(t, dir("before"))
	f0 := escrowFindings(before)
	collectOnly := ff.commands()

	// --fix alone: a plan, nothing changed, no journal.
	state := ff.state(t)
	code, stdout, stderr = ff.audit(t, dir("plan"), "--fix")
	if code != exitFindings {
		t.Fatalf("--fix: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if got := ff.state(t); got != state {
		t.Fatal("--fix without --yes changed the fleet")
	}
	if _, err := os.Stat(filepath.Join(dir("plan"), audit.JournalName)); !os.IsNotExist(err) {
		t.Errorf("--fix without --yes wrote a journal: %v", err)
	}
	if !strings.Contains(stdout, "Fix plan (not applied)") || !strings.Contains(stdout, "Nothing changed") {
		t.Errorf("plan output:\n%s", stdout)
	}
	plan := readResult(t, dir("plan"))
	planned := 0
	for _, e := range plan.Remediation {
		if e.Outcome == audit.OutcomePlanned {
			planned++
		}
	}
	if planned == 0 {
		t.Fatalf("empty plan:\n%s", stdout)
	}
	if n := len(ff.commands()); n != len(collectOnly) {
		t.Fatal("host count changed")
	}
	for target, n := range ff.commands() {
		if n != collectOnly[target] {
			t.Errorf("%s (%s): received a new command during --fix without --yes", target, ff.byTarget[target].Profile)
		}
	}

	// --max-changes below the plan: refused, nothing changed.
	code, _, stderr = ff.audit(t, dir("toomany"), "--fix", "--yes", "--max-changes", "1")
	if code != exitUsage || !strings.Contains(stderr, "over --max-changes 1") {
		t.Errorf("--max-changes 1: exit %d, %s", code, stderr)
	}
	if ff.state(t) != state {
		t.Fatal("a plan over --max-changes changed the fleet")
	}

	// Apply.
	code, stdout, stderr = ff.audit(t, dir("apply"), "--fix", "--yes")
	if code != exitFindings {
		t.Fatalf("--fix --yes: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("apply:\n%s", stdout)
	applied := readResult(t, dir("apply"))
	intents := journalIntents(t, dir("apply"))
	if len(intents) != planned {
		t.Errorf("journal has %d intents, plan had %d actions", len(intents), planned)
	}
	outcomes := map[string]int{}
	for _, e := range applied.Remediation {
		outcomes[e.Outcome]++
		if e.Outcome == audit.OutcomeFixed && !e.Verified {
			t.Errorf("%s: fixed but not verified", e.Target)
		}
	}
	if outcomes[audit.OutcomeFixed] == 0 || outcomes[audit.OutcomeFailed] == 0 {
		t.Errorf("outcomes %v: want fixed and failed actions", outcomes)
	}

	// Re-audit: statuses as the simulator expects after a fix.
	code, stdout, stderr = ff.audit(t, dir("after"))
	if code != exitFindings {
		t.Fatalf("re-audit: exit %d\n%s\n%s", code, stdout, stderr)
	}
	after := readResult(t, dir("after"))
	if f2 := escrowFindings(after); f2 >= f0 {
		t.Errorf("escrow findings %d before, %d after the fix", f0, f2)
	}
	for _, res := range [](*model.Result){applied, after} {
		for _, h := range res.Hosts {
			sh := ff.byTarget[h.Target]
			if string(h.Status) != sh.Expect.StatusAfterFix {
				t.Errorf("%s (%s): status %s after the fix (%s), want %s", h.Target, sh.Profile, h.Status, h.Reason, sh.Expect.StatusAfterFix)
			}
		}
	}
	// Hostile hosts got nothing but the collection script.
	for target, n := range ff.commands() {
		if p := ff.byTarget[target].Profile; strings.HasPrefix(p, "inject-") && n != 1 {
			t.Errorf("%s (%s): %d distinct commands received, want only the collection script", target, p, n)
		}
	}

	// A second apply plans nothing.
	code, stdout, stderr = ff.audit(t, dir("again"), "--fix", "--yes")
	if code != exitFindings {
		t.Fatalf("second apply: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := len(journalIntents(t, dir("again"))); n != 0 {
		t.Errorf("a second apply journalled %d actions\n%s", n, stdout)
	}
	if !strings.Contains(stdout, "Fix plan: 0 actions") {
		t.Errorf("second apply output:\n%s", stdout)
	}

	// No key material anywhere.
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if recoveryPasswordShape.Match(b) {
			t.Errorf("%s holds a recovery-password-shaped string", p)
		}
		return nil
	})
}

// TestFixExportsToExternalStore: where the policy names age recipients, a
// workgroup host's missing key is read over the protected channel,
// encrypted to them and written into the host's own folder of the store,
// where the re-audit verifies it; nothing on disk or in any output holds
// the clear password.
func TestFixExportsToExternalStore(t *testing.T) {
	one, two := 1, 2
	ff := startFixFleet(t, &simulator.Spec{Seed: 4, Hosts: 3, Profiles: []simulator.ProfileMix{
		{Name: "workgroup", Count: &two}, {Name: "domain-laptop", Count: &one}}}, "127.0.65.1")
	f, err := os.Open(ff.escrow)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := escrow.LoadConfig(f, ff.escrow)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	store := cfg.External.Dir
	// One workgroup host lost its key file.
	var victim *simulator.Host
	for _, h := range ff.fleet.Hosts() {
		if h.Profile == "workgroup" {
			victim = h
			break
		}
	}
	m := victim.Machine
	folder := filepath.Join(store, m.ComputerName)
	files, _ := filepath.Glob(filepath.Join(folder, "BitLocker Recovery Key *.TXT"))
	if len(files) != 1 {
		t.Fatalf("key files of %s: %v", m.ComputerName, files)
	}
	os.Remove(files[0])
	var rp *windows.Protector
	for _, p := range m.Volumes[0].Protectors {
		if p.Type == 3 {
			rp = p
		}
	}

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(policy, []byte("remediation:\n  external_recipients: ["+id.Recipient().String()+"]\n"), 0o600)
	root := t.TempDir()
	out := filepath.Join(root, "apply")

	// Without recipients the plan skips it.
	code, stdout, _ := ff.audit(t, filepath.Join(root, "plan"), "--fix")
	if code != exitFindings || !strings.Contains(stdout, "no age recipients") {
		t.Fatalf("plan without recipients: exit %d\n%s", code, stdout)
	}
	code, stdout, stderr := ff.audit(t, out, "--fix", "--yes", "--policy", policy, "--log-level", "debug")
	if code != exitOK {
		t.Fatalf("--fix --yes: exit %d\n%s\n%s", code, stdout, stderr)
	}
	r := readResult(t, out)
	for _, h := range r.Hosts {
		if h.Status != model.StatusCompliant {
			t.Errorf("%s: %s (%s)", h.Target, h.Status, h.Reason)
		}
	}
	fixed := 0
	for _, e := range r.Remediation {
		if e.Outcome == audit.OutcomeFixed && e.Location == model.LocationExternal {
			fixed++
		}
	}
	if fixed != 1 {
		t.Errorf("remediation %+v: want one export fixed", r.Remediation)
	}
	name := filepath.Join(folder, rp.ID+".age")
	sealed, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := age.Decrypt(bytes.NewReader(sealed), id)
	if err != nil {
		t.Fatal(err)
	}
	clear, _ := io.ReadAll(rd)
	if string(clear) != rp.RecoveryPassword {
		t.Error("the export does not decrypt to the host's recovery password") // never print it
	}
	for _, s := range []string{stdout, stderr} {
		if recoveryPasswordShape.MatchString(s) {
			t.Error("recovery-password-shaped text in the CLI's output")
		}
	}
	for _, dir := range []string{root, store} {
		filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			b, _ := os.ReadFile(p)
			if recoveryPasswordShape.Match(b) || bytes.Contains(b, []byte(rp.RecoveryPassword)) {
				t.Errorf("%s holds the clear recovery password", p)
			}
			return nil
		})
	}
}

// TestFixAddsRecoveryPassword: where the policy allows it, a volume without
// a recovery password gets exactly one, which is then backed up and
// verified; where no accepted location could take its backup, none is added.
func TestFixAddsRecoveryPassword(t *testing.T) {
	two := 2
	ff := startFixFleet(t, &simulator.Spec{Seed: 6, Hosts: 2, Profiles: []simulator.ProfileMix{{Name: "tpm-only", Count: &two}}}, "127.0.66.101")
	hosts := ff.fleet.Hosts()
	withGPO, without := hosts[0], hosts[1]
	withGPO.Machine.Mu.Lock()
	withGPO.Machine.FVEPolicy = map[string]any{"OSActiveDirectoryBackup": uint32(1), "OSRequireActiveDirectoryBackup": uint32(1)}
	withGPO.Machine.Mu.Unlock()
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(policy, []byte("remediation:\n  add_recovery_password: true\n"), 0o600)
	out := filepath.Join(t.TempDir(), "apply")
	code, stdout, stderr := ff.audit(t, out, "--fix", "--yes", "--policy", policy)
	if code != exitFindings {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	r := readResult(t, out)
	status := map[string]model.Status{}
	for _, h := range r.Hosts {
		status[h.Target] = h.Status
	}
	if status[withGPO.Address] != model.StatusCompliant || status[without.Address] != model.StatusNoncompliant {
		t.Errorf("statuses %v\n%s", status, stdout)
	}
	count := func(h *simulator.Host) int {
		h.Machine.Mu.Lock()
		defer h.Machine.Mu.Unlock()
		n := 0
		for _, p := range h.Machine.Volumes[0].Protectors {
			if p.Type == 3 {
				n++
			}
		}
		return n
	}
	if count(withGPO) != 1 || count(without) != 0 {
		t.Errorf("recovery passwords: %d with the GPO (want 1), %d without (want 0)", count(withGPO), count(without))
	}
	if !strings.Contains(stdout, "no accepted location could hold the new recovery password's backup") {
		t.Errorf("plan output:\n%s", stdout)
	}
	kinds := map[string]string{}
	for _, e := range r.Remediation {
		kinds[e.Action+" "+e.Target] = e.Outcome
	}
	if kinds["add-recovery-password "+withGPO.Address] != audit.OutcomeFixed || kinds["backup "+withGPO.Address] != audit.OutcomeFixed {
		t.Errorf("remediation: %v", kinds)
	}
	// A second run adds nothing more.
	code, stdout, _ = ff.audit(t, filepath.Join(t.TempDir(), "again"), "--fix", "--yes", "--policy", policy)
	if code != exitFindings || count(withGPO) != 1 || !strings.Contains(stdout, "Fix plan: 0 actions") {
		t.Errorf("second run: exit %d, %d recovery passwords\n%s", code, count(withGPO), stdout)
	}
}
