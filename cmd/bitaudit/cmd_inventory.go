package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bitaudit/bitaudit/collectors/escrow"
	"github.com/bitaudit/bitaudit/model"
)

// scopeOptions choose the directory computers: the flags inventory and
// audit --targets-from share.
type scopeOptions struct {
	ous        []string
	filter     string
	allOS      bool
	staleAfter int
}

func (o *scopeOptions) addFlags(f *pflag.FlagSet) {
	f.StringArrayVar(&o.ous, "ou", nil, "AD container to search (subtree; repeatable); default the escrow config's base_dn")
	f.StringVar(&o.filter, "filter", "", `extra LDAP filter for computer objects, e.g. "(!(description=lab*))"`)
	f.BoolVar(&o.allOS, "all-os", false, "list every computer, not only those whose operating system is Windows")
	f.IntVar(&o.staleAfter, "stale-after", 90, "days without a logon after which an enabled account is stale (listed apart, not audited)")
}

// inventoryOptions are the flags of "bitaudit inventory".
type inventoryOptions struct {
	escrowConfig string
	entra        bool
	out          string
	scope        scopeOptions
}

func newInventoryCmd(g *globals) *cobra.Command {
	o := &inventoryOptions{}
	c := &cobra.Command{
		Use:   "inventory --escrow-config FILE [--ou DN]... [--filter LDAP] [--entra] --out targets.csv",
		Short: "List the directory's computers as a targets file",
		Long: `Inventory lists the enabled Windows computers Active Directory knows (paged LDAP searches
under the escrow config's base_dn or each --ou) and, with --entra, the Windows devices of
Entra ID (Graph devices), matching hybrid-joined devices to their AD object. It writes the
targets CSV "bitaudit audit --targets" reads, with the identity columns host (dNSHostName),
fqdn, ad_dn and entra_device_id, and the labels ou, os and last_logon.

Disabled accounts and accounts with no logon for --stale-after days are not targets: they
are written to a second file beside --out (NAME.excluded.csv) with an account column.
Read-only rights suffice: computer objects and Graph Device.Read.All.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runInventory(c.Context(), g, o) },
	}
	f := c.Flags()
	f.StringVar(&o.escrowConfig, "escrow-config", "", "escrow sources file (YAML) naming the directory (required)")
	f.BoolVar(&o.entra, "entra", false, "also list Entra ID devices (the escrow config's entra section)")
	f.StringVar(&o.out, "out", "", "targets CSV to write (required)")
	o.scope.addFlags(f)
	return c
}

func runInventory(ctx context.Context, g *globals, o *inventoryOptions) error {
	if o.escrowConfig == "" {
		return usageErrorf("--escrow-config is required")
	}
	if o.out == "" {
		return usageErrorf("--out is required")
	}
	cfg, err := loadEscrowConfig(o.escrowConfig)
	if err != nil {
		return err
	}
	sources := []string{}
	if cfg.AD != nil {
		sources = append(sources, "ad")
	}
	if o.entra {
		sources = append(sources, "entra")
	}
	if len(sources) == 0 {
		return usageErrorf("%s has no ad section: add one, or list Entra ID devices with --entra", o.escrowConfig)
	}
	d, err := listDirectory(ctx, g, cfg, sources, &o.scope, false, true)
	if err != nil {
		return err
	}
	var in, out []model.Computer
	for _, c := range d.Computers {
		if c.InScope() {
			in = append(in, c)
		} else {
			out = append(out, c)
		}
	}
	if err := writeComputersCSV(o.out, in, false); err != nil {
		return &exitError{code: exitFatal, err: err}
	}
	excluded := excludedPath(o.out)
	if len(out) > 0 {
		if err := writeComputersCSV(excluded, out, true); err != nil {
			return &exitError{code: exitFatal, err: err}
		}
	} else if err := os.Remove(excluded); err != nil && !os.IsNotExist(err) {
		return &exitError{code: exitFatal, err: err}
	}
	disabled := 0
	for _, c := range out {
		if c.Account == model.ComputerDisabled {
			disabled++
		}
	}
	fmt.Fprintf(g.Out, "%d computers in %s: %d targets written to %s\n", len(d.Computers), strings.Join(d.Sources, " and "), len(in), o.out)
	if len(out) > 0 {
		fmt.Fprintf(g.Out, "%d disabled and %d stale (no logon for %d days) accounts written to %s\n", disabled, len(out)-disabled, o.scope.staleAfter, excluded)
	}
	for _, e := range d.Errors {
		fmt.Fprintf(g.Out, "incomplete: %s\n", e)
	}
	if len(d.Errors) > 0 {
		return &exitError{code: exitIncomplete, err: fmt.Errorf("the directory could not be read in full")}
	}
	return nil
}

func loadEscrowConfig(path string) (*escrow.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErrorf("--escrow-config: %v", err)
	}
	defer f.Close()
	cfg, err := escrow.LoadConfig(f, path)
	if err != nil {
		return nil, usageError(err)
	}
	return cfg, nil
}

// listDirectory runs the inventory of sources, with a progress bar on an
// interactive stderr. A bad option is a usage error; a directory that
// cannot be read at all is fatal.
// listDirectory reads the directory sources name; with bar, a progress bar
// on a terminal.
func listDirectory(ctx context.Context, g *globals, cfg *escrow.Config, sources []string, o *scopeOptions, census, bar bool) (*escrow.Directory, error) {
	if o.staleAfter < 1 {
		return nil, usageErrorf("--stale-after must be at least 1 day")
	}
	opts := escrow.InventoryOptions{
		OUs: o.ous, Filter: o.filter, AllOS: o.allOS, Census: census,
		StaleAfter: time.Duration(o.staleAfter) * 24 * time.Hour, Logger: g.logger(),
	}
	for _, s := range sources {
		switch s {
		case "ad":
			opts.AD = true
		case "entra":
			opts.Entra = true
		}
	}
	if opts.AD && cfg.AD == nil {
		return nil, usageErrorf("the escrow config has no ad section")
	}
	if opts.Entra && cfg.Entra == nil {
		return nil, usageErrorf("the escrow config has no entra section")
	}
	if bar && g.stderrIsTerminal() && g.logFormat != "json" {
		bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(g.Err), progressbar.OptionSetDescription("reading the directory"),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
		var mu sync.Mutex
		counts := map[string]int{}
		opts.Progress = func(source string, n int) {
			mu.Lock()
			defer mu.Unlock()
			counts[source] = n
			_ = bar.Set(counts["ad"] + counts["entra"])
		}
		defer bar.Finish()
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d, err := escrow.Inventory(ctx, cfg, opts)
	if err != nil {
		if strings.Contains(err.Error(), "filter") {
			return nil, usageError(err)
		}
		return nil, &exitError{code: exitFatal, err: err}
	}
	return d, nil
}

// excludedPath is where inventory writes the accounts it leaves out:
// targets.csv -> targets.excluded.csv.
func excludedPath(out string) string {
	ext := filepath.Ext(out)
	return strings.TrimSuffix(out, ext) + ".excluded" + cmpOr(ext, ".csv")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// computerColumns are the targets-CSV columns inventory writes: host and
// the identity columns first, then labels.
var computerColumns = []string{model.ColumnHost, model.ColumnFQDN, model.ColumnADDN, model.ColumnEntraDeviceID, "ou", "os", "last_logon"}

// writeComputersCSV writes computers as a targets CSV (with an account
// column when withAccount), atomically.
func writeComputersCSV(path string, cs []model.Computer, withAccount bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := encodeComputers(tmp, cs, withAccount); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func encodeComputers(w io.Writer, cs []model.Computer, withAccount bool) error {
	cw := csv.NewWriter(w)
	header := computerColumns
	if withAccount {
		header = append(append([]string{}, header...), "account")
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, c := range cs {
		t := c.Target()
		row := []string{t.Host, t.FQDN, t.ADDN, t.EntraDeviceID}
		for _, k := range header[4:] {
			if k == "account" {
				row = append(row, c.Account)
				continue
			}
			row = append(row, t.Labels[k])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
