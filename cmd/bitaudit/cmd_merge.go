package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/reports"
	"github.com/bitaudit/bitaudit/shard"
	"github.com/bitaudit/bitaudit/spool"
)

func newMergeCmd(g *globals) *cobra.Command {
	o := &auditOptions{}
	c := &cobra.Command{
		Use:   "merge RESULT... --out DIR",
		Short: "Combine the results of audit --shard I/N into one result and its reports",
		Long: `Merge combines the result.json files of every shard of one sharded run (audit --shard
I/N, e.g. the pods of a Kubernetes Indexed Job) into the result of one run, writes it and
its reports into --out, compares it with the previous run and records it in the history
(shards are not recorded on their own).

It refuses results that are not shards, shards of different runs (--run-group, target
list, N), of different policies or started more than a day apart, a shard given twice,
a target in more than one shard, and names any missing shard.

Merge exits 0 when the shards were merged, 2 when they cannot be (nothing is written
then), 4 on a runtime error. The verdict is in the result and reports, as for audit.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runMerge(c.Context(), g, o, args) },
	}
	f := c.Flags()
	o.addOutputFlags(f, "./bitaudit-results")
	o.history.addFlags(f)
	return c
}

func runMerge(ctx context.Context, g *globals, o *auditOptions, files []string) error {
	formats, err := reports.ParseFormats(o.formats)
	if err != nil {
		return usageError(fmt.Errorf("--format: %w", err))
	}
	job := &auditJob{opts: o}
	if o.signKey != "" {
		if job.signKey, err = reports.LoadSigningKey(o.signKey); err != nil {
			return usageError(fmt.Errorf("--sign-key: %w", err))
		}
	}
	font, err := readPDFFont(o.pdfFont)
	if err != nil {
		return err
	}
	// Each shard's hosts go into a spool as they are read: the merge
	// holds where each host is, not the hosts.
	in := make([]shard.Input, 0, len(files))
	for _, name := range files {
		r, hosts, err := readResultSpooled(name)
		if err != nil {
			return usageError(err)
		}
		defer hosts.Close()
		in = append(in, shard.Input{Name: name, Result: r})
	}
	merged, err := shard.Merge(newRunID(time.Now().UTC()), in)
	if err != nil {
		return usageError(fmt.Errorf("not merged: %w", err))
	}
	hist, err := openRunHistory(ctx, g, &o.history, merged.Run.Scope, true)
	if err != nil {
		return err
	}
	defer hist.Close()
	out, err := prepareOutDir(o.outDir, o.force)
	if err != nil {
		return err
	}
	hist.attach(ctx, merged, nil)
	log := g.logger()
	rec := hist.begin(ctx, merged)
	if err := writeResults(ctx, out, merged, reports.Options{Formats: formats, SignKey: job.signKey, PDFFont: font, Logger: log}, "", log); err != nil {
		_ = rec.end(false)
		return err
	}
	if err := rec.end(true); err != nil {
		return err
	}
	fmt.Fprintf(g.Out, "Merged %d shards of run group %s\n", len(in), in[0].Result.Run.Shard.Group)
	printRunSummary(g.Out, merged, o.outDir)
	return nil
}

// readResultSpooled reads a result file, its hosts into a spool the caller
// closes.
func readResultSpooled(name string) (*model.Result, *spool.Spool, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r, hosts, err := reports.ReadResultSpooled(f, "")
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return r, hosts, nil
}
