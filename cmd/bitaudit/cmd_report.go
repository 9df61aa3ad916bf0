package main

import (
	"crypto/ed25519"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/bitaudit/bitaudit/reports"
)

func newReportCmd(g *globals) *cobra.Command {
	var in string
	o := &auditOptions{}
	c := &cobra.Command{
		Use:   "report --in result.json [--format LIST] [--out DIR]",
		Short: "Render reports again from a saved result",
		Long: `Report re-renders the reports from a saved result document. The same result always
gives the same report content; nothing is recomputed or collected.

` + exitStatusHelp,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if in == "" {
				return usageErrorf("--in is required")
			}
			formats, err := reports.ParseFormats(o.formats)
			if err != nil {
				return usageError(fmt.Errorf("--format: %w", err))
			}
			var key ed25519.PrivateKey
			if o.signKey != "" {
				if key, err = reports.LoadSigningKey(o.signKey); err != nil {
					return usageError(fmt.Errorf("--sign-key: %w", err))
				}
			}
			f, err := os.Open(in)
			if err != nil {
				return usageErrorf("--in: %v", err)
			}
			defer f.Close()
			r, err := reports.ReadResult(f)
			if err != nil {
				return usageError(fmt.Errorf("%s: %w", in, err))
			}
			if err := os.MkdirAll(o.outDir, 0o755); err != nil {
				return &exitError{code: exitFatal, err: err}
			}
			if err := reports.WriteAll(c.Context(), o.outDir, r, reports.Options{Formats: formats, SignKey: key, Logger: g.logger()}); err != nil {
				return &exitError{code: exitFatal, err: err}
			}
			fmt.Fprintf(g.Out, "Reports for run %s written to %s\n", r.Run.ID, o.outDir)
			return nil
		},
	}
	c.Flags().StringVar(&in, "in", "", "result document (result.json) to render")
	o.addOutputFlags(c.Flags(), "./bitaudit-report")
	return c
}

func newVerifyCmd(g *globals) *cobra.Command {
	var pubKey string
	c := &cobra.Command{
		Use:   "verify DIR",
		Short: "Check a results directory against its manifest (hashes and signature)",
		Long: `Verify recomputes the SHA-256 of every file listed in DIR/manifest.json and, with
--pub-key, checks the manifest's Ed25519 signature. It exits 0 when everything matches and
1 on any mismatch, naming the file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var pub ed25519.PublicKey
			if pubKey != "" {
				var err error
				if pub, err = reports.LoadPublicKey(pubKey); err != nil {
					return usageError(fmt.Errorf("--pub-key: %w", err))
				}
			}
			if err := reports.Verify(args[0], pub); err != nil {
				return &exitError{code: exitFindings, err: fmt.Errorf("verification failed: %w", err)}
			}
			fmt.Fprintf(g.Out, "%s: all files match the manifest\n", args[0])
			return nil
		},
	}
	c.Flags().StringVar(&pubKey, "pub-key", "", "Ed25519 public key (PEM) to check the manifest signature with")
	return c
}
