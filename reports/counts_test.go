package reports

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/bitaudit/bitaudit/model"
)

// counts are the totals a report states, each keyed by a figure's name.
type counts map[string]int

// TestCountsAgreeAcrossFormats writes a bundle and holds every total each
// format states (the summary figures, the findings it lists, the findings
// by rule and severity) against the ones computed from result.json alone.
func TestCountsAgreeAcrossFormats(t *testing.T) {
	dir := writeBundle(t, nil)
	f, err := os.Open(filepath.Join(dir, ResultFile))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ReadResult(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	s := model.Summarize(r.Hosts)
	if d := cmp.Diff(s, r.Summary); d != "" {
		t.Fatalf("result.json's summary is not the one its hosts give (-computed +stored):\n%s", d)
	}
	want := counts{"hosts": s.Hosts, "waived": s.Waived}
	total := 0
	for _, h := range r.Hosts {
		total += len(h.Findings)
		for _, fd := range h.Findings {
			if !fd.Waived() {
				want["rule "+fd.RuleID+" "+fd.Severity.String()]++
			}
		}
	}
	want["listed"] = total
	for _, sev := range model.Severities {
		want["open "+sev.String()] = s.FindingsBySeverity[sev]
	}
	for _, st := range model.Statuses {
		want["status "+string(st)] = s.HostsByStatus[st]
	}
	if want["open high"] == 0 || want["rule host.not-audited high"] == 0 {
		t.Fatal("the fixture must have open high findings, on hosts not audited among them")
	}

	// What a format does not state: the CSV lists findings, no host
	// totals; the PDF lists hosts not audited apart from their findings.
	notStated := map[string][]string{"csv": {"hosts", "status "}, "pdf": {"listed"}}
	for name, got := range map[string]counts{"csv": csvCounts(t, dir), "xlsx": xlsxCounts(t, dir), "pdf": pdfCounts(t, dir)} {
		for k, w := range want {
			if slices.ContainsFunc(notStated[name], func(p string) bool { return strings.HasPrefix(k, p) }) {
				continue
			}
			if got[k] != w {
				t.Errorf("%s: %s = %d, result.json gives %d", name, k, got[k], w)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok && got[k] != 0 {
				t.Errorf("%s states %s = %d, which result.json does not have", name, k, got[k])
			}
		}
	}
}

// csvCounts counts report.csv's rows: every finding, open ones by severity
// and by rule and severity, waived ones.
func csvCounts(t *testing.T, dir string) counts {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	c := counts{"listed": len(rows) - 1}
	for _, row := range rows[1:] {
		if row[col["waived"]] == "true" {
			c["waived"]++
			continue
		}
		c["open "+row[col["severity"]]]++
		c["rule "+row[col["rule_id"]]+" "+row[col["severity"]]]++
	}
	return c
}

// xlsxCounts reads the Summary sheet's figures and counts the Findings sheet's rows.
func xlsxCounts(t *testing.T, dir string) counts {
	t.Helper()
	f, err := excelize.OpenFile(filepath.Join(dir, XLSXFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows(sheetSummary, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	c := counts{}
	for _, row := range rows[1:] {
		if len(row) != 2 {
			continue
		}
		n, err := strconv.Atoi(row[1])
		name := row[0]
		switch {
		case err != nil:
		case name == "Hosts in scope":
			c["hosts"] = n
		case name == "Findings waived":
			c["waived"] = n
		case strings.HasPrefix(name, "Open findings rule "):
			c["rule "+strings.TrimPrefix(name, "Open findings rule ")] = n
		case strings.HasPrefix(name, "Open findings "):
			c["open "+strings.TrimPrefix(name, "Open findings ")] = n
		case strings.HasPrefix(name, "Hosts "):
			for _, st := range model.Statuses {
				if name == "Hosts "+statusLabel(st) {
					c["status "+string(st)] = n
				}
			}
		}
	}
	findings, err := f.GetRows(sheetFindings)
	if err != nil {
		t.Fatal(err)
	}
	c["listed"] = len(findings) - 1
	return c
}

var (
	pdfFigure  = regexp.MustCompile(`(?m)^ *(Hosts in scope|Findings waived \(not counted above\)|Open findings, \w+|Hosts [a-z ]+?) {2,}([\d,]+)$`)
	pdfRuleRow = regexp.MustCompile(`(?m)^(\S+) {2,}.*? {2,}(critical|high|medium|low|info) {2,}([\d,]+)$`)
)

// pdfCounts reads the executive summary's figures and the findings-by-rule
// table from the PDF's text.
func pdfCounts(t *testing.T, dir string) counts {
	t.Helper()
	text := pdfText(t, filepath.Join(dir, PDFFile))
	c := counts{}
	atoi := func(s string) int {
		n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
		if err != nil {
			t.Fatalf("PDF figure %q: %v", s, err)
		}
		return n
	}
	summary, rest, _ := strings.Cut(text, "Findings by rule")
	for _, m := range pdfFigure.FindAllStringSubmatch(summary, -1) {
		name, n := m[1], atoi(m[2])
		switch {
		case name == "Hosts in scope":
			c["hosts"] = n
		case strings.HasPrefix(name, "Findings waived"):
			c["waived"] = n
		case strings.HasPrefix(name, "Open findings, "):
			c["open "+strings.TrimPrefix(name, "Open findings, ")] = n
		default:
			for _, st := range model.Statuses {
				if name == "Hosts "+statusLabel(st) {
					c["status "+string(st)] = n
				}
			}
		}
	}
	byRule, _, _ := strings.Cut(rest, "Non-compliant hosts and volumes")
	for _, m := range pdfRuleRow.FindAllStringSubmatch(byRule, -1) {
		c["rule "+m[1]+" "+m[2]] += atoi(m[3])
	}
	return c
}
