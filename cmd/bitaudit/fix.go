package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/bitaudit/bitaudit/audit"
	"github.com/bitaudit/bitaudit/collectors/escrow"
	"github.com/bitaudit/bitaudit/collectors/winrm"
	"github.com/bitaudit/bitaudit/model"
)

// fixOptions are the --fix flags of "bitaudit audit".
type fixOptions struct {
	flag        string // --fix value: "all" or RULE,...
	enabled     bool
	rules       []string
	yes         bool
	maxChanges  int
	concurrency int
}

const fixAll = "all"

func (o *fixOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.flag, "fix", "", "after the audit, plan the backups of recovery keys missing at an accepted location and print the plan; "+
		"--fix=RULE,... limits it to findings of those rules ("+strings.Join(audit.FixableRules, ", ")+"); nothing changes without --yes")
	f.Lookup("fix").NoOptDefVal = fixAll
	f.BoolVar(&o.yes, "yes", false, "with --fix: apply the plan, journal every action in --out/journal.jsonl, re-audit the hosts changed and verify at the source")
	f.IntVar(&o.maxChanges, "max-changes", 100, "with --fix --yes: refuse a plan of more actions than this, changing nothing")
	f.IntVar(&o.concurrency, "fix-concurrency", 8, "hosts changed at once by --fix --yes (separate from --concurrency)")
}

func (o *fixOptions) resolve() error {
	o.enabled = o.flag != ""
	if !o.enabled {
		if o.yes {
			return usageErrorf("--yes applies a --fix plan: give --fix as well")
		}
		return nil
	}
	if o.flag != fixAll {
		for _, r := range strings.Split(o.flag, ",") {
			r = strings.TrimSpace(r)
			if !slices.Contains(audit.FixableRules, r) {
				return usageErrorf("--fix: %q is not a rule --fix can act on (%s)", r, strings.Join(audit.FixableRules, ", "))
			}
			o.rules = append(o.rules, r)
		}
	}
	if o.maxChanges < 1 {
		return usageErrorf("--max-changes must be at least 1")
	}
	if o.concurrency < 1 {
		return usageErrorf("--fix-concurrency must be at least 1")
	}
	return nil
}

func (o *fixOptions) record(m map[string]string) {
	if !o.enabled {
		return
	}
	m["fix"] = o.flag
	m["fix_apply"] = strconv.FormatBool(o.yes)
	m["max_changes"] = strconv.Itoa(o.maxChanges)
	m["fix_concurrency"] = strconv.Itoa(o.concurrency)
}

// fixEnv is what the fix pass uses of the audit run.
type fixEnv struct {
	auditor *audit.Auditor
	// store holds the run's hosts (result.HostSource()): the hosts the
	// fix re-audits are put back into it.
	store audit.Store
	log   *slog.Logger
}

