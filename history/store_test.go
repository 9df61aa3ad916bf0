package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bitaudit/bitaudit/model"
)

// backend opens a fresh, empty store of one kind.
type backend struct {
	name string
	// location returns where a new, empty history lives.
	location func(t testing.TB) string
}

var backends = []backend{
	{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "history.db") }},
	{"postgres", postgresDSN},
}

func forEachBackend(t *testing.T, f func(t *testing.T, location string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.location(t)) })
	}
}

func mustOpen(t testing.TB, location string) *Store {
	t.Helper()
	s, err := Open(context.Background(), location)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// host is a fixture host: "target status finding..." where each finding is
// RULE or RULE@VOLUME, and a trailing ~WAIVER marks it waived.
func host(spec string) model.HostResult {
	f := strings.Fields(spec)
	h := model.HostResult{Target: f[0], Status: model.Status(f[1]), Reason: "fixture " + f[1]}
	for _, fs := range f[2:] {
		rule, waiver, _ := strings.Cut(fs, "~")
		rule, vol, _ := strings.Cut(rule, "@")
		fd := model.Finding{RuleID: rule, Title: "title of " + rule, Severity: model.SeverityHigh, Volume: vol, Message: "m"}
		if waiver != "" {
			fd.Waiver = &model.WaiverRef{ID: waiver, Reason: "r", Owner: "o", Expires: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
		}
		h.Findings = append(h.Findings, fd)
	}
	if h.Status.Audited() {
		h.Volumes = []model.Volume{{MountPoint: "C:", Type: model.VolumeOS, Conversion: model.FullyEncrypted, Protection: model.ProtectionOn,
			Method: model.MethodXTSAES256, Protectors: []model.Protector{{ID: "{AAAA}", Type: model.ProtectorRecoveryPassword,
				Backups: []model.Backup{{Location: model.LocationAD, State: model.BackupVerified}}}}}}
	}
	return h
}

func waiver(id, state string) model.WaiverStatus {
	return model.WaiverStatus{WaiverRef: model.WaiverRef{ID: id, Reason: "r", Owner: "o", Ticket: "T-1",
		Expires: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}, Scope: "host *", State: state}
}

func result(id string, month int, waivers []model.WaiverStatus, hosts ...string) *model.Result {
	started := time.Date(2026, time.Month(month), 2, 9, 0, 0, 0, time.UTC)
	r := &model.Result{Schema: model.ResultSchema, Run: model.Run{ID: id, Started: started, Finished: started.Add(time.Hour),
		ToolVersion: "test", Scope: "fleet", Policy: model.PolicyInfo{Source: "built-in default", SHA256: "abc"}}, Waivers: waivers}
	for _, h := range hosts {
		r.Hosts = append(r.Hosts, host(h))
	}
	r.Run.TargetCount = len(r.Hosts)
	r.Summary = model.Summarize(r.Hosts)
	return r
}

func jan(m int) time.Time { return time.Date(2026, time.Month(m), 2, 9, 0, 0, 0, time.UTC) }

// threeMonths are three monthly runs that between them change in every way a
// diff reports.
func threeMonths() []*model.Result {
	return []*model.Result{
		result("run-1", 1, []model.WaiverStatus{waiver("w1", "active")},
			"a noncompliant escrow.missing@C:", "b noncompliant encryption.off@D:", "c compliant",
			"d noncompliant escrow.missing@C:", "e compliant", "g unreachable host.not-audited"),
		result("run-2", 2, []model.WaiverStatus{waiver("w1", "active"), waiver("w2", "expiring")},
			"a noncompliant escrow.missing@c:", "b compliant", "c unreachable host.not-audited", "d timeout host.not-audited",
			"e noncompliant protection.suspended@C:~w1", "f compliant", "g unreachable host.not-audited"),
		result("run-3", 3, []model.WaiverStatus{waiver("w1", "expired"), waiver("w2", "expiring")},
			"A noncompliant escrow.missing@C:", "b compliant", "c noncompliant escrow.missing@C:",
			"d noncompliant escrow.missing@C:", "f compliant", "g timeout host.not-audited"),
	}
}

type summary struct {
	New, Resolved, Recurring, NotAudited, AuditedAgain, Joined, Left []string
	WaiversAdded, WaiversExpired, WaiversExpiring                    []string
}

func summarise(d *model.Delta) summary {
	fs := func(l []model.DeltaFinding) []string {
		out := []string{}
		for _, f := range l {
			s := f.Target + " " + f.RuleID + "@" + f.Volume + " since " + f.FirstSeen.Format("2006-01")
			if f.Waived {
				s += " waived"
			}
			out = append(out, s)
		}
		return out
	}
	hs := func(l []model.HostChange) []string {
		out := []string{}
		for _, h := range l {
			out = append(out, fmt.Sprintf("%s %s>%s", h.Target, h.Before, h.After))
		}
		return out
	}
	ws := func(l []model.WaiverStatus) []string {
		out := []string{}
		for _, w := range l {
			out = append(out, w.ID+" "+w.State)
		}
		return out
	}
	return summary{fs(d.NewFindings), fs(d.Resolved), fs(d.Recurring), hs(d.NewlyNotAudited), hs(d.AuditedAgain),
		hs(d.Joined), hs(d.Left), ws(d.WaiversAdded), ws(d.WaiversExpired), ws(d.WaiversExpiring)}
}

var wantDiffs = []summary{
	{ // run-1 → run-2
		New:        []string{"e protection.suspended@C: since 2026-02 waived"},
		Resolved:   []string{"b encryption.off@D: since 2026-01"},
		Recurring:  []string{"a escrow.missing@C: since 2026-01", "g host.not-audited@ since 2026-01"},
		NotAudited: []string{"c compliant>unreachable", "d noncompliant>timeout"}, AuditedAgain: []string{},
		Joined: []string{"f >compliant"}, Left: []string{},
		WaiversAdded: []string{"w2 expiring"}, WaiversExpired: []string{}, WaiversExpiring: []string{"w2 expiring"},
	},
	{ // run-2 → run-3: c and d come back, their findings are neither new nor recurring
		New: []string{}, Resolved: []string{},
		Recurring:  []string{"A escrow.missing@C: since 2026-01", "g host.not-audited@ since 2026-01"},
		NotAudited: []string{}, AuditedAgain: []string{"c unreachable>noncompliant", "d timeout>noncompliant"},
		Joined: []string{}, Left: []string{"e noncompliant>"},
		WaiversAdded: []string{}, WaiversExpired: []string{"w1 expired"}, WaiversExpiring: []string{"w2 expiring"},
	},
}

func TestStoreDiffsEveryCategory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc string) {
		ctx := t.Context()
		s := mustOpen(t, loc)
		runs := threeMonths()
		for _, r := range runs {
			if err := s.Record(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Record(ctx, runs[0]); !errors.Is(err, ErrRecorded) {
			t.Errorf("recording run-1 twice: %v, want ErrRecorded", err)
		}
		list, err := s.Runs(ctx, "fleet", 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ri := range list {
			ids = append(ids, ri.ID)
		}
		if diff := cmp.Diff([]string{"run-3", "run-2", "run-1"}, ids); diff != "" {
			t.Errorf("Runs (-want +got):\n%s", diff)
		}
		if got := list[1]; got.Hosts != 7 || got.Audited != 4 || got.Compliant != 2 || got.Findings[model.SeverityHigh] != 4 || got.Waived != 1 ||
			!got.Started.Equal(jan(2)) {
			t.Errorf("run-2 as listed: %+v", got)
		}
		for i, want := range wantDiffs {
			a, err := s.Snapshot(ctx, runs[i].Run.ID)
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.Snapshot(ctx, runs[i+1].Run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, summarise(Compare(a, b))); diff != "" {
				t.Errorf("diff %s → %s from the store (-want +got):\n%s", runs[i].Run.ID, runs[i+1].Run.ID, diff)
			}
		}
		// d's finding was seen in January, then d timed out in February: its
		// first sighting survives the gap.
		snap, err := s.Snapshot(ctx, "run-3")
		if err != nil {
			t.Fatal(err)
		}
		if got := snap.Findings[FindingKey{"d", "escrow.missing", "C:", ""}].FirstSeen; !got.Equal(jan(1)) {
			t.Errorf("d's finding first seen %v, want January", got)
		}
		if got := snap.Findings[FindingKey{"c", "escrow.missing", "C:", ""}].FirstSeen; !got.Equal(jan(3)) {
			t.Errorf("c's finding first seen %v, want March", got)
		}
	})
}

// TestCompareResultsMatchesStore: the same diffs come from result files
// alone (--previous), with first sightings carried by each result's own
// comparison.
func TestCompareResultsMatchesStore(t *testing.T) {
	runs := threeMonths()
	for i := 1; i <= 2; i++ {
		prev, err := SnapshotOf(runs[i-1])
		if err != nil {
			t.Fatal(err)
		}
		if err := Attach(runs[i], nil, prev, fmt.Sprintf("run-%d.json", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range wantDiffs {
		if diff := cmp.Diff(want, summarise(runs[i+1].History.Since)); diff != "" {
			t.Errorf("diff %d from results (-want +got):\n%s", i, diff)
		}
	}
	if got := runs[2].History.Previous; got.ID != "run-2" || got.Source != "run-2.json" {
		t.Errorf("previous = %+v", got)
	}
	if got := len(runs[2].History.Trend); got != 2 {
		t.Errorf("trend has %d points, want 2 (run-2 and run-3)", got)
	}
}

func TestAttachTrendKeepsTwelveRunsOldestFirst(t *testing.T) {
	var earlier []RunInfo
	for m := 20; m >= 1; m-- { // newest first, as Store.Runs lists them
		r := result(fmt.Sprintf("run-%02d", m), 1, nil, "a compliant")
		r.Run.Started = jan(1).AddDate(0, m-1, 0)
		earlier = append(earlier, InfoOf(r))
	}
	cur := result("run-now", 1, nil, "a compliant")
	cur.Run.Started = jan(1).AddDate(3, 0, 0)
	if err := Attach(cur, nil, nil, "", earlier); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range cur.History.Trend {
		ids = append(ids, p.RunID)
	}
	want := []string{"run-10", "run-11", "run-12", "run-13", "run-14", "run-15", "run-16", "run-17", "run-18", "run-19", "run-20", "run-now"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("trend (-want +got):\n%s", diff)
	}
	if cur.History.Previous != nil || cur.History.Since != nil {
		t.Errorf("no previous run given, yet History = %+v", cur.History)
	}
}

func TestFindByPrefix(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "h.db"))
	for _, id := range []string{"20260102T090000Z-aa11", "20260102T090000Z-ab22", "20260202T090000Z-cc33"} {
		r := result(id, 1, nil, "a compliant")
		if err := s.Record(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ ref, want, err string }{
		{"20260202", "20260202T090000Z-cc33", ""},
		{"20260102T090000Z-ab22", "20260102T090000Z-ab22", ""},
		{"20260102", "", "matches several runs"},
		{"2027", "", "no such run"},
	} {
		ri, err := s.Find(t.Context(), tc.ref)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Find(%q) = %v, %v; want error %q", tc.ref, ri.ID, err, tc.err)
			}
			continue
		}
		if err != nil || ri.ID != tc.want {
			t.Errorf("Find(%q) = %v, %v; want %s", tc.ref, ri.ID, err, tc.want)
		}
	}
}

// v1Rows inserts two runs as a bitaudit of schema version 1 wrote them.
func v1Rows(t *testing.T, db *sql.DB, d dialect) {
	t.Helper()
	for _, r := range threeMonths()[:2] {
		sum := r.Summary
		mustExec(t, db, d, `INSERT INTO bitaudit_runs VALUES (?, 'fleet', ?, ?, ?, 'v1', '', 'built-in default', 'abc', ?, ?, ?, ?, ?, 1, 0, ?, 0, 0, 0, ?, 0, '')`,
			r.Run.ID, r.Run.Started.UnixNano(), r.Run.Finished.UnixNano(), r.Run.Finished.UnixNano(), sum.Hosts, sum.Hosts,
			sum.HostsAudited, sum.HostsByStatus[model.StatusCompliant], sum.CompliantShare, sum.FindingsBySeverity[model.SeverityHigh], sum.Waived)
		for _, h := range r.Hosts {
			mustExec(t, db, d, `INSERT INTO bitaudit_hosts VALUES (?, ?, ?, ?, ?, 0)`, r.Run.ID, h.Target, string(h.Status), h.Reason, b01(h.Status.Audited()))
			for _, f := range h.Findings {
				w := ""
				if f.Waiver != nil {
					w = f.Waiver.ID
				}
				mustExec(t, db, d, `INSERT INTO bitaudit_findings VALUES (?, ?, ?, ?, '', 'high', ?, ?)`, r.Run.ID, h.Target, f.RuleID, f.Volume, f.Title, w)
			}
		}
		for _, w := range r.Waivers {
			mustExec(t, db, d, `INSERT INTO bitaudit_waivers VALUES (?, ?, ?, ?, 'r', 'o', 'T-1', ?, 0)`, r.Run.ID, w.ID, w.Scope, w.State, w.Expires.UnixNano())
		}
	}
}

func mustExec(t *testing.T, db *sql.DB, d dialect, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(d.rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestMigrationFromSchemaV1(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc string) {
		ctx := t.Context()
		old, err := open(ctx, loc, 1)
		if err != nil {
			t.Fatal(err)
		}
		v1Rows(t, old.db, old.d)
		old.Close()

		s := mustOpen(t, loc)
		var v int
		if err := s.db.QueryRow(`SELECT version FROM bitaudit_schema`).Scan(&v); err != nil || v != SchemaVersion {
			t.Fatalf("schema version after migration = %d, %v; want %d", v, err, SchemaVersion)
		}
		// The migrated runs diff as if recorded now, and a new run continues
		// their first sightings.
		if err := s.Record(ctx, threeMonths()[2]); err != nil {
			t.Fatal(err)
		}
		runs := threeMonths()
		for i, want := range wantDiffs {
			a, err := s.Snapshot(ctx, runs[i].Run.ID)
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.Snapshot(ctx, runs[i+1].Run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, summarise(Compare(a, b))); diff != "" {
				t.Errorf("diff %d after migration (-want +got):\n%s", i, diff)
			}
		}
	})
}

func TestNewerSchemaRefusedUntouched(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc string) {
		s := mustOpen(t, loc)
		if err := s.Record(t.Context(), threeMonths()[0]); err != nil {
			t.Fatal(err)
		}
		mustExec(t, s.db, s.d, `UPDATE bitaudit_schema SET version = ?`, SchemaVersion+1)
		s.Close()
		var before []byte
		if !IsPostgres(loc) {
			before, _ = os.ReadFile(loc)
		}
		_, err := Open(t.Context(), loc)
		if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "upgrade bitaudit") {
			t.Fatalf("opening a newer database: %v, want ErrNewerSchema saying to upgrade", err)
		}
		if !IsPostgres(loc) {
			after, _ := os.ReadFile(loc)
			if string(before) != string(after) {
				t.Error("the refused database file changed")
			}
		}
	})
}

