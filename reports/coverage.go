package reports

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bitaudit/bitaudit/model"
)

// maxCoverageRows bounds each coverage table of the PDF; the XLSX and JSON
// list every computer.
const maxCoverageRows = 400

// A coverageFigure is one count of the coverage section (or, text set, a
// line of text such as a source that failed).
type coverageFigure struct {
	name string
	n    int
	text string
}

func (f coverageFigure) String() string {
	if f.text != "" {
		return f.text
	}
	return num(f.n)
}

// coverageFigures are the coverage section's figures in the order both
// reports print them.
func coverageFigures(c *model.Coverage) []coverageFigure {
	figs := []coverageFigure{
		{name: "Directories read", text: strings.Join(c.Sources, ", ")},
		{name: "Computers in the directory", n: c.InDirectory},
		{name: fmt.Sprintf("In scope (enabled, logon within %d days)", c.StaleAfterDays), n: c.InScope},
		{name: "In scope and audited", n: c.Audited},
	}
	for _, k := range sortedKeys(c.NotAudited) {
		figs = append(figs, coverageFigure{name: "In scope, not audited: " + label(k), n: c.NotAudited[k]})
	}
	figs = append(figs,
		coverageFigure{name: "Not audited, no key escrowed anywhere", n: c.EscrowNone},
		coverageFigure{name: "Not audited, keys escrowed (not verified against a volume)", n: c.EscrowExists},
		coverageFigure{name: "Disabled accounts", n: c.Disabled},
		coverageFigure{name: fmt.Sprintf("Stale accounts (no logon for %d days)", c.StaleAfterDays), n: c.Stale},
		coverageFigure{name: "Targets in no directory", n: c.NotInDirectory},
		coverageFigure{name: "Targets matched only by the host's own report", n: c.MatchedByClaim},
	)
	for _, e := range c.Errors {
		figs = append(figs, coverageFigure{name: "Not read in full", text: e})
	}
	return figs
}

// where names the directory objects of a computer for the reports.
func coverageWhere(e *model.CoverageEntry) string {
	var parts []string
	if e.ADDN != "" {
		parts = append(parts, "AD "+e.OU)
	}
	if e.EntraDeviceID != "" {
		parts = append(parts, "Entra "+e.EntraDeviceID)
	}
	return strings.Join(parts, "\n")
}

// censusText is a computer's key census: "AD 1, Entra 0".
func censusText(c model.Census) string {
	var parts []string
	if c.ADKeys != nil {
		parts = append(parts, fmt.Sprintf("AD %d", *c.ADKeys))
	}
	if c.EntraKeys != nil {
		parts = append(parts, fmt.Sprintf("Entra %d", *c.EntraKeys))
	}
	if len(parts) == 0 {
		return "not read"
	}
	return strings.Join(parts, ", ")
}

func escrowLabel(s string) string {
	switch s {
	case model.EscrowNone:
		return "no key anywhere"
	case model.EscrowExists:
		return "keys exist (not verified)"
	}
	return "unknown"
}

func logonText(e *model.CoverageEntry) string {
	if e.LastLogon == nil {
		return "never"
	}
	return day(e.LastLogon.UTC())
}

// worstFinding is the most severe unwaived finding's severity.
func worstFinding(fs []model.Finding) model.Severity {
	w := model.SeverityNone
	for _, f := range fs {
		if !f.Waived() && f.Severity > w {
			w = f.Severity
		}
	}
	return w
}

func ruleIDs(fs []model.Finding) string {
	ids := make([]string, 0, len(fs))
	for _, f := range fs {
		id := f.RuleID
		if f.Waived() {
			id += " (waived)"
		}
		ids = append(ids, id)
	}
	return strings.Join(ids, ", ")
}

