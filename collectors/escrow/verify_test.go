package escrow

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator/directory"
	"github.com/bitaudit/bitaudit/simulator/entra"
	"github.com/bitaudit/bitaudit/simulator/windows"
)

// Protector IDs of the test fleet.
const (
	idTPM = "{01010101-0000-4000-8000-000000000001}"
	idA   = "{0A0A0A0A-0000-4000-8000-00000000000A}" // WS-0001 C:, everywhere
	idB   = "{0B0B0B0B-0000-4000-8000-00000000000B}" // WS-0001 D:, Entra only; host claims AD
	idS   = "{05050505-0000-4000-8000-000000000005}" // stale AD key of WS-0001
	idT   = "{07070707-0000-4000-8000-000000000007}" // stale Entra key of WS-0001 (fixed data)
	idC   = "{0C0C0C0C-0000-4000-8000-00000000000C}" // WS-0002, in AD under an old computer object
	idE   = "{0E0E0E0E-0000-4000-8000-00000000000E}" // ENTRA-01, in Entra under an old device
	idF   = "{0F0F0F0F-0000-4000-8000-00000000000F}" // ENTRA-02, facts without a deviceId

	dev1 = "d1d1d1d1-0000-4000-8000-0000000000d1"
	dev3 = "d3d3d3d3-0000-4000-8000-0000000000d3"
	dev4 = "d4d4d4d4-0000-4000-8000-0000000000d4"

	// fakePassword stands in for a recovery password the directory holds; it
	// must never reach a result.
	fakePassword = "111111-222222-333333-444444-555555-666666-777777-888888"
)

var t0 = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)

func rp(id string) *windows.Protector {
	return &windows.Protector{ID: id, Type: 3, RecoveryPassword: fakePassword}
}

func testMachines() []*windows.Machine {
	return []*windows.Machine{
		{
			ComputerName: "WS-0001", DNSDomain: "corp.example.test",
			Join:    windows.JoinState{DomainJoined: true, AzureAdJoined: true, DeviceID: dev1},
			OS:      windows.OSVersion{Caption: "Microsoft Windows 11 Enterprise"},
			Volumes: []*windows.Volume{{DriveLetter: "C:", Protectors: []*windows.Protector{{ID: idTPM, Type: 1}, rp(idA)}}, {DriveLetter: "D:", Protectors: []*windows.Protector{rp(idB)}}},
			Escrow: windows.EscrowTruth{
				AD:            []windows.EscrowedKey{{ProtectorID: idA, Created: t0}, {ProtectorID: idS, Created: t0.AddDate(-1, 0, 0)}},
				Entra:         []windows.EscrowedKey{{ProtectorID: idA, Created: t0, VolumeType: 1}, {ProtectorID: idB, Created: t0, VolumeType: 2}, {ProtectorID: idT, Created: t0, VolumeType: 2}},
				ExternalFiles: []windows.EscrowedKey{{ProtectorID: idA}},
			},
		},
		{
			ComputerName: "WS-0002", DNSDomain: "corp.example.test",
			Join:    windows.JoinState{DomainJoined: true},
			OS:      windows.OSVersion{Caption: "Microsoft Windows 10 Enterprise"},
			Volumes: []*windows.Volume{{DriveLetter: "C:", Protectors: []*windows.Protector{rp(idC)}}},
			Escrow:  windows.EscrowTruth{AD: []windows.EscrowedKey{{ProtectorID: idC, Created: t0, DeviceObject: "WS-0002-OLD"}}},
		},
		{
			ComputerName: "ENTRA-01",
			Join:         windows.JoinState{AzureAdJoined: true, DeviceID: dev3},
			Volumes:      []*windows.Volume{{DriveLetter: "C:", Protectors: []*windows.Protector{rp(idE)}}},
			Escrow:       windows.EscrowTruth{Entra: []windows.EscrowedKey{{ProtectorID: idE, Created: t0, VolumeType: 1, DeviceObject: "ENTRA-01-before-reimage"}}},
		},
		{
			ComputerName: "ENTRA-02",
			Join:         windows.JoinState{AzureAdJoined: true, DeviceID: dev4},
			Volumes:      []*windows.Volume{{DriveLetter: "C:", Protectors: []*windows.Protector{rp(idF)}}},
			Escrow:       windows.EscrowTruth{Entra: []windows.EscrowedKey{{ProtectorID: idF, Created: t0, VolumeType: 1}}},
		},
	}
}

func vol(mount string, typ model.VolumeType, ids ...string) model.Volume {
	v := model.Volume{MountPoint: mount, Type: typ}
	for _, id := range ids {
		pt := model.ProtectorRecoveryPassword
		if id == idTPM {
			pt = model.ProtectorTPM
		}
		v.Protectors = append(v.Protectors, model.Protector{ID: id, Type: pt})
	}
	return v
}

