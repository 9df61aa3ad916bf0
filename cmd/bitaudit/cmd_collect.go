package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bitaudit/bitaudit/collectors/factsfile"
	"github.com/bitaudit/bitaudit/collectors/wmi"
	"github.com/bitaudit/bitaudit/model"
)

// localCollector is what collect needs of the local WMI collector.
type localCollector interface {
	Collect(ctx context.Context) (wmi.Local, error)
}

func newCollectCmd(g *globals) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "collect --out FILE|DIR",
		Short: "Collect this Windows machine's BitLocker facts locally (WMI) for audit --facts",
		Long: `Collect runs on a Windows machine (as SYSTEM or an administrator: a scheduled task,
an Intune or ConfigMgr script, or by hand) and reads, through local WMI, what the WinRM
audit reads: every volume's BitLocker state and key protectors (IDs and types, never a
recovery password), the OS, the join state, the FVE policy and the backup events. It
writes them as a facts file that "bitaudit audit --facts DIR" evaluates and verifies at
the escrow sources like a host audited over WinRM.

--out names the file, or a directory, where the file is named <COMPUTERNAME>.json (one
share for a whole fleet). The file is written atomically: a reader never sees half of it.
The format is documented in docs/facts-schema.md; deployment in docs/local-collection.md.

EXIT STATUS
  0  facts written
  2  usage error
  4  the facts could not be read or written (not Windows, access denied, …)`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runCollect(c.Context(), g, wmi.New(), out) },
	}
	c.Flags().StringVar(&out, "out", "", "facts file to write, or a directory for <COMPUTERNAME>.json (required)")
	return c
}

func runCollect(ctx context.Context, g *globals, c localCollector, out string) error {
	if out == "" {
		return usageErrorf("--out is required")
	}
	local, err := c.Collect(ctx)
	switch {
	case errors.Is(err, wmi.ErrNotWindows):
		return &exitError{code: exitFatal, err: err}
	case errors.Is(err, model.ErrAuth):
		return &exitError{code: exitFatal, err: fmt.Errorf("reading BitLocker through WMI was refused (%w); run collect as SYSTEM or an administrator", err)}
	case err != nil:
		return &exitError{code: exitFatal, err: fmt.Errorf("local collection failed: %w", err)}
	}
	path := out
	if fi, err := os.Stat(out); (err == nil && fi.IsDir()) || strings.HasSuffix(out, string(os.PathSeparator)) || strings.HasSuffix(out, "/") {
		path = filepath.Join(out, local.Facts.Hostname+".json")
	}
	doc := factsfile.New(local.Facts, local.Volumes, local.MachineSID, toolVersion(), local.CollectedAt)
	if err := factsfile.Write(path, doc); err != nil {
		return &exitError{code: exitFatal, err: fmt.Errorf("writing the facts file: %w", err)}
	}
	protectors := 0
	for _, v := range local.Volumes {
		protectors += len(v.Protectors)
	}
	fmt.Fprintf(g.Out, "Facts of %s (%d volumes, %d key protectors) written to %s\n", local.Facts.Hostname, len(local.Volumes), protectors, path)
	return nil
}
