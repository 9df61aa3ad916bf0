package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bitaudit/bitaudit/audit"
	"github.com/bitaudit/bitaudit/collectors/escrow"
	"github.com/bitaudit/bitaudit/collectors/factsfile"
	"github.com/bitaudit/bitaudit/collectors/winrm"
	"github.com/bitaudit/bitaudit/history"
	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/reports"
	"github.com/bitaudit/bitaudit/rules"
	"github.com/bitaudit/bitaudit/spool"
)

// auditOptions are the flags of "bitaudit audit".
type auditOptions struct {
	targetsFile      string
	factsDir         string
	policyFile       string
	escrowConfig     string
	outDir           string
	formats          string
	concurrency      int
	hostTimeout      time.Duration
	ramp             time.Duration
	transport        string
	port             int
	auth             string
	user             string
	passwordFile     string
	caCert           string
	insecure         bool
	allowUnencrypted bool
	failOn           string
	signKey          string
	pdfFont          string
	force            bool
	krb              kerberosFlags
	maxAuthFailures  int
	targetsFrom      string
	resolveFile      string
	scope            scopeOptions
	fix              fixOptions
	shard            string
	runGroup         string
	history          historyOptions
}

func (o *auditOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.targetsFile, "targets", "", "file of targets: one host[:port] per line, or CSV with a host column (this or --facts is required)")
	f.StringVar(&o.factsDir, "facts", "", "directory of facts files written on the hosts by `bitaudit collect`; alone, or for the --targets WinRM cannot reach")
	f.StringVar(&o.policyFile, "policy", "", "policy file (YAML); the built-in default policy applies without it")
	f.StringVar(&o.escrowConfig, "escrow-config", "", "escrow sources file (YAML): Active Directory, Entra ID, external key store")
	o.addOutputFlags(f, "./bitaudit-results")
	f.IntVar(&o.concurrency, "concurrency", defaultConcurrency, "hosts audited at once (each holds one connection; see README, Scale)")
	f.DurationVar(&o.ramp, "ramp", defaultRamp, "spread the first --concurrency hosts' starts over this long rather than start them at once (0: at once)")
	f.DurationVar(&o.hostTimeout, "host-timeout", 2*time.Minute, "deadline for one host's collection and verification")
	f.StringVar(&o.transport, "transport", "https", "WinRM transport: https (5986, certificate verified) or http (5985)")
	f.IntVar(&o.port, "port", 0, "WinRM port (default 5986 for https, 5985 for http)")
	f.StringVar(&o.auth, "auth", "ntlm", "authentication: ntlm, basic, kerberos, or negotiate (Kerberos; NTLM only with --allow-ntlm-fallback)")
	o.krb.addFlags(f)
	f.StringVar(&o.user, "user", "", "account name, DOMAIN\\user or user@domain (required); the password comes from BITAUDIT_PASSWORD or --password-file")
	f.StringVar(&o.passwordFile, "password-file", "", "file holding the password (first line); default: the BITAUDIT_PASSWORD environment variable")
	f.StringVar(&o.caCert, "ca-cert", "", "PEM file of a CA to trust for the hosts' HTTPS certificates, in addition to the system roots")
	f.BoolVar(&o.insecure, "insecure-skip-verify", false, "do not verify the hosts' HTTPS certificates (unsafe: anyone on the path can read the credentials)")
	f.BoolVar(&o.allowUnencrypted, "allow-unencrypted", false, "allow WinRM over plain HTTP without message encryption (unsafe; the host must have AllowUnencrypted=true)")
	f.IntVar(&o.maxAuthFailures, "max-auth-failures", 10, "stop starting hosts after this many consecutive hosts refused the credentials, so the account is not locked out (0: never stop)")
	f.StringVar(&o.failOn, "fail-on", "high", "exit with status 1 when an unwaived finding on an audited host is at or above this severity: info, low, medium, high, critical, none")
	f.StringVar(&o.targetsFrom, "targets-from", "", "also audit the directory's computers: ad, entra or ad,entra (see bitaudit inventory; with --targets: the union)")
	f.StringVar(&o.resolveFile, "resolve-file", "", "hosts(5)-format file of name-to-address mappings used before DNS (labs, split DNS, the simulator's --hosts-out)")
	o.scope.addFlags(f)
	o.fix.addFlags(f)
	f.StringVar(&o.shard, "shard", "", "audit only shard I of N of the targets (I from 0; by a hash of each target, whatever the order), e.g. $JOB_COMPLETION_INDEX/4; combine the results with bitaudit merge")
	f.StringVar(&o.runGroup, "run-group", "", "with --shard: the name every shard of this run shares (default: derived from the targets and N)")
	o.history.addFlags(f)
}