// testHosts are the collected results for the test fleet, as a collector
// would produce them.
func testHosts() []*model.HostResult {
	return []*model.HostResult{
		{
			Target:   "ws-0001.corp.example.test",
			Identity: &model.Identity{DNSName: "ws-0001.corp.example.test"},
			Facts: &model.HostFacts{Hostname: "WS-0001", FQDN: "ws-0001.corp.example.test",
				Join: model.JoinInfo{State: model.JoinHybrid, EntraDeviceID: dev1},
				Events: []model.BackupEvent{
					{ID: 784, Time: t0, ProtectorID: idA},
					{ID: 845, Time: t0, ProtectorID: idA, MountPoint: "C:"},
					{ID: 784, Time: t0, ProtectorID: idB},
				}},
			Volumes: []model.Volume{vol("C:", model.VolumeOS, idTPM, idA), vol("D:", model.VolumeFixed, idB)},
		},
		{
			Target:   "ws-0002.corp.example.test",
			Identity: &model.Identity{DNSName: "ws-0002.corp.example.test"},
			Facts: &model.HostFacts{Hostname: "WS-0002", FQDN: "ws-0002.corp.example.test", Join: model.JoinInfo{State: model.JoinDomain},
				Events: []model.BackupEvent{{ID: 785, Time: t0, ProtectorID: idC, ErrorCode: "0x8007054b"}}},
			Volumes: []model.Volume{vol("C:", model.VolumeOS, idC)},
		},
		{
			Target:  "127.0.0.3",
			Facts:   &model.HostFacts{Hostname: "ENTRA-01", Join: model.JoinInfo{State: model.JoinEntra, EntraDeviceID: strings.ToUpper(dev3)}},
			Volumes: []model.Volume{vol("C:", model.VolumeOS, idE)},
		},
		{
			Target: "127.0.0.4",
			Facts: &model.HostFacts{Hostname: "ENTRA-02", Join: model.JoinInfo{State: model.JoinEntra},
				Events: []model.BackupEvent{{ID: 845, Time: t0, ProtectorID: idF, MountPoint: "C:"}}},
			Volumes: []model.Volume{vol("C:", model.VolumeOS, idF)},
		},
	}
}

const (
	testBindDN   = "CN=svc-bitaudit,OU=Service,DC=corp,DC=example,DC=test"
	testBindPass = "directory-test-password"
	testTenant   = "72f988bf-0000-4000-8000-000000000000"
	testClient   = "c11e0000-0000-4000-8000-000000000000"
	testSecret   = "graph-test-secret"
)

type testSources struct {
	cfg   *Config
	dir   *directory.Server
	entra *entra.Server
}

