package reports

import (
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
		path := filepath.Join(t.TempDir(), PDFFile)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := WritePDF(f, r); err != nil {
			t.Fatal(err)
		}
		f.Close()
		text := pdfText(t, path)
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
