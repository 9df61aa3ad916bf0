package audit

import (
	"slices"
	"strings"

	"github.com/bitaudit/bitaudit/model"
)

// markDuplicates finds protector IDs reported more than once in the run (by
// two hosts, or two volumes of one host): a protector ID names one volume,
// so one report is a copy and nobody can tell which. Each such protector
// gets the other places in Duplicates and no verified backup. Hosts whose
// identity does not match the directory are left out: they are credited
// nothing already, and counting their copies would let an impostor strip a
// genuine host of its verdict. It returns the indexes of the hosts changed.
func markDuplicates(results []model.HostResult) []int {
	type place struct{ host, vol, prot int }
	seen := map[string][]place{}
	for hi := range results {
		h := &results[hi]
		if !h.Status.Audited() || h.Identity != nil && h.Identity.State == model.IdentityMismatch {
			continue
		}
		for vi := range h.Volumes {
			for pi, p := range h.Volumes[vi].Protectors {
				if id := model.NormalizeProtectorID(p.ID); id != "" {
					seen[id] = append(seen[id], place{hi, vi, pi})
				}
			}
		}
	}
	name := func(p place) string {
		return results[p.host].Target + " " + results[p.host].Volumes[p.vol].MountPoint
	}
	var changed []int
	for _, places := range seen {
		if len(places) < 2 {
			continue
		}
		for _, p := range places {
			prot := &results[p.host].Volumes[p.vol].Protectors[p.prot]
			prot.Duplicates = nil
			for _, o := range places {
				if o != p {
					prot.Duplicates = append(prot.Duplicates, name(o))
				}
			}
			for bi := range prot.Backups {
				b := &prot.Backups[bi]
				if b.State == model.BackupVerified {
					b.State = model.BackupUnknown
					b.Reason = "the source holds this protector ID, but not credited: it is also reported by " + strings.Join(prot.Duplicates, ", ")
				}
			}
			if !slices.Contains(changed, p.host) {
				changed = append(changed, p.host)
			}
		}
	}
	slices.Sort(changed)
	return changed
}
