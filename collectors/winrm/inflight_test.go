package winrm

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator"
)

// TestManyHostsInFlight collects from 1,100 healthy simulated hosts (400
// under the race detector) with
// all of them in flight at once, more than any connection pool keeps: with
// each host's NTLM context on its own connection none may come back as
// anything but the fleet's expectation (a shared pool lost contexts between
// the handshake legs and reported healthy hosts auth_failed).
func TestManyHostsInFlight(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 1,100 simulated hosts")
	}
	hosts := 1100
	opTimeout := time.Duration(0) // the default
	if raceEnabled {
		// Still more than the 256 idle connections that lost NTLM
		// contexts; the detector's slowdown must not read as a timeout.
		hosts, opTimeout = 400, time.Minute
	}
	for i, tc := range []struct {
		name string
		sim  simulator.Options
		col  Options
	}{
		{"ntlm https", simulator.Options{TLS: true, RequireEncryption: true}, Options{Auth: "ntlm"}},
		{"ntlm http sealed", simulator.Options{RequireEncryption: true}, Options{Transport: "http", Auth: "ntlm"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := simulator.LoadSpec(strings.NewReader(fmt.Sprintf(
				"seed: 5\nhosts: %d\nprofiles:\n  - {name: domain-laptop, share: 0.6}\n  - {name: never-escrowed, share: 0.4}\n", hosts)), "inflight.yaml")
			if err != nil {
				t.Fatal(err)
			}
			so := tc.sim
			so.Auth, so.Password = "ntlm", testPassword
			so.ListenBase = netip.AddrFrom4([4]byte{127, byte(40 + i), 0, 1})
			so.Port = 25986
			// Every host answers only after all of them have connected, so
			// all are in flight together.
			so.Latency = 2 * time.Second
			fleet, err := simulator.Start(t.Context(), spec, so)
			if err != nil {
				t.Fatal(err)
			}
			defer fleet.Close()
			o := tc.col
			o.User, o.Password, o.CACertPEM = simulator.DefaultUser, model.NewSecret(testPassword), fleet.CAPEM()
			o.OperationTimeout = opTimeout
			c, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			var (
				wg         sync.WaitGroup
				mu         sync.Mutex
				misreports []string
				statuses   = map[string]int{}
			)
			for _, h := range fleet.Hosts() {
				wg.Go(func() {
					ap := netip.MustParseAddrPort(h.Address)
					ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
					defer cancel()
					_, _, err := c.Collect(ctx, model.Target{Host: ap.Addr().String(), Port: int(ap.Port())})
					got := "decoded"
					if err != nil {
						got = string(model.StatusForError(err))
					}
					mu.Lock()
					defer mu.Unlock()
					statuses[got]++
					if want := h.Expect.Status; err != nil && want != got {
						misreports = append(misreports, fmt.Sprintf("%s: %s, want %s: %v", h.Address, got, want, err))
					}
				})
			}
			wg.Wait()
			for _, m := range misreports[:min(len(misreports), 10)] {
				t.Error(m)
			}
			if len(misreports) > 0 {
				t.Errorf("%d of %d hosts misreported (%v)", len(misreports), hosts, statuses)
			}
			t.Logf("%d hosts: %v", hosts, statuses)
		})
	}
}