func TestForeignOrCorruptDatabase(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("this is not a database\n"), 0o600)
	short := filepath.Join(dir, "short.db")
	os.WriteFile(short, []byte("SQLite"), 0o600)

	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE customers (id INTEGER)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// A history whose pages after the header are overwritten.
	corrupt := filepath.Join(dir, "corrupt.db")
	s := mustOpen(t, corrupt)
	if err := s.Record(t.Context(), threeMonths()[0]); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, _ := os.ReadFile(corrupt)
	for i := 100; i < len(b); i++ {
		b[i] = 0xA5
	}
	os.WriteFile(corrupt, b, 0o600)
	os.Remove(corrupt + "-wal")
	os.Remove(corrupt + "-shm")

	for _, tc := range []struct{ path, want string }{
		{text, "not an SQLite database"},
		{short, "not an SQLite database"},
		{other, "not a bitaudit history database: it holds other tables (customers)"},
		{corrupt, "malformed"},
	} {
		before, _ := os.ReadFile(tc.path)
		s, err := Open(t.Context(), tc.path)
		if err == nil {
			s.Close()
			t.Errorf("%s: opened, want error %q", filepath.Base(tc.path), tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("%s: %v; want an error naming the file and saying %q", filepath.Base(tc.path), err, tc.want)
		}
		after, _ := os.ReadFile(tc.path)
		if string(before) != string(after) {
			t.Errorf("%s: changed by the refused open", filepath.Base(tc.path))
		}
	}
}

