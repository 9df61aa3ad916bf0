package reports

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/bitaudit/bitaudit/model"
)

// The "since the previous run" section and the trend, in the PDF and the
// XLSX, rendered from the result's History.

// pdfDeltaRows bounds each list of the PDF's comparison; the XLSX has all.
const pdfDeltaRows = 40

const (
	sheetSince = "Since previous run"
	sheetTrend = "Trend"
)

var trendColours = [2]rgb{accent, {46, 139, 87}}

// deltaCounts are the comparison's headline rows: what, how many.
type deltaCount struct {
	what string
	n    int
}

func deltaCounts(d *model.Delta) []deltaCount {
	return []deltaCount{
		{"New findings", len(d.NewFindings)},
		{"Resolved findings", len(d.Resolved)},
		{"Recurring findings", len(d.Recurring)},
		{"Hosts newly not audited", len(d.NewlyNotAudited)},
		{"Hosts audited again", len(d.AuditedAgain)},
		{"Hosts that joined the scope", len(d.Joined)},
		{"Hosts that left the scope", len(d.Left)},
		{"Waivers added", len(d.WaiversAdded)},
		{"Waivers expired", len(d.WaiversExpired)},
		{"Waivers expiring within 30 days", len(d.WaiversExpiring)},
	}
}

func previousText(h *model.History) string {
	p := h.Previous
	src := "from the history"
	if p.Source != "history" {
		src = "from " + p.Source
	}
	scope := ""
	if p.Scope != "" {
		scope = ", scope " + p.Scope
	}
	return fmt.Sprintf("Compared with run %s of %s%s (%s).", p.ID, stamp(p.Started), scope, src)
}

// sincePrevious writes the comparison with the previous run and the trend.
func (d *pdfDoc) sincePrevious() {
	h := d.r.History
	if h == nil {
		return
	}
	d.section("Since the previous run")
	if h.Previous == nil || h.Since == nil {
		d.para("No earlier run of this scope is recorded: this run is the first the comparison and the trend start from.")
	} else {
		s := h.Since
		d.para(previousText(h) + " A finding counts as new or resolved only on a host audited in both runs; a host that could not be audited in one of them is listed among the host changes instead.")
		w, _ := d.GetPageSize()
		t := d.newTable(8.5, column{"Change", 100, "L"}, column{"Count", w - 2*margin - 100, "R"})
		for _, c := range deltaCounts(s) {
			t.row(txt(c.what), txt(num(c.n)))
		}
		d.Ln(2)
		d.deltaFindings("New findings", s.NewFindings, false)
		d.deltaFindings("Resolved findings", s.Resolved, false)
		d.deltaFindings("Recurring findings, oldest first seen", s.Recurring, true)
		d.hostChanges("Hosts newly not audited", s.NewlyNotAudited)
		d.hostChanges("Hosts audited again", s.AuditedAgain)
		d.hostChanges("Hosts that joined the scope", s.Joined)
		d.hostChanges("Hosts that left the scope", s.Left)
		d.waiverChanges("Waivers added", s.WaiversAdded)
		d.waiverChanges("Waivers expired", s.WaiversExpired)
		d.waiverChanges("Waivers expiring within 30 days", s.WaiversExpiring)
	}
	d.trend()
}

func (d *pdfDoc) more(n int) {
	if n > pdfDeltaRows {
		d.SetFont("go", "", 8)
		d.CellFormat(0, 4.4, fmt.Sprintf("… and %s more: every one is on the XLSX sheet %q.", num(n-pdfDeltaRows), sheetSince), "", 1, "L", false, 0, "")
	}
	d.Ln(2)
}

