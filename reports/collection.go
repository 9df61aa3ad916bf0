package reports

import (
	"fmt"
	"strings"

	"github.com/bitaudit/bitaudit/model"
)

// A collectionGap is one part of an audited host's collection that did not
// give everything: a section that failed on the host, events that could
// not be decoded, a volume only partly read, a system partition kept out
// of the audit, the BitLocker feature missing. A report names them so a
// reader sees what was not collected.
type collectionGap struct {
	Part   string // section or volume
	Detail string
}

// collectionGaps lists h's gaps, in a fixed order.
func collectionGaps(h *model.HostResult) []collectionGap {
	if h.Facts == nil {
		return nil
	}
	f := h.Facts
	var gs []collectionGap
	if f.BitLockerNotInstalled {
		gs = append(gs, collectionGap{"volumes", "BitLocker feature not installed: no volume can be encrypted"})
	}
	for _, e := range f.Source.SectionErrors {
		gs = append(gs, collectionGap{e.Section, strings.TrimSpace(e.ID + ": " + e.Message)})
	}
	if n := f.Source.EventsSkipped; n > 0 {
		gs = append(gs, collectionGap{"events", plural(n, "event", "events") + " skipped: could not be decoded"})
	}
	for _, v := range h.Volumes {
		if v.Unreadable() {
			gs = append(gs, collectionGap{"volume " + v.MountPoint, "not fully read: " + strings.Join(v.ReadErrors, "; ")})
		}
	}
	for _, v := range f.SystemVolumes {
		gs = append(gs, collectionGap{"volume " + v.MountPoint, fmt.Sprintf("%s partition, kept out of the audit", v.Role)})
	}
	return gs
}

// collectionGapsPDF lists every audited host's collection gaps, when there are any.
func (d *pdfDoc) collectionGapsPDF() {
	if d.v.gaps == 0 {
		return
	}
	d.ensure(50) // heading, the paragraph and the first rows together
	d.section("Collection gaps")
	d.para("Parts of the collection that did not give everything on audited hosts: sections that failed on the host (their facts are missing), " +
		"events that could not be decoded, volumes only partly read, and recovery or system partitions kept out of the audit.")
	d.leftOut(d.list.gaps, "audited hosts with collection gaps", "the first "+num(pdfHostsInFull)+" in target order",
		"report.xlsx (Collection) lists every gap of every host.")
	t := d.newTable(7.5, column{"Host", 50, "L"}, column{"Part", 30, "L"}, column{"What happened", 100, "L"})
	d.eachHost(d.list.gaps.keep, func(h *model.HostResult) {
		for i, g := range collectionGaps(h) {
			host := cell{}
			if i == 0 {
				host = txt(h.Target)
			}
			t.row(host, txt(g.Part), txt(g.Detail))
		}
	})
}

// hasGaps selects the audited hosts with collection gaps.
func hasGaps(k *hostKey) bool { return k.gaps > 0 }

// collection is the XLSX sheet of collection gaps, one row per gap of an
// audited host.
func (x *xlsxDoc) collection() (*sheet, hostRows, error) {
	s, err := x.newSheet(sheetCollection, []sheetCol{{"Target", 34}, {"Part", 22}, {"What happened", 100}}, x.v.gaps)
	if err != nil {
		return nil, nil, err
	}
	return s, func(h *model.HostResult) error {
		if !h.Status.Audited() {
			return nil
		}
		for _, g := range collectionGaps(h) {
			if err := s.add(h.Target, g.Part, g.Detail); err != nil {
				return err
			}
		}
		return nil
	}, nil
}