// runFix plans the fix from result, prints the plan and, with --yes,
// applies it, re-audits the hosts changed and records everything in
// result.Remediation; env.store then holds the state after the fix. Only
// the hosts the plan may touch, or the journal names, are held in memory.
func runFix(ctx context.Context, g *globals, job *auditJob, env fixEnv, result *model.Result) error {
	o := job.opts
	fo := o.fix
	order, journal, err := readJournal(o.outDir)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	targets := make(map[string]model.Target, len(job.targets))
	for _, t := range job.targets {
		targets[t.String()] = t
	}
	rem := job.policy.Remediation()
	opts := job.collector
	opts.Logger = env.log
	remote, err := winrm.New(opts)
	if err != nil {
		return usageError(fmt.Errorf("collector: %w", err))
	}
	// Export to the external key store only where the policy names age
	// recipients and the escrow config names the store.
	var exporter *escrow.Exporter
	if len(rem.ExternalRecipients) > 0 {
		if job.escrowCfg == nil || job.escrowCfg.External == nil || job.escrowCfg.External.Dir == "" {
			return usageErrorf("the policy names age recipients for the external key store, but --escrow-config names no external store")
		}
		if exporter, err = escrow.NewExporter(job.escrowCfg.External.Dir, rem.ExternalRecipients, remote); err != nil {
			return usageError(err)
		}
	}
	named := map[string]bool{}
	for _, e := range journal {
		named[e.Intent.Host] = true
	}
	var hosts []model.HostResult
	at := map[string]int{} // target -> index in env.store
	err = model.EachHost(env.store, func(i int, h *model.HostResult) error {
		if audit.Planned(h) || named[h.Target] {
			hosts = append(hosts, *h)
			at[h.Target] = i
		}
		return nil
	})
	if err != nil {
		return &exitError{code: exitFatal, err: fmt.Errorf("read the run's results: %w", err)}
	}
	plan := audit.BuildPlan(hosts, targets, audit.PlanOptions{
		Policy: job.policy, Rules: fo.rules, Journal: journal,
		AddRecoveryPassword: rem.AddRecoveryPassword,
		Export:              exporter != nil,
		Validate:            validateAction,
	})
	now := time.Now().UTC()
	printPlan(g.Out, plan, fo.yes)
	before := hostIndex(hosts)
	planned := map[string]bool{}
	for _, a := range plan.Actions {
		planned[a.ID] = true
	}
	if !fo.yes {
		result.Remediation = append(audit.PlanEntries(plan, now), audit.Interrupted(journal, order, planned, before, now)...)
		fmt.Fprintln(g.Out, "Nothing changed: add --yes to apply the plan.")
		return nil
	}
	if n := len(plan.Actions); n > fo.maxChanges {
		result.Remediation = audit.PlanEntries(plan, now)
		return &exitError{code: exitUsage, err: fmt.Errorf("the plan has %d actions, over --max-changes %d: nothing changed", n, fo.maxChanges)}
	}
	if len(plan.Actions) == 0 {
		result.Remediation = append(audit.SkippedEntries(plan, now), audit.Interrupted(journal, order, planned, before, now)...)
		return nil
	}
	j, _, err := audit.OpenJournal(o.outDir)
	if err != nil {
		return &exitError{code: exitFatal, err: err}
	}
	defer j.Close()
	ao := audit.ApplyOptions{
		Concurrency: fo.concurrency, ActionTimeout: o.hostTimeout, Journal: j, RunID: result.Run.ID, Logger: env.log,
		Unknown: func(err error) bool { return errors.Is(err, winrm.ErrActionUnknown) },
	}
	if exporter != nil {
		ao.Exporter = exporter
	}
	applied, jerr := audit.Apply(ctx, remote, plan, before, ao)

	// Re-collect and re-verify the hosts changed, even after an interrupt
	// (the actions sent have finished): the result must say what holds now.
	var touched []model.Target
	seen := map[string]bool{}
	for _, a := range applied {
		if k := a.Target.String(); !seen[k] {
			seen[k] = true
			touched = append(touched, a.Target)
		}
	}
	vctx := ctx
	if ctx.Err() != nil {
		vctx = context.WithoutCancel(ctx)
	}
	after := hostIndex(hosts)
	for _, h := range env.auditor.Run(vctx, touched) {
		i, ok := at[h.Target]
		if !ok { // cannot happen: every action is for a host in hosts
			return &exitError{code: exitFatal, err: fmt.Errorf("re-audited %s, a host the plan did not hold", h.Target)}
		}
		if err := env.store.Put(i, &h); err != nil {
			return &exitError{code: exitFatal, err: fmt.Errorf("keep the re-audit of %s: %w", h.Target, err)}
		}
		after[h.Target] = &h
	}
	result.Remediation = append(audit.Verify(applied, after), audit.SkippedEntries(plan, now)...)
	result.Remediation = append(result.Remediation, audit.Interrupted(journal, order, planned, after, now)...)
	printOutcome(g.Out, result.Remediation, j.Path())
	if jerr != nil {
		return &exitError{code: exitFatal, err: fmt.Errorf("journal: %w (no further action was sent)", jerr)}
	}
	return nil
}

// validateAction refuses values the remote actions would refuse, so the
// plan shows them as skipped and nothing is sent for them.
func validateAction(a audit.Action) error {
	if err := winrm.ValidateMountPoint(a.Volume); err != nil {
		return err
	}
	if a.Kind == audit.ActionBackup {
		return winrm.ValidateProtectorID(a.ProtectorID)
	}
	return nil
}

func readJournal(dir string) ([]string, map[string]audit.JournalEntry, error) {
	recs, _, err := audit.ReadJournal(filepath.Join(dir, audit.JournalName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	order, m := audit.Replay(recs)
	return order, m, nil
}

func hostIndex(hosts []model.HostResult) map[string]*model.HostResult {
	m := make(map[string]*model.HostResult, len(hosts))
	for i := range hosts {
		m[hosts[i].Target] = &hosts[i]
	}
	return m
}

// printPlan writes the plan as a table for the person at the terminal.
func printPlan(w io.Writer, p audit.Plan, apply bool) {
	verb := "Fix plan (not applied)"
	if apply {
		verb = "Fix plan"
	}
	fmt.Fprintf(w, "%s: %d actions, %d skipped\n", verb, len(p.Actions), len(p.Skipped))
	if len(p.Actions)+len(p.Skipped) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tVOLUME\tPROTECTOR\tACTION\tTO\tSTATUS")
	row := func(a audit.Action, status string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Target, printable(a.Volume), printable(orDash(a.ProtectorID)), a.Kind, orDash(string(a.Location)), status)
	}
	for _, a := range p.Actions {
		row(a, "planned")
	}
	for _, a := range p.Skipped {
		row(a, "skipped: "+a.Skip)
	}
	tw.Flush()
}

// printOutcome summarises the applied fix.
func printOutcome(w io.Writer, es []model.RemediationEntry, journal string) {
	counts := map[string]int{}
	for _, e := range es {
		counts[e.Outcome]++
	}
	var parts []string
	for _, k := range []string{audit.OutcomeFixed, audit.OutcomeFailed, audit.OutcomeUnverified, audit.OutcomeUnknown, audit.OutcomeSkipped} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing to do")
	}
	fmt.Fprintf(w, "Fix: %s; journal %s\n", strings.Join(parts, ", "), journal)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printable quotes a value a host reported if it holds anything but
// plain printable characters, so it cannot forge terminal lines.
func printable(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return strconv.QuoteToASCII(s)
		}
	}
	return s
}
