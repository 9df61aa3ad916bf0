package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SchemaVersion is the schema version this bitaudit writes.
const SchemaVersion = 2

// A migration moves a database from version-1 to version. Migrations run
// in order, each in the transaction that also records its version, so a
// failed one leaves the database as it was.
type migration struct {
	version int
	what    string
	up      func(ctx context.Context, tx *sql.Tx, d dialect) error
}

var migrations = []migration{
	{1, "runs, hosts, volumes, findings, waivers, remediation", func(ctx context.Context, tx *sql.Tx, d dialect) error {
		return execAll(ctx, tx, schemaV1)
	}},
	{2, "first sighting of each finding, for its age", migrateV2},
}

// The tables. Types are those both SQLite and PostgreSQL read alike: times are
// Unix nanoseconds (UTC), booleans 0 or 1.
var schemaV1 = []string{
	`CREATE TABLE bitaudit_runs (
		id TEXT PRIMARY KEY,
		scope TEXT NOT NULL,
		started BIGINT NOT NULL,
		finished BIGINT NOT NULL,
		recorded BIGINT NOT NULL,
		tool_version TEXT NOT NULL,
		organisation TEXT NOT NULL,
		policy_source TEXT NOT NULL,
		policy_sha256 TEXT NOT NULL,
		target_count INTEGER NOT NULL,
		hosts INTEGER NOT NULL,
		audited INTEGER NOT NULL,
		compliant INTEGER NOT NULL,
		compliant_share DOUBLE PRECISION,
		backup_coverage DOUBLE PRECISION,
		critical INTEGER NOT NULL,
		high INTEGER NOT NULL,
		medium INTEGER NOT NULL,
		low INTEGER NOT NULL,
		info INTEGER NOT NULL,
		waived INTEGER NOT NULL,
		interrupted INTEGER NOT NULL,
		merged_from TEXT NOT NULL
	)`,
	`CREATE INDEX bitaudit_runs_started ON bitaudit_runs (scope, started)`,
	`CREATE TABLE bitaudit_hosts (
		run_id TEXT NOT NULL REFERENCES bitaudit_runs (id),
		target TEXT NOT NULL,
		status TEXT NOT NULL,
		reason TEXT NOT NULL,
		audited INTEGER NOT NULL,
		collected BIGINT NOT NULL,
		PRIMARY KEY (run_id, target)
	)`,
	`CREATE TABLE bitaudit_volumes (
		run_id TEXT NOT NULL REFERENCES bitaudit_runs (id),
		target TEXT NOT NULL,
		mount_point TEXT NOT NULL,
		volume_type TEXT NOT NULL,
		conversion TEXT NOT NULL,
		protection TEXT NOT NULL,
		method TEXT NOT NULL,
		encryption_percent DOUBLE PRECISION NOT NULL,
		recovery_passwords INTEGER NOT NULL,
		backed_up INTEGER NOT NULL
	)`,
	`CREATE INDEX bitaudit_volumes_run ON bitaudit_volumes (run_id, target)`,
	`CREATE TABLE bitaudit_findings (
		run_id TEXT NOT NULL REFERENCES bitaudit_runs (id),
		target TEXT NOT NULL,
		rule_id TEXT NOT NULL,
		volume TEXT NOT NULL,
		protector_id TEXT NOT NULL,
		severity TEXT NOT NULL,
		title TEXT NOT NULL,
		waiver_id TEXT NOT NULL
	)`,
	`CREATE INDEX bitaudit_findings_run ON bitaudit_findings (run_id, target)`,
	`CREATE TABLE bitaudit_waivers (
		run_id TEXT NOT NULL REFERENCES bitaudit_runs (id),
		waiver_id TEXT NOT NULL,
		scope TEXT NOT NULL,
		state TEXT NOT NULL,
		reason TEXT NOT NULL,
		owner TEXT NOT NULL,
		ticket TEXT NOT NULL,
		expires BIGINT NOT NULL,
		matched INTEGER NOT NULL
	)`,
	`CREATE INDEX bitaudit_waivers_run ON bitaudit_waivers (run_id)`,
	`CREATE TABLE bitaudit_remediation (
		run_id TEXT NOT NULL REFERENCES bitaudit_runs (id),
		target TEXT NOT NULL,
		volume TEXT NOT NULL,
		protector_id TEXT NOT NULL,
		action TEXT NOT NULL,
		location TEXT NOT NULL,
		outcome TEXT NOT NULL,
		detail TEXT NOT NULL,
		at BIGINT NOT NULL,
		verified INTEGER NOT NULL
	)`,
	`CREATE INDEX bitaudit_remediation_run ON bitaudit_remediation (run_id)`,
}