func (o *auditOptions) addOutputFlags(f *pflag.FlagSet, defaultOut string) {
	f.StringVar(&o.outDir, "out", defaultOut, "directory for result.json, report.pdf, report.xlsx, report.csv and manifest.json")
	f.StringVar(&o.formats, "format", "all", "report formats, comma-separated: json, pdf, xlsx, csv, or all (result.json is always written)")
	f.StringVar(&o.signKey, "sign-key", "", "Ed25519 private key (PEM, PKCS#8) to sign manifest.json")
	f.StringVar(&o.pdfFont, "pdf-font", "", "TrueType font (.ttf) to draw report.pdf with, for text the built-in font (Latin, Greek, Cyrillic) cannot draw, e.g. Chinese")
	f.BoolVar(&o.force, "force", false, "replace an earlier run's results in --out (its stale files are removed once the new ones are written)")
}

func newAuditCmd(g *globals) *cobra.Command {
	o := &auditOptions{}
	c := &cobra.Command{
		Use:   "audit --targets FILE --user NAME [flags]",
		Short: "Audit BitLocker and recovery-key escrow on Windows hosts over WinRM",
		Long: `Audit collects, from every target over WinRM, each volume's BitLocker state and key
protectors (IDs and types only: never recovery passwords), verifies where each recovery
key is backed up, evaluates the policy, and writes the result and reports into --out.

Every target appears in the result exactly once, with a status (compliant, noncompliant,
unreachable, auth_failed, timeout, protocol_error, interrupted) and a reason.
On SIGINT/SIGTERM no new host is started, running hosts get a few seconds (a second
Ctrl-C stops them at once), the rest are marked interrupted, and the partial result is
still written. After --max-auth-failures consecutive hosts refuse the credentials, no
further host is started (the account would be locked out) and the run ends with status 3.

` + exitStatusHelp,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runAudit(c.Context(), g, o) },
	}
	o.addFlags(c.Flags())
	return c
}

// auditJob is a fully resolved audit: what audit and demo both execute.
type auditJob struct {
	targets    []model.Target
	duplicates []model.Duplicate
	policy     *rules.Policy
	policyName string
	escrowCfg  *escrow.Config
	// directory is the inventory with census, read before the run for
	// --targets-from; else read while the hosts are audited when a
	// directory is configured (directoryRead gives it).
	directory     *escrow.Directory
	directoryRead <-chan directoryRead
	targetsFrom   []string
	collector     winrm.Options
	opts          *auditOptions
	formats       []reports.Format
	failOn        model.Severity
	signKey       ed25519.PrivateKey
	pdfFont       []byte
	// facts are the facts files of --facts; rejectedInputs the files not used.
	facts          *factsfile.Set
	rejectedInputs []model.RejectedInput
	shard          *model.Shard
	scope          string
	// quiet suppresses the per-run summary on stdout (tests).
	quiet bool
}

// runAudit validates every input before contacting any host, then executes.
func runAudit(ctx context.Context, g *globals, o *auditOptions) error {
	job, err := resolveAudit(g, o)
	if err != nil {
		return err
	}
	return executeAudit(ctx, g, job)
}

