package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/bitaudit/bitaudit/simulator"
)

// simulateOptions are the flags of "bitaudit simulate".
type simulateOptions struct {
	hosts             int
	fleetFile         string
	seed              int64
	listenBase        string
	port              int
	tls               bool
	auth              string
	user              string
	latency           time.Duration
	requireEncryption bool
	targetsOut        string
	caOut             string
	escrowOut         string
}

func newSimulateCmd(g *globals) *cobra.Command {
	o := &simulateOptions{}
	c := &cobra.Command{
		Use:   "simulate [--hosts N | --fleet FILE] --targets-out FILE [flags]",
		Short: "Run a simulated Windows fleet speaking WS-Management on loopback",
		Long: `Simulate starts simulated Windows hosts on distinct loopback addresses (from 127.0.10.1),
each answering WS-Management as Windows does (Basic or NTLM, HTTP or HTTPS), writes the
targets file "bitaudit audit --targets" reads, and runs until SIGINT or SIGTERM.

The password the hosts accept comes from BITAUDIT_PASSWORD; when it is unset, one is
generated and written to a 0600 file next to --targets-out (the path is printed).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runSimulate(c.Context(), g, o) },
	}
	f := c.Flags()
	f.IntVar(&o.hosts, "hosts", 100, "number of hosts in the default mix")
	f.StringVar(&o.fleetFile, "fleet", "", "fleet spec (YAML) instead of the default mix")
	f.Int64Var(&o.seed, "seed", 1, "seed: the same seed builds the same fleet")
	f.StringVar(&o.listenBase, "listen-base", "127.0.10.1", "first loopback address; host i listens on the i-th address after it")
	f.IntVar(&o.port, "port", 0, "port every host listens on (default 5985, or 5986 with --tls)")
	f.BoolVar(&o.tls, "tls", false, "serve HTTPS with a generated CA (write it with --ca-out)")
	f.StringVar(&o.auth, "auth", "ntlm", "authentication the hosts accept: basic or ntlm")
	f.StringVar(&o.user, "user", "auditor", "account the hosts accept")
	f.DurationVar(&o.latency, "latency", 0, "extra latency added to every command")
	f.BoolVar(&o.requireEncryption, "require-encryption", false, "refuse unencrypted messages over HTTP, as Windows' default AllowUnencrypted=false")
	f.StringVar(&o.targetsOut, "targets-out", "", "write the targets file here (required)")
	f.StringVar(&o.caOut, "ca-out", "", "write the CA certificate (PEM) clients must trust here (with --tls)")
	return c
}

func runSimulate(ctx context.Context, g *globals, o *simulateOptions) error {
	if o.targetsOut == "" {
		return usageErrorf("--targets-out is required")
	}
	base, err := netip.ParseAddr(o.listenBase)
	if err != nil || !base.IsLoopback() {
		return usageErrorf("--listen-base must be a loopback address, not %q", o.listenBase)
	}
	if o.auth != "basic" && o.auth != "ntlm" {
		return usageErrorf("--auth must be basic or ntlm")
	}
	if o.caOut != "" && !o.tls {
		return usageErrorf("--ca-out needs --tls")
	}
	spec := simulator.DefaultSpec(o.hosts, o.seed)
	if o.fleetFile != "" {
		f, err := os.Open(o.fleetFile)
		if err != nil {
			return usageError(err)
		}
		spec, err = simulator.LoadSpec(f, o.fleetFile)
		f.Close()
		if err != nil {
			return usageError(err)
		}
	} else if o.hosts < 1 {
		return usageErrorf("--hosts must be at least 1")
	}
	password := g.getenv("BITAUDIT_PASSWORD")
	passwordNote := "from BITAUDIT_PASSWORD"
	if password == "" {
		if password, err = randomPassword(); err != nil {
			return &exitError{code: exitFatal, err: err}
		}
		pwFile := o.targetsOut + ".password"
		if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
			return &exitError{code: exitFatal, err: fmt.Errorf("writing the generated password: %w", err)}
		}
		abs, _ := filepath.Abs(pwFile)
		passwordNote = "generated, in " + abs + " (use --password-file)"
	}
	fleet, err := simulator.Start(ctx, spec, simulator.Options{
		ListenBase: base, Port: o.port, TLS: o.tls, Auth: o.auth, User: o.user, Password: password,
		Latency: o.latency, RequireEncryption: o.requireEncryption, Logger: g.logger(),
	})
	if err != nil {
		return &exitError{code: exitFatal, err: fmt.Errorf("starting the fleet: %w", err)}
	}
	defer fleet.Close()
	f, err := os.Create(o.targetsOut)
	if err != nil {
		return &exitError{code: exitFatal, err: err}
	}
	if err := fleet.WriteTargets(f); err != nil {
		f.Close()
		return &exitError{code: exitFatal, err: err}
	}
	if err := f.Close(); err != nil {
		return &exitError{code: exitFatal, err: err}
	}
	if o.caOut != "" {
		if err := os.WriteFile(o.caOut, fleet.CAPEM(), 0o644); err != nil {
			return &exitError{code: exitFatal, err: err}
		}
	}
	targets := fleet.Targets()
	scheme := "http"
	if o.tls {
		scheme = "https"
	}
	fmt.Fprintf(g.Out, "Simulating %d hosts: %s … %s (%s, %s)\n", len(targets), targets[0], targets[len(targets)-1], scheme, o.auth)
	fmt.Fprintf(g.Out, "Targets: %s\nUser: %s; password %s\n", o.targetsOut, o.user, passwordNote)
	if o.caOut != "" {
		fmt.Fprintf(g.Out, "CA certificate: %s (pass it to audit with --ca-cert)\n", o.caOut)
	}
	fmt.Fprintln(g.Out, "Press Ctrl-C to stop.")
	<-ctx.Done()
	fmt.Fprintln(g.Out, "Stopping.")
	return nil
}
