package reports

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/bitaudit/bitaudit/model"
)

// Page geometry in millimetres.
const (
	margin     = 15.0
	footerZone = 16.0 // space kept free above the bottom edge for the footer
	lineH      = 3.6  // table text line height at 7.5 pt
	cellPad    = 0.9
	maxLines   = 30 // a cell taller than this is cut with an ellipsis
)

type rgb struct{ r, g, b int }

var (
	black      = rgb{20, 20, 20}
	grey       = rgb{110, 110, 110}
	lineGrey   = rgb{200, 200, 200}
	headerFill = rgb{225, 229, 235}
	accent     = rgb{31, 73, 125}
)

// severityColour is the fill for a severity, and whether text on it is white.
func severityColour(s model.Severity) (rgb, bool) {
	switch s {
	case model.SeverityCritical:
		return rgb{128, 0, 0}, true
	case model.SeverityHigh:
		return rgb{214, 58, 46}, true
	case model.SeverityMedium:
		return rgb{242, 163, 41}, false
	case model.SeverityLow:
		return rgb{246, 221, 102}, false
	case model.SeverityInfo:
		return rgb{160, 196, 230}, false
	}
	return rgb{255, 255, 255}, false
}

var statusColours = map[model.Status]rgb{
	model.StatusCompliant:     {46, 139, 87},
	model.StatusNoncompliant:  {214, 58, 46},
	model.StatusUnreachable:   {140, 140, 140},
	model.StatusAuthFailed:    {230, 140, 30},
	model.StatusTimeout:       {150, 110, 190},
	model.StatusProtocolError: {130, 95, 60},
	model.StatusInterrupted:   {80, 125, 185},
}

// backupFill is the light fill for a backup state cell.
func backupFill(state string) *rgb {
	switch {
	case strings.HasPrefix(state, string(model.BackupVerified)):
		return &rgb{214, 240, 222}
	case strings.HasPrefix(state, string(model.BackupClaimed)):
		return &rgb{253, 236, 200}
	case strings.HasPrefix(state, string(model.BackupMissing)):
		return &rgb{248, 210, 206}
	case strings.HasPrefix(state, string(model.BackupUnknown)):
		return &rgb{232, 232, 232}
	case state == notRequired:
		return &rgb{244, 244, 244}
	}
	return nil
}

// pdfDoc is the PDF being written and the result it renders.
type pdfDoc struct {
	*fpdf.Fpdf
	r *model.Result
	v *view
	o PDFOptions
	// missing is what the font cannot draw, said on the cover.
	missing *undrawable
	// err is the first error reading the hosts.
	err error
	// The hosts each listing shows: at most pdfHostsInFull (see listings).
	list struct{ findings, notAudited, waived, gaps, appendix listing }
}

// pdfHostsInFull bounds the hosts each table of the PDF lists in full. The
// PDF is held in memory until it is written (about 15 KB a host listed in
// both the findings and the appendix), and a ticket needs the worst hosts,
// not ten thousand pages: beyond the bound a table lists the hosts with
// the most severe findings and counts the rest, saying so above the table
// and on the first page; report.xlsx, report.csv and result.json list
// every host. 2,000 covers the fleet the issue names (10,000 hosts, one in
// ten not compliant) in full.
var pdfHostsInFull = 2000 // a variable for tests

// A listing is the hosts one table lists: keep selects them, total is how
// many there are, left how many of those the table counts but does not list.
type listing struct {
	keep        func(*hostKey) bool
	total, left int
}

func (d *pdfDoc) listing(keep func(*hostKey) bool, bySeverity bool) listing {
	sel, total, left := d.v.pick(keep, pdfHostsInFull, bySeverity)
	return listing{sel, total, left}
}

// listings picks the hosts of every table before the first is drawn, so the
// first page can say which tables do not list all.
func (d *pdfDoc) listings() {
	d.list.findings = d.listing(hasOpen, true)
	d.list.notAudited = d.listing(notAudited, false)
	d.list.waived = d.listing(hasWaived, false)
	d.list.gaps = d.listing(hasGaps, false)
	all := func(*hostKey) bool { return true }
	if len(d.v.keys) > pdfListAllLimit && d.v.compliant > 0 {
		all = func(k *hostKey) bool { return k.status != model.StatusCompliant }
	}
	d.list.appendix = d.listing(all, true)
}

// leftOut says, above a table, that it lists only some of its hosts, which,
// and where every one is.
func (d *pdfDoc) leftOut(l listing, what, which, where string) {
	if l.left == 0 {
		return
	}
	d.para(fmt.Sprintf("This run has %s %s, more than the %s this report lists in full: the table lists %s and counts the other %s. %s",
		num(l.total), what, num(pdfHostsInFull), which, num(l.left), where))
}

