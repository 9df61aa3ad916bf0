//go:build unix

package simulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"golang.org/x/crypto/md4"
)

// servedHostDriver collects from every target read on stdin, one at a
// time, with pywinrm (Debian python3-winrm, an independent client in its
// own process): a new session and connection per host (TLS handshake,
// NTLM negotiate, challenge, authenticate), then Create, Command, Receive
// until done, Signal and Delete, as one audit of a host does. It prints
// "ok N" or the first failure.
const servedHostDriver = `
import sys, winrm
from winrm.protocol import Protocol
scheme, user, secret, ca, enc, cmd = sys.argv[1:7]
n = 0
for line in sys.stdin:
    t = line.strip()
    if not t:
        continue
    p = Protocol(scheme + "://" + t + "/wsman", transport="ntlm", username=user, password=secret,
                 ca_trust_path=ca or None, server_cert_validation="validate" if ca else "ignore",
                 message_encryption=enc, operation_timeout_sec=20, read_timeout_sec=30)
    sh = p.open_shell(codepage=65001)
    c = p.run_command(sh, cmd)
    out, err, code = p.get_command_output(sh, c)
    p.cleanup_command(sh, c)
    p.close_shell(sh)
    if code != 0 or not out.rstrip().endswith(b"##BITAUDIT END 7"):
        sys.stdout.write("host %s: exit %d, stdout ends %r, stderr %r" % (t, code, out[-80:], err[:200]))
        sys.exit(1)
    n += 1
sys.stdout.write("ok %d" % n)
`

// BenchmarkServedHost measures the simulator's CPU per served host: b.N
// hosts of the acceptance checks' mix (faults and latency off), each
// audited once with the collector's current collect.ps1, over HTTPS +
// NTLM and over plain HTTP with NTLM message encryption. The client runs in
// another process, so this process's CPU (ms-cpu/host) is the simulator's
// alone, and -cpuprofile profiles the simulator only. The client is pywinrm,
// or the bitaudit binary BITAUDIT_BENCH_AUDIT names (its audit, 64 hosts at
// a time). The garbage collector runs at GCPercent, as in bitaudit
// simulate, unless GOGC is set:
//
//	go test -run '^$' -bench ServedHost -benchtime 300x ./simulator/
//	go test -run '^$' -bench ServedHost/https-ntlm -benchtime 300x -cpuprofile cpu.out ./simulator/
//	go build -o /tmp/bitaudit ./cmd/bitaudit && BITAUDIT_BENCH_AUDIT=/tmp/bitaudit go test -run '^$' -bench ServedHost -benchtime 1000x ./simulator/
func BenchmarkServedHost(b *testing.B) {
	var client servedClient
	if bin := os.Getenv("BITAUDIT_BENCH_AUDIT"); bin != "" {
		client = auditClient(bin)
	} else {
		py := "/usr/bin/python3"
		if exec.Command(py, "-c", "import winrm").Run() != nil {
			b.Skip("pywinrm not installed (Debian python3-winrm)")
		}
		script, err := os.ReadFile("../collectors/winrm/collect.ps1")
		if err != nil {
			b.Fatal(err)
		}
		client = pywinrmClient(py, collectCommand(string(script)))
	}
	for _, mode := range []struct {
		name string
		tls  bool
	}{{"https-ntlm", true}, {"http-sealed", false}} {
		b.Run(mode.name, func(b *testing.B) { benchServedHost(b, client, mode.tls) })
	}
}

// A servedClient returns the command that audits every host of f once, and
// a check of its output.
type servedClient func(ctx context.Context, b *testing.B, f *Fleet, ca string) (*exec.Cmd, func(out string) error)

func benchServedHost(b *testing.B, client servedClient, tls bool) {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(GCPercent)) // as bitaudit simulate runs
	}
	n := b.N
	spec := &Spec{Seed: 3, Hosts: n, Domain: defaultDomain(), Profiles: acceptanceMix()}
	f := startFleet(b, spec, Options{Auth: "ntlm", TLS: tls, RequireEncryption: !tls})
	ca := ""
	if tls {
		ca = filepath.Join(b.TempDir(), "ca.pem")
		if err := os.WriteFile(ca, f.CAPEM(), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Minute)
	defer cancel()
	c, check := client(ctx, b, f, ca)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	cpu0 := processCPU(b)
	b.ResetTimer()
	err := c.Run()
	b.StopTimer()
	cpu := processCPU(b) - cpu0
	if err == nil {
		err = check(out.String())
	}
	if err != nil {
		b.Fatalf("%s: %v\n%s", c.Path, err, out.String())
	}
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(n), "ms-cpu/host")
	var requests int64
	for _, s := range f.servers {
		requests += s.Stats().Requests
	}
	b.ReportMetric(float64(requests)/float64(n), "requests/host")
}

