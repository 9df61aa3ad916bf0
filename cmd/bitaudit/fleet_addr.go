package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"syscall"

	"github.com/bitaudit/bitaudit/simulator"
)

// startFreeFleet starts a simulated fleet. With opts.ListenBase set it
// uses exactly those addresses; unset, it tries the default base and then
// random bases in 127.100.0.0–127.199.255.255 while the addresses are taken
// (another fleet, another user's demo), so a demo or test never fails for
// a collision it could have avoided.
func startFreeFleet(ctx context.Context, spec *simulator.Spec, opts simulator.Options) (*simulator.Fleet, error) {
	if opts.ListenBase.IsValid() {
		return simulator.Start(ctx, spec, opts)
	}
	opts.ListenBase = simulator.DefaultListenBase
	var err error
	for range 12 {
		var f *simulator.Fleet
		if f, err = simulator.Start(ctx, spec, opts); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			return f, err
		}
		opts.ListenBase = netip.AddrFrom4([4]byte{127, byte(100 + rand.IntN(100)), byte(rand.IntN(200)), 1})
	}
	return nil, err
}
