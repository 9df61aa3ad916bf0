package reports

import (
	"archive/zip"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/bitaudit/bitaudit/model"
)

// Sheet names, in workbook order.
const (
	sheetSummary     = "Summary"
	sheetFindings    = "Findings"
	sheetHosts       = "Hosts"
	sheetVolumes     = "Volumes"
	sheetProtectors  = "Protectors"
	sheetNotAudited  = "Not audited"
	sheetWaivers     = "Waivers"
	sheetRemediation = "Remediation"
	sheetRejected    = "Rejected inputs"
	sheetCollection  = "Collection"
	sheetCoverage    = "Coverage"
)

// xlsxStyles are the cell styles the workbook uses.
type xlsxStyles struct {
	header, bold, date, day, pct, pctBold, wrap, top int
	notRequired                                      int
	severity                                         map[model.Severity]int
	status                                           map[model.Status]int
	backup                                           map[model.BackupState]int
}

// A sheetCol is a column of a streamed sheet: title and width in characters.
type sheetCol struct {
	title string
	width float64
}

// xlsxDoc is the workbook being written.
type xlsxDoc struct {
	f  *excelize.File
	r  *model.Result
	v  *view
	st xlsxStyles
	// also take each host as the host sheets do.
	also []hostRows
}

// WriteXLSX renders the workbook: Summary (with native charts), Findings,
// Hosts, Volumes, Protectors, Not audited, Waivers and Remediation. Header
// rows are bold, frozen and filtered; dates are Excel dates in UTC and
// shares are numbers formatted as percentages. The detail sheets go through
// the stream writer, so memory stays bounded for large fleets.
func WriteXLSX(w io.Writer, r *model.Result) error {
	if r == nil {
		return errNilResult
	}
	v, err := newView(r)
	if err != nil {
		return fmt.Errorf("render xlsx: %w", err)
	}
	return writeXLSX(w, r, v)
}

// writeXLSX renders the workbook; also, if any, take each host too as the
// host sheets' pass reads it (WriteAll writes report.csv so).
func writeXLSX(w io.Writer, r *model.Result, v *view, also ...hostRows) error {
	f := excelize.NewFile()
	defer f.Close()
	x := &xlsxDoc{f: f, r: r, v: v, also: also}
	steps := []func() error{
		x.styles, x.props, x.summary, x.history, x.hostSheets, x.coverage, x.waivers, x.remediation, x.rejectedInputs,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("render xlsx: %w", err)
		}
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		return fmt.Errorf("write xlsx: %w", err)
	}
	if err := stableZip(buf.Bytes(), w); err != nil {
		return fmt.Errorf("write xlsx: %w", err)
	}
	return nil
}

var contentTypeDefault = regexp.MustCompile(`<Default [^>]*></Default>`)

// severityChartSeries names the one series of the severity bar chart, so
// barColours finds it.
const severityChartSeries = "Open findings"

// barColours gives each bar of the severity chart its severity's colour:
// one <c:dPt> per point, placed after the series' <c:invertIfNegative> as
// CT_BarSer orders its children (ECMA-376 Part 1, §21.2.2.16 barChart,
// §21.2.2.39 dPt). excelize writes data points only for pie charts.
func barColours(data []byte) []byte {
	if !bytes.Contains(data, []byte(`<barDir val="bar">`)) || !bytes.Contains(data, []byte("<f>"+severityChartSeries+"</f>")) {
		return data
	}
	const anchor = "</invertIfNegative>"
	i := bytes.Index(data, []byte(anchor))
	if i < 0 {
		return data
	}
	var dpt strings.Builder
	for k, sev := range model.Severities {
		c, _ := severityColour(sev)
		fmt.Fprintf(&dpt, `<dPt><idx val="%d"></idx><invertIfNegative val="0"></invertIfNegative><bubble3D val="0"></bubble3D><spPr><a:solidFill><a:srgbClr val="%s"></a:srgbClr></a:solidFill></spPr></dPt>`, k, hexColour(c))
	}
	i += len(anchor)
	out := append([]byte(nil), data[:i]...)
	out = append(out, dpt.String()...)
	return append(out, data[i:]...)
}

