package audit

import (
	"maps"
	"slices"
	"testing"

	"github.com/bitaudit/bitaudit/model"
)

func TestMarkDuplicates(t *testing.T) {
	const a, b, c = "{0A0A0A0A-0000-4000-8000-00000000000A}", "{0B0B0B0B-0000-4000-8000-00000000000B}", "{0C0C0C0C-0000-4000-8000-00000000000C}"
	verified := []model.Backup{{Location: model.LocationAD, State: model.BackupVerified}}
	host := func(target string, state model.IdentityState, vols ...model.Volume) model.HostResult {
		return model.HostResult{Target: target, Status: model.StatusCompliant, Identity: &model.Identity{State: state}, Volumes: vols}
	}
	vol := func(mount string, ids ...string) model.Volume {
		v := model.Volume{MountPoint: mount}
		for _, id := range ids {
			v.Protectors = append(v.Protectors, model.Protector{ID: id, Type: model.ProtectorRecoveryPassword, Backups: append([]model.Backup(nil), verified...)})
		}
		return v
	}
	results := []model.HostResult{
		host("h1", model.IdentityVerified, vol("C:", a), vol("D:", c)),
		host("h2", model.IdentityVerified, vol("C:", "{0a0a0a0a-0000-4000-8000-00000000000a}")), // same ID, other case
		host("impostor", model.IdentityMismatch, vol("C:", a, b)),
		host("h3", model.IdentityVerified, vol("C:", b), vol("E:", c)),
		{Target: "down", Status: model.StatusUnreachable},
	}
	changed := markDuplicates(results)
	if len(changed) != 3 || changed[0] != 0 || changed[1] != 1 || changed[2] != 3 {
		t.Fatalf("changed %v, want [0 1 3]", changed)
	}
	check := func(h, v int, want string) {
		t.Helper()
		p := results[h].Volumes[v].Protectors[0]
		got := ""
		if len(p.Duplicates) > 0 {
			got = p.Duplicates[0]
		}
		if got != want {
			t.Errorf("%s %s: duplicates %v, want [%s]", results[h].Target, results[h].Volumes[v].MountPoint, p.Duplicates, want)
		}
		if verified := p.Backups[0].State == model.BackupVerified; verified != (want == "") {
			t.Errorf("%s %s: backup %s with duplicates %v", results[h].Target, results[h].Volumes[v].MountPoint, p.Backups[0].State, p.Duplicates)
		}
	}
	check(0, 0, "h2 C:")
	check(1, 0, "h1 C:")
	check(0, 1, "h3 E:") // two hosts' volumes
	check(3, 1, "h1 D:")
	check(3, 0, "") // b is copied only by the impostor, who is credited nothing anyway
	check(2, 0, "")
}

// markDuplicates runs the cross-host check of RunTo over results in memory: it finds protector IDs reported more than once in the run (by
// two hosts, or two volumes of one host): a protector ID names one volume,
// so one report is a copy and nobody can tell which. Each such protector
// gets the other places in Duplicates and no verified backup. Hosts whose
// identity does not match the directory are left out: they are credited
// nothing already, and counting their copies would let an impostor strip a
// genuine host of its verdict. It returns the indexes of the hosts changed.
func markDuplicates(results []model.HostResult) []int {
	var x protectorIndex
	for i := range results {
		x.add(i, &results[i])
	}
	dups := x.duplicates()
	changed := slices.Sorted(maps.Keys(dups))
	for _, i := range changed {
		markHost(&results[i], dups[i])
	}
	return changed
}
