package reports

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/spool"
)

// tallied stores r's hosts into a spool in a shuffled order, a Tally
// observing, and returns the spool and the tally.
func tallied(t *testing.T, r *model.Result, seed uint64) (*spool.Spool, *Tally) {
	t.Helper()
	sp, err := spool.New(t.TempDir(), len(r.Hosts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	tally := NewTally(len(r.Hosts))
	sp.Observe(tally.Add)
	for _, i := range rand.New(rand.NewPCG(seed, 1)).Perm(len(r.Hosts)) {
		if err := sp.Put(i, &r.Hosts[i]); err != nil {
			t.Fatal(err)
		}
	}
	return sp, tally
}

// TestTallyBuildsTheSameView: hosts stored in any order give the view a
// pass over them in index order gives, and the same bundle byte for byte.
func TestTallyBuildsTheSameView(t *testing.T) {
	r := fixtureResult(60) // with non-ASCII names, labels, waivers and hosts not audited
	for seed := range uint64(4) {
		sp, tally := tallied(t, r, seed)
		src, ok := tally.Source(sp)
		if !ok {
			t.Fatal("Source: the tally gave up though every host was stored once")
		}
		fresh, err := newView(&model.Result{Source: sp})
		if err != nil {
			t.Fatal(err)
		}
		opts := []cmp.Option{cmp.AllowUnexported(view{}, hostKey{}, placedRune{}, ruleRow{}), cmpopts.IgnoreFields(view{}, "src"), cmpopts.IgnoreFields(placedRune{}, "ord")}
		if d := cmp.Diff(fresh, src.(*viewedSource).v, opts...); d != "" {
			t.Fatalf("seed %d: the tally's view differs (-pass +tally):\n%s", seed, d)
		}
		if seed > 0 {
			continue
		}
		want, got := t.TempDir(), t.TempDir()
		if err := WriteAll(t.Context(), want, r, Options{}); err != nil {
			t.Fatal(err)
		}
		tr := *r
		tr.Hosts, tr.Source = nil, src
		if err := WriteAll(t.Context(), got, &tr, Options{}); err != nil {
			t.Fatal(err)
		}
		for _, name := range differentFiles(t, want, got) {
			t.Errorf("%s differs when the view comes from the tally", name)
		}
	}
}

// TestTallyGivesUp: a host stored twice (changed after the collection) or
// never makes the tally give the source back as it is.
func TestTallyGivesUp(t *testing.T) {
	r := fixtureResult(30)
	sp, tally := tallied(t, r, 0)
	if err := sp.Put(3, &r.Hosts[3]); err != nil {
		t.Fatal(err)
	}
	if src, ok := tally.Source(sp); ok || src != model.HostSource(sp) {
		t.Errorf("host stored twice: Source = %T, %v; want the spool, false", src, ok)
	}

	short := NewTally(len(r.Hosts))
	for i := range len(r.Hosts) - 1 {
		short.Add(i, &r.Hosts[i], nil)
	}
	if _, ok := short.Source(sp); ok {
		t.Error("a host never stored: Source gave a view")
	}
	bad := NewTally(2)
	bad.Add(5, &r.Hosts[5], nil)
	bad.Add(0, &r.Hosts[0], nil)
	bad.Add(1, &r.Hosts[1], nil)
	if _, ok := bad.Source(sp); ok {
		t.Error("an index out of range: Source gave a view")
	}
}
