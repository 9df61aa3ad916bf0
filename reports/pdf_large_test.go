package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bitaudit/bitaudit/model"
)

// TestPDFLargeFleetCountsCompliant checks that a PDF of a fleet above
// pdfListAllLimit says it counts compliant hosts rather than listing them,
// lists every other host in the appendix, and that a small fleet's PDF
// still lists every host.
func TestPDFLargeFleetCountsCompliant(t *testing.T) {
	for _, tc := range []struct {
		hosts  int
		counts bool
	}{{pdfListAllLimit, false}, {pdfListAllLimit + 100, true}} {
		r := fixtureResult(tc.hosts)
		text := pdfTextOf(t, r)
		_, appendix, ok := strings.Cut(text, "Appendix: volumes and key protectors by host")
		if !ok {
			t.Fatalf("%d hosts: no appendix", tc.hosts)
		}
		compliant := 0
		listed := regexp.MustCompile(`ws-\d{5}\.corp\.example\.test`)
		inAppendix := map[string]bool{}
		for _, m := range listed.FindAllString(appendix, -1) {
			inAppendix[m] = true
		}
		for _, h := range r.Hosts {
			if !listed.MatchString(h.Target) || listed.FindString(h.Target) != h.Target {
				continue // the Unicode and long names wrap; the regexp cannot follow them
			}
			if h.Status == model.StatusCompliant {
				compliant++
				if tc.counts && inAppendix[h.Target] {
					t.Errorf("%d hosts: compliant %s listed in the appendix", tc.hosts, h.Target)
				}
			}
			if (!tc.counts || h.Status != model.StatusCompliant) && !inAppendix[h.Target] {
				t.Errorf("%d hosts: %s (%s) missing from the appendix", tc.hosts, h.Target, h.Status)
			}
		}
		note := strings.Contains(strings.Join(strings.Fields(appendix), " "), "compliant hosts are counted here, not listed")
		if note != tc.counts {
			t.Errorf("%d hosts: note that compliant hosts are counted: %v, want %v", tc.hosts, note, tc.counts)
		}
		if compliant == 0 {
			t.Fatalf("%d hosts: fixture without compliant hosts", tc.hosts)
		}
	}
}

// TestPDFListsAtMostHostsInFull lowers the bound on hosts listed per table
// and checks that each table then lists the hosts with the most severe
// findings, says above it how many it counts instead, and that the first
// page says which tables do not list every host.
func TestPDFListsAtMostHostsInFull(t *testing.T) {
	defer func(n int) { pdfHostsInFull = n }(pdfHostsInFull)
	pdfHostsInFull = 4
	r := fixtureResult(60)
	text := pdfTextOf(t, r)
	flat := strings.Join(strings.Fields(text), " ")
	notAudited, worstOpen := 0, model.SeverityNone
	for _, h := range r.Hosts {
		if !h.Status.Audited() {
			notAudited++
			continue
		}
		for _, f := range h.Findings {
			if !f.Waived() {
				worstOpen = max(worstOpen, f.Severity)
				break
			}
		}
	}
	for _, want := range []string{
		"Hosts listed This PDF lists at most 4 hosts per table: 4 of 30 hosts with open findings (the most severe);",
		fmt.Sprintf("This run has %d hosts not audited, more than the 4 this report lists in full: the table lists the first 4 in target order and counts the other %d.", notAudited, notAudited-4),
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("PDF lacks %q", want)
		}
	}
	// The findings table lists 4 hosts, each with a finding of the worst severity any host has.
	_, findings, _ := strings.Cut(text, "Non-compliant hosts and volumes")
	findings, _, _ = strings.Cut(findings, "Hosts not audited")
	hosts := map[string]bool{}
	for _, h := range r.Hosts {
		if name := hostTitle(&h); h.Status.Audited() && strings.Contains(findings, h.Target) && len(h.Target) < 40 {
			hosts[name] = true
			if worstFinding(h.Findings) != worstOpen {
				t.Errorf("findings table lists %s (worst %s) while hosts with %s findings are left out", h.Target, worstFinding(h.Findings), worstOpen)
			}
		}
	}
	if len(hosts) == 0 || len(hosts) > 4 {
		t.Errorf("findings table lists %d hosts, want 1 to 4", len(hosts))
	}
}

// pdfTextOf renders r as PDF and returns its text (see pdfText).
func pdfTextOf(t *testing.T, r *model.Result) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), PDFFile)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := WritePDF(f, r); err != nil {
		t.Fatal(err)
	}
	return pdfText(t, path)
}