func (d *pdfDoc) deltaFindings(title string, l []model.DeltaFinding, age bool) {
	if len(l) == 0 {
		return
	}
	if age { // the oldest first: they matter most
		l = append([]model.DeltaFinding(nil), l...)
		slices.SortStableFunc(l, func(a, b model.DeltaFinding) int { return a.FirstSeen.Compare(b.FirstSeen) })
	}
	d.subheading(fmt.Sprintf("%s (%s)", title, num(len(l))), 12)
	w, _ := d.GetPageSize()
	cols := []column{{"Severity", 14, "L"}, {"Host", 38, "L"}, {"Finding", w - 2*margin - 14 - 38 - 44, "L"}, {"Volume, protector", 44, "L"}}
	if age {
		cols[2].w -= 32
		cols = append(cols, column{"First seen", 32, "L"})
	}
	t := d.newTable(7.5, cols...)
	for _, f := range l[:min(len(l), pdfDeltaRows)] {
		what := f.Title + " [" + f.RuleID + "]"
		if f.Waived {
			what += " (waived)"
		}
		cells := []cell{sevCell(f.Severity), txt(f.Target), txt(what), txt(strings.TrimSpace(f.Volume + " " + f.ProtectorID))}
		if age {
			cells = append(cells, txt(day(f.FirstSeen)+" ("+ageDays(d.r.Run.Started.Sub(f.FirstSeen))+")"))
		}
		t.row(cells...)
	}
	d.more(len(l))
}

func (d *pdfDoc) hostChanges(title string, l []model.HostChange) {
	if len(l) == 0 {
		return
	}
	d.subheading(fmt.Sprintf("%s (%s)", title, num(len(l))), 12)
	w, _ := d.GetPageSize()
	t := d.newTable(7.5, column{"Host", 50, "L"}, column{"Before", 26, "L"}, column{"Now", 26, "L"}, column{"Reason", w - 2*margin - 102, "L"})
	for _, h := range l[:min(len(l), pdfDeltaRows)] {
		t.row(txt(h.Target), statusOrDash(h.Before), statusOrDash(h.After), txt(h.Reason))
	}
	d.more(len(l))
}

func statusOrDash(s model.Status) cell {
	if s == "" {
		return txt("not in scope")
	}
	return statusCell(s)
}

func (d *pdfDoc) waiverChanges(title string, l []model.WaiverStatus) {
	if len(l) == 0 {
		return
	}
	d.subheading(fmt.Sprintf("%s (%s)", title, num(len(l))), 12)
	w, _ := d.GetPageSize()
	t := d.newTable(7.5, column{"Waiver", 34, "L"}, column{"Scope", 50, "L"}, column{"Owner", 30, "L"}, column{"Ticket", 24, "L"},
		column{"Expires", w - 2*margin - 138, "L"})
	for _, x := range l[:min(len(l), pdfDeltaRows)] {
		t.row(txt(x.ID), txt(x.Scope), txt(x.Owner), txt(x.Ticket), txt(day(x.Expires)))
	}
	d.more(len(l))
}

func ageDays(dur time.Duration) string {
	n := int(dur.Hours() / 24)
	switch {
	case n < 1:
		return "under a day"
	case n == 1:
		return "1 day"
	}
	return num(n) + " days"
}

// trend draws the compliant share and the backup coverage over the last
// runs as lines, then lists the runs.
func (d *pdfDoc) trend() {
	pts := d.r.History.Trend
	if len(pts) == 0 {
		return
	}
	d.subheading(fmt.Sprintf("Trend over the last %s", plural(len(pts), "run", "runs")), 70)
	pw, _ := d.GetPageSize()
	x0, y0 := margin+12, d.GetY()+2
	cw, ch := pw-2*margin-12, 50.0
	d.SetFont("go", "", 6.5)
	d.SetDrawColor(lineGrey.r, lineGrey.g, lineGrey.b)
	d.SetLineWidth(0.15)
	for _, p := range []float64{0, 25, 50, 75, 100} {
		y := y0 + ch - ch*p/100
		d.Line(x0, y, x0+cw, y)
		d.SetXY(margin, y-2)
		d.CellFormat(11, 4, fmt.Sprintf("%.0f %%", p), "", 0, "R", false, 0, "")
	}
	step := cw / float64(max(len(pts), 2)-1)
	xAt := func(i int) float64 {
		if len(pts) == 1 {
			return x0 + cw/2
		}
		return x0 + float64(i)*step
	}
	for i, p := range pts {
		d.SetXY(xAt(i)-10, y0+ch+1)
		d.CellFormat(20, 4, day(p.Started), "", 0, "C", false, 0, "")
	}
	series := []struct {
		name string
		v    func(model.TrendPoint) *float64
	}{
		{"Compliant share of audited hosts", func(p model.TrendPoint) *float64 { return p.CompliantShare }},
		{"Recovery-key backup coverage", func(p model.TrendPoint) *float64 { return p.BackupCoverage }},
	}
	yAt := func(v float64) float64 { return y0 + ch - ch*min(max(v, 0), 1) }
	for k, s := range series {
		c := trendColours[k]
		d.SetDrawColor(c.r, c.g, c.b)
		d.fill(c)
		d.SetLineWidth(0.6)
		for i, p := range pts { // a run without a share (nothing audited) is a gap
			v := s.v(p)
			if v == nil {
				continue
			}
			if i > 0 && s.v(pts[i-1]) != nil {
				d.Line(xAt(i-1), yAt(*s.v(pts[i-1])), xAt(i), yAt(*v))
			}
			d.Circle(xAt(i), yAt(*v), 0.8, "F")
		}
		lx := x0 + float64(k)*75
		d.Rect(lx, y0+ch+7, 4, 2.5, "F")
		d.SetXY(lx+5, y0+ch+6)
		d.colour(black)
		d.CellFormat(70, 4.5, s.name, "", 0, "L", false, 0, "")
	}
	d.SetLineWidth(0.15)
	d.SetXY(margin, y0+ch+13)
	t := d.newTable(7.5, column{"Run started", 44, "L"}, column{"Hosts", 18, "R"}, column{"Audited", 18, "R"}, column{"Compliant", 22, "R"},
		column{"Backup coverage", 26, "R"}, column{"Critical", 17, "R"}, column{"High", 17, "R"}, column{"Medium", pw - 2*margin - 162, "R"})
	for _, p := range pts {
		t.row(txt(stamp(p.Started)), txt(num(p.Hosts)), txt(num(p.Audited)), txt(percent(p.CompliantShare)), txt(percent(p.BackupCoverage)),
			txt(num(p.Findings[model.SeverityCritical])), txt(num(p.Findings[model.SeverityHigh])), txt(num(p.Findings[model.SeverityMedium])))
	}
}