func resolveAudit(g *globals, o *auditOptions) (*auditJob, error) {
	if o.targetsFile == "" && o.factsDir == "" && o.targetsFrom == "" {
		return nil, usageErrorf("--targets, --targets-from or --facts is required")
	}
	if o.targetsFrom != "" && o.escrowConfig == "" {
		return nil, usageErrorf("--targets-from needs --escrow-config (the directory to read)")
	}
	sources, err := parseTargetsFrom(o.targetsFrom)
	if err != nil {
		return nil, err
	}
	kerberos := o.auth == "kerberos" || o.auth == "negotiate"
	if o.user == "" && (o.targetsFile != "" || o.targetsFrom != "") && !(kerberos && g.getenv("KRB5CCNAME") != "") {
		return nil, usageErrorf("--user is required")
	}
	job, err := resolveCommon(o)
	if err != nil {
		return nil, err
	}
	job.targetsFrom = sources
	if err := o.fix.resolve(); err != nil {
		return nil, err
	}
	if o.fix.enabled && o.factsDir != "" {
		return nil, usageErrorf("--fix changes hosts over WinRM and verifies them by collecting again: use it with --targets, without --facts")
	}
	if o.targetsFile == "" && len(sources) == 0 {
		if o.shard != "" {
			return nil, usageErrorf("--shard splits the targets of --targets or --targets-from")
		}
		job.scope = defaultScope(o.factsDir)
		return job, job.resolveEscrowAndFacts()
	}
	if o.targetsFile != "" {
		f, err := os.Open(o.targetsFile)
		if err != nil {
			return nil, usageErrorf("targets: %v", err)
		}
		defer f.Close()
		job.targets, job.duplicates, err = model.ParseTargets(f, o.targetsFile)
		if err != nil {
			return nil, usageError(fmt.Errorf("targets file rejected, no host contacted:\n%w", err))
		}
	}
	job.scope = defaultScope(o.targetsFile)
	if o.targetsFile == "" {
		job.scope = "directory " + o.targetsFrom
	}
	if len(sources) == 0 { // else once the directory's computers are added
		if err := job.applyShard(); err != nil {
			return nil, err
		}
	}
	var password model.Secret
	if !kerberos || o.passwordFile != "" || g.getenv("BITAUDIT_PASSWORD") != "" {
		if password, err = readPassword(g, o.passwordFile); err != nil {
			return nil, err
		}
	}
	var caPEM []byte
	if o.caCert != "" {
		if caPEM, err = os.ReadFile(o.caCert); err != nil {
			return nil, usageErrorf("--ca-cert: %v", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(caPEM) {
			return nil, usageErrorf("--ca-cert %s: no PEM certificate in it (want \"-----BEGIN CERTIFICATE-----\" blocks)", o.caCert)
		}
	}
	job.collector = winrm.Options{
		Transport: o.transport, Port: o.port, Auth: o.auth, User: o.user, Password: password,
		CACertPEM: caPEM, InsecureSkipVerify: o.insecure, AllowUnencrypted: o.allowUnencrypted,
	}
	if kerberos {
		if err := o.krb.resolve(g, &job.collector); err != nil {
			return nil, err
		}
	} else if o.krb.set() {
		return nil, usageErrorf("--keytab, --realm, --kdc, --krb5-conf, --spn-template and --allow-ntlm-fallback go with --auth kerberos or negotiate")
	}
	if o.resolveFile != "" {
		rf, err := os.Open(o.resolveFile)
		if err != nil {
			return nil, usageErrorf("--resolve-file: %v", err)
		}
		defer rf.Close()
		if job.collector.Hosts, err = winrm.ParseHostsFile(rf, o.resolveFile); err != nil {
			return nil, usageError(err)
		}
	}
	return job, job.resolveEscrowAndFacts()
}

// resolveEscrowAndFacts loads --escrow-config and --facts.
func (job *auditJob) resolveEscrowAndFacts() error {
	o := job.opts
	if o.escrowConfig != "" {
		ef, err := os.Open(o.escrowConfig)
		if err != nil {
			return usageErrorf("--escrow-config: %v", err)
		}
		defer ef.Close()
		if job.escrowCfg, err = escrow.LoadConfig(ef, o.escrowConfig); err != nil {
			return usageError(err)
		}
	}
	return job.loadFacts(time.Now())
}

// resolveCommon checks the flags audit and demo share.
func resolveCommon(o *auditOptions) (*auditJob, error) {
	job := &auditJob{opts: o}
	var err error
	if job.formats, err = reports.ParseFormats(o.formats); err != nil {
		return nil, usageError(fmt.Errorf("--format: %w", err))
	}
	if job.failOn, err = model.ParseSeverity(o.failOn); err != nil {
		return nil, usageError(fmt.Errorf("--fail-on: %w", err))
	}
	if o.maxAuthFailures < 0 {
		return nil, usageErrorf("--max-auth-failures must be 0 (no limit) or more")
	}
	if o.concurrency < 1 {
		return nil, usageErrorf("--concurrency must be at least 1")
	}
	if o.hostTimeout <= 0 {
		return nil, usageErrorf("--host-timeout must be positive")
	}
	if o.ramp < 0 || o.ramp > maxRamp {
		return nil, usageErrorf("--ramp must be between 0 and %s", maxRamp)
	}
	switch o.transport {
	case "https", "http":
	default:
		return nil, usageErrorf("--transport must be https or http, not %q", o.transport)
	}
	switch o.auth {
	case "ntlm", "basic":
	case "kerberos", "negotiate":
	default:
		return nil, usageErrorf("--auth must be ntlm, basic, kerberos or negotiate, not %q", o.auth)
	}
	if o.port < 0 || o.port > 65535 {
		return nil, usageErrorf("--port must be 1-65535")
	}
	job.policy, job.policyName = rules.DefaultPolicy(), "built-in default"
	if o.policyFile != "" {
		f, err := os.Open(o.policyFile)
		if err != nil {
			return nil, usageErrorf("--policy: %v", err)
		}
		defer f.Close()
		if job.policy, err = rules.LoadPolicy(f, o.policyFile); err != nil {
			return nil, usageError(fmt.Errorf("policy rejected, no host contacted:\n%w", err))
		}
		job.policyName = o.policyFile
	}
	if o.signKey != "" {
		k, err := reports.LoadSigningKey(o.signKey)
		if err != nil {
			return nil, usageError(fmt.Errorf("--sign-key: %w", err))
		}
		job.signKey = k
	}
	if job.pdfFont, err = readPDFFont(o.pdfFont); err != nil {
		return nil, err
	}
	return job, nil
}

// readPDFFont reads and checks --pdf-font (nil without it).
func readPDFFont(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("--pdf-font: %v", err)
	}
	if err := reports.CheckPDFFont(b); err != nil {
		return nil, usageErrorf("--pdf-font %s: %v", path, err)
	}
	return b, nil
}

// readPassword takes the password from --password-file or BITAUDIT_PASSWORD,
// never from a flag value.
func readPassword(g *globals, file string) (model.Secret, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return model.Secret{}, usageErrorf("--password-file: %v", err)
		}
		if fi, err := os.Stat(file); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
			g.logger().Warn("--password-file is readable by others: chmod 600 it", "file", file, "mode", fi.Mode().Perm().String())
		}
		line, _, _ := strings.Cut(string(b), "\n")
		line = strings.TrimRight(line, "\r")
		if line == "" {
			return model.Secret{}, usageErrorf("--password-file %s: empty", file)
		}
		return model.NewSecret(line), nil
	}
	if p := g.getenv("BITAUDIT_PASSWORD"); p != "" {
		return model.NewSecret(p), nil
	}
	return model.Secret{}, usageErrorf("no password: set BITAUDIT_PASSWORD or use --password-file (never a flag value)")
}

