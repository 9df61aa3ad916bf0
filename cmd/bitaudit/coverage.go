package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bitaudit/bitaudit/audit"
	"github.com/bitaudit/bitaudit/collectors/escrow"
	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/rules"
)

// parseTargetsFrom checks --targets-from: ad, entra or both, each once.
func parseTargetsFrom(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(strings.ToLower(s))
		if s != "ad" && s != "entra" {
			return nil, usageErrorf("--targets-from: %q is not ad or entra (want ad, entra or ad,entra)", s)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// liveTargets reports whether the run has targets to reach over WinRM:
// a targets file or the directory's computers.
func (o *auditOptions) liveTargets() bool { return o.targetsFile != "" || o.targetsFrom != "" }

// configuredSources are the directories the escrow config names.
func (j *auditJob) configuredSources() []string {
	var out []string
	if j.escrowCfg != nil && j.escrowCfg.AD != nil {
		out = append(out, "ad")
	}
	if j.escrowCfg != nil && j.escrowCfg.Entra != nil {
		out = append(out, "entra")
	}
	return out
}

// addDirectoryTargets reads the directory (every configured source, with
// the census coverage needs) and adds the in-scope computers of the
// --targets-from sources to the targets, each once: a computer a target
// already names (by host, fqdn, ad_dn or entra_device_id) is not added again.
func (j *auditJob) addDirectoryTargets(ctx context.Context, g *globals) error {
	for _, s := range j.targetsFrom {
		if !slices.Contains(j.configuredSources(), s) {
			return usageErrorf("--targets-from %s: the escrow config has no %s section", s, s)
		}
	}
	d, err := listDirectory(ctx, g, j.escrowCfg, j.configuredSources(), &j.opts.scope, true, true)
	if err != nil {
		return err
	}
	for _, e := range d.Errors {
		g.logger().Warn("directory not read in full", "err", e)
	}
	j.directory = d
	named := map[string]bool{}
	for _, t := range j.targets {
		for _, v := range []string{t.Host, t.FQDN, t.ADDN, t.EntraDeviceID} {
			if v != "" {
				named[strings.ToLower(v)] = true
			}
		}
	}
	added := 0
	for _, c := range d.Computers {
		if !c.InScope() || !(slices.Contains(j.targetsFrom, "ad") && c.ADDN != "" || slices.Contains(j.targetsFrom, "entra") && c.EntraDeviceID != "") {
			continue
		}
		t := c.Target()
		if named[strings.ToLower(t.Host)] || named[strings.ToLower(c.ADDN)] || named[c.EntraDeviceID] {
			continue
		}
		named[strings.ToLower(t.Host)] = true
		j.targets = append(j.targets, t)
		added++
	}
	if len(j.targets) == 0 {
		return usageErrorf("no targets: the directory lists no enabled, active computer (%s)", strings.Join(j.targetsFrom, ", "))
	}
	g.logger().Info("targets from the directory", "sources", strings.Join(j.targetsFrom, ","), "added", added, "targets", len(j.targets))
	return nil
}

// A directoryRead is the outcome of reading the directory for coverage.
type directoryRead struct {
	d   *escrow.Directory
	err error
}

// readDirectoryAhead starts reading the configured directory for coverage
// while the hosts are audited, when coverage will need it and it was not
// read before the run (--targets-from): it depends on no host, and a
// large directory's paged listings (and Graph's throttling answers) then
// cost the run no time of their own. The read is not stopped by an
// interrupt: the hosts' results stand and get their coverage. It shows no
// progress bar of its own beside the hosts'. Not with --fix: the backups it
// makes must be in the key counts coverage reads after it.
func (j *auditJob) readDirectoryAhead(ctx context.Context, g *globals) {
	if j.directory != nil || len(j.configuredSources()) == 0 || j.opts.fix.enabled {
		return
	}
	ch := make(chan directoryRead, 1)
	j.directoryRead = ch
	go func() {
		d, err := listDirectory(context.WithoutCancel(ctx), g, j.escrowCfg, j.configuredSources(), &j.opts.scope, true, false)
		ch <- directoryRead{d, err}
	}()
}

// coverage compares the configured directory with the run's hosts and
// raises the directory findings; nil when no directory is configured.
func (j *auditJob) coverage(ctx context.Context, g *globals, engine *rules.Engine, hosts audit.Store) (*model.Coverage, error) {
	sources := j.configuredSources()
	if len(sources) == 0 {
		return nil, nil
	}
	d := j.directory
	if d == nil {
		var err error
		if j.directoryRead != nil { // read while the hosts were audited
			r := <-j.directoryRead
			d, err = r.d, r.err
		} else {
			// The directory is read even after an interrupt: the hosts' results stand.
			d, err = listDirectory(context.WithoutCancel(ctx), g, j.escrowCfg, sources, &j.opts.scope, true, true)
		}
		if err != nil {
			if ee, ok := err.(*exitError); ok && ee.code == exitUsage {
				return nil, err
			}
			g.logger().Warn("directory could not be read: no coverage", "err", err)
			return &model.Coverage{Sources: sources, StaleAfterDays: j.opts.scope.staleAfter, Errors: []string{err.Error()},
				NotAudited: map[string]int{}, Computers: []model.CoverageEntry{}}, nil
		}
	}
	c, err := audit.Coverage(&audit.Directory{Sources: d.Sources, Computers: d.Computers, Census: d.Census, Errors: d.Errors}, hosts, j.opts.scope.staleAfter)
	if err != nil {
		return nil, &exitError{code: exitFatal, err: fmt.Errorf("coverage: read the run's results: %w", err)}
	}
	// The rules may add a finding to a host a directory entry names: those
	// hosts alone are read, and put back.
	index := make(map[string]int, len(j.targets))
	for i, t := range j.targets {
		index[t.String()] = i
	}
	byTarget := map[string]*model.HostResult{}
	for _, e := range c.Computers {
		i, ok := index[e.Target]
		if !ok || byTarget[e.Target] != nil {
			continue
		}
		h, err := hosts.Host(i)
		if err != nil {
			return nil, &exitError{code: exitFatal, err: fmt.Errorf("coverage: read %s: %w", e.Target, err)}
		}
		byTarget[e.Target] = &h
	}
	engine.EvaluateCoverage(c, byTarget, time.Now().UTC())
	for t, h := range byTarget {
		if err := hosts.Put(index[t], h); err != nil {
			return nil, &exitError{code: exitFatal, err: fmt.Errorf("coverage: keep %s: %w", t, err)}
		}
	}
	if c.MatchedByClaim > 0 {
		g.logger().Info(fmt.Sprintf("%d targets matched to directory computers only by what the host reported (IP-only targets)", c.MatchedByClaim))
	}
	return c, nil
}