// history writes the "Trend" sheet (the comparison's counts, the runs and a
// chart) and the "Since previous run" sheet (every change, one per row).
func (x *xlsxDoc) history() error {
	h := x.r.History
	if h == nil {
		return nil
	}
	f := x.f
	if _, err := f.NewSheet(sheetTrend); err != nil {
		return err
	}
	if err := x.printSetup(sheetTrend, false); err != nil {
		return err
	}
	set := func(cell string, v any, style int) error {
		if err := f.SetCellValue(sheetTrend, cell, v); err != nil {
			return err
		}
		if style != 0 {
			return f.SetCellStyle(sheetTrend, cell, cell, style)
		}
		return nil
	}
	for col, w := range map[string]float64{"A": 34, "B": 12, "C": 12, "D": 12, "E": 14, "F": 10, "G": 10, "H": 10, "I": 10, "J": 10} {
		if err := f.SetColWidth(sheetTrend, col, col, w); err != nil {
			return err
		}
	}
	if err := set("A1", "Since the previous run", x.st.bold); err != nil {
		return err
	}
	row := 2
	if h.Previous == nil || h.Since == nil {
		if err := set("A2", "No earlier run of this scope is recorded.", 0); err != nil {
			return err
		}
		row = 3
	} else {
		if err := set("A2", previousText(h), 0); err != nil {
			return err
		}
		row = 3
		for _, c := range deltaCounts(h.Since) {
			if err := set(fmt.Sprintf("A%d", row), c.what, 0); err != nil {
				return err
			}
			if err := set(fmt.Sprintf("B%d", row), c.n, 0); err != nil {
				return err
			}
			row++
		}
	}
	row++
	head := row
	for i, t := range []string{"Run started", "Hosts", "Audited", "Compliant", "Backup coverage", "Critical", "High", "Medium", "Low", "Info"} {
		c, _ := excelize.CoordinatesToCellName(i+1, head)
		if err := set(c, t, x.st.header); err != nil {
			return err
		}
	}
	for i, p := range h.Trend {
		r := head + 1 + i
		vals := []any{p.Started.UTC(), p.Hosts, p.Audited, shareOrNil(p.CompliantShare), shareOrNil(p.BackupCoverage), p.Findings[model.SeverityCritical],
			p.Findings[model.SeverityHigh], p.Findings[model.SeverityMedium], p.Findings[model.SeverityLow], p.Findings[model.SeverityInfo]}
		styles := []int{x.st.date, 0, 0, x.st.pct, x.st.pct}
		for j, v := range vals {
			c, _ := excelize.CoordinatesToCellName(j+1, r)
			st := 0
			if j < len(styles) {
				st = styles[j]
			}
			if err := set(c, v, st); err != nil {
				return err
			}
		}
	}
	first, last := head+1, head+len(h.Trend)
	if err := f.SetSheetDimension(sheetTrend, fmt.Sprintf("A1:J%d", last)); err != nil {
		return err
	}
	rng := func(col string) string { return fmt.Sprintf("'%s'!$%s$%d:$%s$%d", sheetTrend, col, first, col, last) }
	if err := f.AddChart(sheetTrend, "L2", &excelize.Chart{
		Type:      excelize.Line,
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Trend over the last runs"}}},
		Legend:    excelize.ChartLegend{Position: "bottom"},
		Dimension: excelize.ChartDimension{Width: 560, Height: 300},
		YAxis:     excelize.ChartAxis{Maximum: ptr(1.0), Minimum: ptr(0.0), NumFmt: excelize.ChartNumFmt{CustomNumFmt: "0%"}},
		Series: []excelize.ChartSeries{
			{Name: "Compliant share", Categories: rng("A"), Values: rng("D"), Line: excelize.LineOptions{Width: 2}, Marker: excelize.ChartMarker{Symbol: "circle"}},
			{Name: "Backup coverage", Categories: rng("A"), Values: rng("E"), Line: excelize.LineOptions{Width: 2}, Marker: excelize.ChartMarker{Symbol: "circle"}},
		},
	}); err != nil {
		return fmt.Errorf("add trend chart: %w", err)
	}
	if h.Since == nil {
		return nil
	}
	return x.sinceSheet(h.Since)
}

