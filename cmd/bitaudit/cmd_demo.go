package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/bitaudit/bitaudit/simulator"
)

// demoOptions are the flags of "bitaudit demo".
type demoOptions struct {
	hosts      int
	fleetFile  string
	seed       int64
	listenBase string
	audit      auditOptions
}

func newDemoCmd(g *globals) *cobra.Command {
	o := &demoOptions{}
	c := &cobra.Command{
		Use:   "demo [--hosts N | --fleet FILE] [--seed S] [--out DIR] [--format LIST]",
		Short: "Audit a simulated Windows fleet on this machine (no Windows needed)",
		Long: `Demo starts a simulated fleet of Windows hosts on loopback addresses (real WS-Management
over HTTPS with NTLM, with a simulated Active Directory and Entra ID), audits it through
exactly the same code path as "bitaudit audit", and writes the results into --out.
The fleet is a seeded mix: mostly compliant hosts, the usual escrow failures, one
impostor reporting another host's identity, and a few hosts that are unreachable, hung
or broken; --fleet FILE audits a fleet spec instead (see "bitaudit simulate").

Demo exits 0 when the demonstration ran (it prints the status "audit" would have
exited with), 2 on bad flags, 4 on a runtime error and 130 when interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runDemo(c.Context(), g, o) },
	}
	f := c.Flags()
	f.IntVar(&o.hosts, "hosts", 30, "number of simulated hosts in the default mix (at least 25)")
	f.StringVar(&o.fleetFile, "fleet", "", "fleet spec (YAML) instead of the default mix")
	f.StringVar(&o.listenBase, "listen-base", "", "first simulated host's loopback address (default 127.0.10.1, or free addresses found automatically when those are taken)")
	f.Int64Var(&o.seed, "seed", 1, "seed of the simulated fleet: the same seed builds the same fleet")
	f.IntVar(&o.audit.concurrency, "concurrency", 64, "hosts audited at once")
	f.DurationVar(&o.audit.hostTimeout, "host-timeout", 10*time.Second, "deadline for one host (the demo fleet has hung hosts)")
	o.audit.addOutputFlags(f, "./bitaudit-demo")
	o.audit.history.addFlags(f)
	return c
}

func runDemo(ctx context.Context, g *globals, o *demoOptions) error {
	if o.fleetFile == "" && o.hosts < 25 {
		return usageErrorf("--hosts must be at least 25 (the demo mix needs them)")
	}
	spec, err := fleetSpec(o.fleetFile, o.hosts, o.seed)
	if err != nil {
		return err
	}
	a := &o.audit
	a.transport, a.auth, a.user, a.failOn = "https", "ntlm", "auditor", "high"
	a.force = true // demo replaces its own previous output without asking
	a.scope.staleAfter = 90
	if _, err := resolveCommon(a); err != nil { // check flags before starting anything
		return err
	}
	tmp, err := os.MkdirTemp("", "bitaudit-demo-")
	if err != nil {
		return &exitError{code: exitFatal, err: err}
	}
	defer os.RemoveAll(tmp)

	password, err := randomPassword()
	if err != nil {
		return &exitError{code: exitFatal, err: err}
	}
	fleetLog := slog.New(slog.DiscardHandler)
	// The fleet outlives an interrupt so hosts still running can finish.
	fleetCtx := context.WithoutCancel(ctx)
	var base netip.Addr
	if o.listenBase != "" {
		if base, err = netip.ParseAddr(o.listenBase); err != nil || !base.Is4() || !base.IsLoopback() {
			return usageErrorf("--listen-base %q: want an IPv4 loopback address such as 127.0.10.1", o.listenBase)
		}
	}
	fleet, err := startFreeFleet(fleetCtx, spec, simulator.Options{
		TLS: true, Auth: "ntlm", User: a.user, Password: password, Logger: fleetLog, ListenBase: base,
	})
	if err != nil {
		return &exitError{code: exitFatal, err: fmt.Errorf("starting the simulated fleet: %w", err)}
	}
	defer fleet.Close()

	a.targetsFile = filepath.Join(tmp, "targets.txt")
	a.caCert = filepath.Join(tmp, "fleet-ca.pem")
	if err := writeFleetFiles(fleet, a.targetsFile, a.caCert); err != nil {
		return &exitError{code: exitFatal, err: err}
	}
	if a.escrowConfig, err = startDemoSources(fleetCtx, fleet, tmp); err != nil {
		return &exitError{code: exitFatal, err: fmt.Errorf("starting the simulated directory and Entra ID: %w", err)}
	}
	fmt.Fprintf(g.Out, "Simulated fleet: %d hosts on %s…, seed %d (HTTPS, NTLM; simulated Active Directory, Entra ID and key store)\n",
		len(fleet.Hosts()), fleet.Targets()[0], spec.Seed)

	// From here on, exactly the path of "bitaudit audit".
	dg := *g
	dg.getenv = func(k string) string {
		if k == "BITAUDIT_PASSWORD" {
			return password
		}
		return g.getenv(k)
	}
	job, err := resolveAudit(&dg, a)
	if err != nil {
		return err
	}
	job.scope = "demo"
	err = executeAudit(ctx, &dg, job)
	if ee, ok := errors.AsType[*exitError](err); ok {
		switch ee.code {
		case exitFindings, exitIncomplete:
			fmt.Fprintf(g.Out, "(\"bitaudit audit\" would exit with status %d: %s)\n", ee.code, map[int]string{
				exitFindings: "findings at or above --fail-on high", exitIncomplete: "some hosts could not be audited"}[ee.code])
			return nil
		}
	}
	return err
}

func writeFleetFiles(fleet *simulator.Fleet, targetsFile, caFile string) error {
	if err := writeFileWith(targetsFile, 0o600, fleet.WriteTargets); err != nil {
		return err
	}
	return os.WriteFile(caFile, fleet.CAPEM(), 0o644)
}

// randomPassword returns a fresh password for the simulated fleet's account.
func randomPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
