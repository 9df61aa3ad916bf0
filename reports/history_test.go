package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bitaudit/bitaudit/model"
)

// withHistory adds a comparison holding every kind of change, and 45 new
// findings (more than the PDF lists), to the fixture.
func withHistory(t *testing.T) *model.Result {
	r := loadFixture(t)
	start := r.Run.Started
	prev := start.AddDate(0, -1, 0)
	d := &model.Delta{
		Resolved:        []model.DeltaFinding{{Target: "ws-old", RuleID: "escrow.missing", Severity: model.SeverityHigh, Title: "Recovery key not backed up", Volume: "C:", FirstSeen: prev}},
		Recurring:       []model.DeltaFinding{{Target: "ws-stuck", RuleID: "volume.not-encrypted", Severity: model.SeverityHigh, Title: "Volume not encrypted", Volume: "D:", FirstSeen: start.AddDate(0, 0, -60)}},
		NewlyNotAudited: []model.HostChange{{Target: "ws-gone-dark", Before: model.StatusCompliant, After: model.StatusUnreachable, Reason: "connection refused"}},
		AuditedAgain:    []model.HostChange{{Target: "ws-back", Before: model.StatusTimeout, After: model.StatusCompliant, Reason: "ok"}},
		Joined:          []model.HostChange{{Target: "ws-new", After: model.StatusCompliant, Reason: "ok"}},
		Left:            []model.HostChange{{Target: "ws-retired", Before: model.StatusNoncompliant, Reason: "was noncompliant"}},
		WaiversAdded:    []model.WaiverStatus{{WaiverRef: model.WaiverRef{ID: "kiosk-2026", Owner: "it-ops", Ticket: "CHG-1", Expires: start.AddDate(0, 6, 0)}, Scope: "host kiosk-*", State: "active"}},
		WaiversExpired:  []model.WaiverStatus{{WaiverRef: model.WaiverRef{ID: "lab-2025", Owner: "lab", Expires: start.AddDate(0, 0, -3)}, Scope: "host lab-*", State: "expired"}},
		WaiversExpiring: []model.WaiverStatus{{WaiverRef: model.WaiverRef{ID: "vdi-pool", Owner: "vdi", Expires: start.AddDate(0, 0, 12)}, Scope: "host vdi-*", State: "expiring"}},
	}
	for i := range 45 {
		d.NewFindings = append(d.NewFindings, model.DeltaFinding{Target: fmt.Sprintf("newhost-%03d", i), RuleID: "escrow.missing", Severity: model.SeverityHigh,
			Title: "Recovery key not backed up", Volume: "C:", FirstSeen: start})
	}
	pt := func(daysAgo int, share float64) model.TrendPoint {
		return model.TrendPoint{RunID: fmt.Sprint(daysAgo), Started: start.AddDate(0, 0, -daysAgo), Hosts: 100, Audited: 90, CompliantShare: &share,
			BackupCoverage: model.Ratio(int(share*100)+10, 100), Findings: map[model.Severity]int{model.SeverityHigh: 7}}
	}
	r.History = &model.History{
		Previous: &model.RunRef{ID: "prev-run-1", Started: prev, Scope: "corp", Source: "history"},
		Since:    d,
		Trend:    []model.TrendPoint{pt(60, 0.5), pt(30, 0.6), pt(0, 0.75)},
	}
	return r
}

func TestSincePreviousRunInPDFAndXLSX(t *testing.T) {
	r := withHistory(t)
	dir := t.TempDir()
	if err := WriteAll(t.Context(), dir, r, Options{Formats: []Format{FormatPDF, FormatXLSX}}); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, filepath.Join(dir, PDFFile))
	for _, want := range []string{
		"Since the previous run", "Compared with run prev-run-1", "scope corp (from the history)",
		"New findings (45)", "… and 5 more: every one is on the XLSX sheet \"Since previous run\"",
		"Resolved findings (1)", "Recurring findings, oldest first seen (1)", "(60 days)",
		"Hosts newly not audited (1)", "ws-gone-dark", "Hosts that left the scope (1)", "not in scope",
		"Waivers expired (1)", "lab-2025", "Waivers expiring within 30 days (1)", "vdi-pool",
		"Trend over the last 3 runs", "Compliant share of audited hosts", "Recovery-key backup coverage", "75.0 %",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF lacks %q", want)
		}
	}
	if n := strings.Count(text, "newhost-"); n != pdfDeltaRows {
		t.Errorf("PDF lists %d of the 45 new findings, want %d", n, pdfDeltaRows)
	}

	dump := xlsxDump(t, filepath.Join(dir, XLSXFile))
	trend := section(dump, "## Trend")
	for _, want := range []string{"Compared with run prev-run-1", "New findings\t45", "Hosts that left the scope\t1", "Waivers expiring within 30 days\t1",
		"Run started\tHosts\tAudited\tCompliant\tBackup coverage"} {
		if !strings.Contains(trend, want) {
			t.Errorf("Trend sheet lacks %q:\n%s", want, trend)
		}
	}
	since := section(dump, "## Since previous run")
	if got := strings.Count(since, "\n") - 1; got != 45+1+1+1+1+1+1+1+1+1 {
		t.Errorf("Since previous run sheet has %d rows, want 54:\n%s", got, since)
	}
	for _, want := range []string{"recurring finding\thigh\tws-stuck\tvolume.not-encrypted\tD:", "host left\t\tws-retired", "waiver expired\t\t\tlab-2025"} {
		if !strings.Contains(since, want) {
			t.Errorf("Since previous run sheet lacks %q", want)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, XLSXFile))
	if !strings.Contains(string(b), "chart") {
		t.Error("the workbook has no chart")
	}
}

// section returns one sheet of an xlsxDump.
func section(dump, head string) string {
	_, rest, ok := strings.Cut(dump, head+"\n")
	if !ok {
		return ""
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i+1]
	}
	return rest
}

func TestFirstRunSaysSo(t *testing.T) {
	r := loadFixture(t)
	r.History = &model.History{Trend: []model.TrendPoint{{RunID: r.Run.ID, Started: r.Run.Started, Hosts: 3, Audited: 3, CompliantShare: model.Ratio(1, 1)}}}
	dir := t.TempDir()
	if err := WriteAll(t.Context(), dir, r, Options{Formats: []Format{FormatPDF, FormatXLSX}}); err != nil {
		t.Fatal(err)
	}
	if text := pdfText(t, filepath.Join(dir, PDFFile)); !strings.Contains(text, "No earlier run of this scope is recorded") || !strings.Contains(text, "Trend over the last 1 run") {
		t.Error("the first run's PDF does not say there is nothing to compare with")
	}
	dump := xlsxDump(t, filepath.Join(dir, XLSXFile))
	if !strings.Contains(section(dump, "## Trend"), "No earlier run") || strings.Contains(dump, "## Since previous run") {
		t.Errorf("first run's workbook:\n%s", section(dump, "## Trend"))
	}
}
