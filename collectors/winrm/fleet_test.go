package winrm

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator"
)

// TestFleet collects from every host of the simulator's default mixed fleet
// and checks each ends as the fleet expects: decoded, or the error class of
// its fault profile, within the host deadline.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulated fleet")
	}
	for i, tc := range []struct {
		name string
		opts simulator.Options
		col  Options
	}{
		{"ntlm https", simulator.Options{TLS: true, Auth: "ntlm", RequireEncryption: true}, Options{Auth: "ntlm"}},
		{"ntlm http sealed", simulator.Options{Auth: "ntlm", RequireEncryption: true}, Options{Transport: "http", Auth: "ntlm"}},
		{"basic https", simulator.Options{TLS: true, Auth: "basic"}, Options{Auth: "basic"}},
		{"ntlm http unencrypted", simulator.Options{Auth: "ntlm"}, Options{Transport: "http", Auth: "ntlm", AllowUnencrypted: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			so := tc.opts
			so.Password = testPassword
			so.ListenBase = netip.AddrFrom4([4]byte{127, 0, byte(201 + i), 1})
			so.Port = 25985
			// The default mix, with every fault profile once.
			spec := simulator.DefaultSpec(40, 7)
			spec.Faults = nil
			for _, k := range simulator.FaultKinds {
				one := 1
				f := simulator.FaultMix{Kind: k, Count: &one}
				if k == simulator.FaultSlow {
					f.Delay = simulator.Duration(time.Second)
				}
				spec.Faults = append(spec.Faults, f)
			}
			fleet, err := simulator.Start(t.Context(), spec, so)
			if err != nil {
				t.Fatal(err)
			}
			defer fleet.Close()
			o := tc.col
			o.User, o.Password, o.CACertPEM = simulator.DefaultUser, model.NewSecret(testPassword), fleet.CAPEM()
			// Real output is ~10 KB; a low cap trips the huge host quickly
			// even on a loaded machine.
			o.MaxOutputBytes = 2 << 20
			c, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			// Hosts that should time out get a short deadline; the others a
			// generous one, so a loaded machine cannot turn slowness into
			// a wrong verdict.
			deadline := func(h *simulator.Host) time.Duration {
				if h.Expect.Status == simulator.StatusTimeout {
					return 3 * time.Second
				}
				return 2 * time.Minute
			}
			var wg sync.WaitGroup
			for _, h := range fleet.Hosts() {
				wg.Go(func() {
					ap := netip.MustParseAddrPort(h.Address)
					hostTimeout := deadline(h)
					ctx, cancel := context.WithTimeout(t.Context(), hostTimeout)
					defer cancel()
					start := time.Now()
					_, vols, err := c.Collect(ctx, model.Target{Host: ap.Addr().String(), Port: int(ap.Port())})
					if late := time.Since(start) - hostTimeout; late > 3*time.Second {
						t.Errorf("%s: returned %v after the deadline", h.Address, late)
					}
					want := h.Expect.Status
					if want == simulator.StatusCompliant || want == simulator.StatusNoncompliant {
						if err != nil || vols == nil {
							t.Errorf("%s (%s, faults %v): %v", h.Address, h.Profile, h.Faults, err)
						}
						return
					}
					if got := string(model.StatusForError(err)); got != want {
						t.Errorf("%s (%s, faults %v): status %s, want %s: %v", h.Address, h.Profile, h.Faults, got, want, err)
					}
					if err != nil && passwordShape.MatchString(err.Error()) {
						t.Errorf("password-shaped error: %v", err)
					}
				})
			}
			wg.Wait()
			faults := map[string]int{}
			for _, h := range fleet.Hosts() {
				for _, f := range h.Faults {
					faults[f]++
				}
			}
			t.Logf("%d hosts, faults %v", len(fleet.Hosts()), faults)
		})
	}
}
