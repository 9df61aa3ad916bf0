package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/pflag"

	"github.com/bitaudit/bitaudit/history"
	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/shard"
)

// historyOptions are the history flags of audit, demo and merge.
type historyOptions struct {
	location string
	disabled bool
	previous string
	scope    string
}

func (o *historyOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.location, "history", "", "history database: a file (SQLite; default: bitaudit/history.db in the per-user data directory) or a postgres:// URL (password from PGPASSWORD or ~/.pgpass)")
	f.BoolVar(&o.disabled, "no-history", false, "do not record the run in the history, nor compare it with the previous one from there")
	f.StringVar(&o.previous, "previous", "", "result.json of the previous run to compare with, instead of the one in the history")
	f.StringVar(&o.scope, "scope", "", "name of the fleet this run covers; runs of one scope are compared (default: the targets file's name)")
}

// historyLocation resolves --history: the flag, or the per-user default.
func historyLocation(g *globals, location string) (string, error) {
	if location != "" {
		return location, nil
	}
	p, err := history.DefaultPath(runtime.GOOS, g.getenv)
	if err != nil {
		return "", fmt.Errorf("%w: give --history PATH", err)
	}
	return p, nil
}

// openHistoryForReading opens an existing history for history and diff:
// a missing file is an error, never a new empty database.
func openHistoryForReading(ctx context.Context, g *globals, location string) (*history.Store, error) {
	loc, err := historyLocation(g, location)
	if err != nil {
		return nil, usageError(err)
	}
	if !history.IsPostgres(loc) {
		if _, err := os.Stat(loc); errors.Is(err, os.ErrNotExist) {
			return nil, usageErrorf("no history at %s: runs are recorded there by bitaudit audit (or choose one with --history)", loc)
		}
	}
	s, err := history.Open(ctx, loc)
	if err != nil {
		return nil, usageError(err)
	}
	return s, nil
}

// runHistory is the history of one run being audited: where it is compared
// from and recorded to.
type runHistory struct {
	store *history.Store
	// pre is what prefetch reads; nil until it starts.
	pre      *prefetched
	previous *history.Snapshot
	opts     *historyOptions
	scope    string
	// record is false for a shard: its result is recorded when merged.
	record bool
	log    *slog.Logger
}

// compares says whether the run will be compared with an earlier one
// (attach): it is recorded, and there is a history or --previous.
func (h *runHistory) compares() bool {
	return h.record && (h.store != nil || h.previous != nil)
}

// openRunHistory opens the history before any host is contacted, so a
// history that cannot be used stops the run early. Without a per-user data
// directory and without --history, the run goes unrecorded, with a warning.
func openRunHistory(ctx context.Context, g *globals, o *historyOptions, scope string, record bool) (*runHistory, error) {
	h := &runHistory{opts: o, scope: scope, record: record, log: g.logger()}
	if o.scope != "" {
		h.scope = o.scope
	}
	if o.previous != "" {
		// Only the previous run's snapshot is kept, not its hosts.
		r, hosts, err := readResultSpooled(o.previous)
		if err != nil {
			return nil, usageError(fmt.Errorf("--previous: %w", err))
		}
		h.previous, err = history.SnapshotOf(r)
		hosts.Close()
		if err != nil {
			return nil, usageError(fmt.Errorf("--previous %s: %w", o.previous, err))
		}
	}
	if o.disabled {
		if o.location != "" {
			return nil, usageErrorf("--history and --no-history contradict each other")
		}
		return h, nil
	}
	loc, err := historyLocation(g, o.location)
	if err != nil {
		h.log.Warn("run not recorded in the history", "reason", err.Error())
		return h, nil
	}
	if h.store, err = history.Open(ctx, loc); err != nil {
		return nil, usageError(fmt.Errorf("%w (use --no-history to audit without it)", err))
	}
	return h, nil
}

// prefetched is what a run is compared with, read from the history (the
// runs before it and the previous run's snapshot), once done is closed.
type prefetched struct {
	done chan struct{}
	runs []history.RunInfo
	prev *history.Snapshot
}

