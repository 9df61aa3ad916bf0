package escrow

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator"
	"github.com/bitaudit/bitaudit/simulator/entra"
	"github.com/bitaudit/bitaudit/simulator/windows"
)

// hostResult returns what a collector would report for a simulated
// machine: its names, join state, backup events and volumes.
func hostResult(m *windows.Machine) *model.HostResult {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	f := &model.HostFacts{Hostname: m.ComputerName, Join: model.JoinInfo{State: model.JoinWorkgroup}}
	switch j := m.Join; {
	case j.DomainJoined && j.AzureAdJoined:
		f.Join.State = model.JoinHybrid
	case j.DomainJoined:
		f.Join.State = model.JoinDomain
	case j.AzureAdJoined:
		f.Join.State = model.JoinEntra
	}
	if m.Join.AzureAdJoined {
		f.Join.EntraDeviceID = m.Join.DeviceID
	}
	if m.Join.DomainJoined {
		f.FQDN = strings.ToLower(m.ComputerName) + "." + m.DNSDomain
	}
	for _, e := range m.Events {
		be := model.BackupEvent{ID: e.ID, Time: e.Time}
		for _, d := range e.Data {
			switch d.Name {
			case "ProtectorGUID":
				be.ProtectorID = d.Value
			case "VolumeMountPoint":
				be.MountPoint = d.Value
			case "ErrorCode":
				be.ErrorCode = d.Value
			}
		}
		f.Events = append(f.Events, be)
	}
	a := m.Identity()
	id := &model.Identity{DNSName: strings.ToLower(a.ComputerName) + ".corp.example.test"}
	h := &model.HostResult{Target: m.ComputerName, Identity: id, Status: model.StatusCompliant, Facts: f}
	for _, v := range m.Volumes {
		mv := model.Volume{MountPoint: v.DriveLetter, DeviceID: v.DeviceID, Type: [...]model.VolumeType{model.VolumeOS, model.VolumeFixed, model.VolumeRemovable}[v.VolumeType%3]}
		if mv.MountPoint == "" {
			mv.MountPoint = v.DeviceID
		}
		for _, p := range v.Protectors {
			t := model.ProtectorTPM
			if p.Type == 3 {
				t = model.ProtectorRecoveryPassword
			}
			mv.Protectors = append(mv.Protectors, model.Protector{ID: p.ID, Type: t})
		}
		h.Volumes = append(h.Volumes, mv)
	}
	return h
}

// holds reports whether keys hold protector id on the machine's own object.
func holds(keys []windows.EscrowedKey, id string) bool {
	for _, k := range keys {
		if k.DeviceObject == "" && model.NormalizeProtectorID(k.ProtectorID) == model.NormalizeProtectorID(id) {
			return true
		}
	}
	return false
}

// TestVerifyAgreesWithEscrowTruth builds the simulator's default fleet mix
// and checks that, for every recovery password, each location's state is
// what the machines' escrow truth says it holds.
func TestVerifyAgreesWithEscrowTruth(t *testing.T) {
	hosts, err := simulator.Build(simulator.DefaultSpec(300, 7))
	if err != nil {
		t.Fatal(err)
	}
	ms := make([]*windows.Machine, len(hosts))
	for i, h := range hosts {
		ms[i] = h.Machine
	}
	src := startSources(t, ms, entra.Options{ThrottleEvery: 40})
	counts := checkTruth(t, src.cfg, ms)
	for _, k := range []string{"ad:verified", "ad:missing", "entra:verified", "external:verified", "ad:unknown", "entra:unknown"} {
		if counts[k] == 0 {
			t.Errorf("the default fleet has no %s backup: the mix no longer exercises every state", k)
		}
	}
}