func ptr[T any](v T) *T { return &v }

// shareOrNil is a share for a cell: empty where there is none.
func shareOrNil(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func (x *xlsxDoc) sinceSheet(s *model.Delta) error {
	rows := len(s.NewFindings) + len(s.Resolved) + len(s.Recurring) + len(s.NewlyNotAudited) + len(s.AuditedAgain) + len(s.Joined) +
		len(s.Left) + len(s.WaiversAdded) + len(s.WaiversExpired) + len(s.WaiversExpiring)
	sh, err := x.newSheet(sheetSince, []sheetCol{
		{title: "Change", width: 22}, {title: "Severity", width: 10}, {title: "Host", width: 32}, {title: "Rule / waiver", width: 26},
		{title: "Volume", width: 10}, {title: "Protector", width: 40}, {title: "Title / scope", width: 40}, {title: "First seen", width: 14},
		{title: "Before", width: 14}, {title: "Now", width: 14}, {title: "Reason / owner", width: 50},
	}, rows)
	if err != nil {
		return err
	}
	for _, l := range []struct {
		what string
		l    []model.DeltaFinding
	}{{"new finding", s.NewFindings}, {"resolved finding", s.Resolved}, {"recurring finding", s.Recurring}} {
		for _, f := range l.l {
			title := f.Title
			if f.Waived {
				title += " (waived)"
			}
			if err := sh.add(l.what, x.sev(f.Severity), f.Target, f.RuleID, f.Volume, f.ProtectorID, title, x.date(f.FirstSeen), nil, nil, nil); err != nil {
				return err
			}
		}
	}
	status := func(st model.Status) any {
		if st == "" {
			return "not in scope"
		}
		return x.status(st)
	}
	for _, l := range []struct {
		what string
		l    []model.HostChange
	}{{"host newly not audited", s.NewlyNotAudited}, {"host audited again", s.AuditedAgain}, {"host joined", s.Joined}, {"host left", s.Left}} {
		for _, h := range l.l {
			if err := sh.add(l.what, nil, h.Target, nil, nil, nil, nil, nil, status(h.Before), status(h.After), h.Reason); err != nil {
				return err
			}
		}
	}
	for _, l := range []struct {
		what string
		l    []model.WaiverStatus
	}{{"waiver added", s.WaiversAdded}, {"waiver expired", s.WaiversExpired}, {"waiver expiring", s.WaiversExpiring}} {
		for _, w := range l.l {
			if err := sh.add(l.what, nil, nil, w.ID, nil, nil, w.Scope, nil, nil, x.date(w.Expires), w.Owner+" "+w.Ticket); err != nil {
				return err
			}
		}
	}
	return sh.close()
}
