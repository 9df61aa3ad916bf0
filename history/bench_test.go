package history

import (
	"fmt"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// fleet returns a run of n hosts: nine in ten audited, a third of those
// with a finding, each with an OS and a data volume.
func fleet(n int, id string, started time.Time) *model.Result {
	r := &model.Result{Schema: model.ResultSchema, Run: model.Run{ID: id, Started: started, Finished: started.Add(time.Hour), Scope: "bench"}}
	r.Hosts = make([]model.HostResult, n)
	for i := range r.Hosts {
		h := &r.Hosts[i]
		h.Target = fmt.Sprintf("ws-%05d.corp.example.com", i)
		h.Status, h.Reason = model.StatusCompliant, "every volume backed up"
		if i%10 == 9 {
			h.Status, h.Reason = model.StatusUnreachable, "connection refused"
			continue
		}
		for _, mp := range []string{"C:", "D:"} {
			h.Volumes = append(h.Volumes, model.Volume{MountPoint: mp, Type: model.VolumeFixed, Conversion: model.FullyEncrypted,
				Protection: model.ProtectionOn, Method: model.MethodXTSAES256, Protectors: []model.Protector{
					{ID: "{" + fmt.Sprintf("%08X", i) + "-0000-0000-0000-000000000000}", Type: model.ProtectorRecoveryPassword,
						Backups: []model.Backup{{Location: model.LocationAD, State: model.BackupVerified}}}}})
		}
		if i%3 == 0 {
			h.Status, h.Reason = model.StatusNoncompliant, "1 finding"
			h.Findings = []model.Finding{{RuleID: "escrow.missing", Title: "Recovery password not backed up", Severity: model.SeverityHigh, Volume: "D:"}}
		}
	}
	r.Run.TargetCount = n
	r.Summary = model.Summarize(r.Hosts)
	return r
}

func benchmarkBackends(b *testing.B, f func(b *testing.B, location string)) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) { f(b, be.location(b)) })
	}
}

// BenchmarkRecord10000 records one run of 10,000 hosts into a history that
// already holds one.
func BenchmarkRecord10000(b *testing.B) {
	benchmarkBackends(b, func(b *testing.B, loc string) {
		s := mustOpen(b, loc)
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := s.Record(b.Context(), fleet(10000, "base", start)); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			r := fleet(10000, fmt.Sprintf("run-%d", i), start.AddDate(0, 0, i))
			if err := s.Record(b.Context(), r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRecordYear records a run of 10,000 hosts into a history that
// holds a year of monthly runs of the same hosts: what a host's earlier
// runs hold must not add to the cost of recording it.
func BenchmarkRecordYear(b *testing.B) {
	benchmarkBackends(b, func(b *testing.B, loc string) {
		s := mustOpen(b, loc)
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for m := range 12 {
			if err := s.Record(b.Context(), fleet(10000, fmt.Sprintf("month-%d", m), start.AddDate(0, m, 0))); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			// Each run begins before the last one measured: the history
			// it follows stays the year.
			if err := s.Record(b.Context(), fleet(10000, fmt.Sprintf("run-%d", i), start.AddDate(1, 0, 0).Add(-time.Duration(i)*time.Second))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRecordBesideOthers records a run of 1,000 hosts into a history
// that already holds 20 runs of 2,000 other hosts each (other scopes, other
// targets): what it costs must be the run's own, not the history's.
func BenchmarkRecordBesideOthers(b *testing.B) {
	benchmarkBackends(b, func(b *testing.B, loc string) {
		s := mustOpen(b, loc)
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for k := range 20 {
			r := fleet(2000, fmt.Sprintf("other-%d", k), start.AddDate(0, 0, k))
			for i := range r.Hosts {
				r.Hosts[i].Target = fmt.Sprintf("other%02d-%s", k, r.Hosts[i].Target)
			}
			if err := s.Record(b.Context(), r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if err := s.Record(b.Context(), fleet(1000, fmt.Sprintf("run-%d", i), start.AddDate(0, 1, i))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDiff10000 loads two recorded runs of 10,000 hosts and compares them.
func BenchmarkDiff10000(b *testing.B) {
	benchmarkBackends(b, func(b *testing.B, loc string) {
		s := mustOpen(b, loc)
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		one, two := fleet(10000, "one", start), fleet(10000, "two", start.AddDate(0, 1, 0))
		for i := 0; i < 10000; i += 7 { // some findings move
			h := &two.Hosts[i]
			if h.Status.Audited() {
				h.Findings = append(h.Findings, model.Finding{RuleID: "protection.suspended", Severity: model.SeverityMedium, Volume: "C:"})
			}
		}
		for _, r := range []*model.Result{one, two} {
			if err := s.Record(b.Context(), r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			a, err := s.Snapshot(b.Context(), "one")
			if err != nil {
				b.Fatal(err)
			}
			c, err := s.Snapshot(b.Context(), "two")
			if err != nil {
				b.Fatal(err)
			}
			if d := Compare(a, c); len(d.NewFindings) == 0 || len(d.Recurring) == 0 {
				b.Fatalf("diff found %d new, %d recurring", len(d.NewFindings), len(d.Recurring))
			}
		}
	})
}