// stableZip copies the package excelize wrote with its parts in name order
// ([Content_Types].xml first) and the <Default> elements of
// [Content_Types].xml sorted: excelize emits both in map order. So the same
// result always gives the same bytes. Chart parts get their bar colours.
func stableZip(b []byte, w io.Writer) error {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return err
	}
	files := slices.Clone(zr.File)
	slices.SortFunc(files, func(a, b *zip.File) int {
		first := func(f *zip.File) int {
			if f.Name == "[Content_Types].xml" {
				return 0
			}
			return 1
		}
		return cmp.Or(cmp.Compare(first(a), first(b)), strings.Compare(a.Name, b.Name))
	})
	zw := zip.NewWriter(w)
	for _, f := range files {
		rewrite := sortDefaults
		switch {
		case f.Name == "[Content_Types].xml":
		case strings.HasPrefix(f.Name, "xl/charts/chart"):
			rewrite = barColours
		default:
			if err := zw.Copy(f); err != nil {
				return err
			}
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate})
		if err != nil {
			return err
		}
		if _, err := fw.Write(rewrite(data)); err != nil {
			return err
		}
	}
	return zw.Close()
}

// sortDefaults sorts the contiguous run of <Default> elements in a content
// types document; anything else is returned unchanged.
func sortDefaults(data []byte) []byte {
	loc := contentTypeDefault.FindAllIndex(data, -1)
	if len(loc) < 2 {
		return data
	}
	start, end := loc[0][0], loc[len(loc)-1][1]
	parts := make([]string, len(loc))
	for i, l := range loc {
		parts[i] = string(data[l[0]:l[1]])
	}
	if strings.Join(parts, "") != string(data[start:end]) {
		return data
	}
	slices.Sort(parts)
	out := append([]byte(nil), data[:start]...)
	out = append(out, strings.Join(parts, "")...)
	return append(out, data[end:]...)
}

func (x *xlsxDoc) styles() error {
	f := x.f
	var errs []error
	style := func(s *excelize.Style) int {
		id, err := f.NewStyle(s)
		errs = append(errs, err)
		return id
	}
	fill := func(hex string) excelize.Fill {
		return excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{hex}}
	}
	dateFmt, dayFmt := "yyyy-mm-dd hh:mm:ss", "yyyy-mm-dd"
	x.st = xlsxStyles{
		header: style(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: fill("DCE3EC"),
			Border: []excelize.Border{{Type: "bottom", Color: "7F8C9D", Style: 1}}, Alignment: &excelize.Alignment{Vertical: "top"}}),
		bold:        style(&excelize.Style{Font: &excelize.Font{Bold: true}}),
		date:        style(&excelize.Style{CustomNumFmt: &dateFmt}),
		day:         style(&excelize.Style{CustomNumFmt: &dayFmt}),
		pct:         style(&excelize.Style{NumFmt: 10}),
		pctBold:     style(&excelize.Style{NumFmt: 10, Font: &excelize.Font{Bold: true}}),
		wrap:        style(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}}),
		top:         style(&excelize.Style{Alignment: &excelize.Alignment{Vertical: "top"}}),
		notRequired: style(&excelize.Style{Font: &excelize.Font{Color: "7F7F7F"}, Fill: fill("F4F4F4")}),
		severity:    map[model.Severity]int{},
		status:      map[model.Status]int{},
		backup:      map[model.BackupState]int{},
	}
	for _, s := range model.Severities {
		c, light := severityColour(s)
		font := &excelize.Font{Color: "000000"}
		if light {
			font.Color = "FFFFFF"
		}
		x.st.severity[s] = style(&excelize.Style{Fill: fill(hexColour(c)), Font: font})
	}
	for _, s := range model.Statuses {
		x.st.status[s] = style(&excelize.Style{Fill: fill(hexColour(statusColours[s])), Font: &excelize.Font{Color: "FFFFFF"}})
	}
	for _, s := range []model.BackupState{model.BackupVerified, model.BackupClaimed, model.BackupMissing, model.BackupUnknown} {
		x.st.backup[s] = style(&excelize.Style{Fill: fill(hexColour(*backupFill(string(s))))})
	}
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("create style: %w", err)
		}
	}
	return nil
}

