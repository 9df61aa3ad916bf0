package reports

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/bitaudit/bitaudit/model"
)

// xlsxDump reopens a workbook and returns every sheet as tab-separated
// formatted cell values, the form the golden file holds.
func xlsxDump(t *testing.T, path string) string {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for _, name := range f.GetSheetList() {
		rows, err := f.GetRows(name)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("## " + name + "\n")
		for _, row := range rows {
			b.WriteString(strings.Join(row, "\t") + "\n")
		}
	}
	return b.String()
}

func TestXLSX(t *testing.T) {
	r := loadFixture(t)
	var a, again bytes.Buffer
	if err := WriteXLSX(&a, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteXLSX(&again, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), again.Bytes()) {
		t.Error("two renderings of the same result differ")
	}
	path := filepath.Join(t.TempDir(), "report.xlsx")
	if err := os.WriteFile(path, a.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.xlsx.tsv.golden", []byte(xlsxDump(t, path)))

	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := []string{"Summary", "Findings", "Hosts", "Volumes", "Protectors", "Not audited", "Collection", "Waivers", "Remediation"}
	if d := cmp.Diff(want, f.GetSheetList()); d != "" {
		t.Errorf("sheets (-want +got):\n%s", d)
	}

	// Every figure on the Summary sheet is the summary's, with real types.
	raw, err := f.GetRows("Summary", excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	figures := map[string]string{}
	for _, row := range raw[1:] {
		if len(row) == 2 {
			figures[row[0]] = row[1]
		}
	}
	s := r.Summary
	for name, v := range map[string]float64{
		"Hosts in scope":                   float64(s.Hosts),
		"Hosts audited":                    float64(s.HostsAudited),
		"Hosts not audited":                float64(r.NotAudited()),
		"Hosts noncompliant":               float64(s.HostsByStatus[model.StatusNoncompliant]),
		"Compliant share, waivers applied": *s.CompliantShare,
		"Compliant share, without waivers": *s.CompliantShareWithoutWaivers,
		"Recovery-key backup coverage":     *s.BackupCoverage,
		"Recovery passwords":               float64(s.RecoveryPasswords),
		"Open findings critical":           float64(s.FindingsBySeverity[model.SeverityCritical]),
		"Findings waived":                  float64(s.Waived),
	} {
		got, err := strconv.ParseFloat(figures[name], 64)
		if err != nil || got != v {
			t.Errorf("Summary %q = %q, want the number %v", name, figures[name], v)
		}
	}
	shown := map[string]string{}
	formatted, _ := f.GetRows("Summary")
	for _, row := range formatted[1:] {
		if len(row) == 2 {
			shown[row[0]] = row[1]
		}
	}
	if got := shown["Started (UTC)"]; got != "2026-11-02 08:00:00" {
		t.Errorf("Started shown as %q, want the UTC date", got)
	}
	if v := figures["Started (UTC)"]; v == "" || strings.Contains(v, "-") {
		t.Errorf("Started is stored as %q, want an Excel serial date", v)
	}
	if got := shown["Compliant share, waivers applied"]; got != "40.00%" {
		t.Errorf("compliant share shown as %q, want a percentage", got)
	}
	for _, name := range want[1:] {
		panes, err := f.GetPanes(name)
		if err != nil || !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("%s: header row not frozen: %+v %v", name, panes, err)
		}
		tables, err := f.GetTables(name)
		if err != nil || len(tables) != 1 || !strings.HasPrefix(tables[0].Range, "A1:") {
			t.Errorf("%s: no autofilter table: %+v %v", name, tables, err)
		}
	}
	charts := 0
	f.Pkg.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), "xl/charts/chart") {
			charts++
		}
		return true
	})
	if charts != 2 {
		t.Errorf("workbook has %d charts, want 2", charts)
	}
	// Each chart's categories start at the row of the figures it plots.
	for chart, first := range map[string]string{"xl/charts/chart1.xml": "Hosts compliant", "xl/charts/chart2.xml": "Open findings critical"} {
		v, _ := f.Pkg.Load(chart)
		b, _ := v.([]byte)
		m := regexp.MustCompile(`Summary'!\$A\$(\d+):`).FindSubmatch(bytes.ReplaceAll(b, []byte("&#39;"), []byte("'")))
		if m == nil {
			t.Errorf("%s: no category range", chart)
			continue
		}
		if got, _ := f.GetCellValue("Summary", "A"+string(m[1])); got != first {
			t.Errorf("%s plots from A%s = %q, want %q", chart, m[1], got, first)
		}
	}
	rows, _ := f.GetRows("Findings")
	n := 0
	for _, h := range r.Hosts {
		n += len(h.Findings)
	}
	if len(rows) != n+1 {
		t.Errorf("Findings sheet has %d rows, want %d findings and a header", len(rows)-1, n)
	}
}

// TestXLSXSecondReader opens the workbook with openpyxl in read-only mode,
// which trusts each sheet's <dimension> (as Power BI and other importers
// do): every sheet must show every row and column the workbook holds, and
// print landscape, fitted to one page wide, with the header row repeated.
func TestXLSXSecondReader(t *testing.T) {
	python := ""
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if err := exec.Command(p, "-c", "import openpyxl").Run(); err == nil {
			python = p
			break
		}
	}
	if python == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("python3-openpyxl is not installed (.ci/run installs it)")
		}
		t.Skip("python3-openpyxl not installed")
	}
	r := loadFixture(t)
	var buf bytes.Buffer
	if err := WriteXLSX(&buf, r); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.xlsx")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	const script = `
import sys, openpyxl
ro = openpyxl.load_workbook(sys.argv[1], read_only=True)
full = openpyxl.load_workbook(sys.argv[1])
for ws in ro.worksheets:
    rows = [r for r in ws.iter_rows(values_only=True)]
    cols = max((len(r) for r in rows), default=0)
    fs = full[ws.title]
    ps = fs.page_setup
    fit = fs.sheet_properties.pageSetUpPr.fitToPage if fs.sheet_properties.pageSetUpPr else False
    print("\t".join(str(v) for v in (ws.title, len(rows), cols, fs.max_row, fs.max_column, ps.orientation, ps.fitToWidth, fit, fs.print_title_rows)))
`
	out, err := exec.Command(python, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("openpyxl: %v\n%s", err, out)
	}
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		v := strings.Split(line, "\t")
		name := v[0]
		rows, _ := f.GetRows(name)
		// read-only rows/cols must be what the full reader sees.
		if v[1] != v[3] || v[2] != v[4] || v[1] != strconv.Itoa(len(rows)) {
			t.Errorf("%s: read-only mode sees %s rows × %s columns, the full reader %s × %s, excelize %d rows", name, v[1], v[2], v[3], v[4], len(rows))
		}
		if v[5] != "landscape" || v[6] != "1" || v[7] != "True" || v[8] != "$1:$1" {
			t.Errorf("%s: print setup %v, want landscape, 1 page wide, fit to page, header row repeated", name, v[5:])
		}
	}
}