func executeAudit(ctx context.Context, g *globals, job *auditJob) error {
	o := job.opts
	progress, logOut := newProgress(g, len(job.targets))
	log := g.loggerTo(logOut)
	hostLog := log
	if progress != nil {
		hostLog = slog.New(slog.DiscardHandler) // the bar shows hosts; warnings still reach the log
	}
	if o.transport == "http" && o.allowUnencrypted {
		log.Warn("WinRM over plain HTTP without message encryption: credentials and results cross the network unprotected")
	}
	if o.insecure {
		log.Warn("TLS certificate verification is off (--insecure-skip-verify)")
	}
	if len(job.escrowCfg.Sources()) == 0 {
		const msg = "no escrow source configured (--escrow-config): recovery-key backups will not be verified at any source, and the hosts' own claims do not count as backed up"
		log.Warn(msg)
		fmt.Fprintln(g.Out, "Warning: "+msg+".")
	}
	for _, w := range job.escrowCfg.Insecure() {
		log.Warn("insecure escrow source setting", "setting", w)
		fmt.Fprintln(g.Out, "Warning: insecure escrow source setting "+w+".")
	}

	if len(job.targetsFrom) > 0 {
		if err := job.addDirectoryTargets(ctx, g); err != nil {
			return err
		}
		if err := job.applyShard(); err != nil {
			return err
		}
	}
	hist, err := openRunHistory(ctx, g, &o.history, job.scope, job.shard == nil)
	if err != nil {
		return err
	}
	defer hist.Close()
	// What the run is compared with is read while the hosts are audited,
	// even if the run is interrupted.
	hist.prefetch(context.WithoutCancel(ctx))

	if k := job.collector.Kerberos; k != nil {
		for _, w := range k.Warnings {
			log.Warn(w)
		}
	}
	collector, err := job.newCollector(log)
	if err != nil {
		return err
	}
	engine, err := rules.NewEngine(job.policy, rules.Builtin())
	if err != nil {
		return usageError(fmt.Errorf("policy: %w", err))
	}
	// The output directory is checked before any host is contacted, so a
	// directory that cannot take the results never costs a whole audit.
	out, err := prepareOutDir(o.outDir, o.force)
	if err != nil {
		return err
	}
	checker, err := escrow.New(ctx, job.escrowCfg, escrow.Options{Logger: log})
	if err != nil {
		out.discard()
		return usageError(fmt.Errorf("escrow sources: %w", err))
	}
	defer checker.Close()

	started := time.Now().UTC()
	result := &model.Result{
		Schema: model.ResultSchema,
		Run: model.Run{
			ID:             newRunID(started),
			Started:        started,
			ToolVersion:    toolVersion(),
			Organisation:   job.policy.Organisation(),
			Options:        job.recordedOptions(),
			TargetCount:    len(job.targets),
			Duplicates:     job.duplicates,
			RejectedInputs: job.rejectedInputs,
			Policy: model.PolicyInfo{
				Source: job.policyName, SHA256: job.policy.Digest(), Default: o.policyFile == "",
			},
			Shard: job.shard,
		},
	}
	logRejected(log, job.rejectedInputs)
	if len(job.duplicates) > 0 {
		log.Warn(duplicatesLine(job.duplicates))
	}
	if n := len(result.Run.Duplicates); n > model.MaxDuplicatesListed {
		result.Run.Duplicates = result.Run.Duplicates[:model.MaxDuplicatesListed]
	}
	result.Run.DuplicateLines = len(job.duplicates)

	defer tuneGC(g.getenv)()
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	stop := &authStop{max: o.maxAuthFailures, cancel: stopRun}
	auditor := audit.New(collector, checker, engine, audit.Options{
		Concurrency: fitConcurrency(log, o.concurrency, raiseFileLimit),
		HostTimeout: o.hostTimeout,
		Ramp:        o.ramp,
		Logger:      hostLog,
		Progress: func(done, total int, h *model.HostResult) {
			stop.observe(h)
			if progress != nil {
				progress(done, total, h)
			}
		},
		Abort: g.Abort,
	})
	// The first Ctrl-C says what happens next; the second (g.Abort) stops
	// the running hosts at once. Both still write the partial result.
	defer context.AfterFunc(ctx, func() {
		// Through the logger: its handler serialises the writes with the hosts' lines.
		log.Warn(fmt.Sprintf("interrupted: finishing %s (Ctrl-C again to stop now); the partial result will be written",
			plural(auditor.Running(), "running host", "running hosts")))
	})()
	// Each host's result goes to disk as it finishes: memory holds the
	// running hosts, not the fleet.
	// They are counted as they are stored, so that neither the summary nor
	// the reports need a pass over them before the reports are drawn.
	var (
		hosts audit.Store
		sp    *spool.Spool
		tally = newHostTally(len(job.targets), hist.compares(), started)
	)
	if sp, err = spool.New("", len(job.targets)); err != nil {
		log.Warn("results kept in memory: no spool file in the temporary directory (set TMPDIR to a writable directory on disk)", "err", err)
		hosts = audit.NewMemoryStore(len(job.targets))
	} else {
		sp.Observe(tally.add)
		defer sp.Close()
		defer func() {
			if err := sp.WriteErr(); err != nil {
				log.Warn("some results were kept in memory: the spool file could not be written", "err", err)
			}
		}()
		hosts = sp
	}
	job.readDirectoryAhead(ctx, g)
	if err := auditor.RunTo(runCtx, job.targets, hosts); err != nil {
		return &exitError{code: exitFatal, err: fmt.Errorf("cannot keep results: %w", err)}
	}
	result.Source = hosts
	var fixErr error
	if o.fix.enabled && runCtx.Err() == nil {
		fixErr = runFix(ctx, g, job, fixEnv{auditor: auditor, store: hosts, log: log}, result)
	}
	result.Run.Finished = time.Now().UTC()
	result.Run.Interrupted = runCtx.Err() != nil
	if cause := context.Cause(runCtx); result.Run.Interrupted && cause != nil && !errors.Is(cause, context.Canceled) {
		result.Run.StopReason = cause.Error()
		log.Error("run stopped early", "reason", cause.Error())
	}
	if result.Coverage, err = job.coverage(ctx, g, engine, hosts); err != nil {
		return err
	}
	result.Waivers = engine.Waivers(result.Run.Finished)
	worst := model.SeverityNone       // of audited hosts, for --fail-on
	var snap *history.SnapshotBuilder // the run's, for the comparison
	if t, ok := tally.finish(sp); ok {
		result.Source, result.Summary, worst, snap = t.src, t.sum, t.worst, t.snap
	} else { // a host changed after it was stored, or none was spooled
		var pass hostTally
		err = model.EachHost(hosts, func(_ int, h *model.HostResult) error { pass.count(h); return nil })
		if err != nil {
			return &exitError{code: exitFatal, err: fmt.Errorf("read the run's results: %w", err)}
		}
		result.Summary, worst = pass.totals()
	}

	// Results are written even after an interrupt.
	wctx := context.WithoutCancel(ctx)
	hist.attach(wctx, result, snap)
	// Up to concurrentReportsMax hosts the files render at once (on two
	// cores the PDF alone then sets the time); above, one after another,
	// so the PDF's and the XLSX's buffers are never held together.
	ro := reports.Options{Formats: job.formats, SignKey: job.signKey, PDFFont: job.pdfFont, Logger: log,
		Concurrent: len(job.targets) <= concurrentReportsMax}
	if _, err := os.Stat(filepath.Join(o.outDir, reports.JournalFile)); err == nil {
		// The journal of this and earlier fix passes is evidence: listed
		// in the manifest, never removed as stale.
		ro.Include = append(ro.Include, reports.JournalFile)
		out.replace = true // the journal may be this run's own
	}
	// The run is recorded while its reports are written, and kept only
	// once they are.
	rec := hist.begin(wctx, result)
	if err := writeResults(wctx, out, result, ro, "", log); err != nil {
		_ = rec.end(false)
		return err
	}
	if err := rec.end(true); err != nil {
		return err
	}
	if !job.quiet {
		printRunSummary(g.Out, result, o.outDir)
	}
	switch {
	case fixErr != nil:
		return fixErr
	case ctx.Err() != nil:
		return &exitError{code: exitInterrupted, err: errors.New("interrupted; partial results written to " + o.outDir)}
	case result.Run.StopReason != "":
		return &exitError{code: exitIncomplete, err: errors.New(result.Run.StopReason + "; results written to " + o.outDir)}
	case job.failOn != model.SeverityNone && worstAudited(result, worst) >= job.failOn:
		return &exitError{code: exitFindings}
	case result.NotAudited() > 0:
		return &exitError{code: exitIncomplete}
	}
	return nil
}

