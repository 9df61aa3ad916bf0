package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/bitaudit/bitaudit/rules"
)

func newRulesCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "rules", Short: "Inspect the built-in rules"}
	var format string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the built-in rules with severity, rationale and framework references",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			switch format {
			case "table":
				return rules.FormatTable(g.Out, rules.Builtin())
			case "json":
				enc := json.NewEncoder(g.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(rules.Builtin())
			}
			return usageErrorf("--format must be table or json")
		},
	}
	list.Flags().StringVar(&format, "format", "table", "output format: table or json")
	c.AddCommand(list)
	return c
}

func newPolicyCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "policy", Short: "Validate or create a policy file"}
	validate := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a policy file; every error is listed with its line (exit 0 valid, 2 invalid)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return usageError(err)
			}
			defer f.Close()
			if errs := rules.Validate(f, args[0]); len(errs) > 0 {
				return usageError(fmt.Errorf("policy is invalid:\n%w", errors.Join(errs...)))
			}
			fmt.Fprintf(g.Out, "%s: valid\n", args[0])
			for _, w := range waiverWarnings(args[0], time.Now()) {
				fmt.Fprintf(g.Err, "warning: %s\n", w)
			}
			return nil
		},
	}
	var force bool
	initCmd := &cobra.Command{
		Use:   "init FILE",
		Short: "Write the default policy, with every setting commented, to FILE",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			f, err := os.OpenFile(args[0], flags, 0o644)
			if err != nil {
				if errors.Is(err, os.ErrExist) {
					return usageErrorf("%s exists; use --force to overwrite", args[0])
				}
				return usageError(err)
			}
			if _, err := f.Write(rules.DefaultPolicyYAML()); err != nil {
				f.Close()
				return &exitError{code: exitFatal, err: err}
			}
			if err := f.Close(); err != nil {
				return &exitError{code: exitFatal, err: err}
			}
			fmt.Fprintf(g.Out, "wrote %s\n", args[0])
			return nil
		},
	}
	initCmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	c.AddCommand(validate, initCmd)
	return c
}

// waiverWarnings names the waivers of a valid policy file that have expired
// or expire within 30 days: still valid, but an expired waiver no longer
// covers its findings.
func waiverWarnings(path string, now time.Time) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	p, err := rules.LoadPolicy(f, path)
	if err != nil {
		return nil
	}
	e, err := rules.NewEngine(p, rules.Builtin())
	if err != nil {
		return nil
	}
	var out []string
	for _, w := range e.Waivers(now) {
		switch w.State {
		case "expired":
			out = append(out, fmt.Sprintf("waiver %s expired on %s: it no longer covers its findings (owner %s)", w.ID, w.Expires.Format("2006-01-02"), w.Owner))
		case "expiring":
			out = append(out, fmt.Sprintf("waiver %s expires on %s (owner %s)", w.ID, w.Expires.Format("2006-01-02"), w.Owner))
		}
	}
	return out
}