func hexColour(c rgb) string { return fmt.Sprintf("%02X%02X%02X", c.r, c.g, c.b) }

// props sets document properties from the run, so they never carry the clock.
func (x *xlsxDoc) props() error {
	r := x.r
	t := r.Run.Finished
	if t.IsZero() {
		t = r.Run.Started
	}
	ts := t.UTC().Format(time.RFC3339)
	return x.f.SetDocProps(&excelize.DocProperties{
		Title:          "BitLocker key-escrow audit " + r.Run.ID,
		Subject:        "BitLocker encryption and recovery-key backup audit",
		Creator:        "bitaudit " + r.Run.ToolVersion,
		LastModifiedBy: "bitaudit " + r.Run.ToolVersion,
		Identifier:     r.Run.ID,
		Description:    "Contains no recovery key material. Organisation: " + orDefault(r.Run.Organisation, "not set"),
		Created:        ts,
		Modified:       ts,
		Language:       "en-GB",
	})
}

func (x *xlsxDoc) cellStyle(cell string, style int) error {
	return x.f.SetCellStyle(sheetSummary, cell, cell, style)
}

// summary writes the figures of model.Summary, one per row, and charts them.
func (x *xlsxDoc) summary() error {
	f, r, s := x.f, x.r, x.r.Summary
	if err := f.SetSheetName("Sheet1", sheetSummary); err != nil {
		return err
	}
	type fig struct {
		name  string
		value any
		style int
	}
	// share is a ratio figure: a number formatted as a percentage, or the
	// text "n/a" for a share of nothing (never 100 %).
	share := func(name string, v *float64, style int) fig {
		if v == nil {
			return fig{name, "n/a", 0}
		}
		return fig{name, *v, style}
	}
	var opts []string
	for _, k := range sortedKeys(r.Run.Options) {
		opts = append(opts, k+"="+r.Run.Options[k])
	}
	figs := []fig{
		{"Run ID", r.Run.ID, 0},
		{"Organisation", r.Run.Organisation, 0},
		{"Started (UTC)", utcOrNil(r.Run.Started), x.st.date},
		{"Finished (UTC)", utcOrNil(r.Run.Finished), x.st.date},
		{"Tool version", r.Run.ToolVersion, 0},
		{"Policy", r.Run.Policy.Source, x.st.wrap},
		{"Policy SHA-256", r.Run.Policy.SHA256, x.st.wrap},
		{"Run options", strings.Join(opts, ", "), x.st.wrap},
		{"Interrupted", r.Run.Interrupted, 0},
		{"Stop reason", r.Run.StopReason, x.st.wrap},
		{"Targets", r.Run.TargetCount, 0},
		{"Duplicate target lines", r.Run.DuplicateCount(), 0},
		{"Hosts in scope", s.Hosts, 0},
		{"Hosts audited", s.HostsAudited, 0},
		{"Hosts not audited", r.NotAudited(), 0},
	}
	statusRow := len(figs) + 2 // first status row (1-based, after the header)
	for _, st := range model.Statuses {
		figs = append(figs, fig{"Hosts " + statusLabel(st), s.HostsByStatus[st], 0})
	}
	figs = append(figs,
		share("Compliant share, waivers applied", s.CompliantShare, x.st.pctBold),
		share("Compliant share, without waivers", s.CompliantShareWithoutWaivers, x.st.pct),
		fig{"Volumes", s.Volumes, 0},
	)
	for _, k := range sortedKeys(s.VolumesByState) {
		figs = append(figs, fig{"Volumes " + label(k), s.VolumesByState[k], 0})
	}
	figs = append(figs,
		fig{"Recovery passwords", s.RecoveryPasswords, 0},
		fig{"Recovery passwords backed up", s.BackedUp, 0},
		fig{"Recovery passwords claimed only", s.ByState.Claimed, 0},
		fig{"Recovery passwords missing", s.ByState.Missing, 0},
		fig{"Recovery passwords unknown", s.ByState.Unknown, 0},
		share("Recovery-key backup coverage", s.BackupCoverage, x.st.pctBold),
	)
	if src, insecure := escrowNote(r); src != "" || insecure != "" {
		figs = append(figs, fig{"Escrow sources", strings.TrimSpace(src + " " + insecure), x.st.wrap})
	}
	for _, k := range sortedKeys(s.BackupByState) {
		figs = append(figs, fig{"Backup evidence " + k, s.BackupByState[k], 0})
	}
	sevRow := len(figs) + 2
	for _, sev := range model.Severities {
		figs = append(figs, fig{"Open findings " + sev.String(), s.FindingsBySeverity[sev], 0})
	}
	figs = append(figs, fig{"Findings waived", s.Waived, 0})
	if r.Coverage != nil {
		for _, cf := range coverageFigures(r.Coverage) {
			if cf.text != "" {
				figs = append(figs, fig{"Coverage: " + cf.name, cf.text, x.st.wrap})
			} else {
				figs = append(figs, fig{"Coverage: " + cf.name, cf.n, 0})
			}
		}
	}
	for _, rr := range x.v.rules {
		figs = append(figs, fig{"Open findings rule " + rr.ID + " " + rr.Severity.String(), rr.Count, 0})
	}

	if err := f.SetSheetRow(sheetSummary, "A1", &[]any{"Figure", "Value"}); err != nil {
		return err
	}
	if err := f.SetCellStyle(sheetSummary, "A1", "B1", x.st.header); err != nil {
		return err
	}
	for i, fg := range figs {
		row := i + 2
		a, b := "A"+strconv.Itoa(row), "B"+strconv.Itoa(row)
		if err := f.SetCellValue(sheetSummary, a, fg.name); err != nil {
			return err
		}
		if err := f.SetCellValue(sheetSummary, b, fg.value); err != nil {
			return err
		}
		if fg.style != 0 {
			if err := x.cellStyle(b, fg.style); err != nil {
				return err
			}
		}
		if text, ok := fg.value.(string); ok && fg.style == x.st.wrap {
			// Readers do not grow a row to fit wrapped text they did not
			// lay out (LibreOffice draws the lines over the next rows).
			if n := wrappedLines(text, summaryValueWidth); n > 1 {
				if err := f.SetRowHeight(sheetSummary, row, float64(13*n+2)); err != nil {
					return err
				}
				if err := x.cellStyle(a, x.st.top); err != nil {
					return err
				}
			}
		}
	}
	if err := f.SetColWidth(sheetSummary, "A", "A", 38); err != nil {
		return err
	}
	if err := f.SetColWidth(sheetSummary, "B", "B", summaryValueWidth); err != nil {
		return err
	}
	if err := f.SetColWidth(sheetSummary, "C", "C", 3); err != nil {
		return err
	}
	if err := x.printSetup(sheetSummary, true); err != nil {
		return err
	}
	// excelize leaves <dimension ref="A1"> on sheets it did not read in.
	if err := f.SetSheetDimension(sheetSummary, fmt.Sprintf("A1:B%d", len(figs)+1)); err != nil {
		return err
	}
	if err := f.SetPanes(sheetSummary, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	rng := func(col string, from, n int) string {
		return fmt.Sprintf("'%s'!$%s$%d:$%s$%d", sheetSummary, col, from, col, from+n-1)
	}
	var points []excelize.ChartDataPoint
	for i, st := range model.Statuses {
		points = append(points, excelize.ChartDataPoint{Index: i, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{hexColour(statusColours[st])}}})
	}
	if err := f.AddChart(sheetSummary, "D2", &excelize.Chart{
		Type:      excelize.Doughnut,
		HoleSize:  55,
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Hosts by status"}}},
		Legend:    excelize.ChartLegend{Position: "right"},
		Dimension: excelize.ChartDimension{Width: 480, Height: 290},
		Series: []excelize.ChartSeries{{Name: "Hosts", Categories: rng("A", statusRow, len(model.Statuses)),
			Values: rng("B", statusRow, len(model.Statuses)), DataPoint: points}},
	}); err != nil {
		return fmt.Errorf("add status chart: %w", err)
	}
	// Horizontal bars, critical at the top: the category axis is reversed
	// (the value axis grows left to right). excelize draws data points only
	// for pie charts; the severity colours are added by barColours.
	noVary := false
	if err := f.AddChart(sheetSummary, "D20", &excelize.Chart{
		Type:       excelize.Bar,
		Title:      excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Open findings by severity"}}},
		Legend:     excelize.ChartLegend{Position: "none"},
		Dimension:  excelize.ChartDimension{Width: 480, Height: 260},
		VaryColors: &noVary,
		XAxis:      excelize.ChartAxis{ReverseOrder: true},
		Series: []excelize.ChartSeries{{Name: severityChartSeries, Categories: rng("A", sevRow, len(model.Severities)),
			Values: rng("B", sevRow, len(model.Severities)), Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"7F8C9D"}}}},
	}); err != nil {
		return fmt.Errorf("add severity chart: %w", err)
	}
	return nil
}