// concurrentReportsMax is the largest run whose report files render at
// once. The PDF lists at most 2,000 hosts per table, so its memory stops
// growing there, while the XLSX's sheet buffers grow to 16 MiB each.
// Measured (2-core machine, HTTPS + NTLM, every host non-compliant):
// 1,000 hosts rendered at once finish about 0.1 s sooner; 10,000 hosts at
// --concurrency 512 peaked at 188-197 MiB resident rendered at once,
// 158-175 MiB one after another.
const concurrentReportsMax = 2000

// worstAudited is the highest unwaived severity among findings on audited
// hosts (hostsWorst, from the summary pass) and on directory computers no
// target names; hosts that could not be audited count towards exit status 3.
func worstAudited(r *model.Result, hostsWorst model.Severity) model.Severity {
	w := hostsWorst
	if r.Coverage != nil {
		for _, c := range r.Coverage.Computers {
			for _, f := range c.Findings {
				if !f.Waived() && f.Severity > w {
					w = f.Severity
				}
			}
		}
	}
	return w
}

// recordedOptions are the run options that shape the result; never credentials.
func (j *auditJob) recordedOptions() map[string]string {
	o := j.opts
	m := map[string]string{
		"concurrency":  strconv.Itoa(o.concurrency),
		"host_timeout": o.hostTimeout.String(),
		"fail_on":      o.failOn,
		"formats":      o.formats,
	}
	if o.liveTargets() { // a run of facts files alone reaches no host over WinRM
		m["transport"], m["auth"], m["user"] = o.transport, o.auth, o.user
	}
	if o.port != 0 {
		m["port"] = strconv.Itoa(o.port)
	}
	if o.targetsFrom != "" {
		m["targets_from"] = o.targetsFrom
	}
	if o.resolveFile != "" {
		m["resolve_file"] = o.resolveFile
	}
	if j.directory != nil || o.targetsFrom != "" {
		m["stale_after_days"] = strconv.Itoa(o.scope.staleAfter)
	}
	if o.targetsFile != "" {
		m["targets"] = o.targetsFile
	}
	if o.factsDir != "" {
		m["facts"] = o.factsDir
	}
	if o.escrowConfig != "" {
		m["escrow_config"] = o.escrowConfig
	}
	m["escrow_sources"] = "none"
	if locs := j.escrowCfg.Sources(); len(locs) > 0 {
		names := make([]string, len(locs))
		for i, l := range locs {
			names[i] = string(l)
		}
		m["escrow_sources"] = strings.Join(names, ",")
	}
	var insecure []string
	for _, w := range j.escrowCfg.Insecure() {
		k, _, _ := strings.Cut(w, ":")
		insecure = append(insecure, k)
	}
	if len(insecure) > 0 {
		m["escrow_insecure"] = strings.Join(insecure, ",")
	}
	if o.caCert != "" {
		m["ca_cert"] = o.caCert
	}
	if o.insecure {
		m["insecure_skip_verify"] = "true"
	}
	if o.allowUnencrypted {
		m["allow_unencrypted"] = "true"
	}
	o.fix.record(m)
	if o.shard != "" {
		m["shard"] = o.shard
	}
	return m
}

