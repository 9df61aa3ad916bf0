// Command bitaudit audits BitLocker recovery-key escrow across a Windows fleet.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(runWithSignals(os.Args[1:])) }

// runWithSignals runs the CLI on the process's streams and signals: the
// first SIGINT/SIGTERM stops starting hosts (and --fix actions) and lets
// running ones finish; the second stops them at once. Either way the
// partial result is written. After the second, default handling returns:
// a third ends the process.
func runWithSignals(args []string) int {
	ctx, interrupt := context.WithCancel(context.Background())
	abort := make(chan struct{})
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		interrupt()
		<-sig
		close(abort)
		signal.Stop(sig)
	}()
	code := run(ctx, args, streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Abort: abort}, os.Getenv)
	interrupt()
	return code
}
