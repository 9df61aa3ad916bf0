package reports_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/reports"
)

func ExampleParseFormats() {
	fs, err := reports.ParseFormats("xlsx, pdf")
	fmt.Println(fs, err)
	_, err = reports.ParseFormats("pdf,docx")
	fmt.Println(err)
	// Output:
	// [pdf xlsx] <nil>
	// unknown report format "docx" (want a comma-separated list of json, pdf, xlsx, csv, or all)
}

// WriteAll writes the bundle and its manifest; Verify checks it later.
func ExampleWriteAll() {
	dir, err := os.MkdirTemp("", "bitaudit-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	hosts := []model.HostResult{{Target: "ws-0001.corp.example.test", Status: model.StatusUnreachable, Reason: "Connection refused."}}
	r := &model.Result{Schema: model.ResultSchema, Run: model.Run{ID: "example", ToolVersion: "dev", TargetCount: 1}, Hosts: hosts, Summary: model.Summarize(hosts)}

	signing, _ := os.MkdirTemp("", "bitaudit-key")
	defer os.RemoveAll(signing)
	privPEM, pubPEM, _ := reports.GenerateKey(nil)
	os.WriteFile(filepath.Join(signing, "sign.pem"), privPEM, 0o600)
	os.WriteFile(filepath.Join(signing, "sign.pub"), pubPEM, 0o644)
	key, _ := reports.LoadSigningKey(filepath.Join(signing, "sign.pem"))
	pub, _ := reports.LoadPublicKey(filepath.Join(signing, "sign.pub"))

	out := filepath.Join(dir, "out")
	if err := reports.WriteAll(context.Background(), out, r, reports.Options{Formats: []reports.Format{reports.FormatCSV}, SignKey: key}); err != nil {
		panic(err)
	}
	v, err := reports.Verify(out, pub)
	fmt.Println("verify:", v.Signature == reports.SignatureValid, err)
	os.WriteFile(filepath.Join(out, "report.csv"), []byte("edited"), 0o644)
	_, err = reports.Verify(out, pub)
	fmt.Println("verify:", err)
	// Output:
	// verify: true <nil>
	// verify: report.csv: SHA-256 mismatch (modified since the manifest was written)
}
