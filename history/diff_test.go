package history

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSnapshotBuilder checks that a snapshot taken a host at a time, in any
// order, is the one SnapshotOf takes in a pass, and compares the same.
func TestSnapshotBuilder(t *testing.T) {
	runs := threeMonths()
	for i, r := range runs {
		want, err := SnapshotOf(r)
		if err != nil {
			t.Fatal(err)
		}
		for seed := range uint64(4) {
			order := rand.New(rand.NewPCG(seed, 1)).Perm(len(r.Hosts))
			b := NewSnapshotBuilder(r.Run.Started, len(order))
			for _, j := range order {
				b.Add(&r.Hosts[j])
			}
			got := b.Snapshot(r)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("run %d, order %v (-pass +builder):\n%s", i, order, diff)
			}
			if i == 0 {
				continue
			}
			prev, err := SnapshotOf(runs[i-1])
			if err != nil {
				t.Fatal(err)
			}
			a, c := *r, *r
			if err := Attach(&a, nil, prev, "prev", nil); err != nil {
				t.Fatal(err)
			}
			if err := Attach(&c, got, prev, "prev", nil); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(summarise(a.History.Since), summarise(c.History.Since)); diff != "" || len(a.History.Since.NewFindings)+len(a.History.Since.Resolved)+len(a.History.Since.Recurring) == 0 {
				t.Errorf("run %d: comparison with the builder's snapshot differs (-pass +builder), or finds nothing:\n%s", i, diff)
			}
		}
	}
}