// prefetch starts reading, while the hosts are audited, what attach
// compares the run with: none of it depends on the run's own results.
// What cannot be read is left out, with a warning.
func (h *runHistory) prefetch(ctx context.Context) {
	if !h.record || h.store == nil || h.pre != nil {
		return
	}
	p := &prefetched{done: make(chan struct{})}
	h.pre = p
	go func() {
		defer close(p.done)
		runs, err := h.store.Runs(ctx, h.scope, history.TrendRuns)
		if err != nil {
			h.log.Warn("history not read: the report has no comparison with earlier runs", "error", err.Error())
			return
		}
		p.runs = runs
		if len(runs) > 0 && h.previous == nil { // --previous gives its own
			if p.prev, err = h.store.Snapshot(ctx, runs[0].ID); err != nil {
				h.log.Warn("previous run not read: the report has no comparison with it", "error", err.Error())
				p.prev = nil
			}
		}
	}()
}

// attach compares the finished run with the previous one and sets its
// trend; a history that cannot be read leaves the run without them, with a
// warning, rather than losing the run. snap, when not nil, was given every
// host of r as stored (hostTally); else r's hosts are read.
func (h *runHistory) attach(ctx context.Context, r *model.Result, snap *history.SnapshotBuilder) {
	r.Run.Scope = h.scope
	if !h.record {
		return // a shard: compared once merged
	}
	var (
		earlier []history.RunInfo
		prev    *history.Snapshot
		source  string
	)
	if h.store != nil {
		h.prefetch(ctx)
		<-h.pre.done
		earlier, prev = h.pre.runs, h.pre.prev
		if prev != nil {
			source = "history"
		}
	}
	if h.previous != nil {
		prev, source = h.previous, h.opts.previous
	}
	if prev == nil && h.store == nil {
		return
	}
	var cur *history.Snapshot
	if snap != nil && prev != nil {
		cur = snap.Snapshot(r)
	}
	if err := history.Attach(r, cur, prev, source, earlier); err != nil {
		h.log.Warn("run not compared with earlier runs: its results could not be read", "error", err.Error())
	}
}

// A pendingRecord is a run being recorded while its results are written.
type pendingRecord struct {
	h    *runHistory
	id   string
	done chan struct{}
	rec  *history.Recording
	err  error
}

// begin records r into the history beside the writing of its results
// (which only read r); end keeps the record once they are written, or
// drops it.
func (h *runHistory) begin(ctx context.Context, r *model.Result) *pendingRecord {
	p := &pendingRecord{h: h, id: r.Run.ID, done: make(chan struct{})}
	if h.store == nil || !h.record {
		close(p.done)
		return p
	}
	go func() {
		defer close(p.done)
		p.rec, p.err = h.store.Begin(ctx, r)
	}()
	return p
}

// end keeps the run in the history when its results were written, and
// drops it when they were not.
func (p *pendingRecord) end(written bool) error {
	<-p.done
	if p.rec == nil && p.err == nil {
		return nil // nothing recorded: no history, or a shard
	}
	if !written {
		if p.rec != nil {
			p.rec.Rollback()
		}
		return nil
	}
	if p.err == nil {
		p.err = p.rec.Commit()
	}
	if p.err != nil {
		return &exitError{code: exitFatal, err: fmt.Errorf("results written, but the run was not recorded: %w", p.err)}
	}
	p.h.log.Info("run recorded in the history", "history", p.h.store.Where(), "run", p.id)
	return nil
}

func (h *runHistory) Close() {
	if h != nil && h.pre != nil {
		<-h.pre.done // its reads end before the store closes
	}
	if h != nil && h.store != nil {
		h.store.Close()
	}
}

// defaultScope names the fleet a targets file covers.
func defaultScope(targetsFile string) string {
	if targetsFile == "" {
		return ""
	}
	return filepath.Base(targetsFile)
}

// applyShard keeps the job's share of the targets under --shard I/N.
func (j *auditJob) applyShard() error {
	o := j.opts
	if o.shard == "" {
		if o.runGroup != "" {
			return usageErrorf("--run-group names the shards of one run: it needs --shard")
		}
		return nil
	}
	i, n, err := shard.Parse(o.shard)
	if err != nil {
		return usageError(err)
	}
	if o.history.previous != "" {
		return usageErrorf("--previous compares a whole run: give it to bitaudit merge, not to one shard")
	}
	j.targets, j.shard = shard.Of(j.targets, i, n, o.runGroup)
	return nil
}