// TestConcurrentWriters: several processes' worth of handles record at
// once; none fails and no run is lost.
func TestConcurrentWriters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc string) {
		const writers, each = 4, 5
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := Open(context.Background(), loc)
				if err != nil {
					errs <- err
					return
				}
				defer s.Close()
				for i := range each {
					r := threeMonths()[i%3]
					r.Run.ID = fmt.Sprintf("w%d-%d", w, i)
					r.Run.Started = r.Run.Started.Add(time.Duration(w*each+i) * time.Second)
					if err := s.Record(context.Background(), r); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		s := mustOpen(t, loc)
		runs, err := s.Runs(t.Context(), "", 0)
		if err != nil || len(runs) != writers*each {
			t.Fatalf("%d runs recorded (%v), want %d", len(runs), err, writers*each)
		}
		var hosts int
		if err := s.db.QueryRow(`SELECT COUNT(*) FROM bitaudit_hosts`).Scan(&hosts); err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, r := range runs {
			want += r.Hosts
		}
		if hosts != want {
			t.Errorf("%d host rows, want %d", hosts, want)
		}
	})
}

func TestPostgresURLPasswordRefused(t *testing.T) {
	_, err := Open(t.Context(), "postgres://auditor:S3cret-In-URL@127.0.0.1:1/history")
	if err == nil || !strings.Contains(err.Error(), "PGPASSWORD") {
		t.Fatalf("error %v, want one pointing to PGPASSWORD", err)
	}
	if strings.Contains(err.Error(), "S3cret-In-URL") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestDefaultPath(t *testing.T) {
	for _, tc := range []struct {
		goos string
		env  map[string]string
		want string
	}{
		{"linux", map[string]string{"HOME": "/home/ann"}, "/home/ann/.local/share/bitaudit/history.db"},
		{"linux", map[string]string{"HOME": "/home/ann", "XDG_DATA_HOME": "/data/ann"}, "/data/ann/bitaudit/history.db"},
		{"linux", map[string]string{"HOME": "/home/ann", "XDG_DATA_HOME": "relative"}, "/home/ann/.local/share/bitaudit/history.db"},
		{"darwin", map[string]string{"HOME": "/Users/ann"}, "/Users/ann/Library/Application Support/bitaudit/history.db"},
		{"windows", map[string]string{"LocalAppData": "/c/Users/ann/AppData/Local"}, "/c/Users/ann/AppData/Local/bitaudit/history.db"},
		{"linux", map[string]string{}, ""},
	} {
		got, err := DefaultPath(tc.goos, func(k string) string { return tc.env[k] })
		if got != filepath.FromSlash(tc.want) || (err != nil) != (tc.want == "") {
			t.Errorf("DefaultPath(%s, %v) = %q, %v; want %q", tc.goos, tc.env, got, err, tc.want)
		}
	}
}

// TestShareOfNothingStaysNA: a run that audited no host has no compliant
// share or coverage; the store keeps it n/a, never 0 % or 100 %.
func TestShareOfNothingStaysNA(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc string) {
		s := mustOpen(t, loc)
		dark := result("dark", 4, nil, "a unreachable host.not-audited", "b timeout host.not-audited")
		lit := result("lit", 5, nil, "a compliant", "b noncompliant escrow.missing@C:")
		for _, r := range []*model.Result{dark, lit} {
			if err := s.Record(t.Context(), r); err != nil {
				t.Fatal(err)
			}
		}
		runs, err := s.Runs(t.Context(), "fleet", 0)
		if err != nil {
			t.Fatal(err)
		}
		if runs[1].CompliantShare != nil || runs[1].BackupCoverage != nil {
			t.Errorf("nothing audited, yet shares %v %v", runs[1].CompliantShare, runs[1].BackupCoverage)
		}
		if runs[0].CompliantShare == nil || *runs[0].CompliantShare != 0.5 || runs[0].BackupCoverage == nil || *runs[0].BackupCoverage != 1 {
			t.Errorf("shares of the audited run: %v %v", runs[0].CompliantShare, runs[0].BackupCoverage)
		}
	})
}

