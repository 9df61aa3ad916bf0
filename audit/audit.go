package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// A Collector gathers one host's facts and volumes. It must return by ctx's
// deadline, with an error that wraps one of the model sentinels.
type Collector interface {
	Collect(ctx context.Context, t model.Target) (model.HostFacts, []model.Volume, error)
}

// A Verifier records, for each recovery-password protector of an audited
// host, where its key is backed up (model.Protector.Backups) and which stale
// keys the sources hold. Failures become "unknown" evidence, never errors.
type Verifier interface {
	Verify(ctx context.Context, h *model.HostResult)
}

// An Evaluator turns a host's facts into findings and decides compliance.
// It must be safe for concurrent use.
type Evaluator interface {
	Evaluate(h *model.HostResult, now time.Time)
}

// Options tune a run.
type Options struct {
	// Concurrency bounds how many hosts are audited at once (default 64).
	Concurrency int
	// HostTimeout bounds one host's collection and verification (default 2m).
	HostTimeout time.Duration
	// Grace is how long hosts already running may finish after the run is
	// interrupted (default 5s); after it they are marked interrupted.
	Grace time.Duration
	// Logger receives one line per host; nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests pass a fixed one.
	Now func() time.Time
	// Progress, if set, is called after each host finishes, from the
	// finishing worker.
	Progress func(done, total int, h *model.HostResult)
	// Abort, when closed after the run's context was cancelled, ends the
	// grace period at once: running hosts are stopped and marked
	// interrupted (a second Ctrl-C).
	Abort <-chan struct{}
	// Ramp spreads the starts of the first Concurrency hosts evenly over
	// this long instead of starting them in one burst (default 0: at
	// once). Later hosts start as earlier ones finish, so they stay
	// spread.
	Ramp time.Duration
}

// An Auditor runs audits with one collector, verifier and evaluator.
type Auditor struct {
	collector Collector
	verifier  Verifier
	evaluator Evaluator
	opts      Options
	running   atomic.Int64
}

// Running is the number of hosts being audited right now.
func (a *Auditor) Running() int { return int(a.running.Load()) }

// New returns an Auditor. verifier may be nil (no escrow evidence is added).
func New(c Collector, v Verifier, e Evaluator, o Options) *Auditor {
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.HostTimeout <= 0 {
		o.HostTimeout = 2 * time.Minute
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Auditor{collector: c, verifier: v, evaluator: e, opts: o}
}

// A Store keeps a run's results as the hosts finish: a spool on disk
// (package spool), or memory. Put may be called from many goroutines.
type Store interface {
	model.HostSource
	Put(i int, h *model.HostResult) error
}

// Run audits every target and returns one HostResult per target, in target
// order, held in memory; see [Auditor.RunTo].
func (a *Auditor) Run(ctx context.Context, targets []model.Target) []model.HostResult {
	st := make(memStore, len(targets))
	_ = a.RunTo(ctx, targets, st) // memStore.Put never fails
	return st
}

// NewMemoryStore returns a Store of n hosts held in memory.
func NewMemoryStore(n int) Store { return make(memStore, n) }

// memStore is a Store in memory.
type memStore []model.HostResult

func (m memStore) Len() int                             { return len(m) }
func (m memStore) Host(i int) (model.HostResult, error) { return m[i], nil }
func (m memStore) Put(i int, h *model.HostResult) error { m[i] = *h; return nil }

// RunTo audits every target and puts one HostResult per target into st
// (st.Len() == len(targets)) as each host finishes, so no more than the
// running hosts are held in memory. It stops starting hosts when ctx is
// cancelled, lets running hosts finish within the grace period (or until
// Abort), and puts every other host as interrupted, with the
// cancellation's cause (context.Cause) in the reason when it is not plain
// cancellation. It never returns early and never drops a target; its error
// is the store's, after which some hosts may be missing from st.
func (a *Auditor) RunTo(ctx context.Context, targets []model.Target, st Store) error {
	if st.Len() != len(targets) {
		return fmt.Errorf("audit: store for %d hosts, %d targets", st.Len(), len(targets))
	}
	started := make([]bool, len(targets))

	// hard is cancelled Grace after ctx: running hosts get that long to finish.
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.NewTimer(a.opts.Grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancelHard()
		case <-a.opts.Abort:
			cancelHard()
		case <-hard.Done():
		}
	})
	defer stopGrace()

	next := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		done     int
		copies   protectorIndex
		storeErr error
	)
	for range min(a.opts.Concurrency, len(targets)) {
		wg.Go(func() {
			for i := range next {
				a.running.Add(1)
				h := a.auditHost(hard, targets[i])
				a.running.Add(-1)
				err := st.Put(i, &h)
				mu.Lock()
				copies.add(i, &h)
				if err != nil && storeErr == nil {
					storeErr = err
				}
				done++
				n := done
				mu.Unlock()
				if a.opts.Progress != nil {
					a.opts.Progress(n, len(targets), &h)
				}
			}
		})
	}
	workers := min(a.opts.Concurrency, len(targets))
	start := time.Now()
