package escrow

import (
	"strings"
	"testing"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator/entra"
)

// TestIdentityBinding verifies hosts whose reports agree or disagree with
// the operator's identity of the target and the directory.
func TestIdentityBinding(t *testing.T) {
	src := startSources(t, testMachines(), entra.Options{})
	c, err := New(t.Context(), src.cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ws1 := func() *model.HostFacts {
		return &model.HostFacts{Hostname: "WS-0001", FQDN: "ws-0001.corp.example.test", Join: model.JoinInfo{State: model.JoinHybrid, EntraDeviceID: dev1}}
	}
	const ws1DN = "CN=WS-0001,OU=Workstations,DC=corp,DC=example,DC=test"
	tests := []struct {
		name     string
		id       *model.Identity
		facts    *model.HostFacts
		ids      []string
		state    model.IdentityState
		join     model.JoinState // directory's, when it differs
		backups  map[model.Location]model.BackupState
		mismatch string // substring of a mismatch
	}{
		{name: "honest, by DNS name", id: &model.Identity{DNSName: "ws-0001.corp.example.test"}, facts: ws1(), ids: []string{idA},
			state:   model.IdentityVerified,
			backups: map[model.Location]model.BackupState{model.LocationAD: model.BackupVerified, model.LocationEntra: model.BackupVerified, model.LocationExternal: model.BackupVerified}},
		{name: "honest, by ad_dn", id: &model.Identity{ADDN: ws1DN}, facts: ws1(), ids: []string{idA},
			state: model.IdentityVerified, backups: map[model.Location]model.BackupState{model.LocationAD: model.BackupVerified}},
		{name: "impostor claims WS-0001 at WS-0002's name", id: &model.Identity{DNSName: "ws-0002.corp.example.test"}, facts: ws1(), ids: []string{idA},
			state: model.IdentityMismatch, mismatch: "reports computer name WS-0001",
			backups: map[model.Location]model.BackupState{model.LocationAD: model.BackupMissing, model.LocationExternal: model.BackupMissing}},
		{name: "impostor with WS-0002's DN", id: &model.Identity{ADDN: "CN=WS-0002,OU=Workstations,DC=corp,DC=example,DC=test"}, facts: ws1(), ids: []string{idA},
			state: model.IdentityMismatch, mismatch: "dNSHostName ws-0002.corp.example.test"},
		{name: "IP only: capped at claimed", id: &model.Identity{}, facts: ws1(), ids: []string{idA},
			state:   model.IdentityUnverified,
			backups: map[model.Location]model.BackupState{model.LocationAD: model.BackupClaimed, model.LocationEntra: model.BackupClaimed, model.LocationExternal: model.BackupClaimed}},
		{name: "ad_dn the directory lacks", id: &model.Identity{ADDN: "CN=WS-0001,OU=Retired,DC=corp,DC=example,DC=test"}, facts: ws1(), ids: []string{idA},
			state: model.IdentityUnverified, backups: map[model.Location]model.BackupState{model.LocationAD: model.BackupMissing}},
		{name: "ad_dn of another name", id: &model.Identity{ADDN: "CN=WS-0404,OU=Workstations,DC=corp,DC=example,DC=test"}, facts: ws1(), ids: []string{idA},
			state: model.IdentityMismatch, mismatch: "the target names WS-0404"},
		{name: "workgroup liar: AD holds it", id: &model.Identity{DNSName: "ws-0002.corp.example.test"},
			facts: &model.HostFacts{Hostname: "WS-0002", Join: model.JoinInfo{State: model.JoinWorkgroup}}, ids: []string{idC},
			state: model.IdentityVerified, join: model.JoinDomain,
			backups: map[model.Location]model.BackupState{model.LocationAD: model.BackupMissing, model.LocationExternal: model.BackupMissing}},
		{name: "a host withholding its name", id: &model.Identity{DNSName: "ws-0001.corp.example.test"},
			facts: &model.HostFacts{Join: model.JoinInfo{State: model.JoinHybrid}}, ids: []string{idA},
			state: model.IdentityUnverified, backups: map[model.Location]model.BackupState{model.LocationAD: model.BackupClaimed}},
		{name: "entra_device_id given", id: &model.Identity{EntraDeviceID: dev4},
			facts: &model.HostFacts{Hostname: "ENTRA-02", Join: model.JoinInfo{State: model.JoinEntra, EntraDeviceID: dev4}}, ids: []string{idF},
			state: model.IdentityVerified, backups: map[model.Location]model.BackupState{model.LocationEntra: model.BackupVerified}},
		{name: "another device ID than given", id: &model.Identity{EntraDeviceID: dev4},
			facts: &model.HostFacts{Hostname: "ENTRA-02", Join: model.JoinInfo{State: model.JoinEntra, EntraDeviceID: dev1}}, ids: []string{idA},
			state: model.IdentityMismatch, mismatch: "reports Entra device " + dev1,
			backups: map[model.Location]model.BackupState{model.LocationEntra: model.BackupMissing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &model.HostResult{Target: "10.0.0.1", Identity: tt.id, Facts: tt.facts, Volumes: []model.Volume{vol("C:", model.VolumeOS, tt.ids...)}}
			c.Verify(t.Context(), h)
			id := h.Identity
			if id.State != tt.state || id.Join != tt.join {
				t.Errorf("identity %s (join %q): %s; want %s (join %q)", id.State, id.Join, id.Reason, tt.state, tt.join)
			}
			if tt.mismatch != "" && !strings.Contains(strings.Join(id.Mismatches, "|"), tt.mismatch) {
				t.Errorf("mismatches %q lack %q", id.Mismatches, tt.mismatch)
			}
			for _, b := range h.Volumes[0].Protectors[0].Backups {
				if tt.state == model.IdentityMismatch && b.State == model.BackupVerified {
					t.Errorf("%s verified for a mismatched identity", b.Location)
				}
				if want, ok := tt.backups[b.Location]; ok && b.State != want {
					t.Errorf("%s: %s (%s), want %s", b.Location, b.State, b.Reason, want)
				}
			}
		})
	}
}
