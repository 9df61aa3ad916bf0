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

// directoryFleet starts the default mix (with its directory-only
// computers) and its escrow sources; it returns the fleet, the escrow
// config, the hosts file and the CA file.
func directoryFleet(t *testing.T, hosts int, seed int64, password string) (*simulator.Fleet, string, string, string) {
	t.Helper()
	fleet, err := simulator.Start(t.Context(), simulator.DefaultSpec(hosts, seed), simulator.Options{
		TLS: true, Auth: "ntlm", User: "auditor", Password: password, ListenBase: netip.MustParseAddr("127.0.64.1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Close() })
	dir := t.TempDir()
	escrowCfg, err := startDemoSources(t.Context(), fleet, dir)
	if err != nil {
		t.Fatal(err)
	}
	hostsFile, ca := filepath.Join(dir, "hosts"), filepath.Join(dir, "ca.pem")
	if err := writeFileWith(hostsFile, 0o644, fleet.WriteHostsFile); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, fleet.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return fleet, escrowCfg, hostsFile, ca
}

// simComputer is the simulator's own record of one directory computer.
type simComputer struct {
	host    *simulator.Host
	fqdn    string
	account string
	hasKey  bool
}

// simDirectory lists what the simulated AD holds, from the simulator's
// machines (the oracle), by FQDN: each machine's directory account, and
// the keys filed under each computer object and device, whichever machine
// they came from.
func simDirectory(fleet *simulator.Fleet) map[string]simComputer {
	all := slices.Concat(fleet.Hosts(), fleet.Directory())
	keys := map[string]int{} // upper-case computer name or lower-case deviceId -> keys there
	for _, h := range all {
		m := h.Machine
		a := m.Identity()
		for _, k := range m.Escrow.AD {
			obj := a.ComputerName
			if k.DeviceObject != "" {
				obj = k.DeviceObject
			}
			keys[strings.ToUpper(obj)]++
		}
		for _, k := range m.Escrow.Entra {
			if k.DeviceObject == "" && a.AzureAdJoined {
				keys[strings.ToLower(a.DeviceID)]++
			}
		}
	}
	out := map[string]simComputer{}
	for _, h := range all {
		m := h.Machine
		a := m.Identity()
		if !a.DomainJoined {
			continue
		}
		domain := a.DNSDomain
		if domain == "" {
			domain = m.DNSDomain
		}
		c := simComputer{host: h, fqdn: strings.ToLower(a.ComputerName) + "." + domain, account: model.ComputerEnabled,
			hasKey: keys[strings.ToUpper(a.ComputerName)] > 0 || a.AzureAdJoined && keys[strings.ToLower(a.DeviceID)] > 0}
		switch {
		case m.Record.Disabled:
			c.account = model.ComputerDisabled
		case h.Directory == simulator.DirectoryStale:
			c.account = model.ComputerStale
		}
		out[c.fqdn] = c
	}
	return out
}

// readRows reads a CSV file as one map per row, keyed by the header.
func readRows(t *testing.T, path string) []map[string]string {
	t.Helper()
	rows := readCSV(t, path)
	var out []map[string]string
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, k := range rows[0] {
			m[k] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func TestInventoryAndTargetsFrom(t *testing.T) {
	const password = "Inv-Passw0rd!"
	fleet, escrowCfg, hostsFile, ca := directoryFleet(t, 40, 23, password)
	want := simDirectory(fleet)
	env := map[string]string{"BITAUDIT_PASSWORD": password}

	// inventory lists exactly the simulator's enabled, active AD computers.
	inv := filepath.Join(t.TempDir(), "inventory.csv")
	code, stdout, stderr := cli(t, t.Context(), env, "inventory", "--escrow-config", escrowCfg, "--out", inv, "--log-level", "warn")
	if code != 0 {
		t.Fatalf("inventory exit %d\n%s\n%s", code, stdout, stderr)
	}
	rows := readRows(t, inv)
	got := map[string]bool{}
	for _, r := range rows {
		got[r["host"]] = true
		c, ok := want[r["host"]]
		switch {
		case !ok:
			t.Errorf("inventory lists %s, which the simulated directory does not hold", r["host"])
		case c.account != model.ComputerEnabled:
			t.Errorf("inventory lists %s, a %s account", r["host"], c.account)
		case r["fqdn"] != r["host"] || !strings.HasPrefix(r["ad_dn"], "CN=") || r["ou"] == "" || r["os"] == "" || r["last_logon"] == "":
			t.Errorf("row %v lacks identity columns or labels", r)
		case c.host.Machine.Join.AzureAdJoined && r["entra_device_id"] != "":
			t.Errorf("%s: entra_device_id %q without --entra", r["host"], r["entra_device_id"])
		}
	}
	excluded := map[string]string{}
	for _, r := range readRows(t, strings.TrimSuffix(inv, ".csv")+".excluded.csv") {
		excluded[r["host"]] = r["account"]
	}
	for fqdn, c := range want {
		if c.account == model.ComputerEnabled && !got[fqdn] {
			t.Errorf("inventory misses %s (%s)", fqdn, c.host.Profile)
		}
		if c.account != model.ComputerEnabled && excluded[fqdn] != c.account {
			t.Errorf("%s: excluded as %q, want %s", fqdn, excluded[fqdn], c.account)
		}
	}
	if len(fleet.Directory()) == 0 || len(rows) <= len(fleet.Hosts())*3/4 {
		t.Fatalf("inventory lists %d computers for %d hosts and %d directory-only computers", len(rows), len(fleet.Hosts()), len(fleet.Directory()))
	}

	// With --entra, hybrid devices carry their deviceId and Entra-only devices are listed by name.
	invE := filepath.Join(t.TempDir(), "inventory.csv")
	if code, stdout, stderr := cli(t, t.Context(), env, "inventory", "--escrow-config", escrowCfg, "--entra", "--out", invE, "--log-level", "warn"); code != 0 {
		t.Fatalf("inventory --entra exit %d\n%s\n%s", code, stdout, stderr)
	}
	byHost := map[string]map[string]string{}
	for _, r := range readRows(t, invE) {
		byHost[r["host"]] = r
	}
	for _, h := range slices.Concat(fleet.Hosts(), fleet.Directory()) {
		m := h.Machine
		a := m.Identity()
		if !a.AzureAdJoined || m.Record.Disabled || h.Directory == simulator.DirectoryStale {
			continue
		}
		key := strings.ToLower(a.ComputerName) + "." + m.DNSDomain
		if !a.DomainJoined {
			key = a.ComputerName
		}
		if r := byHost[key]; r == nil || r["entra_device_id"] != a.DeviceID {
			t.Errorf("inventory --entra: %s has row %v, want entra_device_id %s", key, r, a.DeviceID)
		}
	}

	// audit --targets-from ad audits every in-scope AD computer once, as the simulator expects.
	out := t.TempDir()
	code, stdout, stderr = cli(t, t.Context(), env, "audit", "--targets-from", "ad", "--resolve-file", hostsFile, "--user", "auditor",
		"--ca-cert", ca, "--escrow-config", escrowCfg, "--out", out, "--host-timeout", "8s", "--format", "json", "--log-level", "warn")
	if code != exitFindings {
		t.Fatalf("audit --targets-from ad: exit %d\n%s\n%s", code, stdout, stderr)
	}
	r := readResult(t, out)
	seen := map[string]bool{}
	for _, h := range r.Hosts {
		if seen[h.Target] {
			t.Errorf("%s audited twice", h.Target)
		}
		seen[h.Target] = true
		c, ok := want[h.Target]
		if !ok {
			t.Errorf("audited %s, not an AD computer", h.Target)
			continue
		}
		if string(h.Status) != c.host.Expect.Status {
			t.Errorf("%s (%s, %s): status %s (%s), want %s", h.Target, c.host.Profile, c.host.Directory, h.Status, h.Reason, c.host.Expect.Status)
		}
	}
	if len(r.Hosts) != len(rows) {
		t.Errorf("audited %d hosts, inventory lists %d", len(r.Hosts), len(rows))
	}

	// --targets and --targets-from together: the union, each computer once,
	// whether the file names it by DNS name or by address and ad_dn.
	var other *simulator.Host // a host AD does not know
	for _, h := range fleet.Hosts() {
		if !h.Machine.Identity().DomainJoined && len(h.Faults) == 0 {
			other = h
		}
	}
	if other == nil {
		t.Fatal("the fleet has no host outside AD")
	}
	first, second := rows[0], rows[1]
	both := filepath.Join(t.TempDir(), "targets.csv")
	ip := strings.Split(other.Address, ":")[0]
	csvText := "host,fqdn,ad_dn\n" + first["host"] + ",,\n" + second["host"] + ",," + "\n" + ip + ",,\n" +
		"\"" + first["host"] + "\"," + first["fqdn"] + ",\"" + first["ad_dn"] + "\"\n"
	if err := os.WriteFile(both, []byte(csvText), 0o644); err != nil {
		t.Fatal(err)
	}
	outU := t.TempDir()
	code, stdout, stderr = cli(t, t.Context(), env, "audit", "--targets", both, "--targets-from", "ad", "--resolve-file", hostsFile, "--user", "auditor",
		"--ca-cert", ca, "--escrow-config", escrowCfg, "--out", outU, "--host-timeout", "8s", "--format", "json", "--log-level", "warn")
	if code != exitFindings {
		t.Fatalf("audit --targets --targets-from ad: exit %d\n%s\n%s", code, stdout, stderr)
	}
	ru := readResult(t, outU)
	if len(ru.Hosts) != len(rows)+1 {
		t.Errorf("union audited %d hosts, want the %d directory computers and the one outside AD", len(ru.Hosts), len(rows))
	}
	names := map[string]int{}
	for _, h := range ru.Hosts {
		names[strings.Split(h.Target, ":")[0]]++
	}
	for k, n := range names {
		if n > 1 {
			t.Errorf("%s audited %d times", k, n)
		}
	}

	c := r.Coverage
	if c == nil || c.MatchedByClaim != 0 || c.NotInDirectory != 0 {
		t.Fatalf("coverage after --targets-from ad: %+v", c)
	}
	for _, e := range c.Computers {
		if e.Reason == model.NotInTargets && e.ADDN != "" {
			t.Errorf("%s is in AD but not audited by --targets-from ad", e.Name)
		}
	}
}

// TestCoverageOfPartialTargets audits half the directory's computers and
// checks that the other half is reported once each under coverage, with
// the census the simulator's escrow truth implies.
func TestCoverageOfPartialTargets(t *testing.T) {
	const password = "Cov-Passw0rd!"
	fleet, escrowCfg, hostsFile, ca := directoryFleet(t, 30, 29, password)
	want := simDirectory(fleet)
	var listed []string
	for fqdn, c := range want {
		if c.account == model.ComputerEnabled && c.host.Directory == "" && len(listed) < 12 {
			listed = append(listed, fqdn)
		}
	}
	targets := filepath.Join(t.TempDir(), "targets.csv")
	if err := os.WriteFile(targets, []byte("host,fqdn\n"+strings.Join(mapFQDN(listed), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	code, stdout, stderr := cli(t, t.Context(), map[string]string{"BITAUDIT_PASSWORD": password}, "audit", "--targets", targets,
		"--resolve-file", hostsFile, "--user", "auditor", "--ca-cert", ca, "--escrow-config", escrowCfg, "--out", out,
		"--host-timeout", "8s", "--format", "json,xlsx,pdf", "--log-level", "warn")
	if code != exitFindings {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	c := readResult(t, out).Coverage
	if c == nil {
		t.Fatal("no coverage section")
	}
	entries := map[string]model.CoverageEntry{}
	entraOnly := 0
	for _, e := range c.Computers {
		if e.ADDN == "" { // Entra-only devices: the escrow config names Entra ID too
			if e.Reason == model.NotInTargets {
				entraOnly++
			}
			continue
		}
		if _, dup := entries[e.FQDN]; dup {
			t.Errorf("%s listed twice", e.FQDN)
		}
		entries[e.FQDN] = e
	}
	notListed, noKey := 0, 0
	for fqdn, sc := range want {
		e, ok := entries[fqdn]
		isListed := slices.Contains(listed, fqdn)
		switch {
		case isListed && ok && sc.host.Expect.Status != string(model.StatusUnreachable):
			t.Errorf("%s is in the targets and audited, yet listed: %+v", fqdn, e)
		case !isListed && !ok:
			t.Errorf("%s (%s %s) missing from coverage", fqdn, sc.host.Profile, sc.account)
		case !isListed && sc.account == model.ComputerEnabled:
			notListed++
			rules := findingRules(e.Findings)
			wantEscrow := model.EscrowNone
			if sc.hasKey {
				wantEscrow = model.EscrowExists
			} else {
				noKey++
			}
			if e.Reason != model.NotInTargets || e.Escrow != wantEscrow || !slices.Contains(rules, "scope.not-audited") ||
				slices.Contains(rules, "escrow.none-in-directory") != !sc.hasKey || e.Census.ADKeys == nil || e.LastLogon == nil || e.OU == "" {
				t.Errorf("%s: reason %s escrow %s census %+v findings %v; want not_in_targets, %s", fqdn, e.Reason, e.Escrow, e.Census, rules, wantEscrow)
			}
		case !isListed && e.Reason != sc.account:
			t.Errorf("%s: reason %s, want %s", fqdn, e.Reason, sc.account)
		}
	}
	if c.NotAudited[model.NotInTargets] != notListed+entraOnly || c.EscrowNone < noKey || notListed == 0 || noKey == 0 {
		t.Errorf("coverage: %d not in the targets, %d without a key; want %d AD + %d Entra-only not in the targets, %d AD without a key",
			c.NotAudited[model.NotInTargets], c.EscrowNone, notListed, entraOnly, noKey)
	}
}

func mapFQDN(fqdns []string) []string {
	out := make([]string, len(fqdns))
	for i, f := range fqdns {
		out[i] = f + "," + f
	}
	return out
}

func findingRules(fs []model.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.RuleID)
	}
	return out
}