feed:
	for i := range targets {
		if d := rampDelay(i, workers, a.opts.Ramp) - time.Since(start); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				break feed
			}
		}
		select {
		case next <- i:
			started[i] = true
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if storeErr != nil {
		return storeErr
	}

	// One protector ID, one volume: a cross-host check once every host is in.
	dups := copies.duplicates()
	for _, i := range slices.Sorted(maps.Keys(dups)) {
		h, err := st.Host(i)
		if err != nil {
			return err
		}
		markHost(&h, dups[i])
		a.evaluate(&h)
		if err := st.Put(i, &h); err != nil {
			return err
		}
	}

	now := a.opts.Now()
	reason := "run interrupted before this host was audited"
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		reason = "run stopped before this host was audited: " + cause.Error()
	}
	for i, t := range targets {
		if started[i] {
			continue
		}
		h := model.HostResult{
			Target: t.String(), Labels: t.Labels, Identity: t.Identity(), CollectedAt: now,
			Status: model.StatusInterrupted,
			Reason: reason,
		}
		a.evaluate(&h)
		if err := st.Put(i, &h); err != nil {
			return err
		}
	}
	return nil
}

// rampDelay is when, after the run's start, host i may start when the
// first workers hosts' starts are spread evenly over ramp: 0 for the first
// host and for every host after the first workers (they wait for a worker).
func rampDelay(i, workers int, ramp time.Duration) time.Duration {
	if ramp <= 0 || i >= workers {
		return 0
	}
	return ramp * time.Duration(i) / time.Duration(workers)
}

// auditHost produces exactly one result for t; it never panics and returns
// by the host deadline even if the collector misbehaves.
func (a *Auditor) auditHost(ctx context.Context, t model.Target) model.HostResult {
	start := a.opts.Now()
	h := model.HostResult{Target: t.String(), Labels: t.Labels, Identity: t.Identity(), CollectedAt: start}
	log := a.opts.Logger.With("target", h.Target)

	hctx, cancel := context.WithTimeout(ctx, a.opts.HostTimeout)
	defer cancel()

	type collected struct {
		facts   model.HostFacts
		volumes []model.Volume
		err     error
	}
	ch := make(chan collected, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				log.Error("collector panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				ch <- collected{err: fmt.Errorf("collector failed unexpectedly: %v: %w", p, model.ErrProtocol)}
			}
		}()
		f, v, err := a.collector.Collect(hctx, t)
		ch <- collected{f, v, err}
	}()

	var c collected
	select {
	case c = <-ch:
	case <-hctx.Done():
		// The collector did not honour the deadline; give it a moment to
		// unwind, then abandon it. Its result is ignored.
		select {
		case c = <-ch:
		case <-time.After(2 * time.Second):
			c.err = fmt.Errorf("no answer within %s: %w", a.opts.HostTimeout, model.ErrTimeout)
		}
	}
	err := c.err
	switch {
	case err == nil:
	case ctx.Err() != nil:
		err = fmt.Errorf("run interrupted while auditing: %w", model.ErrInterrupted)
	case errors.Is(hctx.Err(), context.DeadlineExceeded) && !errors.Is(err, model.ErrTimeout):
		err = fmt.Errorf("host deadline of %s exceeded (%v): %w", a.opts.HostTimeout, err, model.ErrTimeout)
	}

	if err == nil {
		err = model.CheckLimits(c.volumes)
	}
	if err == nil {
		err = model.CheckText(&c.facts, c.volumes)
	}
	if err != nil {
		h.Status = model.StatusForError(err)
		h.Reason = err.Error()
		h.Volumes = []model.Volume{}
	} else {
		facts := c.facts
		h.Facts = &facts
		if at := facts.Source.CollectedAt; !at.IsZero() {
			h.CollectedAt = at // facts from a file: when they were collected, not read
		}
		h.Volumes = c.volumes
		if h.Volumes == nil {
			h.Volumes = []model.Volume{}
		}
		h.Status = model.StatusCompliant // the evaluator decides
		if a.verifier != nil {
			a.verifier.Verify(hctx, &h)
		}
	}
	h.Duration = a.opts.Now().Sub(start)
	a.evaluate(&h)
	log.Info("host audited", "status", h.Status, "reason", h.Reason, "volumes", len(h.Volumes), "findings", len(h.Findings), "duration", h.Duration.Round(time.Millisecond))
	return h
}

func (a *Auditor) evaluate(h *model.HostResult) {
	if h.Findings == nil {
		h.Findings = []model.Finding{}
	}
	if a.evaluator != nil {
		a.evaluator.Evaluate(h, a.opts.Now())
	}
}
