package history

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL, for a history several auditors share
	"modernc.org/sqlite"               // SQLite in pure Go, so the Windows build needs no C compiler
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/bitaudit/bitaudit/model"
)

// A Store is a history database.
type Store struct {
	db    *sql.DB
	d     dialect
	where string
}

// dialect is what differs between SQLite and PostgreSQL.
type dialect struct {
	name        string
	tablesQuery string
	// lockSchema serialises migrations between processes.
	lockSchema func(context.Context, *sql.Tx) error
	// maxParams bounds the parameters of one statement.
	maxParams int
	// window: find each host's latest row with a window function rather
	// than a correlated subquery (PostgreSQL plans it better; SQLite, by
	// its index, the other way: BenchmarkRecord10000).
	window bool
}

// latestFindings selects the findings, with their first sightings, of each
// host's latest row (its latest audited row, when audited) before a time
// given twice, for the hosts of one run (its ID given last): a history of
// many runs and hosts costs what the run's own hosts cost.
func (d dialect) latestFindings(audited bool) string {
	cond := ""
	if audited {
		cond = "AND audited = 1"
	}
	if d.window {
		return `SELECT f.target, f.rule_id, f.volume, f.protector_id, f.first_seen
			FROM (SELECT run_id, target, ROW_NUMBER() OVER (PARTITION BY target ORDER BY started DESC) AS n
				FROM bitaudit_hosts WHERE started < ? AND started < ? ` + cond + `
				AND target IN (SELECT target FROM bitaudit_hosts WHERE run_id = ?)) h
			JOIN bitaudit_findings f ON f.run_id = h.run_id AND f.target = h.target
			WHERE h.n = 1`
	}
	// From each of the run's own hosts, its latest earlier row is found by
	// equality seeks on bitaudit_hosts_target (target, audited, started),
	// so the runs a host had before cost nothing (BenchmarkRecordYear):
	// a range on started, or audited left open, would scan every earlier
	// row of the host. Its latest row of either kind is the later of its
	// latest non-audited and its latest audited row (-1: none).
	latest := `h.audited = 1 AND h.started = (
			SELECT MAX(h2.started) FROM bitaudit_hosts h2 WHERE h2.target = cur.target AND h2.audited = 1 AND h2.started < ? AND h2.started < ?)`
	if !audited {
		latest = `h.audited IN (0, 1) AND h.started = MAX(
			COALESCE((SELECT MAX(h2.started) FROM bitaudit_hosts h2 WHERE h2.target = cur.target AND h2.audited = 0 AND h2.started < ?), -1),
			COALESCE((SELECT MAX(h2.started) FROM bitaudit_hosts h2 WHERE h2.target = cur.target AND h2.audited = 1 AND h2.started < ?), -1))`
	}
	return `SELECT f.target, f.rule_id, f.volume, f.protector_id, f.first_seen
		FROM bitaudit_hosts cur
		JOIN bitaudit_hosts h ON h.target = cur.target AND ` + latest + `
		JOIN bitaudit_findings f ON f.run_id = h.run_id AND f.target = h.target
		WHERE cur.run_id = ?`
}

