// Command bitaudit audits BitLocker recovery-key escrow across a Windows fleet.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, interrupt := context.WithCancel(context.Background())
	abort := make(chan struct{})
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	// The first signal stops starting hosts and lets running ones finish;
	// the second stops them at once. Either way the partial result is
	// written. After the second, default handling returns: a third ends
	// the process.
	go func() {
		<-sig
		interrupt()
		<-sig
		close(abort)
		signal.Stop(sig)
	}()
	code := run(ctx, os.Args[1:], streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Abort: abort}, os.Getenv)
	interrupt()
	os.Exit(code)
}