// coverage writes the Coverage section: the figures, the in-scope computers
// the run did not audit, then the disabled and stale accounts.
func (d *pdfDoc) coverage() {
	c := d.r.Coverage
	if c == nil {
		return
	}
	d.section("Coverage")
	d.para("What the directory says exists, against what this run audited. A computer the directory lists but no target names was never " +
		"audited; its census counts the recovery objects AD and the recovery keys Entra ID hold for it, read without any key material and " +
		"not matched to any volume.")
	t := d.newTable(8, column{"Figure", 120, "L"}, column{"Value", 60, "R"})
	for _, f := range coverageFigures(c) {
		t.row(txt(f.name), txt(f.String()))
	}
	in := slices.DeleteFunc(slices.Clone(c.Computers), func(e model.CoverageEntry) bool { return !e.InScope() })
	out := slices.DeleteFunc(slices.Clone(c.Computers), func(e model.CoverageEntry) bool { return e.InScope() })
	d.Ln(3)
	d.subheading("In the directory, in scope, not audited", 12)
	d.coverageTable(in, true)
	d.Ln(3)
	d.subheading("Disabled and stale accounts (not in scope)", 12)
	d.coverageTable(out, false)
}

func (d *pdfDoc) coverageTable(es []model.CoverageEntry, findings bool) {
	t := d.newTable(7, column{"Computer", 34, "L"}, column{"Directory", 52, "L"}, column{"Last logon", 18, "L"},
		column{"Why", 22, "L"}, column{"Escrowed keys", 26, "L"}, column{"Findings", 28, "L"})
	for i := range es {
		if i == maxCoverageRows {
			t.row(cell{text: fmt.Sprintf("… and %d more: see report.xlsx (Coverage) or result.json", len(es)-i), span: 6})
			break
		}
		e := &es[i]
		name := e.Name
		if e.FQDN != "" && !strings.EqualFold(e.FQDN, e.Name) {
			name += "\n" + e.FQDN
		}
		if e.Target != "" && !strings.EqualFold(e.Target, e.FQDN) {
			name += "\ntarget " + e.Target
		}
		escrow := txt(escrowLabel(e.Escrow) + "\n" + censusText(e.Census))
		if e.Escrow == model.EscrowNone {
			escrow.fill = &rgb{248, 210, 206}
		}
		f := txt("")
		if findings {
			f = txt(ruleIDs(e.Findings))
			if sc, ok := severityColour(worstFinding(e.Findings)); ok {
				f.fill = &sc
			}
		}
		t.row(txt(name), txt(coverageWhere(e)), txt(logonText(e)), txt(label(e.Reason)), escrow, f)
	}
	if len(es) == 0 {
		t.row(cell{text: "None", span: 6})
	}
}

// coverage writes the Coverage sheet: one row per directory computer the
// run did not audit, and the figures on the Summary sheet's side.
func (x *xlsxDoc) coverage() error {
	c := x.r.Coverage
	if c == nil {
		return nil
	}
	s, err := x.newSheet(sheetCoverage, []sheetCol{{"Computer", 16}, {"FQDN", 30}, {"AD DN", 48}, {"OU", 36}, {"Entra device ID", 38},
		{"OS", 24}, {"Last logon (UTC)", 18}, {"Account", 10}, {"Reason", 16}, {"Target", 30}, {"AD keys", 9}, {"Entra keys", 10},
		{"Escrow", 24}, {"Severity", 10}, {"Findings", 40}}, len(c.Computers))
	if err != nil {
		return err
	}
	count := func(p *int) any {
		if p == nil {
			return nil
		}
		return *p
	}
	for i := range c.Computers {
		e := &c.Computers[i]
		var logon any
		if e.LastLogon != nil {
			logon = x.date(*e.LastLogon)
		}
		var sev any
		if w := worstFinding(e.Findings); w != model.SeverityNone {
			sev = x.sev(w)
		}
		if err := s.add(e.Name, e.FQDN, e.ADDN, e.OU, e.EntraDeviceID, e.OS, logon, e.Account, e.Reason, e.Target,
			count(e.Census.ADKeys), count(e.Census.EntraKeys), escrowLabel(e.Escrow), sev, ruleIDs(e.Findings)); err != nil {
			return err
		}
	}
	return s.close()
}
