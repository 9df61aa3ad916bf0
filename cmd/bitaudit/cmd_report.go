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
gives the same report content; nothing is recomputed or collected. An --out holding
another bundle (including the one --in comes from) is replaced only with --force, and
then holds exactly the files this command writes.

` + reportExitStatusHelp,
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
			font, err := readPDFFont(o.pdfFont)
			if err != nil {
				return err
			}
			f, err := os.Open(in)
			if err != nil {
				return usageErrorf("--in: %v", err)
			}
			defer f.Close()
			// The hosts go into a spool as they are read, so memory holds
			// one at a time however large the result.
			r, hosts, err := reports.ReadResultSpooled(f, "")
			if err != nil {
				return usageError(fmt.Errorf("%s: %w", in, err))
			}
			defer hosts.Close()
			out, err := prepareOutDir(o.outDir, o.force)
			if err != nil {
				return err
			}
			log := g.logger()
			// The formats render at once (about a third faster on two
			// cores); under the run's soft memory limit that costs no
			// resident memory (BenchmarkWriteAll10k: 10,000 hosts, peak
			// live heap 100 MB at once, 64 MB one after another, both
			// about 140 MB resident).
			defer tuneGC(g.getenv)()
			if err := writeResults(c.Context(), out, r, reports.Options{Formats: formats, SignKey: key, PDFFont: font, Logger: log, Concurrent: true}, "", log); err != nil {
				return err
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
	var requireSig bool
	c := &cobra.Command{
		Use:   "verify DIR [--pub-key FILE] [--require-signature]",
		Short: "Check a results directory against its manifest (hashes and signature)",
		Long: `Verify recomputes the SHA-256 of every file listed in DIR/manifest.json, refuses any
file in DIR the manifest does not list and anything that is not a regular file (symbolic
links, FIFOs, devices), and, with --pub-key, checks the manifest's Ed25519 signature.
It always says what it checked: "signature valid", "UNSIGNED: hashes only" (anyone able
to edit the files can recompute hashes), or "signature present, NOT checked".

EXIT STATUS
  0    every file matches; signature valid, or the bundle is unsigned (without --require-signature)
  1    a file does not match, is missing, is unlisted or is not a regular file; the signature is
       bad, signed by another key, present but not checked (no --pub-key), or absent with
       --require-signature
  2    usage error (bad flags, unreadable --pub-key)
`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var pub ed25519.PublicKey
			if pubKey != "" {
				var err error
				if pub, err = reports.LoadPublicKey(pubKey); err != nil {
					return usageError(fmt.Errorf("--pub-key: %w", err))
				}
			}
			dir := args[0]
			v, err := reports.Verify(dir, pub)
			if err != nil {
				return &exitError{code: exitFindings, err: fmt.Errorf("verification of %s failed:\n%w", dir, err)}
			}
			files := plural(v.Files, "file matches", "files match")
			switch v.Signature {
			case reports.SignatureValid:
				fmt.Fprintf(g.Out, "%s: signature valid (key %s); all %s the manifest\n", dir, shortKey(v.KeyID), files)
			case reports.SignatureNotChecked:
				fmt.Fprintf(g.Out, "%s: hashes of %s the manifest\n", dir, files)
				return &exitError{code: exitFindings, err: fmt.Errorf("%s: signature present (key %s), NOT checked: give the signer's public key with --pub-key", dir, shortKey(v.KeyID))}
			default:
				if requireSig {
					return &exitError{code: exitFindings, err: fmt.Errorf("%s: UNSIGNED, and --require-signature was given", dir)}
				}
				fmt.Fprintf(g.Out, "%s: UNSIGNED: hashes only (they show accidental change, not tampering); all %s the manifest\n", dir, files)
			}
			return nil
		},
	}
	c.Flags().StringVar(&pubKey, "pub-key", "", "Ed25519 public key (PEM) to check the manifest signature with")
	c.Flags().BoolVar(&requireSig, "require-signature", false, "fail when the manifest is not signed")
	return c
}

func shortKey(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}
