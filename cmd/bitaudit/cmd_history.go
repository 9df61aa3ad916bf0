package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bitaudit/bitaudit/history"
	"github.com/bitaudit/bitaudit/model"
)

func newHistoryCmd(g *globals) *cobra.Command {
	var (
		location, scope, format string
		limit                   int
	)
	c := &cobra.Command{
		Use:   "history [--history DB] [--scope NAME] [--limit N] [--format text|json]",
		Short: "List the recorded audit runs, newest first",
		Long: `History lists the runs recorded in the history database, newest first: when each
started, its scope, how many hosts were audited, the compliant share and the unwaived
findings by severity. Compare two of them with "bitaudit diff".

The database is --history (a file, or a postgres:// URL with the password in PGPASSWORD
or ~/.pgpass), by default bitaudit/history.db in the per-user data directory.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usageErrorf("--format must be text or json, not %q", format)
			}
			s, err := openHistoryForReading(c.Context(), g, location)
			if err != nil {
				return err
			}
			defer s.Close()
			runs, err := s.Runs(c.Context(), scope, limit)
			if err != nil {
				return &exitError{code: exitFatal, err: err}
			}
			if format == "json" {
				return writeRunsJSON(g.Out, runs)
			}
			if len(runs) == 0 {
				fmt.Fprintf(g.Out, "No runs recorded in %s\n", s.Where())
				return nil
			}
			return writeRunsText(g.Out, runs)
		},
	}
	f := c.Flags()
	f.StringVar(&location, "history", "", "history database: a file (SQLite) or a postgres:// URL (default: the per-user history)")
	f.StringVar(&scope, "scope", "", "list only the runs of this scope")
	f.IntVar(&limit, "limit", 0, "list at most N runs (default: all)")
	f.StringVar(&format, "format", "text", "output: text or json")
	return c
}

func severityCounts(m map[model.Severity]int) string {
	parts := make([]string, len(model.Severities))
	for i, s := range model.Severities {
		parts[i] = fmt.Sprint(m[s])
	}
	return strings.Join(parts, "\t")
}

func writeRunsText(w io.Writer, runs []history.RunInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED (UTC)\tRUN\tSCOPE\tHOSTS\tAUDITED\tCOMPLIANT\tCRITICAL\tHIGH\tMEDIUM\tLOW\tINFO\tWAIVED\t")
	for _, r := range runs {
		note := ""
		switch {
		case r.Interrupted:
			note = "interrupted"
		case len(r.MergedFrom) > 0:
			note = fmt.Sprintf("merged from %d shards", len(r.MergedFrom))
		}
		share := "n/a"
		if r.CompliantShare != nil {
			share = fmt.Sprintf("%.1f%%", 100**r.CompliantShare)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%d\t%s\n", r.Started.UTC().Format("2006-01-02 15:04"), r.ID, orDash(r.Scope),
			r.Hosts, r.Audited, share, severityCounts(r.Findings), r.Waived, note)
	}
	return tw.Flush()
}

// runJSON is one run as `history --format json` prints it.
type runJSON struct {
	ID             string                 `json:"id"`
	Scope          string                 `json:"scope"`
	Started        time.Time              `json:"started"`
	Finished       time.Time              `json:"finished"`
	ToolVersion    string                 `json:"tool_version"`
	PolicySHA256   string                 `json:"policy_sha256"`
	TargetCount    int                    `json:"target_count"`
	Hosts          int                    `json:"hosts"`
	Audited        int                    `json:"hosts_audited"`
	Compliant      int                    `json:"hosts_compliant"`
	CompliantShare *float64               `json:"compliant_share"`
	BackupCoverage *float64               `json:"backup_coverage"`
	Findings       map[model.Severity]int `json:"findings_by_severity"`
	Waived         int                    `json:"findings_waived"`
	Interrupted    bool                   `json:"interrupted,omitempty"`
	MergedFrom     []string               `json:"merged_from,omitempty"`
}

func writeRunsJSON(w io.Writer, runs []history.RunInfo) error {
	out := make([]runJSON, len(runs))
	for i, r := range runs {
		out[i] = runJSON{r.ID, r.Scope, r.Started, r.Finished, r.ToolVersion, r.PolicySHA256, r.TargetCount, r.Hosts, r.Audited,
			r.Compliant, r.CompliantShare, r.BackupCoverage, r.Findings, r.Waived, r.Interrupted, r.MergedFrom}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"runs": out})
}
