package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bitaudit/bitaudit/history"
	"github.com/bitaudit/bitaudit/model"
)

func newDiffCmd(g *globals) *cobra.Command {
	var location, scope, format string
	c := &cobra.Command{
		Use:   "diff [RUN_A] [RUN_B] [--history DB] [--format text|json]",
		Short: "Show what changed between two runs (default: the last two)",
		Long: `Diff compares two audit runs: new findings, resolved findings, findings that recur and
since when, hosts newly not audited (unreachable, refused, timed out) and audited again,
hosts that joined or left the scope, and waivers added, expired or expiring.

A finding is new or resolved only on a host audited in both runs: a host that could not
be audited says nothing about its volumes, and is listed among the host changes instead.

RUN_A and RUN_B are run IDs from "bitaudit history" (or a unique prefix of one), or
result.json files. Without arguments, the last two runs of the latest run's scope (or of
--scope); with one, that run and the one before it in its scope.`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageErrorf("--format must be text or json, not %q", format)
			}
			a, b, err := diffRuns(c.Context(), g, location, scope, args)
			if err != nil {
				return err
			}
			d := history.Compare(a, b)
			from, to := refOf(a), refOf(b)
			if format == "json" {
				enc := json.NewEncoder(g.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					From  model.RunRef `json:"from"`
					To    model.RunRef `json:"to"`
					Delta *model.Delta `json:"delta"`
				}{from, to, d})
			}
			fmt.Fprintf(g.Out, "From run %s (%s) to run %s (%s)\n\n", from.ID, runWhen(from), to.ID, runWhen(to))
			return writeDelta(g.Out, d, b.Run.Started)
		},
	}
	f := c.Flags()
	f.StringVar(&location, "history", "", "history database: a file (SQLite) or a postgres:// URL (default: the per-user history)")
	f.StringVar(&scope, "scope", "", "without run arguments: compare the last two runs of this scope")
	f.StringVar(&format, "format", "text", "output: text or json")
	return c
}

func refOf(s *history.Snapshot) model.RunRef {
	return model.RunRef{ID: s.Run.ID, Started: s.Run.Started, Scope: s.Run.Scope}
}

func runWhen(r model.RunRef) string {
	s := r.Started.UTC().Format("2006-01-02 15:04 UTC")
	if r.Scope != "" {
		s += ", scope " + r.Scope
	}
	return s
}

// diffRuns resolves diff's arguments to the two runs to compare.
func diffRuns(ctx context.Context, g *globals, location, scope string, args []string) (*history.Snapshot, *history.Snapshot, error) {
	var store *history.Store
	defer func() {
		if store != nil {
			store.Close()
		}
	}()
	openStore := func() (*history.Store, error) {
		if store == nil {
			s, err := openHistoryForReading(ctx, g, location)
			if err != nil {
				return nil, err
			}
			store = s
		}
		return store, nil
	}
	load := func(arg string) (*history.Snapshot, error) {
		if st, err := os.Stat(arg); err == nil && !st.IsDir() {
			r, hosts, err := readResultSpooled(arg)
			if err != nil {
				return nil, usageError(err)
			}
			defer hosts.Close()
			return history.SnapshotOf(r)
		}
		s, err := openStore()
		if err != nil {
			return nil, err
		}
		snap, err := s.Snapshot(ctx, arg)
		if errors.Is(err, history.ErrNotFound) {
			return nil, usageError(err)
		}
		if err != nil {
			return nil, &exitError{code: exitFatal, err: err}
		}
		return snap, nil
	}
	// before returns the run recorded before b in b's scope.
	before := func(b *history.Snapshot) (*history.Snapshot, error) {
		s, err := openStore()
		if err != nil {
			return nil, err
		}
		runs, err := s.Runs(ctx, b.Run.Scope, 0)
		if err != nil {
			return nil, &exitError{code: exitFatal, err: err}
		}
		for _, r := range runs {
			if r.ID != b.Run.ID && r.Started.Before(b.Run.Started) {
				return load(r.ID)
			}
		}
		return nil, usageErrorf("no run of scope %q recorded before %s in %s: nothing to compare with", b.Run.Scope, b.Run.ID, s.Where())
	}
	switch len(args) {
	case 2:
		a, err := load(args[0])
		if err != nil {
			return nil, nil, err
		}
		b, err := load(args[1])
		return a, b, err
	case 1:
		b, err := load(args[0])
		if err != nil {
			return nil, nil, err
		}
		a, err := before(b)
		return a, b, err
	}
	s, err := openStore()
	if err != nil {
		return nil, nil, err
	}
	if scope == "" {
		latest, err := s.Runs(ctx, "", 1)
		if err != nil {
			return nil, nil, &exitError{code: exitFatal, err: err}
		}
		if len(latest) == 0 {
			return nil, nil, usageErrorf("no runs recorded in %s", s.Where())
		}
		scope = latest[0].Scope
	}
	runs, err := s.Runs(ctx, scope, 2)
	if err != nil {
		return nil, nil, &exitError{code: exitFatal, err: err}
	}
	if len(runs) < 2 {
		return nil, nil, usageErrorf("%d run of scope %q recorded in %s: diff needs two", len(runs), scope, s.Where())
	}
	a, err := load(runs[1].ID)
	if err != nil {
		return nil, nil, err
	}
	b, err := load(runs[0].ID)
	return a, b, err
}