// TestBeginCommitRollback: a run begun and rolled back is not in the
// history, and can be recorded again; one begun and committed is.
func TestBeginCommitRollback(t *testing.T) {
	forEachBackend(t, func(t *testing.T, loc string) {
		ctx := t.Context()
		s := mustOpen(t, loc)
		runs := threeMonths()
		rec, err := s.Begin(ctx, runs[0])
		if err != nil {
			t.Fatal(err)
		}
		rec.Rollback()
		if list, err := s.Runs(ctx, "fleet", 0); err != nil || len(list) != 0 {
			t.Fatalf("after rollback: %d runs, %v", len(list), err)
		}
		if rec, err = s.Begin(ctx, runs[0]); err != nil {
			t.Fatalf("begin again after rollback: %v", err)
		}
		if err := rec.Commit(); err != nil {
			t.Fatal(err)
		}
		list, err := s.Runs(ctx, "fleet", 0)
		if err != nil || len(list) != 1 || list[0].ID != runs[0].Run.ID {
			t.Fatalf("after commit: %+v, %v", list, err)
		}
		snap, err := s.Snapshot(ctx, runs[0].Run.ID)
		if err != nil || len(snap.Hosts) != len(runs[0].Hosts) {
			t.Fatalf("snapshot after commit: %v hosts, %v", snap, err)
		}
	})
}

// TestSetWALWaitsForAWriter: switching an SQLite history to WAL mode needs
// the file to itself. While another connection holds the write lock, SQLite
// answers SQLITE_BUSY at once instead of calling the busy handler, lest the
// two deadlock (https://sqlite.org/c3ref/busy_handler.html), as several
// bitaudits opening a new history together do. setWAL waits for the writer.
func TestSetWALWaitsForAWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	s, err := openSQLite(path) // the history's own settings, busy timeout included
	if err != nil {
		t.Fatal(err)
	}
	defer s.db.Close()
	ctx := t.Context()
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE t (x)`); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(300 * time.Millisecond)
		_, _ = conn.ExecContext(context.Background(), `COMMIT`)
	}()
	err = setWAL(ctx, s.db)
	<-released
	if err != nil {
		t.Fatalf("setWAL while another connection writes: %v", err)
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode: %q, %v; want wal", mode, err)
	}
}