// cutText is the first page's line on the tables that do not list every
// host; "" when all do.
func (d *pdfDoc) cutText() string {
	var parts []string
	for _, c := range []struct {
		l    listing
		what string
	}{{d.list.findings, "hosts with open findings (the most severe)"}, {d.list.notAudited, "hosts not audited"}, {d.list.waived, "hosts with waived findings"},
		{d.list.gaps, "hosts with collection gaps"}, {d.list.appendix, "hosts in the appendix (the most severe)"}} {
		if c.l.left > 0 {
			parts = append(parts, fmt.Sprintf("%s of %s %s", num(pdfHostsInFull), num(c.l.total), c.what))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "This PDF lists at most " + num(pdfHostsInFull) + " hosts per table: " + strings.Join(parts, "; ") +
		" are listed, the rest counted (each table says so). report.xlsx, report.csv and result.json list every host."
}

// eachHost calls fn with the hosts keep accepts (nil: all), in target
// order; after a source error it calls fn no more and WritePDF returns it.
func (d *pdfDoc) eachHost(keep func(*hostKey) bool, fn func(h *model.HostResult)) {
	if d.err != nil {
		return
	}
	d.err = d.v.hosts(keep, func(h *model.HostResult) error { fn(h); return nil })
}

// WritePDF renders the report as PDF: cover block, executive summary with
// charts, findings by rule, non-compliant hosts and volumes, hosts not
// audited, waivers, the remediation log and a per-host appendix. Dates and
// ordering come from the result, so the same result gives the same PDF.
func WritePDF(w io.Writer, r *model.Result) error { return WritePDFWith(w, r, PDFOptions{}) }

// WritePDFWith is [WritePDF] with a font of the caller's choice; text the
// font cannot draw is named on the first page and to o.Warn, never left as
// silent boxes.
func WritePDFWith(w io.Writer, r *model.Result, o PDFOptions) error {
	if r == nil {
		return errNilResult
	}
	if o.Font != nil {
		if err := CheckPDFFont(o.Font); err != nil {
			return fmt.Errorf("PDF font: %w", err)
		}
	}
	g, err := newGlyphCheck(o.Font, r)
	if err != nil {
		return err
	}
	v, err := newView(r)
	if err != nil {
		return fmt.Errorf("render pdf: %w", err)
	}
	g.hosts(v.hostRunes)
	return writePDF(w, r, v, g.done(r), o)
}

// writePDF renders r with its view v; missing is what o.Font cannot draw.
func writePDF(w io.Writer, r *model.Result, v *view, missing *undrawable, o PDFOptions) error {
	if len(missing.runes) > 0 && o.Warn != nil {
		o.Warn(missing.String())
	}
	d := &pdfDoc{Fpdf: fpdf.New("P", "mm", "A4", ""), r: r, v: v, o: o, missing: missing}
	d.setup()
	d.listings()
	d.cover()
	d.executiveSummary()
	d.sincePrevious()
	d.findingsByRule()
	d.nonCompliant()
	d.notAudited()
	d.collectionGapsPDF()
	d.coverage()
	d.waivers()
	d.remediation()
	d.appendix()
	if d.err != nil {
		return fmt.Errorf("render pdf: %w", d.err)
	}
	if err := d.Error(); err != nil {
		return fmt.Errorf("render pdf: %w", err)
	}
	ew := &errWriter{w: w}
	if err := d.Output(ew); err != nil {
		return fmt.Errorf("write pdf: %w", err)
	}
	return ew.err
}

func (d *pdfDoc) setup() {
	r := d.r
	d.SetCatalogSort(true)
	// fpdf writes these dates without an offset and uses the clock for a
	// zero time; give it the run's finish in UTC, or the epoch.
	created := r.Run.Finished
	if created.IsZero() {
		created = r.Run.Started
	}
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	d.SetCreationDate(created.UTC())
	d.SetModificationDate(created.UTC())
	d.SetCompression(true)
	d.SetTitle("BitLocker key-escrow audit "+r.Run.ID, true)
	d.SetAuthor(orDefault(r.Run.Organisation, "bitaudit"), true)
	d.SetSubject("BitLocker encryption and recovery-key backup audit", true)
	d.SetCreator("bitaudit "+r.Run.ToolVersion, true)
	d.SetProducer("bitaudit "+r.Run.ToolVersion, true)
	if d.o.Font != nil {
		// One face for both: fpdf does not synthesise bold.
		d.AddUTF8FontFromBytes("go", "", d.o.Font)
		d.AddUTF8FontFromBytes("go", "B", d.o.Font)
	} else {
		d.AddUTF8FontFromBytes("go", "", goregular.TTF)
		d.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	}
	d.SetMargins(margin, margin, margin)
	d.SetAutoPageBreak(false, footerZone)
	d.SetCellMargin(cellPad)
	d.AliasNbPages("{nb}")
	d.SetHeaderFuncMode(func() {
		if d.PageNo() == 1 {
			return
		}
		d.SetFont("go", "", 7.5)
		d.colour(grey)
		w, _ := d.GetPageSize()
		d.SetXY(margin, 7)
		d.CellFormat(w-2*margin, 4, "BitLocker key-escrow audit · "+orDefault(r.Run.Organisation, "bitaudit")+" · "+stamp(r.Run.Started), "", 0, "L", false, 0, "")
		d.SetDrawColor(lineGrey.r, lineGrey.g, lineGrey.b)
		d.Line(margin, 11.5, w-margin, 11.5)
		d.SetY(margin)
	}, true)
	d.SetFooterFunc(func() {
		w, h := d.GetPageSize()
		d.SetDrawColor(lineGrey.r, lineGrey.g, lineGrey.b)
		d.Line(margin, h-12, w-margin, h-12)
		d.SetFont("go", "", 7.5)
		d.colour(grey)
		d.SetXY(margin, h-11)
		d.CellFormat((w-2*margin)*0.75, 4, "Run "+r.Run.ID+" · Contains no recovery key material", "", 0, "L", false, 0, "")
		d.CellFormat((w-2*margin)*0.25, 4, fmt.Sprintf("Page %d of {nb}", d.PageNo()), "", 0, "R", false, 0, "")
	})
}

func fontStyle(bold bool) string {
	if bold {
		return "B"
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (d *pdfDoc) colour(c rgb) { d.SetTextColor(c.r, c.g, c.b) }
func (d *pdfDoc) fill(c rgb)   { d.SetFillColor(c.r, c.g, c.b) }

// pageBottom is the lowest y content may reach on the current page.
func (d *pdfDoc) pageBottom() float64 {
	_, h := d.GetPageSize()
	return h - footerZone
}

// ensure starts a new page (in the current orientation) unless h mm fit.
func (d *pdfDoc) ensure(h float64) bool {
	if d.GetY()+h <= d.pageBottom() {
		return false
	}
	d.AddPageFormat(d.orientation(), d.GetPageSizeStr("A4"))
	return true
}

func (d *pdfDoc) orientation() string {
	w, h := d.GetPageSize()
	if w > h {
		return "L"
	}
	return "P"
}

// section starts a top-level section with a heading and an outline entry.
func (d *pdfDoc) section(title string) {
	d.ensure(30)
	if d.GetY() > margin+1 {
		d.Ln(4)
	}
	d.Bookmark(title, 0, -1)
	d.SetFont("go", "B", 13)
	d.colour(accent)
	d.CellFormat(0, 7, title, "", 1, "L", false, 0, "")
	d.Ln(1)
	d.colour(black)
}

// subheading writes a small bold line kept with at least minFollow mm after it.
func (d *pdfDoc) subheading(text string, minFollow float64) {
	d.ensure(6 + minFollow)
	d.SetFont("go", "B", 9.5)
	d.colour(black)
	d.MultiCell(0, 4.6, text, "", "L", false)
	d.Ln(0.5)
}

// para writes wrapped body text.
func (d *pdfDoc) para(text string) {
	d.SetFont("go", "", 9)
	d.colour(black)
	w, _ := d.GetPageSize()
	lines := d.SplitText(text, w-2*margin)
	d.ensure(float64(len(lines)) * 4.4)
	for _, l := range lines {
		d.CellFormat(0, 4.4, l, "", 1, "L", false, 0, "")
	}
	d.Ln(1.5)
}

// A column of a table: title, width in mm, alignment (L, C, R).
type column struct {
	title string
	w     float64
	align string
}

// A cell of a table row; fill is optional, white text when light is set,
// and span > 1 makes it cover that many columns.
type cell struct {
	text  string
	fill  *rgb
	light bool
	bold  bool
	grey  bool // grey text: shown, but it does not count
	span  int
}

// width returns the width of cells[i], which starts at column col.
func (t *table) width(c cell, col int) float64 {
	w := 0.0
	for k := col; k < col+max(c.span, 1) && k < len(t.cols); k++ {
		w += t.cols[k].w
	}
	return w
}

func txt(s string) cell { return cell{text: s} }

// table draws rows that wrap long values and repeat the header on each page.
type table struct {
	d    *pdfDoc
	cols []column
	size float64
	// cont names the group the following rows belong to (the host).
	cont string
}

func (d *pdfDoc) newTable(size float64, cols ...column) *table {
	t := &table{d: d, cols: cols, size: size}
	d.ensure(2 * (lineH + 2*cellPad) * 2)
	t.header()
	return t
}

func (t *table) header() {
	cells := make([]cell, len(t.cols))
	for i, c := range t.cols {
		cells[i] = cell{text: c.title, fill: &headerFill, bold: true}
	}
	t.draw(cells)
}

// row adds one row, starting a new page (and repeating the header) when it
// does not fit. A row continuing a group (empty first cell) that starts a
// page repeats the group's name (cont) there, so no page shows rows of an
// unnamed host.
func (t *table) row(cells ...cell) {
	lines, h := t.layout(cells)
	if t.d.GetY()+h > t.d.pageBottom() {
		t.d.AddPageFormat(t.d.orientation(), t.d.GetPageSizeStr("A4"))
		t.header()
		if len(cells) > 0 && cells[0].text == "" && t.cont != "" {
			cells = append([]cell{{text: t.cont + " (continued)"}}, cells[1:]...)
			lines, h = t.layout(cells)
		}
	}
	t.drawLines(cells, lines, h)
}

func (t *table) layout(cells []cell) ([][]string, float64) {
	lines := make([][]string, len(cells))
	n, col := 1, 0
	for i, c := range cells {
		t.d.SetFont("go", fontStyle(c.bold), t.size)
		ls := t.d.wrap(c.text, t.width(c, col))
		col += max(c.span, 1)
		if len(ls) > maxLines {
			ls = append(ls[:maxLines-1], "…")
		}
		lines[i] = ls
		n = max(n, len(ls))
	}
	return lines, float64(n)*lineH + 2*cellPad
}

// wrap splits text into lines that fit w mm in the current font: at
// spaces, and a word wider than a line after its last "-", ".", "@", "/",
// "\\", "=", ",", ":" or "_" that fits (an e-mail address, a DN, a path),
// mid-word only when there is no such place.
func (d *pdfDoc) wrap(text string, w float64) []string {
	avail := w - 2*cellPad - 0.3
	var out []string
	for _, para := range strings.Split(text, "\n") {
		line := ""
		words := strings.Fields(para)
		if len(words) > 0 { // keep the indent of "  Hosts compliant"
			words[0] = para[:len(para)-len(strings.TrimLeft(para, " "))] + words[0]
		}
		for _, word := range words {
			try := word
			if line != "" {
				try = line + " " + word
			}
			if d.GetStringWidth(try) <= avail {
				line = try
				continue
			}
			if line != "" {
				out = append(out, line)
				line = ""
			}
			for d.GetStringWidth(word) > avail {
				cut := breakPoint(d, word, avail)
				out = append(out, word[:cut])
				word = word[cut:]
			}
			line = word
		}
		out = append(out, line)
	}
	return out
}

// breakPoint is where to cut a word too wide for avail: after the last
// separator that fits, else after the last rune that fits (at least one).
func breakPoint(d *pdfDoc, word string, avail float64) int {
	fit, sep := 0, 0
	for i, r := range word {
		end := i + utf8.RuneLen(r)
		if d.GetStringWidth(word[:end]) > avail {
			break
		}
		fit = end
		if strings.ContainsRune("-.@/\\=,:_;", r) {
			sep = end
		}
	}
	switch {
	case sep > 0:
		return sep
	case fit > 0:
		return fit
	}
	_, n := utf8.DecodeRuneInString(word)
	return n
}

func (t *table) draw(cells []cell) {
	lines, h := t.layout(cells)
	t.drawLines(cells, lines, h)
}

func (t *table) drawLines(cells []cell, lines [][]string, h float64) {
	d := t.d
	x0, y := margin, d.GetY()
	x, col := x0, 0
	d.SetDrawColor(lineGrey.r, lineGrey.g, lineGrey.b)
	d.SetLineWidth(0.15)
	for i, c := range cells {
		w := t.width(c, col)
		if c.fill != nil {
			d.fill(*c.fill)
			d.Rect(x, y, w, h, "FD")
		} else {
			d.Rect(x, y, w, h, "D")
		}
		switch {
		case c.light:
			d.SetTextColor(255, 255, 255)
		case c.grey:
			d.colour(grey)
		default:
			d.colour(black)
		}
		d.SetFont("go", fontStyle(c.bold), t.size)
		for k, l := range lines[i] {
			d.SetXY(x, y+cellPad+float64(k)*lineH)
			d.CellFormat(w, lineH, l, "", 0, t.cols[col].align, false, 0, "")
		}
		x += w
		col += max(c.span, 1)
	}
	d.colour(black)
	d.SetXY(x0, y+h)
}

func sevCell(s model.Severity) cell {
	c, light := severityColour(s)
	return cell{text: s.String(), fill: &c, light: light}
}

func statusCell(s model.Status) cell {
	c := statusColours[s]
	return cell{text: statusLabel(s), fill: &c, light: true}
}

func (d *pdfDoc) cover() {
	r := d.r
	d.AddPage()
	d.SetFillColor(accent.r, accent.g, accent.b)
	w, _ := d.GetPageSize()
	d.Rect(0, 0, w, 38, "F")
	d.SetXY(margin, 11)
	d.SetTextColor(255, 255, 255)
	d.SetFont("go", "B", 22)
	d.CellFormat(0, 10, "BitLocker key-escrow audit", "", 1, "L", false, 0, "")
	d.SetFont("go", "", 12)
	d.CellFormat(0, 7, orDefault(r.Run.Organisation, "Organisation not set in the policy"), "", 1, "L", false, 0, "")
	d.SetY(46)
	d.colour(black)

	notAudited := r.NotAudited()
	scope := fmt.Sprintf("%s targets; %s audited, %s not audited", num(r.Run.TargetCount), num(r.Summary.HostsAudited), num(notAudited))
	if n := r.Run.DuplicateCount(); n > 0 {
		scope += fmt.Sprintf("; %s audited once", plural(n, "duplicate target line", "duplicate target lines"))
	}
	if n := d.v.fromFacts; n > 0 {
		scope += fmt.Sprintf("; %s from facts files collected on the hosts", num(n))
	}
	policy := r.Run.Policy.Source
	if r.Run.Policy.Default && !strings.Contains(policy, "default") {
		policy += " (built-in default)"
	}
	var opts []string
	for _, k := range sortedKeys(r.Run.Options) {
		opts = append(opts, k+"="+r.Run.Options[k])
	}
	rows := [][2]string{
		{"Run ID", r.Run.ID},
		{"Started", stamp(r.Run.Started)},
		{"Finished", stamp(r.Run.Finished)},
		{"Scope", scope},
		{"Tool version", "bitaudit " + r.Run.ToolVersion},
		{"Policy", policy},
		{"Policy SHA-256", r.Run.Policy.SHA256},
		{"Run options", strings.Join(opts, ", ")},
	}
	if src, insecure := escrowNote(r); src != "" || insecure != "" {
		rows = append(rows, [2]string{"Escrow sources", strings.TrimSpace(src + " " + insecure)})
	}
	if n := len(r.Run.RejectedInputs); n > 0 {
		rows = append(rows, [2]string{"Rejected inputs", rejectedText(r.Run.RejectedInputs)})
	}
	if r.Run.Interrupted {
		why := "the run was stopped before every host finished"
		if r.Run.StopReason != "" {
			why = "the run stopped early: " + r.Run.StopReason
		}
		rows = append(rows, [2]string{"Interrupted", "Yes: " + why + "; unfinished hosts are listed as interrupted."})
	}
	if cut := d.cutText(); cut != "" {
		rows = append(rows, [2]string{"Hosts listed", cut})
	}
	if d.missing != nil && len(d.missing.runes) > 0 {
		rows = append(rows, [2]string{"Not drawn", d.missing.String() + "."})
	}
	t := &table{d: d, size: 9, cols: []column{{"", 38, "L"}, {"", w - 2*margin - 38, "L"}}}
	for _, kv := range rows {
		label := cell{text: kv[0], bold: true, fill: &headerFill}
		if kv[0] == "Not drawn" {
			label.fill = &rgb{248, 210, 206}
		}
		t.draw([]cell{label, txt(kv[1])})
	}
}

func (d *pdfDoc) executiveSummary() {
	s := d.r.Summary
	d.section("Executive summary")
	d.para(fmt.Sprintf("%s of %s hosts were audited; %s could not be audited and count against compliance as unknown, never as compliant. "+
		"%s of %s audited hosts are compliant: %s with waivers applied, %s without. "+
		"%s of %s recovery passwords (%s) are backed up and verified at a source; %s are claimed only by the host, %s missing, %s unknown.",
		num(s.HostsAudited), num(s.Hosts), num(d.r.NotAudited()), num(s.HostsByStatus[model.StatusCompliant]), num(s.HostsAudited),
		percent(s.CompliantShare), percent(s.CompliantShareWithoutWaivers), num(s.BackedUp), num(s.RecoveryPasswords), percent(s.BackupCoverage),
		num(s.ByState.Claimed), num(s.ByState.Missing), num(s.ByState.Unknown)))
	if src, _ := escrowNote(d.r); src != "" {
		d.para("Escrow sources: " + src)
	}

	y := d.GetY()
	d.ensure(62)
	if d.GetY() != y {
		y = d.GetY()
	}
	d.hostDonut(margin, y)
	d.severityBars(margin+92, y)
	d.SetXY(margin, y+60)

	w, _ := d.GetPageSize()
	t := d.newTable(8.5, column{"Figure", 100, "L"}, column{"Value", w - 2*margin - 100, "R"})
	t.row(txt("Hosts in scope"), txt(num(s.Hosts)))
	t.row(txt("Hosts audited"), txt(num(s.HostsAudited)))
	t.row(txt("Hosts not audited"), txt(num(d.r.NotAudited())))
	for _, st := range model.Statuses {
		t.row(txt("  Hosts "+statusLabel(st)), txt(num(s.HostsByStatus[st])))
	}
	t.row(txt("Compliant share of audited hosts, waivers applied"), cell{text: percent(s.CompliantShare), bold: true})
	t.row(txt("Compliant share of audited hosts, without waivers"), txt(percent(s.CompliantShareWithoutWaivers)))
	t.row(txt("Volumes on audited hosts"), txt(num(s.Volumes)))
	for _, k := range sortedKeys(s.VolumesByState) {
		t.row(txt("  Volumes "+label(k)), txt(num(s.VolumesByState[k])))
	}
	t.row(txt("Recovery passwords"), txt(num(s.RecoveryPasswords)))
	t.row(txt("Recovery passwords backed up (verified at a source)"), txt(num(s.BackedUp)))
	t.row(txt("Recovery passwords claimed only by the host"), txt(num(s.ByState.Claimed)))
	t.row(txt("Recovery passwords missing at the sources checked"), txt(num(s.ByState.Missing)))
	t.row(txt("Recovery passwords unknown (no source could check)"), txt(num(s.ByState.Unknown)))
	t.row(txt("Recovery-key backup coverage"), cell{text: percent(s.BackupCoverage), bold: true})
	for _, k := range sortedKeys(s.BackupByState) {
		loc, st, _ := strings.Cut(k, ":")
		t.row(txt("  Backup evidence "+loc+": "+st), txt(num(s.BackupByState[k])))
	}
	for _, sev := range model.Severities {
		t.row(txt("Open findings, "+sev.String()), txt(num(s.FindingsBySeverity[sev])))
	}
	t.row(txt("Findings waived (not counted above)"), txt(num(s.Waived)))
}

// hostDonut draws hosts by status as a donut with a legend, in an 88×58 mm box at (x, y).
func (d *pdfDoc) hostDonut(x, y float64) {
	s := d.r.Summary
	d.SetFont("go", "B", 9)
	d.SetXY(x, y)
	d.CellFormat(88, 5, "Hosts by status", "", 0, "L", false, 0, "")
	cx, cy, R := x+22, y+30, 20.0
	a := 90.0
	for _, st := range model.Statuses {
		n := s.HostsByStatus[st]
		if n == 0 || s.Hosts == 0 {
			continue
		}
		sweep := 360 * float64(n) / float64(s.Hosts)
		d.fill(statusColours[st])
		d.MoveTo(cx, cy)
		d.ArcTo(cx, cy, R, R, 0, a-sweep, a)
		d.ClosePath()
		d.DrawPath("F")
		a -= sweep
	}
	if s.Hosts == 0 {
		d.SetDrawColor(lineGrey.r, lineGrey.g, lineGrey.b)
		d.Circle(cx, cy, R, "D")
	}
	d.SetFillColor(255, 255, 255)
	d.Circle(cx, cy, R*0.58, "F")
	d.SetFont("go", "B", 12)
	d.colour(black)
	d.SetXY(cx-12, cy-5)
	d.CellFormat(24, 6, num(s.Hosts), "", 0, "C", false, 0, "")
	d.SetFont("go", "", 7)
	d.SetXY(cx-12, cy+0.5)
	d.CellFormat(24, 4, "hosts", "", 0, "C", false, 0, "")
	ly := y + 10
	for _, st := range model.Statuses {
		d.fill(statusColours[st])
		d.Rect(x+46, ly+0.8, 3, 3, "F")
		d.SetFont("go", "", 7.5)
		d.SetXY(x+50, ly)
		d.CellFormat(28, 4.5, statusLabel(st), "", 0, "L", false, 0, "")
		d.CellFormat(10, 4.5, num(s.HostsByStatus[st]), "", 0, "R", false, 0, "")
		ly += 5.5
	}
}

// severityBars draws open findings by severity as horizontal bars, plus a
// backup-coverage gauge, in an 88×58 mm box at (x, y).
func (d *pdfDoc) severityBars(x, y float64) {
	s := d.r.Summary
	d.SetFont("go", "B", 9)
	d.SetXY(x, y)
	d.CellFormat(88, 5, "Open findings by severity", "", 0, "L", false, 0, "")
	most := 0
	for _, sev := range model.Severities {
		most = max(most, s.FindingsBySeverity[sev])
	}
	barX, barW, by := x+18, 58.0, y+8
	for _, sev := range model.Severities {
		n := s.FindingsBySeverity[sev]
		d.SetFont("go", "", 7.5)
		d.colour(black)
		d.SetXY(x, by)
		d.CellFormat(18, 5, sev.String(), "", 0, "L", false, 0, "")
		if n > 0 {
			c, _ := severityColour(sev)
			d.fill(c)
			d.Rect(barX, by+0.6, math.Max(0.6, barW*float64(n)/float64(most)), 3.8, "F")
		}
		d.SetXY(barX+barW+1, by)
		d.CellFormat(10, 5, num(n), "", 0, "L", false, 0, "")
		by += 6
	}
	// Backup coverage gauge.
	by += 3
	d.SetFont("go", "B", 9)
	d.SetXY(x, by)
	d.CellFormat(88, 5, "Recovery-key backup coverage", "", 0, "L", false, 0, "")
	by += 6
	d.fill(rgb{248, 210, 206})
	d.Rect(x, by, 76, 5, "F")
	caption := fmt.Sprintf("%s: %s of %s recovery passwords verified", percent(s.BackupCoverage), num(s.BackedUp), num(s.RecoveryPasswords))
	if s.BackupCoverage == nil {
		d.fill(rgb{220, 220, 220}) // nothing to cover: neither red nor green
		d.Rect(x, by, 76, 5, "F")
		caption = "n/a: no recovery passwords on audited hosts"
	} else {
		d.fill(statusColours[model.StatusCompliant])
		d.Rect(x, by, 76*math.Min(1, math.Max(0, *s.BackupCoverage)), 5, "F")
	}
	d.SetFont("go", "", 7.5)
	d.SetXY(x, by+5.5)
	d.CellFormat(88, 4, caption, "", 0, "L", false, 0, "")
}

func (d *pdfDoc) findingsByRule() {
	d.section("Findings by rule")
	rows := d.v.rules
	if len(rows) == 0 {
		d.para("No open findings.")
		return
	}
	d.para(fmt.Sprintf("Open findings by rule and severity; a host that could not be audited has one (host.not-audited). %s not counted here; see Waivers.", plural(d.r.Summary.Waived, "waived finding is", "waived findings are")))
	w, _ := d.GetPageSize()
	t := d.newTable(8, column{"Rule", 46, "L"}, column{"Title", w - 2*margin - 46 - 22 - 20, "L"}, column{"Severity", 22, "L"}, column{"Findings", 20, "R"})
	for _, r := range rows {
		t.row(txt(r.ID), txt(r.Title), sevCell(r.Severity), txt(num(r.Count)))
	}
}

func (d *pdfDoc) nonCompliant() {
	d.section("Non-compliant hosts and volumes")
	d.para("Every open (unwaived) finding on an audited host, with what is wrong and how to fix it. Hosts are in target order, findings most severe first.")
	d.leftOut(d.list.findings, "audited hosts with open findings", "the "+num(pdfHostsInFull)+" whose findings are the most severe, in target order,",
		"report.xlsx (Findings) and report.csv list every finding of every host.")
	t := d.newTable(7.5, column{"Host", 40, "L"}, column{"Volume", 18, "L"}, column{"Severity", 16, "L"}, column{"Finding", 58, "L"}, column{"Fix", 48, "L"})
	n := 0
	d.eachHost(d.list.findings.keep, func(h *model.HostResult) {
		first := true
		for _, f := range sortedFindings(h) {
			if f.Waived() {
				continue
			}
			host := cell{}
			if first {
				host = cell{text: hostTitle(h) + "\n" + h.Reason}
				t.cont = hostTitle(h)
				first = false
			}
			t.row(host, txt(f.Volume), sevCell(f.Severity), txt(findingText(f)), txt(f.Remediation))
			n++
		}
	})
	if n == 0 {
		t.row(txt("None"), txt(""), txt(""), txt(""), txt(""))
	}
}

func (d *pdfDoc) notAudited() {
	d.section("Hosts not audited")
	d.para(fmt.Sprintf("%s not be audited. Their state is unknown: they are kept in the totals and are not counted as compliant.", plural(d.r.NotAudited(), "host could", "hosts could")))
	d.leftOut(d.list.notAudited, "hosts not audited", "the first "+num(pdfHostsInFull)+" in target order",
		"report.xlsx (Not audited) and report.csv list every one, with the reason.")
	t := d.newTable(7.5, column{"Host", 62, "L"}, column{"Status", 24, "L"}, column{"Why", 94, "L"})
	n := 0
	d.eachHost(d.list.notAudited.keep, func(h *model.HostResult) {
		t.row(txt(hostTitle(h)), statusCell(h.Status), txt(h.Reason))
		n++
	})
	if n == 0 {
		t.row(txt("None"), txt(""), txt(""))
	}
}

func (d *pdfDoc) waivers() {
	d.section("Waivers")
	ws := sortedWaivers(d.r)
	if len(ws) == 0 {
		d.para("The policy has no waivers.")
		return
	}
	d.para("Waivers in the policy and their state at run time. Expiring waivers end within 30 days; an expired waiver no longer covers its findings.")
	t := d.newTable(7.5, column{"Waiver", 16, "L"}, column{"State", 18, "L"}, column{"Expires", 20, "L"}, column{"Owner / ticket", 38, "L"},
		column{"Scope", 34, "L"}, column{"Matched", 14, "R"}, column{"Reason", 40, "L"})
	for _, w := range ws {
		state := txt(w.State)
		switch w.State {
		case "expiring":
			state.fill = &rgb{253, 236, 200}
		case "expired":
			state.fill = &rgb{248, 210, 206}
		}
		t.row(txt(w.ID), state, txt(day(w.Expires)), txt(strings.TrimSpace(w.Owner+"\n"+w.Ticket)), txt(w.Scope), txt(num(w.Matched)), txt(w.Reason))
	}
	d.Ln(3)
	d.subheading("Waived findings", 12)
	d.leftOut(d.list.waived, "hosts with waived findings", "the first "+num(pdfHostsInFull)+" in target order",
		"report.xlsx (Findings, Waived) and report.csv list every waived finding.")
	t = d.newTable(7.5, column{"Host", 50, "L"}, column{"Volume", 18, "L"}, column{"Severity", 16, "L"}, column{"Finding", 66, "L"}, column{"Waiver", 30, "L"})
	n := 0
	d.eachHost(d.list.waived.keep, func(h *model.HostResult) {
		for _, f := range sortedFindings(h) {
			if !f.Waived() {
				continue
			}
			t.row(txt(hostTitle(h)), txt(f.Volume), sevCell(f.Severity), txt(findingText(f)), txt(f.Waiver.ID+" until "+day(f.Waiver.Expires)))
			n++
		}
	})
	if n == 0 {
		t.row(txt("None"), txt(""), txt(""), txt(""), txt(""))
	}
}

func (d *pdfDoc) remediation() {
	es := sortedRemediation(d.r)
	if len(es) == 0 {
		return
	}
	d.section("Remediation log")
	d.para("What --fix planned, skipped (with the reason) or did during this run, and whether each change was verified at the source afterwards (journal.jsonl in the bundle holds every action's intent and outcome).")
	t := d.newTable(7.5, column{"Time", 24, "L"}, column{"Host", 36, "L"}, column{"Volume / protector", 34, "L"}, column{"Action", 20, "L"},
		column{"Outcome", 18, "L"}, column{"Verified", 14, "L"}, column{"Detail", 34, "L"})
	for _, e := range es {
		outcome := txt(e.Outcome)
		if e.Outcome == "failed" {
			outcome.fill = &rgb{248, 210, 206}
		}
		t.row(txt(stamp(e.Time)), txt(e.Target), txt(e.Volume+"\n"+e.ProtectorID), txt(e.Action+" to "+locationTitle(e.Location)), outcome, txt(yesNo(e.Verified)), txt(e.Detail))
	}
}

// hostTitle is the target with the computer name the host reported, for
// the tables that list hosts: "127.0.10.18:5986 (LT-0018)".
func hostTitle(h *model.HostResult) string {
	if n := computerName(h); n != "" && !strings.EqualFold(n, h.Target) {
		return h.Target + " (" + n + ")"
	}
	return h.Target
}

// findingText is a finding as the tables print it: title, message, rule.
func findingText(f *model.Finding) string {
	return f.Title + ": " + f.Message + " [" + f.RuleID + "]"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// pdfListAllLimit is the fleet size up to which the appendix lists every
// host; beyond it compliant hosts are counted, not listed (the XLSX and CSV
// list all), so a large fleet's PDF stays a document a ticket can carry.
const pdfListAllLimit = 500

// appendix lists every host's volumes and protectors, with the backup state
// per location, on landscape pages; on large fleets only the hosts that are
// not compliant.
func (d *pdfDoc) appendix() {
	d.AddPageFormat("L", d.GetPageSizeStr("A4"))
	d.section("Appendix: volumes and key protectors by host")
	d.para("One row per key protector (a volume without protectors has one row). Backup states: verified at the source, claimed only by the host's event log, missing at a source that was checked, unknown when the source was not checked; not required (grey) where the policy does not accept the location for the volume, so it does not count.")
	cols := []column{{"Host", 45, "L"}, {"Volume", 22, "L"}, {"Type", 14, "L"}, {"Conversion", 26, "L"}, {"Protection", 17, "L"},
		{"Method", 18, "L"}, {"Protector", 60, "L"}, {"Protector type", 20, "L"}}
	for _, loc := range model.Locations {
		cols = append(cols, column{locationTitle(loc), 15, "L"})
	}
	if compliant := d.v.compliant; len(d.v.keys) > pdfListAllLimit && compliant > 0 {
		every := "every non-compliant and not-audited host is listed in full"
		if d.list.appendix.left > 0 {
			every = fmt.Sprintf("of the %s other hosts, the %s whose findings are the most severe are listed in full, in target order, and the other %s counted",
				num(d.list.appendix.total), num(pdfHostsInFull), num(d.list.appendix.left))
		}
		d.para(fmt.Sprintf("This fleet has %s hosts: the %s compliant hosts are counted here, not listed, to keep the report readable; "+
			"%s. report.xlsx, report.csv and result.json list every host.",
			num(len(d.v.keys)), num(compliant), every))
	} else {
		d.leftOut(d.list.appendix, "hosts", "the "+num(pdfHostsInFull)+" whose findings are the most severe, in target order,",
			"report.xlsx (Hosts, Volumes, Protectors) and report.csv list every host.")
	}
	t := d.newTable(7, cols...)
	d.eachHost(d.list.appendix.keep, func(h *model.HostResult) {
		var host strings.Builder
		host.WriteString(hostTitle(h))
		host.WriteString("\n" + statusLabel(h.Status))
		if j := hostJoin(h); j != "" {
			host.WriteString("\n" + j)
		}
		if len(h.Labels) > 0 {
			host.WriteString("\n" + labelsText(h.Labels))
		}
		if len(h.Volumes) == 0 {
			why := "no volumes reported"
			if !h.Status.Audited() {
				why = "not audited: " + h.Reason
			}
			t.row(txt(host.String()), cell{text: why, span: len(cols) - 1})
			return
		}
		first := true
		for _, v := range sortedVolumes(h) {
			ps := v.Protectors
			if len(ps) == 0 {
				ps = []model.Protector{{}}
			}
			for k := range ps {
				p := &ps[k]
				row := make([]cell, 0, len(cols))
				if first {
					row = append(row, txt(host.String()))
					t.cont = hostTitle(h)
					first = false
				} else {
					row = append(row, cell{})
				}
				if k == 0 {
					conv := label(v.Conversion)
					if v.Conversion != model.FullyEncrypted && v.Conversion != model.FullyDecrypted && v.Conversion != model.ConversionUnknown {
						conv += fmt.Sprintf(" (%g %%)", v.EncryptionPercent)
					}
					prot := string(v.Protection)
					if v.Locked {
						prot += ", locked"
					}
					if v.SuspendCount != nil && v.Suspended() {
						prot += " (" + plural(*v.SuspendCount, "reboot", "reboots") + ")"
					}
					row = append(row, txt(v.MountPoint), txt(string(v.Type)), txt(conv), txt(prot), txt(label(v.Method)))
				} else {
					row = append(row, cell{}, cell{}, cell{}, cell{}, cell{})
				}
				ptype := label(p.Type)
				if p.Type == "" {
					ptype = "none"
				}
				row = append(row, txt(p.ID), txt(ptype))
				for _, loc := range model.Locations {
					b := backupCell(v, p, loc)
					c := cell{text: b, fill: backupFill(b)}
					if b == notRequired {
						c.grey = true
					}
					row = append(row, c)
				}
				t.row(row...)
			}
		}
	})
}

func locationTitle(l model.Location) string {
	switch l {
	case model.LocationAD:
		return "AD DS"
	case model.LocationEntra:
		return "Entra ID"
	case model.LocationExternal:
		return "External"
	}
	return string(l)
}

// rejectedText lists the first rejected input files and why; the XLSX and
// result.json list them all.
func rejectedText(rs []model.RejectedInput) string {
	const shown = 5
	var parts []string
	for i, ri := range rs {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %s more (all in the XLSX and result.json)", num(len(rs)-shown)))
			break
		}
		parts = append(parts, ri.File+": "+ri.Reason)
	}
	return plural(len(rs), "file not used", "files not used") + ": " + strings.Join(parts, "; ")
}