func newRunID(t time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return t.Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// newProgress returns the per-host progress callback, nil unless stderr is
// an interactive terminal (and logs are not JSON), and the writer log lines
// go to: on a terminal with the bar, one that moves them off the bar's line.
func newProgress(g *globals, total int) (func(int, int, *model.HostResult), io.Writer) {
	if !g.stderrIsTerminal() || g.logFormat == "json" {
		return nil, g.Err
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(g.Err),
		progressbar.OptionSetDescription("auditing"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond),
	)
	var mu sync.Mutex
	return func(done, _ int, _ *model.HostResult) {
		mu.Lock()
		defer mu.Unlock()
		_ = bar.Set(done)
	}, &lineWriter{mu: &mu, w: g.Err, clear: bar.Clear}
}

// printRunSummary writes a few lines for the person at the terminal.
func printRunSummary(w io.Writer, r *model.Result, dir string) {
	s := r.Summary
	fmt.Fprintf(w, "Run %s: %d targets, %d audited, %d not audited\n", r.Run.ID, s.Hosts, s.HostsAudited, s.Hosts-s.HostsAudited)
	var parts []string
	for _, st := range model.Statuses {
		if n := s.HostsByStatus[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, n))
		}
	}
	fmt.Fprintf(w, "Hosts: %s\n", strings.Join(parts, ", "))
	coverage := "n/a"
	if s.BackupCoverage != nil {
		coverage = fmt.Sprintf("%.0f%%", 100**s.BackupCoverage)
	}
	fmt.Fprintf(w, "Volumes: %d; recovery passwords backed up: %d of %d (%s): verified %d, claimed only %d, missing %d, unknown %d\n",
		s.Volumes, s.BackedUp, s.RecoveryPasswords, coverage, s.ByState.Verified, s.ByState.Claimed, s.ByState.Missing, s.ByState.Unknown)
	if r.Run.Options["escrow_sources"] == "none" {
		fmt.Fprintln(w, "Escrow: no source configured; no backup was verified at any source")
	}
	parts = parts[:0]
	for _, sev := range model.Severities {
		if n := s.FindingsBySeverity[sev]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", sev, n))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "none")
	}
	fmt.Fprintf(w, "Findings: %s (waived %d)\n", strings.Join(parts, ", "), s.Waived)
	if c := r.Coverage; c != nil {
		fmt.Fprintf(w, "Directory: %d computers, %d in scope, %d audited, %d not in the targets (%d with no key escrowed), %d disabled, %d stale\n",
			c.InDirectory, c.InScope, c.Audited, c.NotAudited[model.NotInTargets], c.EscrowNone, c.Disabled, c.Stale)
	}
	printSince(w, r)
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	fmt.Fprintf(w, "Results: %s\n", abs)
}
