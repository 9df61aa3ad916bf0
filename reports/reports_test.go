package reports

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bitaudit/bitaudit/model"
)

var update = flag.Bool("update", false, "update golden files and testdata/result.json")

// recoveryPassword matches a BitLocker recovery password: eight groups of six digits.
var recoveryPassword = regexp.MustCompile(`\d{6}(?:-\d{6}){7}`)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs from golden (-want +got; go test -update to accept):\n%s", name, d)
	}
}

// loadFixture reads testdata/result.json, the document every golden is rendered from.
func loadFixture(t testing.TB) *model.Result {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ReadResult(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFixtureDocument keeps testdata/result.json equal to the fixture built
// in code, and checks that reading and writing it again gives the same bytes.
func TestFixtureDocument(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, fixtureResult(30)); err != nil {
		t.Fatal(err)
	}
	golden(t, "result.json", buf.Bytes())
	r, err := ReadResult(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := WriteJSON(&again, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("read then written again, the document changed")
	}
	// The fixture covers what the reports must show.
	s := r.Summary
	for _, st := range model.Statuses {
		if s.HostsByStatus[st] == 0 {
			t.Errorf("fixture has no %s host", st)
		}
	}
	for _, sev := range model.Severities {
		if s.FindingsBySeverity[sev] == 0 {
			t.Errorf("fixture has no open %s finding", sev)
		}
	}
	for _, c := range []model.ConversionStatus{model.FullyDecrypted, model.FullyEncrypted, model.EncryptionInProgress,
		model.DecryptionInProgress, model.EncryptionPaused, model.DecryptionPaused, model.ConversionUnknown} {
		if s.VolumesByState[string(c)] == 0 {
			t.Errorf("fixture has no %s volume", c)
		}
	}
	if !strings.Contains(buf.String(), "ПК-Бухгалтерия-01") {
		t.Error("fixture lacks the Unicode host")
	}
}

func TestWriteJSON(t *testing.T) {
	r := &model.Result{Run: model.Run{ID: "x"}, Hosts: []model.HostResult{{Target: "a", Status: model.StatusUnreachable}}}
	r.Summary = model.Summarize(r.Hosts)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"schema": "bitaudit.result/v1"`, `"volumes": []`, `"findings": []`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("document lacks %s", want)
		}
	}
	if r.Schema != "" || r.Hosts[0].Volumes != nil {
		t.Error("WriteJSON modified its input")
	}
	r.Schema = "bitaudit.result/v2"
	if err := WriteJSON(&buf, r); err == nil {
		t.Error("wrote a result with a foreign schema")
	}

	// Streaming the hosts gives the bytes encoding/json gives for the whole document.
	for _, r := range []*model.Result{fixtureResult(30), {Schema: model.ResultSchema, Run: model.Run{ID: "empty"}, Hosts: []model.HostResult{}}} {
		var got, want bytes.Buffer
		if err := WriteJSON(&got, r); err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want.String(), got.String()); d != "" {
			t.Errorf("streamed document differs from encoding/json (-want +got):\n%s", d)
		}
	}
}

func TestReadResultRejects(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, fixtureResult(30)); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	tests := []struct {
		name, doc, want string
	}{
		{"wrong schema", strings.Replace(good, model.ResultSchema, "bitaudit.result/v2", 1), `unsupported result schema "bitaudit.result/v2"`},
		{"no schema", `{"run":{"id":"x"},"hosts":[]}`, `no "schema" field`},
		{"not JSON", `<html>`, "read result document"},
		{"trailing data", good + "{}", "trailing data"},
		{"empty run id", strings.Replace(good, `"id": "20261102T080000Z-7c1e"`, `"id": ""`, 1), "run.id is empty"},
		{"unknown status", strings.Replace(good, `"status": "timeout"`, `"status": "sleepy"`, 1), `unknown host status "sleepy"`},
		{"summary disagrees", strings.Replace(good, `"hosts": 30,`, `"hosts": 29,`, 1), "summary counts 29 hosts, the document lists 30"},
		{"wrong type", strings.Replace(good, `"target_count": 30`, `"target_count": "30"`, 1), "decode bitaudit.result/v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.doc == good {
				t.Fatal("test case did not change the document")
			}
			_, err := ReadResult(strings.NewReader(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadResult error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseFormats(t *testing.T) {
	tests := []struct {
		in      string
		want    []Format
		wantErr string
	}{
		{"pdf,xlsx", []Format{FormatPDF, FormatXLSX}, ""},
		{" CSV , json,pdf,csv", []Format{FormatJSON, FormatPDF, FormatCSV}, ""},
		{"all", Formats, ""},
		{"pdf,html", nil, `unknown report format "html" (want a comma-separated list of json, pdf, xlsx, csv, or all)`},
		{"", nil, "no report format given"},
		{",", nil, "no report format given"},
	}
	for _, tt := range tests {
		got, err := ParseFormats(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseFormats(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFormats(%q): %v", tt.in, err)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("ParseFormats(%q) (-want +got):\n%s", tt.in, d)
		}
	}
}

func TestCSV(t *testing.T) {
	r := loadFixture(t)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.csv.golden", buf.Bytes())
	lines := strings.Count(buf.String(), "\n")
	total := 0
	for _, h := range r.Hosts {
		total += len(h.Findings)
	}
	if lines != total+1 {
		t.Errorf("csv has %d lines, want a header and %d findings", lines, total)
	}
	if got := csvSafe("=HYPERLINK(\"x\")"); got != "'=HYPERLINK(\"x\")" {
		t.Errorf("csvSafe did not defuse a formula: %q", got)
	}
}

func writeBundle(t *testing.T, key ed25519.PrivateKey) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	if err := WriteAll(t.Context(), dir, loadFixture(t), Options{SignKey: key}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testKeys(t *testing.T) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	privPEM, pubPEM, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "k.pem"), filepath.Join(dir, "k.pub")
	if err := os.WriteFile(priv, privPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	sk, err := LoadSigningKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigningKey(pub); err == nil {
		t.Error("LoadSigningKey accepted a public key")
	}
	return sk, pk
}

func TestWriteAllAndVerify(t *testing.T) {
	sk, pk := testKeys(t)
	_, otherPub := testKeys(t)

	dir := writeBundle(t, sk)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if d := cmp.Diff([]string{"manifest.json", "report.csv", "report.pdf", "report.xlsx", "result.json"}, names); d != "" {
		t.Errorf("files written (-want +got):\n%s", d)
	}
	if v, err := Verify(dir, pk); err != nil || v.Signature != SignatureValid || v.Files != 4 {
		t.Fatalf("Verify of an untouched bundle: %+v, %v", v, err)
	}
	if v, err := Verify(dir, nil); err != nil || v.Signature != SignatureNotChecked || v.KeyID == "" {
		t.Fatalf("Verify without a key: %+v, %v; want the signature reported as not checked", v, err)
	}
	m, _, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.RunID != "20261102T080000Z-7c1e" || m.ToolVersion != "0.4.0" || len(m.Files) != 4 || m.ResultSHA256 == "" {
		t.Errorf("manifest: %+v", m)
	}

	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		key    ed25519.PublicKey
		want   string
	}{
		{"modified report", func(t *testing.T, dir string) { appendTo(t, filepath.Join(dir, "report.csv"), "x") }, nil, "report.csv: SHA-256 mismatch"},
		{"modified result", func(t *testing.T, dir string) { appendTo(t, filepath.Join(dir, "result.json"), " ") }, pk, "result.json: SHA-256 mismatch"},
		{"deleted report", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "report.pdf")) }, nil, "report.pdf: lstat"},
		{"unlisted file", func(t *testing.T, dir string) { writeTo(t, filepath.Join(dir, "report-final.pdf"), "x") }, nil, "report-final.pdf: not listed in the manifest"},
		{"unlisted directory", func(t *testing.T, dir string) { os.Mkdir(filepath.Join(dir, "old"), 0o755) }, nil, "old: not listed"},
		{"symbolic link", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "report.csv")
			elsewhere := filepath.Join(t.TempDir(), "report.csv")
			if err := os.Rename(p, elsewhere); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, p); err != nil {
				t.Skip("no symbolic links here:", err)
			}
		}, pk, "report.csv: not a regular file (a symbolic link)"},
		{"longer file", func(t *testing.T, dir string) {
			appendTo(t, filepath.Join(dir, "result.json"), strings.Repeat(" ", 1<<20))
		}, nil, "result.json: SHA-256 mismatch"},
		{"stripped signature", func(t *testing.T, dir string) {
			appendTo(t, filepath.Join(dir, "report.csv"), "x")
			m, _, err := ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			m.Signature = nil
			for i := range m.Files {
				if m.Files[i].Name == "report.csv" {
					m.Files[i].SHA256, m.Files[i].Size, _ = hashFile(filepath.Join(dir, "report.csv"), 1<<30)
				}
			}
			b, _ := m.encode()
			writeTo(t, filepath.Join(dir, ManifestName), string(b))
		}, pk, "manifest.json: not signed"},
		{"other key", func(*testing.T, string) {}, otherPub, "not the key given"},
		{"forged hash", func(t *testing.T, dir string) {
			appendTo(t, filepath.Join(dir, "report.csv"), "x")
			sum, size, err := hashFile(filepath.Join(dir, "report.csv"), 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			m, _, err := ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			for i := range m.Files {
				if m.Files[i].Name == "report.csv" {
					m.Files[i].SHA256, m.Files[i].Size = sum, size
				}
			}
			b, _ := m.encode()
			if err := os.WriteFile(filepath.Join(dir, ManifestName), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, pk, "manifest.json: bad signature"},
		{"hand-edited manifest", func(t *testing.T, dir string) { appendTo(t, filepath.Join(dir, ManifestName), "\n") }, nil, "not in the form bitaudit writes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeBundle(t, sk)
			tt.tamper(t, dir)
			_, err := Verify(dir, tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify error = %v, want one containing %q", err, tt.want)
			}
		})
	}

	t.Run("unsigned bundle with a key", func(t *testing.T) {
		dir := writeBundle(t, nil)
		if v, err := Verify(dir, nil); err != nil || v.Signature != Unsigned {
			t.Fatalf("%+v, %v", v, err)
		}
		if _, err := Verify(dir, pk); err == nil || !strings.Contains(err.Error(), "not signed") {
			t.Errorf("Verify error = %v, want not signed", err)
		}
	})
}

func writeTo(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestWriteAllFormats(t *testing.T) {
	dir := t.TempDir()
	if err := WriteAll(t.Context(), dir, loadFixture(t), Options{Formats: []Format{FormatCSV}}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{ResultFile: true, CSVFile: true, ManifestName: true, PDFFile: false, XLSXFile: false} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s present = %v, want %v", name, err == nil, want)
		}
	}
	dir = filepath.Join(t.TempDir(), "bad")
	if err := WriteAll(t.Context(), dir, loadFixture(t), Options{Formats: []Format{"html"}}); err == nil || !strings.Contains(err.Error(), `unknown report format "html"`) {
		t.Errorf("WriteAll with an unknown format: %v", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("WriteAll created the directory before rejecting its options")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	dir = t.TempDir()
	if err := WriteAll(ctx, dir, loadFixture(t), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteAll with a cancelled context: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ResultFile)); err == nil {
		t.Error("result.json written after cancellation")
	}
}

// TestNoRecoveryPasswordInOutputs scans every file of a bundle, the PDF's
// text and the XLSX's parts for anything shaped like a recovery password.
func TestNoRecoveryPasswordInOutputs(t *testing.T) {
	if !recoveryPassword.MatchString("123456-123456-123456-123456-123456-123456-123456-123456") {
		t.Fatal("pattern does not match a recovery password")
	}
	dir := writeBundle(t, nil)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if recoveryPassword.Match(b) {
			t.Errorf("%s contains something shaped like a recovery password", e.Name())
		}
	}
	for name, text := range map[string]string{"pdf text": pdfText(t, filepath.Join(dir, PDFFile)), "xlsx cells": xlsxDump(t, filepath.Join(dir, XLSXFile))} {
		if recoveryPassword.MatchString(text) {
			t.Errorf("%s contains something shaped like a recovery password", name)
		}
	}
}

// pdfText returns `pdftotext -layout` of a PDF, skipping the test when poppler is missing.
func pdfText(t *testing.T, path string) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext not installed (apt-get install poppler-utils); skipping PDF text checks")
	}
	out, err := exec.CommandContext(t.Context(), "pdftotext", "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

func TestPDF(t *testing.T) {
	r := loadFixture(t)
	var a, b bytes.Buffer
	if err := WritePDF(&a, r); err != nil {
		t.Fatal(err)
	}
	if err := WritePDF(&b, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two renderings of the same result differ")
	}
	path := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(path, a.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, path)
	golden(t, "report.pdf.txt.golden", []byte(text))

	s := r.Summary
	pages := strings.Count(text, "\f")
	flat := strings.Join(strings.Fields(text), " ") // sentences wrap across lines
	for _, want := range []string{
		fmt.Sprintf("%d of %d hosts were audited; %d could not be audited", s.HostsAudited, s.Hosts, r.NotAudited()),
		fmt.Sprintf("%d of %d audited hosts are compliant: %s with waivers applied, %s without", s.HostsByStatus[model.StatusCompliant], s.HostsAudited, percent(s.CompliantShare), percent(s.CompliantShareWithoutWaivers)),
		fmt.Sprintf("%d of %d recovery passwords (%s)", s.BackedUp, s.RecoveryPasswords, percent(s.BackupCoverage)),
		"40.0 %", "28.0 %", "80.0 %", // the fixture's figures, as a person checks them
		"ПК-Бухгалтерия-01",
		"Run " + r.Run.ID + " · Contains no recovery key material",
		"2026-11-02 09:00:00 +01:00",
		r.Run.Policy.SHA256,
		fmt.Sprintf("Page %d of %d", pages, pages),
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
	if n := strings.Count(text, "Contains no recovery key material"); n != pages {
		t.Errorf("footer on %d of %d pages", n, pages)
	}
	for _, sev := range model.Severities {
		re := regexp.MustCompile(`Open findings, ` + sev.String() + ` +(\d+)`)
		m := re.FindStringSubmatch(text)
		if m == nil || m[1] != strconv.Itoa(s.FindingsBySeverity[sev]) {
			t.Errorf("PDF open findings %s = %v, summary says %d", sev, m, s.FindingsBySeverity[sev])
		}
	}
	// The table header repeats on every page of the appendix.
	if n := strings.Count(text, "Protector type"); n < 2 {
		t.Errorf("appendix header printed %d times, want it on every appendix page", n)
	}
}

func TestNumAndPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := num(n); got != want {
			t.Errorf("num(%d) = %q, want %q", n, got, want)
		}
	}
	if got := plural(1, "host", "hosts"); got != "1 host" {
		t.Errorf("plural(1) = %q", got)
	}
	if got := plural(2500, "host", "hosts"); got != "2,500 hosts" {
		t.Errorf("plural(2500) = %q", got)
	}
}

func TestNaturalCompare(t *testing.T) {
	in := []string{"127.0.10.10:5986", "ws-10", "127.0.10.2:5986", "WS-9", "127.0.10.1:5986", "ws-010", "a", "ПК-1"}
	want := []string{"127.0.10.1:5986", "127.0.10.2:5986", "127.0.10.10:5986", "a", "WS-9", "ws-010", "ws-10", "ПК-1"}
	slices.SortStableFunc(in, func(a, b string) int {
		if c := naturalCompare(a, b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	if d := cmp.Diff(want, in); d != "" {
		t.Errorf("natural order (-want +got):\n%s", d)
	}
}

// TestEdgeResults renders results a run can really produce: no hosts at
// all, and an interrupted run where nothing was audited.
func TestEdgeResults(t *testing.T) {
	interrupted := []model.HostResult{{Target: "ws-1", Status: model.StatusInterrupted, Reason: "The run was interrupted."}}
	tests := []struct {
		name string
		r    *model.Result
		want []string
	}{
		{"empty", &model.Result{Run: model.Run{ID: "empty", ToolVersion: "dev"}}, []string{"0 of 0 hosts were audited", "No open findings.", "The policy has no waivers."}},
		{"interrupted", &model.Result{Run: model.Run{ID: "int", Interrupted: true, TargetCount: 1}, Hosts: interrupted}, []string{"Interrupted Yes", "1 host could not be audited"}},
		{"nothing audited, no escrow source", &model.Result{Run: model.Run{ID: "auth", TargetCount: 2, Options: map[string]string{"escrow_sources": "none", "escrow_insecure": "ad.allow_plaintext"}},
			Hosts: []model.HostResult{{Target: "ws-1", Status: model.StatusAuthFailed}, {Target: "ws-2", Status: model.StatusAuthFailed}}},
			[]string{"n/a: no recovery passwords on audited hosts", "0 of 0 recovery passwords (n/a)", "waivers applied, n/a without",
				"Escrow sources None configured: recovery-key backups were not verified at any source", "Insecure escrow-source settings were in force: ad.allow_plaintext"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.Summary = model.Summarize(tt.r.Hosts)
			dir := t.TempDir()
			if err := WriteAll(t.Context(), dir, tt.r, Options{}); err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(dir, nil); err != nil {
				t.Fatal(err)
			}
			text := strings.Join(strings.Fields(pdfText(t, filepath.Join(dir, PDFFile))), " ")
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("PDF text lacks %q", w)
				}
			}
			if tt.r.Run.Options["escrow_sources"] == "none" {
				// Page 1 says so in words; the XLSX Summary too, and its shares are n/a.
				page1, _, _ := strings.Cut(pdfText(t, filepath.Join(dir, PDFFile)), "\f")
				if !strings.Contains(strings.Join(strings.Fields(page1), " "), "not verified at any source") {
					t.Error("PDF page 1 does not say backups were not verified at any source")
				}
				x := xlsxDump(t, filepath.Join(dir, XLSXFile))
				for _, w := range []string{"Recovery-key backup coverage\tn/a", "Compliant share, waivers applied\tn/a", "not verified at any source"} {
					if !strings.Contains(x, w) {
						t.Errorf("XLSX lacks %q", w)
					}
				}
			}
		})
	}
}

// TestWriteAllReplace: a directory holding an earlier bundle is refused
// unless Replace, which leaves exactly the new bundle behind.
func TestWriteAllReplace(t *testing.T) {
	dir := writeBundle(t, nil)
	writeTo(t, filepath.Join(dir, "notes.txt"), "the user's own file")
	r := loadFixture(t)
	r.Run.ID = "second-run"
	err := WriteAll(t.Context(), dir, r, Options{Formats: []Format{FormatCSV}})
	if err == nil || !strings.Contains(err.Error(), "refusing to mix two runs") {
		t.Fatalf("WriteAll into an earlier bundle: %v, want a refusal", err)
	}
	if err := WriteAll(t.Context(), dir, r, Options{Formats: []Format{FormatCSV}, Replace: true}); err != nil {
		t.Fatal(err)
	}
	got, err := BundleFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"manifest.json", "report.csv", "result.json"}, got); d != "" {
		t.Errorf("bundle after Replace (-want +got):\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("Replace removed a file bitaudit did not write: %v", err)
	}
	m, _, err := ReadManifest(dir)
	if err != nil || m.RunID != "second-run" {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	os.Remove(filepath.Join(dir, "notes.txt"))
	if _, err := Verify(dir, nil); err != nil {
		t.Errorf("Verify after Replace: %v", err)
	}

	// A file of the run the caller wrote (the --fix journal) is listed and checked.
	writeTo(t, filepath.Join(dir, JournalFile), `{"intent":"backup"}`+"\n")
	if err := WriteAll(t.Context(), dir, r, Options{Formats: []Format{FormatCSV}, Replace: true, Include: []string{JournalFile}}); err != nil {
		t.Fatal(err)
	}
	if v, err := Verify(dir, nil); err != nil || v.Files != 3 {
		t.Errorf("Verify with the journal included: %+v, %v", v, err)
	}
	appendTo(t, filepath.Join(dir, JournalFile), "x")
	if _, err := Verify(dir, nil); err == nil || !strings.Contains(err.Error(), "journal.jsonl: SHA-256 mismatch") {
		t.Errorf("Verify of an edited journal: %v", err)
	}
}

// TestPDFFontCoverage: text the font cannot draw is named on the cover and
// to Warn; with a font that covers it (--pdf-font) it is drawn.
func TestPDFFontCoverage(t *testing.T) {
	r := loadFixture(t)
	r.Hosts[0].Labels = map[string]string{"site": "Երևան 北京"}
	var warned []string
	var buf bytes.Buffer
	if err := WritePDFWith(&buf, r, PDFOptions{Warn: func(s string) { warned = append(warned, s) }}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "go.pdf")
	os.WriteFile(path, buf.Bytes(), 0o644)
	text := strings.Join(strings.Fields(pdfText(t, path)), " ")
	const want = "7 characters the PDF font cannot draw (U+0535, U+0561"
	if len(warned) != 1 || !strings.Contains(warned[0], want) || !strings.Contains(warned[0], "first in host "+r.Hosts[0].Target+" labels site") {
		t.Errorf("warnings %q, want one naming the characters and where", warned)
	}
	if !strings.Contains(text, "Not drawn") || !strings.Contains(text, "U+5317") || !strings.Contains(text, "--pdf-font FILE") {
		t.Error("the cover does not say what could not be drawn")
	}

	const dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf" // Debian fonts-dejavu-core
	font, err := os.ReadFile(dejavu)
	if err != nil {
		t.Skip("no DejaVu Sans to draw Armenian with:", err)
	}
	r.Hosts[0].Labels = map[string]string{"site": "Երևան"}
	warned = nil
	buf.Reset()
	if err := WritePDFWith(&buf, r, PDFOptions{Font: font, Warn: func(s string) { warned = append(warned, s) }}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, buf.Bytes(), 0o644)
	if text := pdfText(t, path); len(warned) != 0 || !strings.Contains(text, "Երևան") || strings.Contains(text, "Not drawn") {
		t.Errorf("with a covering font: warnings %q, label drawn %v", warned, strings.Contains(text, "Երևան"))
	}
	for _, bad := range [][]byte{[]byte("OTTO\x00\x00\x00\x00\x00\x00\x00\x00"), []byte("ttcf\x00\x01\x00\x00\x00\x00\x00\x00"), []byte("plain text, not a font")} {
		if err := CheckPDFFont(bad); err == nil {
			t.Errorf("CheckPDFFont(%q) accepted it", bad[:4])
		}
	}
}

// TestPDFContinuedHostNamed: a host whose appendix rows run onto a new page
// is named again at the top of that page.
func TestPDFContinuedHostNamed(t *testing.T) {
	h := model.HostResult{Target: "ws-many.corp.example.test", Status: model.StatusCompliant, Facts: &model.HostFacts{Hostname: "WS-MANY"}}
	for i := range 60 {
		h.Volumes = append(h.Volumes, model.Volume{MountPoint: fmt.Sprintf("V%02d:", i), Type: model.VolumeFixed, Conversion: model.FullyEncrypted,
			Protectors: []model.Protector{{ID: protID(i, 1), Type: model.ProtectorTPM}}})
	}
	r := &model.Result{Run: model.Run{ID: "cont", TargetCount: 1}, Hosts: []model.HostResult{h}}
	r.Summary = model.Summarize(r.Hosts)
	var buf bytes.Buffer
	if err := WritePDF(&buf, r); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "c.pdf")
	os.WriteFile(path, buf.Bytes(), 0o644)
	text := pdfText(t, path)
	if n := strings.Count(text, "(continued)"); n == 0 || n != strings.Count(text, "(WS-MANY)")-1 {
		t.Errorf("%d rows say (continued), want one on every page after the host's first:\n%s", n, text)
	}
}

func TestComputerName(t *testing.T) {
	tests := []struct {
		name string
		h    model.HostResult
		want string
	}{
		{"confirmed beats reported", model.HostResult{Target: "127.0.10.18:5986", Identity: &model.Identity{ComputerName: "LT-0018"}, Facts: &model.HostFacts{Hostname: "LT-9999"}}, "LT-0018"},
		{"reported", model.HostResult{Target: "127.0.10.18:5986", Facts: &model.HostFacts{Hostname: "LT-0018"}}, "LT-0018"},
		{"not audited, fqdn column", model.HostResult{Target: "127.0.10.18:5986", Identity: &model.Identity{DNSName: "lt-0018.corp.example.test"}}, "LT-0018"},
		{"not audited, target is the name", model.HostResult{Target: "lt-0018.corp.example.test", Identity: &model.Identity{DNSName: "lt-0018.corp.example.test"}}, ""},
		{"nothing known", model.HostResult{Target: "127.0.10.18"}, ""},
	}
	for _, tt := range tests {
		if got := computerName(&tt.h); got != tt.want {
			t.Errorf("%s: computerName = %q, want %q", tt.name, got, tt.want)
		}
	}
}
