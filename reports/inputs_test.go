package reports

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/bitaudit/bitaudit/model"
)

// TestRejectedInputsAndFactsHosts: files a run did not use are listed on the
// PDF's first page and in their own XLSX sheet, and hosts audited from facts
// files are counted in the scope and marked in the Hosts sheet.
func TestRejectedInputsAndFactsHosts(t *testing.T) {
	at := time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)
	r := &model.Result{
		Run: model.Run{ID: "facts", ToolVersion: "dev", TargetCount: 1, RejectedInputs: []model.RejectedInput{
			{File: "zz-broken.json", Reason: "not a facts document: truncated JSON"},
			{File: "KIOSK-9.json", Reason: "computer KIOSK-9 is not among the targets; not audited"},
		}},
		Hosts: []model.HostResult{{
			Target: "ws-0001.corp.example.test", Status: model.StatusCompliant, CollectedAt: at, Volumes: []model.Volume{}, Findings: []model.Finding{},
			Facts: &model.HostFacts{Hostname: "WS-0001", Source: model.Collection{Collector: "wmi", FactsFile: "WS-0001.json", CollectedAt: at,
				Note: "live collection failed (unreachable); facts from the file WS-0001.json"}},
		}},
	}
	r.Summary = model.Summarize(r.Hosts)
	dir := t.TempDir()
	if err := WriteAll(t.Context(), dir, r, Options{}); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(pdfText(t, filepath.Join(dir, PDFFile))), " ")
	for _, w := range []string{
		"1 from facts files collected on the hosts",
		"Rejected inputs 2 files not used: zz-broken.json: not a facts document: truncated JSON; KIOSK-9.json: computer KIOSK-9 is not among the targets",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("PDF text lacks %q", w)
		}
	}
	var buf bytes.Buffer
	if err := WriteXLSX(&buf, r); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows(sheetRejected)
	if err != nil || len(rows) != 3 || rows[1][0] != "zz-broken.json" || rows[2][0] != "KIOSK-9.json" {
		t.Errorf("sheet %q: %v, %v", sheetRejected, rows, err)
	}
	hosts, err := f.GetRows(sheetHosts)
	if err != nil || len(hosts) != 2 || !strings.Contains(strings.Join(hosts[1], "|"), "wmi / WS-0001.json: live collection failed") {
		t.Errorf("Hosts sheet: %v, %v", hosts, err)
	}

	// Without rejected inputs there is no such sheet.
	r.Run.RejectedInputs = nil
	buf.Reset()
	if err := WriteXLSX(&buf, r); err != nil {
		t.Fatal(err)
	}
	if f, err = excelize.OpenReader(&buf); err != nil {
		t.Fatal(err)
	}
	if idx, _ := f.GetSheetIndex(sheetRejected); idx != -1 {
		t.Errorf("a run without rejected inputs has a %q sheet", sheetRejected)
	}
}

func TestWrappedLines(t *testing.T) {
	tests := []struct {
		text  string
		width int
		want  int
	}{
		{"", 44, 1},
		{"built-in default", 44, 1},
		{"auth=ntlm, ca_cert=/tmp/bitaudit-demo-2939005346/fleet-ca.pem, concurrency=64, escrow_config=/tmp/x/escrow.yaml", 44, 4},
		{"809dc8725d31f9cb9dc171c659e583a8823d34d1d58d9bf0233143fa6da1e1652", 44, 2}, // one long word
		{"a\nb", 44, 2},
	}
	for _, tc := range tests {
		if got := wrappedLines(tc.text, tc.width); got != tc.want {
			t.Errorf("wrappedLines(%q, %d) = %d, want %d", tc.text, tc.width, got, tc.want)
		}
	}
}
