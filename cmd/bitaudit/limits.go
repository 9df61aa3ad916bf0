package main

import (
	"log/slog"
	"runtime/debug"
	"time"
)

// defaultConcurrency is audit's default --concurrency, chosen from
// measurement (BenchmarkFleet; README "Scale"): each host in flight holds
// one connection (one file descriptor) and about 100 KiB of memory, and
// costs the client about 1.5-2 ms of CPU over its whole audit, so 256 in
// flight fit the usual soft limit of 1,024 open files, about 25 MiB, and at
// real Windows latencies (1-2 s per PowerShell run) under one core. Windows
// itself is not the limit: bitaudit opens one connection and one shell per
// host, far inside each host's MaxConnections (300) and MaxShellsPerUser
// (30). 10,000 hosts at 2 s each finish in about 80 s.
const defaultConcurrency = 256

// defaultRamp is audit's default --ramp: the first --concurrency hosts
// start spread over it rather than in one burst. Started at once, every
// one of them does its TLS handshake and NTLM login in the same instant:
// on a 2-core auditor the first wave of 100 hosts at 500 ms per command
// took 620-640 ms each, the next 550-580, and only the third and later
// waves, spread by then, ran at 510 ms; spread over 250 ms, every wave
// ran at 505-520 ms. The burst also lands on the domain controllers: each
// NTLM login at a domain member is passed through to a DC over Netlogon
// (MS-APDS), whose secure channel carries only MaxConcurrentApi logon
// calls at once (https://learn.microsoft.com/previous-versions/cc939529(v=technet.10)).
// A quarter second is little beside a run of minutes.
const defaultRamp = 250 * time.Millisecond

// maxRamp bounds --ramp: longer only delays the run.
const maxRamp = time.Minute

// Garbage collector settings for a fleet run (see tuneGC).
const (
	runGCPercent   = 400
	runMemoryLimit = 128 << 20
)

// tuneGC sets the garbage collector for a fleet run unless the user set
// GOGC or GOMEMLIMIT: a run allocates much per host and keeps little, so it
// collects less often (GOGC=400) under a soft limit that keeps the heap
// within budget (GOMEMLIMIT=128MiB); past the limit the collector simply
// runs more. It returns a function restoring the previous settings.
func tuneGC(getenv func(string) string) (restore func()) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	pct := debug.SetGCPercent(runGCPercent)
	limit := debug.SetMemoryLimit(runMemoryLimit)
	return func() {
		debug.SetGCPercent(pct)
		debug.SetMemoryLimit(limit)
	}
}

// fdReserve is the file descriptors a run needs besides its hosts'
// connections: output files, escrow-source connections, the runtime's own.
const fdReserve = 64

// fitConcurrency raises the soft open-file limit with raise (raiseFileLimit)
// and returns the concurrency that fits in it: every host in flight holds
// one connection. When the limit is too low it says so and lowers
// concurrency rather than let hosts fail to connect.
func fitConcurrency(log *slog.Logger, concurrency int, raise func() (uint64, error)) int {
	limit, err := raise()
	switch {
	case err != nil:
		log.Warn("cannot read or raise the open-file limit", "err", err)
		return concurrency
	case limit == 0 || uint64(concurrency)+fdReserve <= limit:
		return concurrency
	}
	fit := max(1, int(limit)-fdReserve)
	log.Warn("open-file limit too low for --concurrency: auditing fewer hosts at once (raise it with ulimit -n, or the hard limit with ulimit -Hn)",
		"limit", limit, "concurrency", concurrency, "using", fit)
	return fit
}