// utcOrNil returns t in UTC for an Excel date cell, or nil for an empty cell.
func utcOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// sheet is a streamed sheet with a frozen header row and an autofilter table.
type sheet struct {
	x    *xlsxDoc
	name string
	sw   *excelize.StreamWriter
	cols int
	rows int
	// want is the number of data rows announced in the sheet's dimension.
	want int
}

// newSheet starts a streamed sheet of rows data rows (known before
// streaming, so the sheet's <dimension> is true: excelize's stream writer
// never updates it, excelize issue #1463, and readers such as openpyxl in
// read-only mode trust it), set up to print landscape, one page wide, with
// the header row repeated on every page.
func (x *xlsxDoc) newSheet(name string, cols []sheetCol, rows int) (*sheet, error) {
	f := x.f
	if _, err := f.NewSheet(name); err != nil {
		return nil, err
	}
	last, err := excelize.CoordinatesToCellName(len(cols), rows+1)
	if err != nil {
		return nil, err
	}
	if err := f.SetSheetDimension(name, "A1:"+last); err != nil {
		return nil, err
	}
	if err := x.printSetup(name, true); err != nil {
		return nil, err
	}
	sw, err := f.NewStreamWriter(name)
	if err != nil {
		return nil, err
	}
	for i, c := range cols {
		if err := sw.SetColWidth(i+1, i+1, c.width); err != nil {
			return nil, err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	hdr := make([]any, len(cols))
	for i, c := range cols {
		hdr[i] = excelize.Cell{StyleID: x.st.header, Value: c.title}
	}
	s := &sheet{x: x, name: name, sw: sw, cols: len(cols), want: rows}
	if err := sw.SetRow("A1", hdr, excelize.RowOpts{Height: 18}); err != nil {
		return nil, err
	}
	s.rows = 1
	return s, nil
}

func (s *sheet) add(values ...any) error {
	s.rows++
	cell, _ := excelize.CoordinatesToCellName(1, s.rows)
	return s.sw.SetRow(cell, values)
}

// printSetup prints a sheet landscape on A4, fitted to one page wide, with
// the header row (if any) repeated at the top of every page.
func (x *xlsxDoc) printSetup(name string, header bool) error {
	size, landscape, wide, tall := 9, "landscape", 1, 0 // 9: A4 (ECMA-376 paperSize)
	if err := x.f.SetPageLayout(name, &excelize.PageLayoutOptions{Size: &size, Orientation: &landscape, FitToWidth: &wide, FitToHeight: &tall}); err != nil {
		return err
	}
	fit := true
	if err := x.f.SetSheetProps(name, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
		return err
	}
	if !header {
		return nil
	}
	return x.f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", RefersTo: "'" + name + "'!$1:$1", Scope: name})
}

// close adds the autofilter table and flushes the sheet.
func (s *sheet) close() error {
	if s.rows-1 != s.want {
		return fmt.Errorf("sheet %s: %d rows written, %d announced", s.name, s.rows-1, s.want)
	}
	last, _ := excelize.CoordinatesToCellName(s.cols, max(s.rows, 2))
	if err := s.sw.AddTable(&excelize.Table{
		Range: "A1:" + last, Name: strings.ReplaceAll(s.name, " ", ""), StyleName: "TableStyleLight1",
	}); err != nil {
		return fmt.Errorf("sheet %s: %w", s.name, err)
	}
	if err := s.sw.Flush(); err != nil {
		return fmt.Errorf("sheet %s: %w", s.name, err)
	}
	return nil
}

func (x *xlsxDoc) sev(s model.Severity) excelize.Cell {
	return excelize.Cell{StyleID: x.st.severity[s], Value: s.String()}
}

func (x *xlsxDoc) status(s model.Status) excelize.Cell {
	return excelize.Cell{StyleID: x.st.status[s], Value: string(s)}
}

func (x *xlsxDoc) date(t time.Time) excelize.Cell {
	return excelize.Cell{StyleID: x.st.date, Value: utcOrNil(t)}
}

// A hostRows adds one host's rows to a detail sheet.
type hostRows func(h *model.HostResult) error

// hostSheets writes the sheets with rows from the hosts (Findings, Hosts,
// Volumes, Protectors, Not audited, Collection) in one pass over them, so
// each host is read once.
func (x *xlsxDoc) hostSheets() error {
	var sheets []*sheet
	var adds []hostRows
	for _, open := range []func() (*sheet, hostRows, error){x.findings, x.hosts, x.volumes, x.protectors, x.notAudited, x.collection} {
		s, add, err := open()
		if err != nil {
			return err
		}
		sheets, adds = append(sheets, s), append(adds, add)
	}
	adds = append(adds, x.also...)
	err := x.v.hosts(nil, func(h *model.HostResult) error {
		for _, add := range adds {
			if err := add(h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, s := range sheets {
		if err := s.close(); err != nil {
			return err
		}
	}
	return nil
}

func (x *xlsxDoc) findings() (*sheet, hostRows, error) {
	s, err := x.newSheet(sheetFindings, []sheetCol{{"Target", 34}, {"Computer", 16}, {"Status", 14}, {"Volume", 10}, {"Protector ID", 40}, {"Rule", 8},
		{"Severity", 10}, {"Title", 32}, {"Message", 60}, {"Waived", 8}, {"Waiver", 10}, {"Waiver expires (UTC)", 20}, {"Remediation", 60}}, x.v.findings)
	if err != nil {
		return nil, nil, err
	}
	return s, func(h *model.HostResult) error {
		for _, fd := range sortedFindings(h) {
			var wid, wexp any
			if fd.Waiver != nil {
				wid, wexp = fd.Waiver.ID, excelize.Cell{StyleID: x.st.day, Value: utcOrNil(fd.Waiver.Expires)}
			}
			if err := s.add(h.Target, computerName(h), string(h.Status), fd.Volume, fd.ProtectorID, fd.RuleID, x.sev(fd.Severity), fd.Title,
				fd.Message, fd.Waived(), wid, wexp, fd.Remediation); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

func (x *xlsxDoc) hosts() (*sheet, hostRows, error) {
	cols := []sheetCol{{"Target", 34}, {"Computer", 16}, {"Status", 14}, {"Reason", 50}, {"FQDN", 30},
		{"OS", 34}, {"Build", 8}, {"Join", 10}, {"Domain", 10}, {"Entra device ID", 38}, {"Collected (UTC)", 20}, {"Duration (s)", 12},
		{"Collection", 24}}
	for _, k := range x.v.labelKeys {
		cols = append(cols, sheetCol{"Label " + k, 16})
	}
	s, err := x.newSheet(sheetHosts, cols, len(x.v.keys))
	if err != nil {
		return nil, nil, err
	}
	row := make([]any, 0, len(cols))
	return s, func(h *model.HostResult) error {
		var fqdn, osName, build, join, domain, device, coll string
		if fc := h.Facts; fc != nil {
			fqdn, osName, build = fc.FQDN, fc.OS.Caption, fc.OS.Build
			join, domain, device = string(fc.Join.State), fc.Join.DomainName, fc.Join.EntraDeviceID
			coll = strings.Join(nonEmpty(fc.Source.Collector, fc.Source.Transport, fc.Source.Auth, fc.Source.Protection, fc.Source.FactsFile), " / ")
			if fc.Source.Note != "" {
				coll += ": " + fc.Source.Note
			}
		}
		row = append(row[:0], h.Target, computerName(h), x.status(h.Status), h.Reason, fqdn, osName, build, join, domain, device,
			x.date(h.CollectedAt), h.Duration.Seconds(), coll)
		for _, k := range x.v.labelKeys {
			row = append(row, h.Labels[k])
		}
		if err := s.add(row...); err != nil {
			return err
		}
		return nil
	}, nil
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (x *xlsxDoc) volumes() (*sheet, hostRows, error) {
	s, err := x.newSheet(sheetVolumes, []sheetCol{{"Target", 34}, {"Computer", 16}, {"Volume", 12}, {"Device ID", 50}, {"Type", 10}, {"Conversion", 22},
		{"Encrypted", 10}, {"Used space only", 14}, {"Protection", 11}, {"Locked", 8}, {"Method", 16}, {"Suspend count", 13}, {"Stale keys", 50}}, x.v.volumes)
	if err != nil {
		return nil, nil, err
	}
	return s, func(h *model.HostResult) error {
		for _, v := range sortedVolumes(h) {
			var suspend any
			if v.SuspendCount != nil {
				suspend = *v.SuspendCount
			}
			var stale []string
			for _, k := range v.StaleKeys {
				stale = append(stale, string(k.Location)+" "+k.ID)
			}
			if err := s.add(h.Target, computerName(h), v.MountPoint, v.DeviceID, string(v.Type), string(v.Conversion),
				excelize.Cell{StyleID: x.st.pct, Value: v.EncryptionPercent / 100}, v.UsedSpaceOnly, string(v.Protection), v.Locked,
				string(v.Method), suspend, strings.Join(stale, "; ")); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

func (x *xlsxDoc) protectors() (*sheet, hostRows, error) {
	cols := []sheetCol{{"Target", 34}, {"Computer", 16}, {"Volume", 12}, {"Protector ID", 40}, {"Type", 18}}
	for _, loc := range model.Locations {
		t := locationTitle(loc)
		cols = append(cols, sheetCol{t + " state", 12}, sheetCol{t + " evidence", 44}, sheetCol{t + " time (UTC)", 20})
	}
	s, err := x.newSheet(sheetProtectors, cols, x.v.protectors)
	if err != nil {
		return nil, nil, err
	}
	row := make([]any, 0, len(cols))
	return s, func(h *model.HostResult) error {
		for _, v := range sortedVolumes(h) {
			for _, p := range v.Protectors {
				row = append(row[:0], h.Target, computerName(h), v.MountPoint, p.ID, string(p.Type))
				for _, loc := range model.Locations {
					var state, evidence, when any
					for _, b := range p.Backups {
						if b.Location != loc {
							continue
						}
						state = excelize.Cell{StyleID: x.st.backup[b.State], Value: string(b.State)}
						ev := nonEmpty(b.Reason, b.Object)
						if !required(v, loc) {
							// Shown, but it does not count: grey, the state kept in the evidence.
							state = excelize.Cell{StyleID: x.st.notRequired, Value: notRequired}
							ev = append([]string{"state " + string(b.State)}, ev...)
						}
						if b.Event != 0 {
							ev = append(ev, "event "+strconv.Itoa(b.Event))
						}
						evidence = strings.Join(ev, "; ")
						if b.Time != nil {
							when = x.date(*b.Time)
						}
					}
					row = append(row, state, evidence, when)
				}
				if err := s.add(row...); err != nil {
					return err
				}
			}
		}
		return nil
	}, nil
}

func (x *xlsxDoc) notAudited() (*sheet, hostRows, error) {
	s, err := x.newSheet(sheetNotAudited, []sheetCol{{"Target", 34}, {"Computer", 16}, {"Status", 14}, {"Reason", 80}, {"Collected (UTC)", 20}}, x.v.notAudited)
	if err != nil {
		return nil, nil, err
	}
	return s, func(h *model.HostResult) error {
		if h.Status.Audited() {
			return nil
		}
		return s.add(h.Target, computerName(h), x.status(h.Status), h.Reason, x.date(h.CollectedAt))
	}, nil
}

func (x *xlsxDoc) waivers() error {
	s, err := x.newSheet(sheetWaivers, []sheetCol{{"Waiver", 10}, {"State", 10}, {"Expires (UTC)", 14}, {"Owner", 28}, {"Ticket", 12},
		{"Scope", 40}, {"Matched", 9}, {"Reason", 60}}, len(x.r.Waivers))
	if err != nil {
		return err
	}
	for _, w := range sortedWaivers(x.r) {
		if err := s.add(w.ID, w.State, excelize.Cell{StyleID: x.st.day, Value: utcOrNil(w.Expires)}, w.Owner, w.Ticket, w.Scope, w.Matched, w.Reason); err != nil {
			return err
		}
	}
	return s.close()
}

func (x *xlsxDoc) remediation() error {
	s, err := x.newSheet(sheetRemediation, []sheetCol{{"Time (UTC)", 20}, {"Target", 34}, {"Volume", 10}, {"Protector ID", 40}, {"Action", 10},
		{"Location", 10}, {"Outcome", 11}, {"Verified", 9}, {"Detail", 60}}, len(x.r.Remediation))
	if err != nil {
		return err
	}
	for _, e := range sortedRemediation(x.r) {
		if err := s.add(x.date(e.Time), e.Target, e.Volume, e.ProtectorID, e.Action, string(e.Location), e.Outcome, e.Verified, e.Detail); err != nil {
			return err
		}
	}
	return s.close()
}

// rejectedInputs lists the input files the run read but did not use (facts
// files that were malformed, stale duplicates, or of computers outside the
// targets); the sheet exists only when there are some.
func (x *xlsxDoc) rejectedInputs() error {
	if len(x.r.Run.RejectedInputs) == 0 {
		return nil
	}
	s, err := x.newSheet(sheetRejected, []sheetCol{{"File", 40}, {"Reason", 90}}, len(x.r.Run.RejectedInputs))
	if err != nil {
		return err
	}
	for _, ri := range x.r.Run.RejectedInputs {
		if err := s.add(ri.File, ri.Reason); err != nil {
			return err
		}
	}
	return s.close()
}

// summaryValueWidth is the width of the Summary sheet's value column, in characters.
const summaryValueWidth = 44

// wrappedLines estimates how many lines text takes when wrapped at spaces
// in a column width characters wide (a word longer than the width takes
// as many lines as it fills).
func wrappedLines(text string, width int) int {
	lines := 0
	for _, para := range strings.Split(text, "\n") {
		n, col := 1, 0
		for _, w := range strings.Fields(para) {
			l := len([]rune(w))
			switch {
			case col == 0:
				col = l
			case col+1+l <= width:
				col += 1 + l
			default:
				n++
				col = l
			}
			for col > width {
				n++
				col -= width
			}
		}
		lines += n
	}
	return lines
}