// writeDelta prints a delta for a person; now is the later run's start, for ages.
func writeDelta(w io.Writer, d *model.Delta, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	findings := func(title string, l []model.DeltaFinding, age bool) {
		fmt.Fprintf(tw, "%s: %d\n", title, len(l))
		for _, f := range l {
			where := strings.TrimSpace(f.Volume + " " + f.ProtectorID)
			note := ""
			if age {
				note = fmt.Sprintf("first seen %s (%s)", f.FirstSeen.UTC().Format("2006-01-02"), ageText(now.Sub(f.FirstSeen)))
			}
			if f.Waived {
				note = strings.TrimSpace(note + " waived")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Target, f.RuleID, orDash(where), f.Title, note)
		}
	}
	hosts := func(title string, l []model.HostChange) {
		fmt.Fprintf(tw, "%s: %d\n", title, len(l))
		for _, h := range l {
			change := string(h.After)
			switch {
			case h.After == "":
				change = "was " + string(h.Before)
			case h.Before != "":
				change = string(h.Before) + " → " + string(h.After)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", h.Target, change, h.Reason)
		}
	}
	waivers := func(title string, l []model.WaiverStatus) {
		fmt.Fprintf(tw, "%s: %d\n", title, len(l))
		for _, x := range l {
			fmt.Fprintf(tw, "  %s\t%s\texpires %s\t%s\t%s\n", x.ID, x.Scope, x.Expires.UTC().Format("2006-01-02"), x.Owner, x.Ticket)
		}
	}
	findings("New findings", d.NewFindings, false)
	findings("Resolved findings", d.Resolved, false)
	findings("Recurring findings", d.Recurring, true)
	hosts("Hosts newly not audited", d.NewlyNotAudited)
	hosts("Hosts audited again", d.AuditedAgain)
	hosts("Hosts that joined the scope", d.Joined)
	hosts("Hosts that left the scope", d.Left)
	waivers("Waivers added", d.WaiversAdded)
	waivers("Waivers expired", d.WaiversExpired)
	waivers("Waivers expiring within 30 days", d.WaiversExpiring)
	return tw.Flush()
}

func ageText(d time.Duration) string {
	days := int(d.Hours() / 24)
	if days < 1 {
		return "under a day"
	}
	if days == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", days)
}

// printSince adds the comparison with the previous run to the run summary.
func printSince(w io.Writer, r *model.Result) {
	if r.History == nil || r.History.Since == nil {
		return
	}
	d, p := r.History.Since, r.History.Previous
	fmt.Fprintf(w, "Since run %s (%s): %d new findings, %d resolved, %d recurring; %d hosts newly not audited, %d joined, %d left\n",
		p.ID, p.Started.UTC().Format("2006-01-02"), len(d.NewFindings), len(d.Resolved), len(d.Recurring),
		len(d.NewlyNotAudited), len(d.Joined), len(d.Left))
}
