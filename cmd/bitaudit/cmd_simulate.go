package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
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
	expectOut         string
	keytab            string
	realm             string
	cbt               string
	factsOut          string
	hostsOut          string
}

func newSimulateCmd(g *globals) *cobra.Command {
	o := &simulateOptions{}
	c := &cobra.Command{
		Use:   "simulate [--hosts N | --fleet FILE] --targets-out FILE [flags]",
		Short: "Run a simulated Windows fleet speaking WS-Management on loopback",
		Long: `Simulate starts simulated Windows hosts on distinct loopback addresses (from 127.0.10.1),
each answering WS-Management as Windows does (Basic, NTLM or Kerberos, HTTP or HTTPS), writes
the targets file "bitaudit audit --targets" reads, and runs until SIGINT or SIGTERM.

The targets file is CSV: host (ip:port) and the identity columns fqdn, ad_dn and
entra_device_id, as the simulated directory knows each host.

With --escrow-out it also serves a simulated Active Directory (LDAPS), Entra ID (token
endpoint and Graph) and an external key store (a folder per computer), sharing state with
the hosts, and writes the escrow config "bitaudit audit --escrow-config" reads, with its
secrets in 0600 files beside it. With --expect-out it writes what an auditor should report
for every host, from the simulator's own profile table.

The password the hosts accept comes from BITAUDIT_PASSWORD; when it is unset, one is
generated and written to a 0600 file next to --targets-out (the path is printed).

With --auth kerberos the hosts are members of --realm: they accept tickets for their own
HTTP/<fqdn> principals, whose keys come from --keytab (export them from your KDC), and the
targets file is CSV with an fqdn column, the names Kerberos needs.`,
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
	f.StringVar(&o.auth, "auth", "ntlm", "authentication the hosts accept: basic, ntlm, kerberos, or negotiate (Kerberos and NTLM)")
	f.StringVar(&o.keytab, "keytab", "", "service keytab (HTTP/<fqdn> keys of the hosts) for --auth kerberos")
	f.StringVar(&o.realm, "realm", "", "Kerberos realm of the hosts, for --auth kerberos")
	f.StringVar(&o.cbt, "cbt", "none", "the hosts' CbtHardeningLevel for NTLM over HTTPS: none, relaxed or strict (refuses logins without channel binding)")
	f.StringVar(&o.user, "user", "auditor", "account the hosts accept")
	f.DurationVar(&o.latency, "latency", 0, "extra latency added to every command")
	f.BoolVar(&o.requireEncryption, "require-encryption", false, "refuse unencrypted messages over HTTP, as Windows' default AllowUnencrypted=false")
	f.StringVar(&o.targetsOut, "targets-out", "", "write the targets file here (required)")
	f.StringVar(&o.caOut, "ca-out", "", "write the CA certificate (PEM) clients must trust here (with --tls)")
	f.StringVar(&o.escrowOut, "escrow-out", "", "also serve a simulated AD, Entra ID and external key store, and write the escrow config for them here (for audit --escrow-config)")
	f.StringVar(&o.expectOut, "expect-out", "", "write the simulator's own expectation for every host here (JSON: target, profile, status, problems)")
	f.StringVar(&o.factsOut, "facts-out", "", "write into this directory, per host, the facts file a local collection (bitaudit collect) on it would write")
	f.StringVar(&o.hostsOut, "hosts-out", "", "write a hosts(5) file mapping every simulated computer's name to its address here (for audit --resolve-file)")
	return c
}

// fleetSpec returns the fleet spec in file, or the default mix of hosts
// hosts with seed when file is empty. A bad spec is a usage error.
func fleetSpec(file string, hosts int, seed int64) (*simulator.Spec, error) {
	if file == "" {
		return simulator.DefaultSpec(hosts, seed), nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, usageError(err)
	}
	defer f.Close()
	spec, err := simulator.LoadSpec(f, file)
	if err != nil {
		return nil, usageError(err)
	}
	return spec, nil
}

func runSimulate(ctx context.Context, g *globals, o *simulateOptions) error {
	if o.targetsOut == "" {
		return usageErrorf("--targets-out is required")
	}
	base, err := netip.ParseAddr(o.listenBase)
	if err != nil || !base.IsLoopback() {
		return usageErrorf("--listen-base must be a loopback address, not %q", o.listenBase)
	}
	var kt *keytab.Keytab
	switch o.auth {
	case "basic", "ntlm":
		if o.keytab != "" || o.realm != "" {
			return usageErrorf("--keytab and --realm go with --auth kerberos")
		}
	case "kerberos", "negotiate":
		if o.keytab == "" || o.realm == "" {
			return usageErrorf("--auth %s needs --keytab (the hosts' service keys) and --realm", o.auth)
		}
		var err error
		if kt, err = keytab.Load(o.keytab); err != nil {
			return usageErrorf("--keytab %s: %v", o.keytab, err)
		}
	default:
		return usageErrorf("--auth must be basic, ntlm, kerberos or negotiate")
	}
	if o.caOut != "" && !o.tls {
		return usageErrorf("--ca-out needs --tls")
	}
	if o.fleetFile == "" && o.hosts < 1 {
		return usageErrorf("--hosts must be at least 1")
	}
	spec, err := fleetSpec(o.fleetFile, o.hosts, o.seed)
	if err != nil {
		return err
	}
	password := g.getenv("BITAUDIT_PASSWORD")
	passwordNote := "from BITAUDIT_PASSWORD"
	if o.auth == "kerberos" {
		passwordNote = "kept by the KDC of " + o.realm
	} else if password == "" {
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
	if g.getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(simulator.GCPercent))
	}
	fleet, err := simulator.Start(ctx, spec, simulator.Options{
		ListenBase: base, Port: o.port, TLS: o.tls, Auth: o.auth, User: o.user, Password: password, Keytab: kt, Realm: o.realm, CBT: o.cbt,
		Latency: o.latency, RequireEncryption: o.requireEncryption, Logger: g.logger(),
	})
	if err != nil {
		return &exitError{code: exitFatal, err: fmt.Errorf("starting the fleet: %w", err)}
	}
	defer fleet.Close()
	if o.caOut != "" {
		if err := os.WriteFile(o.caOut, fleet.CAPEM(), 0o644); err != nil {
			return &exitError{code: exitFatal, err: err}
		}
	}
	if o.escrowOut != "" {
		src, err := fleet.StartSources(ctx, simulator.SourcesOptions{})
		if err != nil {
			return &exitError{code: exitFatal, err: fmt.Errorf("starting the simulated directory, Entra ID and key store: %w", err)}
		}
		defer src.Close()
		if err := writeEscrowConfigTo(src, o.escrowOut); err != nil {
			return &exitError{code: exitFatal, err: fmt.Errorf("writing the escrow config: %w", err)}
		}
	}
	if o.expectOut != "" {
		if err := writeFileWith(o.expectOut, 0o600, fleet.WriteExpectations); err != nil {
			return &exitError{code: exitFatal, err: fmt.Errorf("writing the expectations: %w", err)}
		}
	}
	if o.factsOut != "" {
		if _, err := simulator.WriteFacts(o.factsOut, fleet.Hosts(), time.Now()); err != nil {
			return &exitError{code: exitFatal, err: fmt.Errorf("--facts-out: %w", err)}
		}
	}
	if o.hostsOut != "" {
		if err := writeFileWith(o.hostsOut, 0o644, fleet.WriteHostsFile); err != nil {
			return &exitError{code: exitFatal, err: fmt.Errorf("writing the hosts file: %w", err)}
		}
	}
	// The targets file comes last: once it exists, everything else does.
	if err := writeFileWith(o.targetsOut, 0o600, fleet.WriteTargets); err != nil {
		return &exitError{code: exitFatal, err: err}
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
	if o.escrowOut != "" {
		fmt.Fprintf(g.Out, "Escrow config: %s (simulated AD, Entra ID and key store; pass it to audit with --escrow-config)\n", o.escrowOut)
	}
	if o.expectOut != "" {
		fmt.Fprintf(g.Out, "Expectations: %s\n", o.expectOut)
	}
	if o.factsOut != "" {
		fmt.Fprintf(g.Out, "Facts files: %s (one per host, as bitaudit collect writes them; audit them with --facts)\n", o.factsOut)
	}
	if o.hostsOut != "" {
		fmt.Fprintf(g.Out, "Hosts file: %s (simulated names and addresses; pass it to audit with --resolve-file)\n", o.hostsOut)
	}
	fmt.Fprintln(g.Out, "Press Ctrl-C to stop.")
	<-ctx.Done()
	fmt.Fprintln(g.Out, "Stopping.")
	return nil
}
