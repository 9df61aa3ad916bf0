package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/go-ntlmssp"

	"github.com/bitaudit/bitaudit/simulator"
)

// TestAuditNTLMChannelBinding: hosts with CbtHardeningLevel=Strict accept
// bitaudit's NTLM over HTTPS, whose AUTHENTICATE is bound to each host's
// certificate, and refuse an NTLM client without channel binding (go-ntlmssp,
// standing in for a login relayed from another TLS connection).
func TestAuditNTLMChannelBinding(t *testing.T) {
	const password = "Cbt-Passw0rd!"
	fleet, err := simulator.Start(t.Context(), simulator.DefaultSpec(3, 11), simulator.Options{
		TLS: true, Auth: "ntlm", User: "auditor", Password: password, CBT: "strict", ListenBase: netip.MustParseAddr("127.0.74.1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()
	dir := t.TempDir()
	targets, ca := filepath.Join(dir, "targets.csv"), filepath.Join(dir, "ca.pem")
	if err := writeFleetFiles(fleet, targets, ca); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := cli(t, context.Background(), map[string]string{"BITAUDIT_PASSWORD": password},
		"audit", "--targets", targets, "--user", "auditor", "--ca-cert", ca, "--out", out, "--format", "json", "--fail-on", "none")
	if code != exitOK && code != exitIncomplete {
		t.Fatalf("audit exit %d\n%s\n%s", code, stdout, stderr)
	}
	audited := 0
	for _, h := range readResult(t, out).Hosts {
		if h.Status == "auth_failed" || h.Status == "protocol_error" {
			t.Errorf("%s: %s (%s): a host requiring channel binding refused bitaudit", h.Target, h.Status, h.Reason)
		}
		if h.Status.Audited() {
			audited++
		}
	}
	if audited == 0 {
		t.Fatal("no host audited")
	}

	pemCA, _ := os.ReadFile(ca)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	client := &http.Client{Transport: ntlmssp.Negotiator{RoundTripper: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	for _, h := range fleet.Hosts() {
		req, _ := http.NewRequest(http.MethodPost, "https://"+h.Address+"/wsman", strings.NewReader("<s:Envelope/>"))
		req.SetBasicAuth("auditor", password)
		req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: NTLM without channel binding got HTTP %d, want 401 under CbtHardeningLevel=Strict", h.Address, resp.StatusCode)
		}
	}
}
