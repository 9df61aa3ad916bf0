package audit

import (
	"cmp"
	"slices"
	"strings"

	"github.com/bitaudit/bitaudit/model"
)

// A protectorIndex records where each protector ID was reported, host by
// host as they finish, so the cross-host check needs no host kept in
// memory: only IDs and names.
type protectorIndex struct {
	seen map[string][]place
}

// A place is one report of a protector ID: host, volume and protector index.
type place struct {
	host, vol, prot int
	name            string // target and mount point
}

// add records h's protector IDs, unless h is left out (see markDuplicates).
func (x *protectorIndex) add(hi int, h *model.HostResult) {
	if !h.Status.Audited() || h.Identity != nil && h.Identity.State == model.IdentityMismatch {
		return
	}
	if x.seen == nil {
		x.seen = map[string][]place{}
	}
	for vi := range h.Volumes {
		for pi, p := range h.Volumes[vi].Protectors {
			if id := model.NormalizeProtectorID(p.ID); id != "" {
				x.seen[id] = append(x.seen[id], place{hi, vi, pi, h.Target + " " + h.Volumes[vi].MountPoint})
			}
		}
	}
}

// A copyMark says that protector prot of volume vol was also reported at others.
type copyMark struct {
	vol, prot int
	others    []string
}

// duplicates returns, by host index, the protectors also reported elsewhere.
func (x *protectorIndex) duplicates() map[int][]copyMark {
	out := map[int][]copyMark{}
	for _, places := range x.seen {
		if len(places) < 2 {
			continue
		}
		// Hosts are added as they finish: the places in target order.
		slices.SortFunc(places, func(a, b place) int {
			return cmp.Or(cmp.Compare(a.host, b.host), cmp.Compare(a.vol, b.vol), cmp.Compare(a.prot, b.prot))
		})
		for _, p := range places {
			m := copyMark{vol: p.vol, prot: p.prot}
			for _, o := range places {
				if o != p {
					m.others = append(m.others, o.name)
				}
			}
			out[p.host] = append(out[p.host], m)
		}
	}
	return out
}

// markHost gives each marked protector of h its duplicates and takes away
// its verified backups.
func markHost(h *model.HostResult, marks []copyMark) {
	for _, m := range marks {
		prot := &h.Volumes[m.vol].Protectors[m.prot]
		prot.Duplicates = m.others
		for bi := range prot.Backups {
			b := &prot.Backups[bi]
			if b.State == model.BackupVerified {
				b.State = model.BackupUnknown
				b.Reason = "the source holds this protector ID, but not credited: it is also reported by " + strings.Join(prot.Duplicates, ", ")
			}
		}
	}
}