// TestFleetSources runs a small fleet with the sources the demo uses
// (simulator.Fleet.StartSources) and checks Verify against the truth.
func TestFleetSources(t *testing.T) {
	// Addresses of our own: other packages' fleets use the default base.
	base := netip.MustParseAddr("127.0.77.1")
	l, err := net.Listen("tcp", netip.AddrPortFrom(base, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	f, err := simulator.Start(t.Context(), simulator.DefaultSpec(24, 3),
		simulator.Options{Password: "fleet-test-password", TLS: true, ListenBase: base, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := f.StartSources(t.Context(), simulator.SourcesOptions{ThrottleEvery: 5, RetryAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.ADURL, "ldaps://127.") || !strings.HasPrefix(s.GraphEndpoint, "https://127.") {
		t.Errorf("sources not on loopback with TLS: %s %s", s.ADURL, s.GraphEndpoint)
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	writeFile(t, ca, s.CAPEM)
	writeFile(t, filepath.Join(dir, "ldap"), []byte(s.BindPassword))
	writeFile(t, filepath.Join(dir, "graph"), []byte(s.ClientSecret))
	cfg := &Config{
		AD: &ADConfig{URL: s.ADURL, BaseDN: s.BaseDN, BindDN: s.BindDN, PasswordFile: filepath.Join(dir, "ldap"), CACertFile: ca},
		Entra: &EntraConfig{TenantID: s.TenantID, ClientID: s.ClientID, ClientSecretFile: filepath.Join(dir, "graph"),
			AuthorityHost: s.AuthorityHost, GraphEndpoint: s.GraphEndpoint, CACertFile: ca},
		External: &ExternalConfig{Dir: s.ExternalDir},
	}
	ms := make([]*windows.Machine, 0, len(f.Hosts()))
	for _, h := range f.Hosts() {
		ms = append(ms, h.Machine)
	}
	checkTruth(t, cfg, ms)
	files, _ := filepath.Glob(filepath.Join(s.ExternalDir, "*", "*.TXT"))
	for _, name := range files {
		b, _ := os.ReadFile(name)
		if regexp.MustCompile(`\d{6}-\d{6}-\d{6}`).Match(b) {
			t.Errorf("%s looks like it holds a recovery password", name)
		}
	}
}

// checkTruth verifies every machine with cfg and compares each backup state
// with the machine's escrow truth; it returns the counts by location:state.
func checkTruth(t *testing.T, cfg *Config, ms []*windows.Machine) map[string]int {
	t.Helper()
	c, err := New(t.Context(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	counts := map[string]int{}
	for _, m := range ms {
		h := hostResult(m)
		c.Verify(t.Context(), h)
		m.Mu.Lock()
		// A hostile machine reports another identity: it must have nothing
		// verified; which of missing and unknown depends on what it claims.
		join, escrow, hostile := m.Identity(), m.Escrow, m.Account != nil
		m.Mu.Unlock()
		for _, v := range h.Volumes {
			for _, p := range v.RecoveryPasswords() {
				for _, b := range p.Backups {
					counts[string(b.Location)+":"+string(b.State)]++
					var want model.BackupState
					switch b.Location {
					case model.LocationAD:
						want = truthState(join.DomainJoined, holds(escrow.AD, p.ID))
					case model.LocationEntra:
						want = truthState(join.AzureAdJoined, holds(escrow.Entra, p.ID))
					case model.LocationExternal:
						want = truthState(true, holds(escrow.ExternalFiles, p.ID))
					}
					switch {
					case hostile && b.State == model.BackupVerified:
						t.Errorf("%s (hostile) %s %s: verified (%s)", m.ComputerName, p.ID, b.Location, b.Reason)
					case !hostile && b.State != want:
						t.Errorf("%s %s %s: %s (%s), truth says %s", m.ComputerName, p.ID, b.Location, b.State, b.Reason, want)
					}
				}
			}
		}
	}
	t.Logf("backup states over %d simulated hosts: %v", len(ms), counts)
	return counts
}

func truthState(applicable, held bool) model.BackupState {
	switch {
	case !applicable:
		return model.BackupUnknown
	case held:
		return model.BackupVerified
	}
	return model.BackupMissing
}
