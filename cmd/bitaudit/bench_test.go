//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchSimulateEnv, when set in the environment, makes the test binary run
// "bitaudit simulate" with the arguments it holds (one per line) instead of
// the tests, with the signal handling of main: BenchmarkFleet serves the
// fleet from a child process, so the client's CPU and memory are measured
// alone; the --fix kill and interrupt tests run the CLI as a child.
const benchSimulateEnv = "BITAUDIT_BENCH_SIMULATE"

func TestMain(m *testing.M) {
	if args := os.Getenv(benchSimulateEnv); args != "" {
		os.Exit(runWithSignals(strings.Split(args, "\n")))
	}
	os.Exit(m.Run())
}

// BenchmarkFleet runs "bitaudit audit" with every report against a healthy
// simulated fleet (HTTPS + NTLM by default, 500 ms per command, with the simulated AD,
// Entra ID and key store checked for escrow, all served by a child process)
// and reports wall time against the latency limit N·T/C, the
// client's CPU per host, its peak RSS, and how many hosts got a status other
// than the simulator's own expectation (must be 0). 1,000 hosts at C=100 by
// default; BITAUDIT_BENCH_HOSTS and BITAUDIT_BENCH_CONCURRENCY change it, and
// BITAUDIT_BENCH_TRANSPORT=http audits over plain HTTP with NTLM message
// sealing (hosts requiring encryption, as Windows' default) instead of HTTPS,
// and BITAUDIT_BENCH_ESCROW=off audits without the escrow sources, as the
// scale and perf acceptance checks do (a host then counts as misreported when
// it was not audited, since without the sources its findings differ from the
// expectation's):
//
//	go test -run '^$' -bench Fleet -benchtime 1x ./cmd/bitaudit/
//	BITAUDIT_BENCH_TRANSPORT=http go test -run '^$' -bench Fleet -benchtime 1x ./cmd/bitaudit/
//	BITAUDIT_BENCH_HOSTS=10000 BITAUDIT_BENCH_CONCURRENCY=512 go test -run '^$' -bench Fleet -benchtime 1x -timeout 30m ./cmd/bitaudit/
//	BITAUDIT_BENCH_ESCROW=off BITAUDIT_BENCH_HOSTS=10000 BITAUDIT_BENCH_CONCURRENCY=512 go test -run '^$' -bench Fleet -benchtime 1x -timeout 30m ./cmd/bitaudit/
//
// It also reports the simulator's CPU per host (sim-cpu-ms/host, from its
// child process's /proc stat), so a slow run shows which side used the
// machine. Add -cpuprofile cpu.out to profile the client (the simulator is
// another process). Peak RSS is the benchmark process's, harness included.
func BenchmarkFleet(b *testing.B) {
	hosts, conc := benchEnv(b, "BITAUDIT_BENCH_HOSTS", 1000), benchEnv(b, "BITAUDIT_BENCH_CONCURRENCY", 100)
	transport := os.Getenv("BITAUDIT_BENCH_TRANSPORT")
	switch transport {
	case "":
		transport = "https"
	case "https", "http":
	default:
		b.Fatalf("BITAUDIT_BENCH_TRANSPORT=%q: want https or http", transport)
	}
	escrowChecked := true
	switch e := os.Getenv("BITAUDIT_BENCH_ESCROW"); e {
	case "", "on":
	case "off":
		escrowChecked = false
	default:
		b.Fatalf("BITAUDIT_BENCH_ESCROW=%q: want on or off", e)
	}
	const latency = 500 * time.Millisecond
	dir := b.TempDir()
	spec := fmt.Sprintf("seed: 17\nhosts: %d\nlatency: %s\nprofiles:\n"+
		"  - {name: domain-laptop, share: 0.5}\n  - {name: entra-laptop, share: 0.2}\n  - {name: hybrid-laptop, share: 0.1}\n"+
		"  - {name: never-escrowed, share: 0.1}\n  - {name: suspended, share: 0.1}\n", hosts, latency)
	fleetFile, targets, ca := filepath.Join(dir, "fleet.yaml"), filepath.Join(dir, "targets.txt"), filepath.Join(dir, "ca.pem")
	expect, escrow := filepath.Join(dir, "expect.json"), filepath.Join(dir, "escrow.yaml")
	if err := os.WriteFile(fleetFile, []byte(spec), 0o600); err != nil {
		b.Fatal(err)
	}
	const password = "Bench-Secret-42"
	sim := exec.Command(os.Args[0], "-test.run=^$")
	simArgs := []string{"simulate", "--fleet", fleetFile, "--auth", "ntlm", "--user", "auditor",
		"--listen-base", "127.0.180.1", "--escrow-out", escrow, "--expect-out", expect, "--targets-out", targets}
	auditArgs := []string{"audit", "--targets", targets, "--transport", transport, "--auth", "ntlm", "--user", "auditor",
		"--concurrency", strconv.Itoa(conc), "--host-timeout", "120s"}
	if escrowChecked {
		auditArgs = append(auditArgs, "--escrow-config", escrow)
	}
	if transport == "https" {
		simArgs = append(simArgs, "--tls", "--ca-out", ca)
		auditArgs = append(auditArgs, "--ca-cert", ca)
	} else {
		simArgs = append(simArgs, "--require-encryption")
	}
	sim.Env = append(os.Environ(), "BITAUDIT_PASSWORD="+password, benchSimulateEnv+"="+strings.Join(simArgs, "\n"))
	simLog, err := os.Create(filepath.Join(dir, "simulate.log"))
	if err != nil {
		b.Fatal(err)
	}
	sim.Stdout, sim.Stderr = simLog, simLog
	if err := sim.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = sim.Process.Kill(); _ = sim.Wait() }()
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if nonEmpty(expect) && nonEmpty(escrow) && nonEmpty(targets) {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(simLog.Name())
			b.Fatalf("simulator not ready: %s", log)
		}
	}
	want := readExpectation(b, expect)

	for b.Loop() {
		out := filepath.Join(b.TempDir(), "out")
		before, simBefore := cpuTime(), procCPU(sim.Process.Pid)
		start := time.Now()
		var out1, err1 strings.Builder
		code := run(b.Context(), append(auditArgs, "--out", out),
			streams{In: strings.NewReader(""), Out: &out1, Err: &err1},
			func(k string) string {
				if k == "BITAUDIT_PASSWORD" {
					return password
				}
				return ""
			})
		wall := time.Since(start)
		cpu := cpuTime() - before
		simCPU := procCPU(sim.Process.Pid) - simBefore
		if code != exitOK && code != exitFindings {
			b.Fatalf("audit exit %d: %s", code, lastLine(err1.String()))
		}
		misreported := 0
		for _, h := range readResultFile(b, filepath.Join(out, "result.json")).Hosts {
			switch {
			case escrowChecked && want[h.Target] != string(h.Status):
				misreported++
			case !escrowChecked && auditedStatus(want[h.Target]) != auditedStatus(h.Status):
				misreported++
			}
		}
		ideal := time.Duration(hosts) * latency / time.Duration(conc)
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(wall.Seconds()/ideal.Seconds(), "x-ideal")
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(hosts), "cpu-ms/host")
		b.ReportMetric(float64(misreported), "misreported")
		if simBefore >= 0 {
			b.ReportMetric(float64(simCPU.Microseconds())/1000/float64(hosts), "sim-cpu-ms/host")
		}
	}
	b.ReportMetric(peakRSSMiB(), "peak-MiB")
}

// auditedStatus reports whether status is that of a host audited to its end.
func auditedStatus(status string) bool { return status == "compliant" || status == "noncompliant" }

func nonEmpty(file string) bool {
	fi, err := os.Stat(file)
	return err == nil && fi.Size() > 0
}

func benchEnv(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// readExpectation maps each target to the status the simulator expects.
func readExpectation(b *testing.B, file string) map[string]string {
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	var hosts []struct{ Target, Status string }
	if err := json.Unmarshal(data, &hosts); err != nil {
		b.Fatalf("%s: %v", file, err)
	}
	m := make(map[string]string, len(hosts))
	for _, h := range hosts {
		m[h.Target] = h.Status
	}
	return m
}

func readResultFile(b *testing.B, file string) (r struct {
	Hosts []struct{ Target, Status string }
}) {
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		b.Fatalf("%s: %v", file, err)
	}
	return r
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user + system CPU time of process pid so far, from
// /proc/PID/stat (fields 14 and 15, in clock ticks: 100 a second on
// Linux), or -1 where there is no /proc.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name, field 2, may hold spaces: count from after it.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return -1
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(u+s) * 10 * time.Millisecond
}

// peakRSSMiB is the process's peak resident set (Linux ru_maxrss is KiB).
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}