// pywinrmClient collects from the hosts one after another with
// servedHostDriver.
func pywinrmClient(py, cmd string) servedClient {
	return func(ctx context.Context, b *testing.B, f *Fleet, ca string) (*exec.Cmd, func(string) error) {
		scheme, enc := "http", "always"
		if ca != "" {
			scheme, enc = "https", "auto"
		}
		var targets strings.Builder
		for _, h := range f.Hosts() {
			targets.WriteString(h.Address + "\n")
		}
		c := exec.CommandContext(ctx, py, "-c", servedHostDriver, scheme, DefaultUser, ntHashes(testPassword), ca, enc, cmd)
		c.Stdin = strings.NewReader(targets.String())
		return c, func(out string) error {
			if want := "ok " + strconv.Itoa(len(f.Hosts())); out != want {
				return fmt.Errorf("pywinrm printed %q, want %q", out, want)
			}
			return nil
		}
	}
}

// auditClient audits the hosts with bitaudit's audit command and checks that
// every host came back compliant or noncompliant.
func auditClient(bin string) servedClient {
	return func(ctx context.Context, b *testing.B, f *Fleet, ca string) (*exec.Cmd, func(string) error) {
		dir := b.TempDir()
		targets := filepath.Join(dir, "targets.csv")
		var t bytes.Buffer
		if err := f.WriteTargets(&t); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(targets, t.Bytes(), 0o600); err != nil {
			b.Fatal(err)
		}
		out := filepath.Join(dir, "out")
		// --fail-on none: findings do not make the exit status fail.
		args := []string{"audit", "--targets", targets, "--auth", "ntlm", "--user", DefaultUser, "--fail-on", "none",
			"--concurrency", "64", "--host-timeout", "120s", "--out", out, "--transport"}
		if ca != "" {
			args = append(args, "https", "--ca-cert", ca)
		} else {
			args = append(args, "http")
		}
		c := exec.CommandContext(ctx, bin, args...)
		c.Env = append(os.Environ(), "BITAUDIT_PASSWORD="+testPassword)
		return c, func(string) error {
			data, err := os.ReadFile(filepath.Join(out, "result.json"))
			if err != nil {
				return err
			}
			var r struct{ Hosts []struct{ Status string } }
			if err := json.Unmarshal(data, &r); err != nil {
				return err
			}
			audited := 0
			for _, h := range r.Hosts {
				if h.Status == "compliant" || h.Status == "noncompliant" {
					audited++
				}
			}
			if audited != len(f.Hosts()) {
				return fmt.Errorf("%d of %d hosts audited", audited, len(f.Hosts()))
			}
			return nil
		}
	}
}

// acceptanceMix is the profile mix of the perf and scale acceptance checks.
func acceptanceMix() []ProfileMix {
	mix := func(name string, f float64) ProfileMix { return ProfileMix{Name: name, Share: &f} }
	return []ProfileMix{mix("domain-laptop", 0.5), mix("entra-laptop", 0.2), mix("hybrid-laptop", 0.1),
		mix("never-escrowed", 0.1), mix("suspended", 0.1)}
}

// collectCommand is the command line a collector sends for script:
// powershell.exe with the script, progress records off, as UTF-16LE
// base64 (docs/winrm.md §1.6).
func collectCommand(script string) string {
	var b []byte
	for _, u := range utf16.Encode([]rune("$ProgressPreference='SilentlyContinue';" + script)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return "powershell.exe -NoProfile -NonInteractive -EncodedCommand " + base64.StdEncoding.EncodeToString(b)
}

// ntHashes returns the "LM:NT" form ntlm-auth accepts instead of a
// password (Python on OpenSSL 3 has no MD4 to hash one itself).
func ntHashes(password string) string {
	h := md4.New()
	for _, u := range utf16.Encode([]rune(password)) {
		h.Write(binary.LittleEndian.AppendUint16(nil, u))
	}
	return strings.Repeat("0", 32) + ":" + hex.EncodeToString(h.Sum(nil))
}

// processCPU is this process's user + system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