// migrateV2 adds each finding's first sighting and, to find a host's
// previous audited run quickly, the run's start on each host row; it fills
// both in for the runs already recorded.
func migrateV2(ctx context.Context, tx *sql.Tx, d dialect) error {
	if err := execAll(ctx, tx, []string{
		`ALTER TABLE bitaudit_findings ADD COLUMN first_seen BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE bitaudit_hosts ADD COLUMN started BIGINT NOT NULL DEFAULT 0`,
		`UPDATE bitaudit_hosts SET started = (SELECT r.started FROM bitaudit_runs r WHERE r.id = bitaudit_hosts.run_id)`,
		`CREATE INDEX bitaudit_hosts_target ON bitaudit_hosts (target, audited, started)`,
	}); err != nil {
		return err
	}
	// Walk the runs in order, carrying each audited host's findings forward.
	type run struct {
		id      string
		started int64
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, started FROM bitaudit_runs ORDER BY started, id`)
	runs, err := scanAll(rows, err, func(rows *sql.Rows) (run, error) {
		var r run
		return r, rows.Scan(&r.id, &r.started)
	})
	if err != nil {
		return err
	}
	// Each host's findings' first sightings in its last run and in its last audited run.
	last, lastAudited := map[string]map[FindingKey]int64{}, map[string]map[FindingKey]int64{}
	update, err := tx.PrepareContext(ctx, d.rebind(`UPDATE bitaudit_findings SET first_seen = ?
		WHERE run_id = ? AND target = ? AND rule_id = ? AND volume = ? AND protector_id = ?`))
	if err != nil {
		return err
	}
	defer update.Close()
	for _, r := range runs {
		hosts, err := runHosts(ctx, tx, d, r.id)
		if err != nil {
			return err
		}
		found, err := runFindings(ctx, tx, d, r.id)
		if err != nil {
			return err
		}
		now := map[string]map[FindingKey]int64{}
		for h := range hosts {
			now[h] = map[FindingKey]int64{}
		}
		for _, f := range found {
			h := hostKey(f.target)
			if now[h] == nil {
				now[h] = map[FindingKey]int64{}
			}
			first := r.started
			if t, ok := last[h][f.key]; ok {
				first = t
			} else if t, ok := lastAudited[h][f.key]; ok {
				first = t
			}
			now[h][f.key] = first
			if _, err := update.ExecContext(ctx, first, r.id, f.target, f.ruleID, f.volume, f.protectorID); err != nil {
				return err
			}
		}
		for h, m := range now {
			last[h] = m
			if hosts[h] {
				lastAudited[h] = m
			}
		}
	}
	return nil
}

// runHosts returns a run's hosts, each with whether it was audited.
func runHosts(ctx context.Context, tx *sql.Tx, d dialect, runID string) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, d.rebind(`SELECT target, audited FROM bitaudit_hosts WHERE run_id = ?`), runID)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for rows.Next() {
		var t string
		var audited int
		if err := rows.Scan(&t, &audited); err != nil {
			rows.Close()
			return nil, err
		}
		out[hostKey(t)] = audited == 1
	}
	return out, closeRows(rows)
}

type storedFinding struct {
	target, ruleID, volume, protectorID string
	key                                 FindingKey
}

func runFindings(ctx context.Context, tx *sql.Tx, d dialect, runID string) ([]storedFinding, error) {
	rows, err := tx.QueryContext(ctx, d.rebind(`SELECT target, rule_id, volume, protector_id FROM bitaudit_findings WHERE run_id = ?`), runID)
	return scanAll(rows, err, func(rows *sql.Rows) (storedFinding, error) {
		var f storedFinding
		err := rows.Scan(&f.target, &f.ruleID, &f.volume, &f.protectorID)
		f.key = FindingKey{hostKey(f.target), f.ruleID, strings.ToUpper(f.volume), strings.ToUpper(f.protectorID)}
		return f, err
	})
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	return errors.Join(err, rows.Close())
}

// scanAll reads every row of a query with scan and closes the rows; err
// is the query's own error.
func scanAll[T any](rows *sql.Rows, err error, scan func(*sql.Rows) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, v)
	}
	return out, closeRows(rows)
}

// scanOne scans a row of one column.
func scanOne[T any](rows *sql.Rows) (T, error) {
	var v T
	err := rows.Scan(&v)
	return v, err
}

func execAll(ctx context.Context, tx *sql.Tx, stmts []string) error {
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			head, _, _ := strings.Cut(s, "(")
			return fmt.Errorf("%s: %w", strings.TrimSpace(head), err)
		}
	}
	return nil
}

// ErrNewerSchema means the database was written by a newer bitaudit.
var ErrNewerSchema = errors.New("written by a newer bitaudit")

// ErrForeign means the database is not a bitaudit history.
var ErrForeign = errors.New("not a bitaudit history database")

// migrate brings the database to SchemaVersion, or to upTo when it is
// lower (tests), in one transaction per step. It refuses a database of a
// newer version and one holding other tables but no bitaudit schema, and
// changes nothing in either.
func migrate(ctx context.Context, db *sql.DB, d dialect, upTo int) error {
	for {
		done, err := migrateStep(ctx, db, d, upTo)
		if err != nil || done {
			return err
		}
	}
}

func migrateStep(ctx context.Context, db *sql.DB, d dialect, upTo int) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if err := d.lockSchema(ctx, tx); err != nil {
		return false, err
	}
	v, err := schemaVersion(ctx, tx, d)
	if err != nil {
		return false, err
	}
	if v > SchemaVersion {
		return false, fmt.Errorf("%w (schema version %d; this bitaudit reads up to %d): upgrade bitaudit to use it; it was not changed", ErrNewerSchema, v, SchemaVersion)
	}
	if v >= upTo {
		return true, nil
	}
	m := migrations[v]
	if err := m.up(ctx, tx, d); err != nil {
		return false, fmt.Errorf("migrating to schema version %d (%s): %w", m.version, m.what, err)
	}
	if v == 0 {
		_, err = tx.ExecContext(ctx, `CREATE TABLE bitaudit_schema (version INTEGER NOT NULL, migrated BIGINT NOT NULL)`)
		if err == nil {
			_, err = tx.ExecContext(ctx, d.rebind(`INSERT INTO bitaudit_schema (version, migrated) VALUES (?, ?)`), m.version, time.Now().UnixNano())
		}
	} else {
		_, err = tx.ExecContext(ctx, d.rebind(`UPDATE bitaudit_schema SET version = ?, migrated = ?`), m.version, time.Now().UnixNano())
	}
	if err != nil {
		return false, err
	}
	return false, tx.Commit()
}

// schemaVersion reads the version: 0 for a database without tables.
func schemaVersion(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, d dialect) (int, error) {
	rows, err := q.QueryContext(ctx, d.tablesQuery)
	tables, err := scanAll(rows, err, scanOne[string])
	if err != nil {
		return 0, err
	}
	has := func(name string) bool {
		return slices.ContainsFunc(tables, func(t string) bool { return strings.EqualFold(t, name) })
	}
	switch {
	case has("bitaudit_schema"):
	case has("bitaudit_runs"):
		return 0, fmt.Errorf("%w: it has bitaudit tables but no schema version", ErrForeign)
	case d.name == "sqlite" && len(tables) > 0:
		return 0, fmt.Errorf("%w: it holds other tables (%s)", ErrForeign, strings.Join(tables[:min(len(tables), 5)], ", "))
	default:
		return 0, nil
	}
	rows, err = q.QueryContext(ctx, `SELECT version FROM bitaudit_schema`)
	vs, err := scanAll(rows, err, scanOne[int])
	if err != nil {
		return 0, err
	}
	if len(vs) != 1 || vs[0] < 1 {
		return 0, fmt.Errorf("%w: its schema version table holds %v", ErrForeign, vs)
	}
	return vs[0], nil
}
