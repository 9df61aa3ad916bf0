package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bitaudit/bitaudit/model"
)

// gapResult is the fixture with one audited host given every kind of
// collection gap.
func gapResult(t *testing.T) *model.Result {
	r := loadFixture(t)
	for i := range r.Hosts {
		h := &r.Hosts[i]
		if !h.Status.Audited() || h.Facts == nil || len(h.Volumes) == 0 {
			continue
		}
		h.Facts.BitLockerNotInstalled = true
		h.Facts.Source.EventsSkipped = 2
		h.Facts.Source.SectionErrors = []model.SectionError{{Section: "events", ID: "MethodInvocationNotSupportedInConstrainedLanguage", Message: "Cannot invoke method."}}
		h.Volumes[0].ReadErrors = []string{"protectors[1]: ID is not a {GUID}"}
		h.Facts.SystemVolumes = []model.Volume{{MountPoint: `\\?\Volume{00000000-0000-4000-8000-00000000000a}\`, Role: "recovery"}}
		return r
	}
	t.Fatal("fixture has no audited host with volumes")
	return nil
}

func TestCollectionGaps(t *testing.T) {
	r := gapResult(t)
	var target string
	var gaps []collectionGap
	for i := range r.Hosts {
		if g := collectionGaps(&r.Hosts[i]); len(g) > 0 {
			target, gaps = r.Hosts[i].Target, g
		}
	}
	want := []string{
		"volumes|BitLocker feature not installed: no volume can be encrypted",
		"events|MethodInvocationNotSupportedInConstrainedLanguage: Cannot invoke method.",
		"events|2 events skipped: could not be decoded",
		"volume " + r.Hosts[0].Volumes[0].MountPoint + "|not fully read: protectors[1]: ID is not a {GUID}",
		`volume \\?\Volume{00000000-0000-4000-8000-00000000000a}\|recovery partition, kept out of the audit`,
	}
	var got []string
	for _, g := range gaps {
		got = append(got, g.Part+"|"+g.Detail)
	}
	if target == "" || len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[4] != want[4] || !strings.HasPrefix(got[3], "volume ") {
		t.Errorf("gaps of %s:\n got %q\nwant %q", target, got, want)
	}

	dir := t.TempDir()
	var pdf bytes.Buffer
	if err := WritePDF(&pdf, r); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "r.pdf")
	if err := os.WriteFile(p, pdf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, p)
	for _, s := range []string{"Collection gaps", "MethodInvocationNotSupportedInConstrainedLanguage", "2 events skipped", "recovery partition, kept out of the audit"} {
		if !strings.Contains(text, s) {
			t.Errorf("PDF lacks %q", s)
		}
	}
	var x bytes.Buffer
	if err := WriteXLSX(&x, r); err != nil {
		t.Fatal(err)
	}
	xp := filepath.Join(dir, "r.xlsx")
	if err := os.WriteFile(xp, x.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dump := xlsxDump(t, xp)
	sheet := dump[strings.Index(dump, "## Collection"):]
	sheet = sheet[:strings.Index(sheet, "## Waivers")]
	if strings.Count(sheet, "\n") != 2+len(want) || !strings.Contains(sheet, target+"\tevents\t2 events skipped: could not be decoded") {
		t.Errorf("Collection sheet:\n%s", sheet)
	}
	// Without gaps the PDF has no such section.
	var plain bytes.Buffer
	if err := WritePDF(&plain, loadFixture(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, plain.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(pdfText(t, p), "Collection gaps") {
		t.Error("Collection gaps section without gaps")
	}
}
