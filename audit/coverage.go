package audit

import (
	"cmp"
	"net"
	"slices"
	"strings"

	"github.com/bitaudit/bitaudit/model"
)

// A Directory is what the directories list: computers and, parallel to
// them, each one's key census (empty when no census was taken).
type Directory struct {
	Sources   []string
	Computers []model.Computer
	Census    []model.Census
	Errors    []string
}

// Coverage compares the directory with the run's hosts. A host is matched
// to a directory computer by the operator's identity first (the target's
// ad_dn, entra_device_id and fqdn columns, then its host name), and only
// failing that by what the host reported about itself (FQDN, computer name,
// Entra deviceId), which is a claim: such matches are counted in
// MatchedByClaim. Findings are not added here (see rules.Engine.EvaluateCoverage).
// Hosts are read one at a time; the error is the source's.
func Coverage(d *Directory, hosts model.HostSource, staleAfterDays int) (*model.Coverage, error) {
	c := &model.Coverage{
		Sources:        slices.Clone(d.Sources),
		StaleAfterDays: staleAfterDays,
		Errors:         slices.Clone(d.Errors),
		InDirectory:    len(d.Computers),
		NotAudited:     map[string]int{},
		Computers:      []model.CoverageEntry{},
	}
	idx := newComputerIndex(d.Computers)
	// What the second pass needs of the host matched to each computer.
	type matchedHost struct {
		Target string
		Status model.Status
	}
	matched := make([]*matchedHost, len(d.Computers))
	err := model.EachHost(hosts, func(_ int, h *model.HostResult) error {
		ci, byClaim := idx.match(h)
		if ci < 0 {
			c.NotInDirectory++
			return nil
		}
		if matched[ci] != nil {
			return nil // two targets name one computer: the first counts
		}
		matched[ci] = &matchedHost{Target: h.Target, Status: h.Status}
		if byClaim {
			c.MatchedByClaim++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	adRead, entraRead := !failed(d.Errors, "ad"), !failed(d.Errors, "entra")
	for ci, comp := range d.Computers {
		h := matched[ci]
		switch comp.Account {
		case model.ComputerDisabled:
			c.Disabled++
		case model.ComputerStale:
			c.Stale++
		default:
			c.InScope++
			if h != nil && h.Status.Audited() {
				c.Audited++
				continue
			}
		}
		if h != nil && h.Status.Audited() {
			continue // a disabled or stale account whose host answered anyway
		}
		e := model.CoverageEntry{Computer: comp, Reason: comp.Account, Findings: []model.Finding{}}
		if ci < len(d.Census) {
			e.Census = d.Census[ci]
		}
		e.Escrow = e.Census.State(comp.ADDN != "" && adRead, comp.EntraDeviceID != "" && entraRead)
		if comp.InScope() {
			e.Reason = model.NotInTargets
			if h != nil {
				e.Target, e.Reason = h.Target, string(h.Status)
			}
			c.NotAudited[e.Reason]++
			switch e.Escrow {
			case model.EscrowNone:
				c.EscrowNone++
			case model.EscrowExists:
				c.EscrowExists++
			}
		} else if h != nil {
			e.Target = h.Target
		}
		c.Computers = append(c.Computers, e)
	}
	slices.SortStableFunc(c.Computers, func(a, b model.CoverageEntry) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ADDN, b.ADDN))
	})
	return c, nil
}

// failed reports whether the source's listing or census could not be read.
func failed(errs []string, source string) bool {
	for _, e := range errs {
		if strings.HasPrefix(e, source+":") || strings.HasPrefix(e, source+" census:") {
			return true
		}
	}
	return false
}

// computerIndex finds directory computers by DN, FQDN, name and deviceId.
type computerIndex struct {
	byDN, byFQDN, byName, byDevice map[string]int
}

func newComputerIndex(cs []model.Computer) *computerIndex {
	x := &computerIndex{byDN: map[string]int{}, byFQDN: map[string]int{}, byName: map[string]int{}, byDevice: map[string]int{}}
	put := func(m map[string]int, k string, i int) {
		if k == "" {
			return
		}
		if _, dup := m[k]; dup {
			m[k] = -1 // ambiguous: never matched on this key
			return
		}
		m[k] = i
	}
	for i, c := range cs {
		put(x.byDN, strings.ToLower(c.ADDN), i)
		put(x.byFQDN, strings.ToLower(c.FQDN), i)
		put(x.byName, strings.ToUpper(c.Name), i)
		put(x.byDevice, model.NormalizeProtectorID(c.EntraDeviceID), i)
	}
	return x
}

func (x *computerIndex) get(m map[string]int, k string) int {
	if k == "" {
		return -1
	}
	if i, ok := m[k]; ok {
		return i
	}
	return -1
}

// match returns the computer a host is, and whether only the host's own
// claims matched it; -1 when none.
func (x *computerIndex) match(h *model.HostResult) (int, bool) {
	id := h.Identity
	if id == nil {
		id = &model.Identity{}
	}
	host := h.Target
	if hp, _, err := net.SplitHostPort(host); err == nil {
		host = hp
	}
	host = strings.Trim(host, "[]")
	operator := []int{
		x.get(x.byDN, strings.ToLower(id.ADDN)),
		x.get(x.byDevice, model.NormalizeProtectorID(id.EntraDeviceID)),
		x.get(x.byFQDN, strings.ToLower(id.DNSName)),
	}
	if net.ParseIP(host) == nil {
		if strings.Contains(host, ".") {
			operator = append(operator, x.get(x.byFQDN, strings.ToLower(host)))
		} else {
			operator = append(operator, x.get(x.byName, strings.ToUpper(host)))
		}
	}
	for _, i := range operator {
		if i >= 0 {
			return i, false
		}
	}
	if f := h.Facts; f != nil {
		for _, i := range []int{
			x.get(x.byFQDN, strings.ToLower(f.FQDN)),
			x.get(x.byDevice, model.NormalizeProtectorID(f.Join.EntraDeviceID)),
			x.get(x.byName, strings.ToUpper(f.Hostname)),
		} {
			if i >= 0 {
				return i, true
			}
		}
	}
	return -1, false
}
