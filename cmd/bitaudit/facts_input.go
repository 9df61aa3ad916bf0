package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/bitaudit/bitaudit/audit"
	"github.com/bitaudit/bitaudit/collectors/factsfile"
	"github.com/bitaudit/bitaudit/collectors/winrm"
	"github.com/bitaudit/bitaudit/model"
)

// loadFacts reads --facts DIR: the facts files of hosts collected locally
// (bitaudit collect). Without --targets each accepted file is a target;
// with it, files are matched to targets by FQDN or computer name, and files
// for other computers are reported, never audited or dropped silently.
func (j *auditJob) loadFacts(now time.Time) error {
	dir := j.opts.factsDir
	if dir == "" {
		return nil
	}
	set, err := factsfile.LoadDir(dir, now)
	if err != nil {
		return usageErrorf("--facts: %v", err)
	}
	j.facts, j.rejectedInputs = set, set.Rejected
	if !j.opts.liveTargets() {
		j.targets = factsfile.Targets(set)
		if len(j.targets) == 0 {
			return usageErrorf("--facts %s: no usable facts file (%d rejected)", dir, len(set.Rejected))
		}
	}
	return nil
}

// newCollector returns the collector of the run: WinRM for the targets, the
// facts files for the hosts they cover (a host found both ways uses the
// newer, live, collection), or the facts files alone.
func (j *auditJob) newCollector(log *slog.Logger) (audit.Collector, error) {
	var live *winrm.Collector
	if j.opts.liveTargets() {
		opts := j.collector
		opts.Logger = log
		c, err := winrm.New(opts)
		if err != nil {
			return nil, usageError(fmt.Errorf("collector: %w", err))
		}
		if j.facts == nil {
			return c, nil
		}
		live = c
		// Matched here, once the directory's targets (--targets-from) are in.
		j.rejectedInputs = append(j.rejectedInputs, factsfile.Unmatched(j.facts, j.targets)...)
	}
	if live == nil {
		return factsfile.NewCollector(j.facts, nil), nil
	}
	return factsfile.NewCollector(j.facts, live), nil
}

// logRejected warns about every input file the run did not use.
func logRejected(log *slog.Logger, rejected []model.RejectedInput) {
	for _, r := range rejected {
		log.Warn("facts file not used", "file", r.File, "reason", r.Reason)
	}
}