// startSources serves the machines' escrow truth from the simulated
// directory and Entra ID, and writes the external key files.
func startSources(t testing.TB, ms []*windows.Machine, eo entra.Options) *testSources {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	pki := newTestPKI(t)
	d, err := directory.Start(ctx, directory.Options{TLS: pki.server, BindDN: testBindDN, BindPassword: testBindPass, Machines: ms})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	eo.TLS, eo.TenantID, eo.ClientID, eo.Machines = pki.server, testTenant, testClient, ms
	if eo.ClientCertificate == nil {
		eo.ClientSecret = testSecret
	}
	e, err := entra.Start(ctx, eo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ext := t.TempDir()
	for _, m := range ms {
		for _, k := range m.Escrow.ExternalFiles {
			folder := filepath.Join(ext, strings.ToUpper(m.Identity().ComputerName))
			os.MkdirAll(folder, 0o700)
			writeFile(t, filepath.Join(folder, "BitLocker Recovery Key "+strings.Trim(k.ProtectorID, "{}")+".TXT"), []byte("placeholder\n"))
		}
	}
	secrets := t.TempDir()
	writeFile(t, filepath.Join(secrets, "ldap"), []byte(testBindPass+"\n"))
	writeFile(t, filepath.Join(secrets, "graph"), []byte(testSecret))
	return &testSources{
		dir: d, entra: e,
		cfg: &Config{
			AD: &ADConfig{URL: d.URL, BaseDN: d.BaseDN, BindDN: testBindDN, PasswordFile: filepath.Join(secrets, "ldap"), CACertFile: pki.caFile, PageSize: 2},
			Entra: &EntraConfig{TenantID: testTenant, ClientID: testClient, ClientSecretFile: filepath.Join(secrets, "graph"),
				AuthorityHost: e.URL + "/", GraphEndpoint: e.URL, CACertFile: pki.caFile},
			External: &ExternalConfig{Dir: ext},
		},
	}
}

// backupOf returns the backup of protector id at loc in h.
func backupOf(t *testing.T, h *model.HostResult, id string, loc model.Location) model.Backup {
	t.Helper()
	for _, v := range h.Volumes {
		for _, p := range v.Protectors {
			if p.ID != id {
				continue
			}
			if len(p.Backups) != len(model.Locations) {
				t.Errorf("%s %s: %d backups, want one per location: %+v", h.Target, id, len(p.Backups), p.Backups)
			}
			for _, b := range p.Backups {
				if b.Location == loc {
					return b
				}
			}
		}
	}
	t.Fatalf("%s: no %s backup for %s", h.Target, loc, id)
	return model.Backup{}
}

type want struct {
	host  int
	id    string
	loc   model.Location
	state model.BackupState
	event int
	// substrings of Object and Reason
	object, reason string
}

func checkBackups(t *testing.T, hosts []*model.HostResult, wants []want) {
	t.Helper()
	for _, w := range wants {
		name := fmt.Sprintf("%s/%s/%s", hosts[w.host].Target, w.id[1:9], w.loc)
		t.Run(name, func(t *testing.T) {
			b := backupOf(t, hosts[w.host], w.id, w.loc)
			if b.State != w.state || b.Event != w.event || !containsFold(b.Object, w.object) || !containsFold(b.Reason, w.reason) {
				t.Errorf("got %s event=%d object=%q reason=%q\nwant %s event=%d object~%q reason~%q",
					b.State, b.Event, b.Object, b.Reason, w.state, w.event, w.object, w.reason)
			}
		})
	}
}

func TestVerifyAgainstSimulatedSources(t *testing.T) {
	ms := testMachines()
	src := startSources(t, ms, entra.Options{PageSize: 1, ThrottleEvery: 3, RetryAfter: 0})
	c, err := New(t.Context(), src.cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hosts := testHosts()
	for _, h := range hosts {
		c.Verify(t.Context(), h)
	}
	const (
		ad, en, ex                 = model.LocationAD, model.LocationEntra, model.LocationExternal
		verified, missing, unknown = model.BackupVerified, model.BackupMissing, model.BackupUnknown
	)
	checkBackups(t, hosts, []want{
		{0, idA, ad, verified, 784, "{0A0A0A0A-0000-4000-8000-00000000000A},CN=WS-0001,OU=Workstations,DC=corp", ""},
		{0, idA, en, verified, 845, "0a0a0a0a-0000-4000-8000-00000000000a", ""},
		{0, idA, ex, verified, 0, "WS-0001/BitLocker Recovery Key 0A0A0A0A", ""},
		{0, idB, ad, missing, 784, "", "not held by CN=WS-0001,OU=Workstations,DC=corp,DC=example,DC=test; host event 784 on 2025-03-01T09:30:00Z claims a backup"},
		{0, idB, en, verified, 0, "0b0b0b0b", ""},
		{0, idB, ex, missing, 0, "", "no key file"},
		{1, idC, ad, missing, 0, "CN=WS-0002-OLD,OU=Workstations", "held by another object"},
		{1, idC, ad, missing, 0, "", "host event 785 on 2025-03-01T09:30:00Z reports a failed backup (error 0x8007054b)"},
		{1, idC, en, unknown, 0, "", "not joined to Entra ID"},
		{2, idE, ad, unknown, 0, "", "not joined to AD"},
		{2, idE, en, missing, 0, "of device " + entra.DeviceIDFor("ENTRA-01-before-reimage"), "not held by device " + dev3},
		{3, idF, en, unknown, 845, "", "no Entra device known for this target"},
	})
	// Stale keys: the AD key S on the OS volume, the Entra key T on the fixed volume.
	h := hosts[0]
	if got := fmt.Sprint(staleIDs(h.Volumes[0])); got != "[ad:{05050505-0000-4000-8000-000000000005}]" {
		t.Errorf("C: stale keys = %s", got)
	}
	if got := fmt.Sprint(staleIDs(h.Volumes[1])); got != "[entra:{07070707-0000-4000-8000-000000000007}]" {
		t.Errorf("D: stale keys = %s", got)
	}
	if src.entra.Throttled.Load() == 0 {
		t.Error("the Graph stand-in never throttled: retries untested")
	}
	// No key material anywhere in the results.
	out, _ := json.Marshal(hosts)
	if strings.Contains(string(out), fakePassword) || strings.Contains(string(out), testBindPass) || strings.Contains(string(out), testSecret) {
		t.Error("results contain a secret")
	}

	// Verify is idempotent and sees changes at the source (a --fix backup).
	ms[0].Mu.Lock()
	ms[0].Escrow.AD = append(ms[0].Escrow.AD, windows.EscrowedKey{ProtectorID: idB, Created: t0.Add(time.Hour)})
	ms[0].Mu.Unlock()
	windows.EscrowChanged()
	c.Verify(t.Context(), hosts[0])
	checkBackups(t, hosts, []want{{0, idB, ad, verified, 784, "{0B0B0B0B", ""}})
	if n := len(hosts[0].Volumes[0].StaleKeys) + len(hosts[0].Volumes[1].StaleKeys); n != 2 {
		t.Errorf("after re-verify: %d stale keys, want 2", n)
	}
}

func staleIDs(v model.Volume) []string {
	var out []string
	for _, k := range v.StaleKeys {
		out = append(out, string(k.Location)+":"+k.ID)
	}
	return out
}

func TestVerifyHostEvidenceOnly(t *testing.T) {
	for _, cfg := range []*Config{nil, {}} {
		c, err := New(t.Context(), cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		hosts := testHosts()
		for _, h := range hosts {
			c.Verify(t.Context(), h)
		}
		checkBackups(t, hosts, []want{
			{0, idA, model.LocationAD, model.BackupClaimed, 784, "", "AD not configured"},
			{0, idA, model.LocationEntra, model.BackupClaimed, 845, "", "Entra ID not configured"},
			{0, idA, model.LocationExternal, model.BackupUnknown, 0, "", "external key store not configured"},
			{0, idB, model.LocationEntra, model.BackupUnknown, 0, "", "Entra ID not configured"},
			{1, idC, model.LocationAD, model.BackupUnknown, 0, "", "AD not configured; host event 785"},
			{2, idE, model.LocationAD, model.BackupUnknown, 0, "", "not joined to AD"},
		})
	}
}

func TestVerifySourceFailures(t *testing.T) {
	ms := testMachines()
	src := startSources(t, ms, entra.Options{})
	cfg := *src.cfg
	ad := *cfg.AD
	cfg.AD = &ad
	wrong := filepath.Join(t.TempDir(), "wrong")
	writeFile(t, wrong, []byte("not the password"))
	ad.PasswordFile = wrong
	en := *cfg.Entra
	cfg.Entra = &en
	en.ClientSecretFile = wrong
	ext := *cfg.External
	cfg.External = &ext
	ext.Dir = filepath.Join(t.TempDir(), "unmounted")

	c, err := New(t.Context(), &cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hosts := testHosts()
	c.Verify(t.Context(), hosts[0])
	checkBackups(t, hosts, []want{
		{0, idA, model.LocationAD, model.BackupUnknown, 784, "", "ldap bind as " + testBindDN + ": authentication failed"},
		{0, idA, model.LocationEntra, model.BackupUnknown, 845, "", "Entra ID could not be checked"},
		{0, idA, model.LocationExternal, model.BackupUnknown, 0, "", "external key store"},
	})
	if s := fmt.Sprint(hosts[0].Volumes); strings.Contains(s, "not the password") {
		t.Error("a reason repeats the wrong password")
	}
	// Refused credentials are not tried again for every host (account lockout).
	binds, tokens := src.dir.Binds.Load(), src.entra.TokenRequests.Load()
	for _, h := range hosts[1:] {
		c.Verify(t.Context(), h)
	}
	if src.dir.Binds.Load() != binds || src.entra.TokenRequests.Load() != tokens {
		t.Errorf("binds %d -> %d, token requests %d -> %d: refused credentials were retried",
			binds, src.dir.Binds.Load(), tokens, src.entra.TokenRequests.Load())
	}
	checkBackups(t, hosts, []want{{1, idC, model.LocationAD, model.BackupUnknown, 0, "", "authentication failed"}})

	// A directory that is down.
	src.dir.Close()
	ad.PasswordFile = src.cfg.AD.PasswordFile
	c2, err := New(t.Context(), &Config{AD: &ad}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	hosts = testHosts()
	c2.Verify(t.Context(), hosts[0])
	checkBackups(t, hosts, []want{{0, idA, model.LocationAD, model.BackupUnknown, 784, "", "host unreachable"}})
}

func TestVerifyEntraCertificateCredential(t *testing.T) {
	cert, certFile := newClientCert(t)
	ms := testMachines()
	src := startSources(t, ms, entra.Options{ClientCertificate: cert})
	en := *src.cfg.Entra
	en.ClientSecretFile, en.CertificateFile = "", certFile
	c, err := New(t.Context(), &Config{Entra: &en}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	hosts := testHosts()
	c.Verify(t.Context(), hosts[0])
	checkBackups(t, hosts, []want{{0, idA, model.LocationEntra, model.BackupVerified, 845, "0a0a0a0a", ""}})
}

// containsFold reports whether sub is in s, ignoring case: real servers
// (slapd) return DNs with attribute types in lower case.
func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