var sqliteDialect = dialect{
	name:        "sqlite",
	tablesQuery: `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
	// Every transaction begins IMMEDIATE (see the DSN): it holds the write lock.
	lockSchema: func(context.Context, *sql.Tx) error { return nil },
	maxParams:  32766,
}

var postgresDialect = dialect{
	name:        "postgres",
	tablesQuery: `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
	lockSchema: func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('bitaudit_schema'))`)
		return err
	},
	maxParams: 65535,
	window:    true,
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, …; the statements
// here hold no literal question mark.
func (d dialect) rebind(q string) string {
	if d.name != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// IsPostgres reports whether a --history location names a PostgreSQL database.
func IsPostgres(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// DefaultPath is the per-user history database: under the user's data
// directory ($XDG_DATA_HOME or ~/.local/share on Unix, ~/Library/Application
// Support on macOS, %LocalAppData% on Windows). getenv reads the environment.
func DefaultPath(goos string, getenv func(string) string) (string, error) {
	var dir string
	switch goos {
	case "windows":
		dir = getenv("LocalAppData")
	case "darwin":
		if h := getenv("HOME"); h != "" {
			dir = filepath.Join(h, "Library", "Application Support")
		}
	default:
		dir = getenv("XDG_DATA_HOME")
		if dir == "" || !filepath.IsAbs(dir) {
			dir = ""
			if h := getenv("HOME"); h != "" {
				dir = filepath.Join(h, ".local", "share")
			}
		}
	}
	if dir == "" {
		return "", errors.New("no per-user data directory (HOME, or LocalAppData on Windows, is not set)")
	}
	return filepath.Join(dir, "bitaudit", "history.db"), nil
}

// Open opens the history at location, a file path (SQLite, created when
// missing) or a postgres:// URL, and brings its schema up to date. A
// PostgreSQL password comes from PGPASSWORD or the password file (~/.pgpass,
// or PGPASSFILE), never from the URL: command lines are visible to every
// user of the machine.
func Open(ctx context.Context, location string) (*Store, error) {
	return open(ctx, location, SchemaVersion)
}

func open(ctx context.Context, location string, upTo int) (*Store, error) {
	var (
		s   *Store
		err error
	)
	if IsPostgres(location) {
		s, err = openPostgres(location)
	} else {
		s, err = openSQLite(location)
	}
	if err != nil {
		return nil, err
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("history database %s: %w", s.where, err)
	}
	if err := migrate(ctx, s.db, s.d, upTo); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("history database %s: %w", s.where, err)
	}
	if s.d.name == "sqlite" {
		if err := setWAL(ctx, s.db); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("history database %s: %w", s.where, err)
		}
	}
	return s, nil
}

// sqliteBusyTimeout is how long an SQLite history waits for another
// bitaudit's lock before it gives up.
const sqliteBusyTimeout = 30 * time.Second

// setWAL puts an SQLite history in WAL mode, which lets readers work while a
// run is recorded and persists in the file. Switching takes the file to
// itself, and while another connection holds the write lock SQLite answers
// SQLITE_BUSY at once rather than call the busy handler, lest the two
// deadlock (https://sqlite.org/c3ref/busy_handler.html): several bitaudits
// opening a new history together (shards started at once) lost a run that
// way. So the switch is retried until the busy timeout, as a lock wait
// would be; once the file is in WAL mode, asking again changes nothing.
func setWAL(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(sqliteBusyTimeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		var mode string
		err := db.QueryRowContext(ctx, `PRAGMA journal_mode=WAL`).Scan(&mode)
		if err == nil || !isSQLiteBusy(err) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// isSQLiteBusy reports whether err is SQLite's SQLITE_BUSY or one of its
// extended codes (https://sqlite.org/rescode.html#busy).
func isSQLiteBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

func openSQLite(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("history database: empty path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("history database %s: the path must not contain ? or #", path)
	}
	if f, err := os.Open(path); err == nil {
		head := make([]byte, 16)
		n, _ := io.ReadFull(f, head)
		f.Close()
		if n > 0 && (n < len(head) || !bytes.Equal(head, []byte("SQLite format 3\x00"))) {
			return nil, fmt.Errorf("history database %s: %w: the file is not an SQLite database; it was not changed", path, ErrForeign)
		}
	} else if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("history database: %w", err)
		}
	} else {
		return nil, fmt.Errorf("history database: %w", err)
	}
	// The busy timeout makes a second writer wait for the first instead of
	// failing; IMMEDIATE transactions take the write lock at BEGIN, so two
	// writers never deadlock upgrading their locks. WAL mode is set once the
	// file is known to be a history (it changes the file's header).
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_txlock=immediate", path, sqliteBusyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("history database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return &Store{db: db, d: sqliteDialect, where: path}, nil
}

func openPostgres(location string) (*Store, error) {
	u, err := url.Parse(location)
	if err != nil {
		return nil, errors.New("history database: malformed postgres:// URL")
	}
	if _, has := u.User.Password(); has {
		return nil, fmt.Errorf("history database %s: the URL holds a password: put it in PGPASSWORD or ~/.pgpass (PGPASSFILE) instead, never on the command line", u.Redacted())
	}
	db, err := sql.Open("pgx", location)
	if err != nil {
		return nil, fmt.Errorf("history database %s: %w", u.Redacted(), err)
	}
	db.SetMaxOpenConns(4)
	return &Store{db: db, d: postgresDialect, where: u.Redacted()}, nil
}

// Where names the database for messages: a path, or a URL without password.
func (s *Store) Where() string { return s.where }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// ErrNotFound means no recorded run matches.
var ErrNotFound = errors.New("no such run")

// ErrRecorded means the run is already in the history.
var ErrRecorded = errors.New("run already recorded")

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func b01(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Record stores a run in one transaction: its metadata and figures, every
// host's status, every volume's state, every finding with its waiver and
// first sighting, the waivers and the remediation log. A finding seen on the
// same host in the host's last audited run keeps that run's first sighting.
func (s *Store) Record(ctx context.Context, r *model.Result) error {
	rec, err := s.Begin(ctx, r)
	if err != nil {
		return err
	}
	return rec.Commit()
}

// A Recording is a run written into the history but not yet kept: its
// rows are in an open transaction that Commit keeps and Rollback drops, so
// a run can be recorded while its reports are written and kept only once
// they are.
type Recording struct {
	s  *Store
	tx *sql.Tx
	id string
}

// Begin writes r into the history as [Store.Record] does, in a
// transaction it leaves open (holding the database's write lock); the
// caller ends it with Commit or Rollback.
func (s *Store) Begin(ctx context.Context, r *model.Result) (*Recording, error) {
	if r.Run.ID == "" {
		return nil, errors.New("history: run has no ID")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("history database %s: %w", s.where, err)
	}
	if err := s.record(ctx, tx, r); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("history database %s: recording run %s: %w", s.where, r.Run.ID, err)
	}
	return &Recording{s: s, tx: tx, id: r.Run.ID}, nil
}

// Commit keeps the run in the history.
func (rc *Recording) Commit() error {
	if err := rc.tx.Commit(); err != nil {
		return fmt.Errorf("history database %s: recording run %s: %w", rc.s.where, rc.id, err)
	}
	return nil
}

// Rollback drops the run from the history.
func (rc *Recording) Rollback() { _ = rc.tx.Rollback() }

func (s *Store) record(ctx context.Context, tx *sql.Tx, r *model.Result) error {
	var n int
	if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM bitaudit_runs WHERE id = ?`), r.Run.ID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return ErrRecorded
	}
	started := ns(r.Run.Started)
	sum := r.Summary
	sev := sum.FindingsBySeverity
	if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO bitaudit_runs (id, scope, started, finished, recorded, tool_version,
		organisation, policy_source, policy_sha256, target_count, hosts, audited, compliant, compliant_share, backup_coverage,
		critical, high, medium, low, info, waived, interrupted, merged_from)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.Run.ID, r.Run.Scope, started, ns(r.Run.Finished), time.Now().UnixNano(), r.Run.ToolVersion,
		r.Run.Organisation, r.Run.Policy.Source, r.Run.Policy.SHA256, r.Run.TargetCount, sum.Hosts, sum.HostsAudited,
		sum.HostsByStatus[model.StatusCompliant], sum.CompliantShare, sum.BackupCoverage,
		sev[model.SeverityCritical], sev[model.SeverityHigh], sev[model.SeverityMedium], sev[model.SeverityLow], sev[model.SeverityInfo],
		sum.Waived, b01(r.Run.Interrupted), strings.Join(r.Run.MergedFrom, ",")); err != nil {
		return err
	}
	hosts := newBatch(s.d, "bitaudit_hosts", "run_id", "target", "status", "reason", "audited", "collected", "started")
	vols := newBatch(s.d, "bitaudit_volumes", "run_id", "target", "mount_point", "volume_type", "conversion", "protection",
		"method", "encryption_percent", "recovery_passwords", "backed_up")
	// The findings wait for the hosts: their first sightings are looked
	// up for this run's hosts once those are in.
	type findingRow struct {
		key                                                      FindingKey
		target, rule, volume, protector, severity, title, waiver string
	}
	var found []findingRow
	err := model.EachHost(r.HostSource(), func(_ int, h *model.HostResult) error {
		if err := hosts.add(ctx, tx, r.Run.ID, h.Target, string(h.Status), h.Reason, b01(h.Status.Audited()), ns(h.CollectedAt), started); err != nil {
			return err
		}
		for j := range h.Volumes {
			v := &h.Volumes[j]
			rps, backed := 0, 0
			for _, p := range v.RecoveryPasswords() {
				rps++
				for _, b := range p.Backups {
					if b.State == model.BackupVerified {
						backed++
						break
					}
				}
			}
			if err := vols.add(ctx, tx, r.Run.ID, h.Target, v.MountPoint, string(v.Type), string(v.Conversion), string(v.Protection),
				string(v.Method), v.EncryptionPercent, rps, backed); err != nil {
				return err
			}
		}
		for j := range h.Findings {
			f := &h.Findings[j]
			waiver := ""
			if f.Waiver != nil {
				waiver = f.Waiver.ID
			}
			found = append(found, findingRow{findingKey(h.Target, f), h.Target, f.RuleID, f.Volume, f.ProtectorID, f.Severity.String(), f.Title, waiver})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := hosts.flush(ctx, tx); err != nil {
		return err
	}
	first, err := s.firstSightings(ctx, tx, r.Run.ID, started)
	if err != nil {
		return err
	}
	finds := newBatch(s.d, "bitaudit_findings", "run_id", "target", "rule_id", "volume", "protector_id", "severity", "title",
		"waiver_id", "first_seen")
	for _, f := range found {
		fs := started
		if t, ok := first[f.key]; ok {
			fs = t
		}
		if err := finds.add(ctx, tx, r.Run.ID, f.target, f.rule, f.volume, f.protector, f.severity, f.title, f.waiver, fs); err != nil {
			return err
		}
	}
	waivers := newBatch(s.d, "bitaudit_waivers", "run_id", "waiver_id", "scope", "state", "reason", "owner", "ticket", "expires", "matched")
	for _, w := range r.Waivers {
		if err := waivers.add(ctx, tx, r.Run.ID, w.ID, w.Scope, w.State, w.Reason, w.Owner, w.Ticket, ns(w.Expires), w.Matched); err != nil {
			return err
		}
	}
	rem := newBatch(s.d, "bitaudit_remediation", "run_id", "target", "volume", "protector_id", "action", "location", "outcome",
		"detail", "at", "verified")
	for _, e := range r.Remediation {
		if err := rem.add(ctx, tx, r.Run.ID, e.Target, e.Volume, e.ProtectorID, e.Action, string(e.Location), e.Outcome, e.Detail,
			ns(e.Time), b01(e.Verified)); err != nil {
			return err
		}
	}
	for _, b := range []*batch{hosts, vols, finds, waivers, rem} {
		if err := b.flush(ctx, tx); err != nil {
			return err
		}
	}
	return nil
}

// firstSightings returns the first sightings of the findings a run
// starting at started continues: those of each host's last run before it,
// and, where the host was not audited there, of its last audited run.
func (s *Store) firstSightings(ctx context.Context, tx *sql.Tx, runID string, started int64) (map[FindingKey]int64, error) {
	out := map[FindingKey]int64{}
	for _, audited := range []bool{true, false} { // the later query wins
		rows, err := tx.QueryContext(ctx, s.d.rebind(s.d.latestFindings(audited)), started, started, runID)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var target, rule, vol, prot string
			var first int64
			if err := rows.Scan(&target, &rule, &vol, &prot, &first); err != nil {
				rows.Close()
				return nil, err
			}
			out[FindingKey{hostKey(target), rule, strings.ToUpper(vol), strings.ToUpper(prot)}] = first
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// A batch inserts rows many at a time: one statement per few hundred rows
// instead of one per row.
type batch struct {
	d     dialect
	table string
	cols  []string
	per   int
	args  []any
}

func newBatch(d dialect, table string, cols ...string) *batch {
	return &batch{d: d, table: table, cols: cols, per: min(500, d.maxParams/len(cols))}
}

func (b *batch) add(ctx context.Context, tx *sql.Tx, values ...any) error {
	b.args = append(b.args, values...)
	if len(b.args) >= b.per*len(b.cols) {
		return b.flush(ctx, tx)
	}
	return nil
}

func (b *batch) flush(ctx context.Context, tx *sql.Tx) error {
	if len(b.args) == 0 {
		return nil
	}
	rows := len(b.args) / len(b.cols)
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(b.cols)), ", ") + ")"
	q := "INSERT INTO " + b.table + " (" + strings.Join(b.cols, ", ") + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
	_, err := tx.ExecContext(ctx, b.d.rebind(q), b.args...)
	b.args = b.args[:0]
	if err != nil {
		return fmt.Errorf("%s: %w", b.table, err)
	}
	return nil
}

const runColumns = `id, scope, started, finished, tool_version, policy_sha256, target_count, hosts, audited, compliant,
	compliant_share, backup_coverage, critical, high, medium, low, info, waived, interrupted, merged_from`

func scanRun(sc interface{ Scan(...any) error }) (RunInfo, error) {
	var (
		ri                                 RunInfo
		started, finished                  int64
		crit, high, med, low, info, interr int
		merged                             string
		share, coverage                    sql.NullFloat64
	)
	err := sc.Scan(&ri.ID, &ri.Scope, &started, &finished, &ri.ToolVersion, &ri.PolicySHA256, &ri.TargetCount, &ri.Hosts,
		&ri.Audited, &ri.Compliant, &share, &coverage, &crit, &high, &med, &low, &info, &ri.Waived,
		&interr, &merged)
	if err != nil {
		return ri, err
	}
	if share.Valid {
		ri.CompliantShare = &share.Float64
	}
	if coverage.Valid {
		ri.BackupCoverage = &coverage.Float64
	}
	ri.Started, ri.Finished = fromNS(started), fromNS(finished)
	ri.Interrupted = interr != 0
	ri.Findings = map[model.Severity]int{
		model.SeverityCritical: crit, model.SeverityHigh: high, model.SeverityMedium: med, model.SeverityLow: low, model.SeverityInfo: info,
	}
	if merged != "" {
		ri.MergedFrom = strings.Split(merged, ",")
	}
	return ri, nil
}

// Runs lists recorded runs, newest first: of one scope, or of all when
// scope is empty; at most limit (all when limit <= 0).
func (s *Store) Runs(ctx context.Context, scope string, limit int) ([]RunInfo, error) {
	q := `SELECT ` + runColumns + ` FROM bitaudit_runs`
	var args []any
	if scope != "" {
		q += ` WHERE scope = ?`
		args = append(args, scope)
	}
	q += ` ORDER BY started DESC, id DESC`
	if limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(limit)
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("history database %s: %w", s.where, err)
	}
	var out []RunInfo
	for rows.Next() {
		ri, err := scanRun(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("history database %s: %w", s.where, err)
		}
		out = append(out, ri)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("history database %s: %w", s.where, err)
	}
	return out, nil
}

// Find returns the run whose ID is ref, or the only one whose ID starts with it.
func (s *Store) Find(ctx context.Context, ref string) (RunInfo, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return RunInfo{}, fmt.Errorf("%w: empty run ID", ErrNotFound)
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT `+runColumns+` FROM bitaudit_runs WHERE id = ? OR substr(id, 1, ?) = ? ORDER BY started DESC LIMIT 3`),
		ref, len(ref), ref)
	if err != nil {
		return RunInfo{}, fmt.Errorf("history database %s: %w", s.where, err)
	}
	var found []RunInfo
	for rows.Next() {
		ri, err := scanRun(rows)
		if err != nil {
			rows.Close()
			return RunInfo{}, fmt.Errorf("history database %s: %w", s.where, err)
		}
		found = append(found, ri)
	}
	if err := closeRows(rows); err != nil {
		return RunInfo{}, fmt.Errorf("history database %s: %w", s.where, err)
	}
	for _, ri := range found {
		if ri.ID == ref {
			return ri, nil
		}
	}
	switch len(found) {
	case 0:
		return RunInfo{}, fmt.Errorf("%w %q in %s", ErrNotFound, ref, s.where)
	case 1:
		return found[0], nil
	}
	return RunInfo{}, fmt.Errorf("%w: %q matches several runs (%s, %s, …): give more of the ID", ErrNotFound, ref, found[0].ID, found[1].ID)
}

// Snapshot loads what a diff needs of a recorded run.
func (s *Store) Snapshot(ctx context.Context, ref string) (*Snapshot, error) {
	ri, err := s.Find(ctx, ref)
	if err != nil {
		return nil, err
	}
	snap, err := s.snapshot(ctx, ri)
	if err != nil {
		return nil, fmt.Errorf("history database %s: run %s: %w", s.where, ri.ID, err)
	}
	return snap, nil
}

func (s *Store) snapshot(ctx context.Context, ri RunInfo) (*Snapshot, error) {
	snap := &Snapshot{Run: ri, Hosts: make(map[string]HostState, ri.Hosts), Findings: map[FindingKey]FindingState{}}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT target, status, reason FROM bitaudit_hosts WHERE run_id = ?`), ri.ID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var h HostState
		var st string
		if err := rows.Scan(&h.Target, &st, &h.Reason); err != nil {
			rows.Close()
			return nil, err
		}
		if h.Status, err = model.ParseStatus(st); err != nil {
			rows.Close()
			return nil, err
		}
		snap.Hosts[hostKey(h.Target)] = h
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, s.d.rebind(`SELECT target, rule_id, volume, protector_id, severity, title, waiver_id, first_seen
		FROM bitaudit_findings WHERE run_id = ?`), ri.ID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var target, rule, vol, prot, sev string
		var f FindingState
		var first int64
		if err := rows.Scan(&target, &rule, &vol, &prot, &sev, &f.Title, &f.WaiverID, &first); err != nil {
			rows.Close()
			return nil, err
		}
		if f.Severity, err = model.ParseSeverity(sev); err != nil {
			rows.Close()
			return nil, err
		}
		f.FirstSeen = fromNS(first)
		snap.Findings[FindingKey{hostKey(target), rule, strings.ToUpper(vol), strings.ToUpper(prot)}] = f
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, s.d.rebind(`SELECT waiver_id, scope, state, reason, owner, ticket, expires, matched
		FROM bitaudit_waivers WHERE run_id = ? ORDER BY waiver_id`), ri.ID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var w model.WaiverStatus
		var exp int64
		if err := rows.Scan(&w.ID, &w.Scope, &w.State, &w.Reason, &w.Owner, &w.Ticket, &exp, &w.Matched); err != nil {
			rows.Close()
			return nil, err
		}
		w.Expires = fromNS(exp)
		snap.Waivers = append(snap.Waivers, w)
	}
	return snap, closeRows(rows)
}
