//go:build unix

package main

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/audit"
	"github.com/bitaudit/bitaudit/simulator"
)

// BenchmarkFix measures plan + apply + verify of "bitaudit audit --fix
// --yes" over a fleet in which every host needs one backup (1,000 hosts by
// default, half stale-escrow and half two-passwords, AD-joined, 50 ms per
// command): a plain audit of a fresh fleet first (audit-s), then the fix run
// of another fresh fleet (fix-wall-s); fix-s is their difference, the cost
// of planning, applying with the fsynced journal and re-verifying.
// misreported counts hosts whose status after the fix is not the
// simulator's status_after_fix (must be 0).
//
//	go test -run '^$' -bench Fix -benchtime 1x ./cmd/bitaudit/
//	BITAUDIT_BENCH_HOSTS=2000 BITAUDIT_BENCH_FIX_CONCURRENCY=32 go test -run '^$' -bench Fix -benchtime 1x ./cmd/bitaudit/
func BenchmarkFix(b *testing.B) {
	hosts := benchEnv(b, "BITAUDIT_BENCH_HOSTS", 1000)
	fixConc := benchEnv(b, "BITAUDIT_BENCH_FIX_CONCURRENCY", 8)
	const latency = 50 * time.Millisecond
	half := hosts / 2
	rest := hosts - half
	spec := func() *simulator.Spec {
		return &simulator.Spec{Seed: 21, Hosts: hosts, Latency: simulator.UniformLatency(latency, latency), Profiles: []simulator.ProfileMix{
			{Name: "stale-escrow", Count: &half}, {Name: "two-passwords", Count: &rest}}}
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		auditS, _, _ := benchFixRun(b, spec(), false, fixConc)
		fixS, actions, misreported := benchFixRun(b, spec(), true, fixConc)
		b.StartTimer()
		b.ReportMetric(auditS, "audit-s")
		b.ReportMetric(fixS, "fix-wall-s")
		b.ReportMetric(fixS-auditS, "fix-s")
		b.ReportMetric(float64(actions), "actions")
		b.ReportMetric(1000*(fixS-auditS)/float64(max(actions, 1)), "fix-ms/action")
		b.ReportMetric(float64(misreported), "misreported")
	}
	b.ReportMetric(peakRSSMiB(), "peak-MiB")
}

// benchFixRun starts spec's fleet with its sources, runs one audit (with
// --fix --yes when fix) and returns its wall time, the actions journalled
// and how many hosts end at another status than expected.
func benchFixRun(b *testing.B, spec *simulator.Spec, fix bool, fixConc int) (secs float64, actions, misreported int) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.190.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	fleet, err := simulator.Start(b.Context(), spec, simulator.Options{
		TLS: true, Auth: "ntlm", User: "auditor", Password: fixPassword, ListenBase: netip.MustParseAddr("127.0.190.1"), Port: port,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer fleet.Close()
	dir := b.TempDir()
	targets, ca := filepath.Join(dir, "targets.csv"), filepath.Join(dir, "ca.pem")
	if err := writeFleetFiles(fleet, targets, ca); err != nil {
		b.Fatal(err)
	}
	escrowCfg, err := startDemoSources(b.Context(), fleet, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	args := []string{"audit", "--targets", targets, "--user", "auditor", "--ca-cert", ca, "--escrow-config", escrowCfg,
		"--concurrency", "100", "--host-timeout", "120s", "--format", "json", "--log-level", "warn", "--out", out}
	if fix {
		args = append(args, "--fix", "--yes", "--max-changes", strconv.Itoa(2*len(fleet.Hosts())), "--fix-concurrency", strconv.Itoa(fixConc))
	}
	var stdout, stderr strings.Builder
	start := time.Now()
	code := run(b.Context(), args, streams{In: strings.NewReader(""), Out: &stdout, Err: &stderr}, func(k string) string {
		if k == "BITAUDIT_PASSWORD" {
			return fixPassword
		}
		return ""
	})
	secs = time.Since(start).Seconds()
	if code != exitOK && code != exitFindings {
		b.Fatalf("audit exit %d: %s", code, lastLine(stderr.String()))
	}
	if !fix {
		return secs, 0, 0
	}
	recs, _, err := audit.ReadJournal(filepath.Join(out, audit.JournalName))
	if err != nil && !os.IsNotExist(err) {
		b.Fatal(err)
	}
	for _, r := range recs {
		if r.Record == audit.RecordIntent {
			actions++
		}
	}
	want := map[string]string{}
	for _, h := range fleet.Hosts() {
		want[h.Address] = h.Expect.StatusAfterFix
	}
	for _, h := range readResultFile(b, filepath.Join(out, "result.json")).Hosts {
		if want[h.Target] != h.Status {
			misreported++
		}
	}
	return secs, actions, misreported
}
