package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// streams are the process's standard streams, injected so tests can run the
// CLI in-process.
type streams struct {
	In       io.Reader
	Out, Err io.Writer
	// Abort is closed on the second interrupt: running hosts stop at once.
	Abort <-chan struct{}
}

// globals are the options every command shares.
type globals struct {
	streams
	getenv    func(string) string
	logLevel  string
	logFormat string
}

// logger returns the structured logger for diagnostics on stderr.
func (g *globals) logger() *slog.Logger { return g.loggerTo(g.Err) }

// loggerTo returns the structured logger writing to w.
func (g *globals) loggerTo(w io.Writer) *slog.Logger {
	var level slog.Level
	lv := strings.ToLower(g.logLevel)
	if lv == "warning" {
		lv = "warn"
	}
	if err := level.UnmarshalText([]byte(lv)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if g.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// checkLogFlags rejects a --log-level or --log-format this build does not know.
func (g *globals) checkLogFlags() error {
	switch strings.ToLower(g.logLevel) {
	case "debug", "info", "warn", "warning", "error":
	default:
		return usageErrorf("--log-level must be debug, info, warn or error, not %q", g.logLevel)
	}
	switch g.logFormat {
	case "text", "json":
	default:
		return usageErrorf("--log-format must be text or json, not %q", g.logFormat)
	}
	return nil
}

// stderrIsTerminal reports whether stderr is an interactive terminal.
func (g *globals) stderrIsTerminal() bool {
	f, ok := g.Err.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// run executes the CLI and returns the exit status.
func run(ctx context.Context, args []string, s streams, getenv func(string) string) int {
	g := &globals{streams: s, getenv: getenv}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err := root.ExecuteContext(ctx)
	if err != nil {
		var ee *exitError
		if !errors.As(err, &ee) {
			// cobra's own flag and argument errors are usage errors.
			if isCobraUsageError(err) {
				err = usageError(err)
			}
		}
		if msg := err.Error(); !isSilentExit(err) && msg != "" {
			fmt.Fprintf(s.Err, "bitaudit: %s\n", msg)
		}
	}
	return exitCode(err)
}

func isSilentExit(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.err == nil
}

func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand flag", "unknown command", "flag needs an argument",
		"invalid argument", "accepts ", "requires at least", "required flag", "if any flags in the group"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "bitaudit",
		Short: "Audit BitLocker recovery-key escrow across a Windows fleet",
		Long: `bitaudit collects every volume's BitLocker state and key protectors from Windows
hosts over WinRM, verifies where each recovery key is backed up (Active Directory,
Entra ID, an external key store) at the source, evaluates policy, and writes
reports (PDF, XLSX, CSV, JSON) that contain no recovery key material.

Start with "bitaudit demo": it audits a simulated fleet on this machine.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format on stderr: text or json")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError(err) })
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return g.checkLogFlags() }
	root.AddCommand(
		newAuditCmd(g),
		newCollectCmd(g),
		newInventoryCmd(g),
		newDemoCmd(g),
		newSimulateCmd(g),
		newReportCmd(g),
		newVerifyCmd(g),
		newRulesCmd(g),
		newPolicyCmd(g),
		newVersionCmd(g),
		newHistoryCmd(g),
		newDiffCmd(g),
		newMergeCmd(g),
	)
	return root
}
