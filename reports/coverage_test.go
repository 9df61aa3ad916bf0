package reports

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/bitaudit/bitaudit/model"
)

func intp(n int) *int { return &n }

// withCoverage adds a coverage section of n not-audited computers (every
// third with no key) and a disabled account to the fixture.
func withCoverage(t *testing.T, n int) *model.Result {
	r := loadFixture(t)
	logon := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	c := &model.Coverage{Sources: []string{"ad", "entra"}, StaleAfterDays: 90, InDirectory: n + 12, InScope: n + 11, Audited: 11,
		NotAudited: map[string]int{model.NotInTargets: n}, Disabled: 1, Errors: []string{"entra census: HTTP 403"}}
	for i := range n {
		e := model.CoverageEntry{
			Computer: model.Computer{Name: fmt.Sprintf("LT-%04d", i+1), FQDN: fmt.Sprintf("lt-%04d.corp.example.test", i+1),
				ADDN: fmt.Sprintf("CN=LT-%04d,OU=Laptops,DC=corp,DC=example,DC=test", i+1), OU: "OU=Laptops,DC=corp,DC=example,DC=test",
				OS: "Windows 11 Enterprise", LastLogon: &logon, Account: model.ComputerEnabled},
			Reason: model.NotInTargets, Census: model.Census{ADKeys: intp(1)}, Escrow: model.EscrowExists,
			Findings: []model.Finding{{RuleID: "scope.not-audited", Severity: model.SeverityMedium}},
		}
		if i%3 == 0 {
			e.Census.ADKeys, e.Escrow = intp(0), model.EscrowNone
			e.Findings = append(e.Findings, model.Finding{RuleID: "escrow.none-in-directory", Severity: model.SeverityHigh})
			c.EscrowNone++
		} else {
			c.EscrowExists++
		}
		c.Computers = append(c.Computers, e)
	}
	c.Computers = append(c.Computers, model.CoverageEntry{Computer: model.Computer{Name: "OLD-PC", ADDN: "CN=OLD-PC,OU=Laptops,DC=corp,DC=example,DC=test",
		OU: "OU=Laptops,DC=corp,DC=example,DC=test", Account: model.ComputerDisabled}, Reason: model.ComputerDisabled, Escrow: model.EscrowUnknown,
		Findings: []model.Finding{}})
	r.Coverage = c
	return r
}

func TestCoveragePDFAndXLSX(t *testing.T) {
	for _, n := range []int{5, maxCoverageRows + 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r := withCoverage(t, n)
			dir := t.TempDir()
			var pdf, xlsx bytes.Buffer
			if err := WritePDF(&pdf, r); err != nil {
				t.Fatal(err)
			}
			if err := WriteXLSX(&xlsx, r); err != nil {
				t.Fatal(err)
			}
			pdfPath, xlsxPath := filepath.Join(dir, "r.pdf"), filepath.Join(dir, "r.xlsx")
			if err := os.WriteFile(pdfPath, pdf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(xlsxPath, xlsx.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			flat := strings.Join(strings.Fields(pdfText(t, pdfPath)), " ")
			for _, want := range []string{
				"Coverage", "Computers in the directory " + num(n+12), "In scope, not audited: not in targets " + num(n),
				"Not audited, no key escrowed anywhere " + num(c3(n)), "Not read in full entra census: HTTP 403",
				"LT-0001", "no key anywhere", "escrow.none-in-", "OLD-PC", "Disabled and stale accounts",
			} {
				if !strings.Contains(flat, want) {
					t.Errorf("PDF lacks %q", want)
				}
			}
			more := fmt.Sprintf("and %d more: see report.xlsx", n-maxCoverageRows)
			if strings.Contains(flat, more) != (n > maxCoverageRows) {
				t.Errorf("PDF truncation note %q present: %v, want %v", more, !(n > maxCoverageRows), n > maxCoverageRows)
			}
			f, err := excelize.OpenFile(xlsxPath)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := f.GetRows(sheetCoverage)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != n+2 || rows[1][0] != "LT-0001" || rows[1][10] != "0" || rows[1][12] != "no key anywhere" || rows[len(rows)-1][7] != "disabled" {
				t.Errorf("Coverage sheet: %d rows, first %v, last %v", len(rows), rows[1], rows[len(rows)-1])
			}
		})
	}
}

// c3 counts the computers of 0..n-1 divisible by 3.
func c3(n int) int { return (n + 2) / 3 }
