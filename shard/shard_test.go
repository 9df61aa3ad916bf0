package shard

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/reports"
	"github.com/bitaudit/bitaudit/spool"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		i, n int
		err  string
	}{
		{"0/1", 0, 1, ""},
		{"3/4", 3, 4, ""},
		{" 1/2 ", 1, 2, ""},
		{"4/4", 0, 0, "I must be 0 to 3"},
		{"-1/4", 0, 0, "I must be 0 to 3"},
		{"1/0", 0, 0, "N must be 1"},
		{"1", 0, 0, "want I/N"},
		{"a/b", 0, 0, "want I/N"},
		{"", 0, 0, "want I/N"},
		{"0/10001", 0, 0, "N must be 1 to 10000"},
	} {
		i, n, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) = %d, %d, %v; want error %q", tc.in, i, n, err, tc.err)
			}
			continue
		}
		if err != nil || i != tc.i || n != tc.n {
			t.Errorf("Parse(%q) = %d, %d, %v; want %d/%d", tc.in, i, n, err, tc.i, tc.n)
		}
	}
}

func targets(n int) []model.Target {
	out := make([]model.Target, n)
	for i := range out {
		out[i] = model.Target{Host: fmt.Sprintf("WS-%04d.corp.example.com", i)}
		if i%5 == 0 {
			out[i].Port = 5986
		}
	}
	return out
}

// TestOfPartitionsStablyUnderReordering: every target lands in exactly one
// shard, the same one whatever the order (or case) of the list.
func TestOfPartitionsStablyUnderReordering(t *testing.T) {
	all := targets(1000)
	const n = 4
	where := map[string]int{}
	var digest string
	for i := range n {
		part, sh := Of(all, i, n, "")
		if sh.Index != i || sh.Count != n || sh.Targets != len(all) {
			t.Errorf("shard %d described as %+v", i, sh)
		}
		digest = sh.TargetsSHA256
		if len(part) < 150 || len(part) > 350 {
			t.Errorf("shard %d holds %d of 1000 targets: badly balanced", i, len(part))
		}
		for _, tg := range part {
			if prev, dup := where[tg.String()]; dup {
				t.Fatalf("%s in shards %d and %d", tg, prev, i)
			}
			where[tg.String()] = i
		}
	}
	if len(where) != len(all) {
		t.Fatalf("%d targets in the shards, want %d", len(where), len(all))
	}
	shuffled := append([]model.Target(nil), all...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i := range shuffled {
		if i%2 == 0 {
			shuffled[i].Host = strings.ToLower(shuffled[i].Host)
		}
	}
	for i := range n {
		part, sh := Of(shuffled, i, n, "")
		if sh.TargetsSHA256 != digest {
			t.Errorf("reordering changed the target digest")
		}
		for _, tg := range part {
			if got := where[strings.ToUpper(tg.Host[:2])+tg.String()[2:]]; got != i {
				t.Errorf("%s moved from shard %d to %d when the list was reordered", tg, got, i)
			}
		}
	}
}

// shardResults splits a fixture run into n shard results as audit --shard would.
func shardResults(t *testing.T, all []model.Target, n int, group string) []Input {
	t.Helper()
	var in []Input
	for i := range n {
		part, sh := Of(all, i, n, group)
		r := &model.Result{Schema: model.ResultSchema, Run: model.Run{ID: fmt.Sprintf("shard-%d", i),
			Started: time.Date(2026, 3, 2, 9, 0, i, 0, time.UTC), Finished: time.Date(2026, 3, 2, 10, 0, i, 0, time.UTC),
			Options: map[string]string{"shard": fmt.Sprintf("%d/%d", i, n)}, TargetCount: len(part),
			Policy: model.PolicyInfo{Source: "p.yaml", SHA256: "aaaa"}, Shard: sh, Scope: "fleet"},
			Waivers: []model.WaiverStatus{{WaiverRef: model.WaiverRef{ID: "w1"}, State: "active", Matched: 1}}}
		for _, tg := range part {
			st := model.StatusCompliant
			if len(tg.Host)%3 == 0 {
				st = model.StatusUnreachable
			}
			r.Hosts = append(r.Hosts, model.HostResult{Target: tg.String(), Status: st, Reason: "reason of " + tg.String()})
		}
		r.Summary = model.Summarize(r.Hosts)
		in = append(in, Input{Name: fmt.Sprintf("s%d/result.json", i), Result: r})
	}
	return in
}

func TestMerge(t *testing.T) {
	all := targets(60)
	in := shardResults(t, all, 3, "")
	m, err := Merge("merged", []Input{in[2], in[0], in[1]})
	if err != nil {
		t.Fatal(err)
	}
	hosts := m.HostSource()
	if hosts.Len() != 60 || m.Run.TargetCount != 60 || m.Summary.Hosts != 60 || m.Run.Shard != nil {
		t.Errorf("merged: %d hosts, target count %d, summary %d, shard %v", hosts.Len(), m.Run.TargetCount, m.Summary.Hosts, m.Run.Shard)
	}
	// Every target once, in target order, each host as its shard has it.
	want := slices.Clone(all)
	slices.SortFunc(want, func(a, b model.Target) int { return strings.Compare(a.String(), b.String()) })
	err = model.EachHost(hosts, func(i int, h *model.HostResult) error {
		if h.Target != want[i].String() {
			return fmt.Errorf("merged host %d is %s, want %s", i, h.Target, want[i])
		}
		shard := in[Index(h.Target, 3)].Result
		for _, sh := range shard.Hosts {
			if sh.Target == h.Target && sh.Reason != h.Reason {
				return fmt.Errorf("%s: reason %q, its shard says %q", h.Target, h.Reason, sh.Reason)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if got := strings.Join(m.Run.MergedFrom, ","); got != "shard-0,shard-1,shard-2" {
		t.Errorf("merged from %s", got)
	}
	if !m.Run.Started.Equal(in[0].Result.Run.Started) || !m.Run.Finished.Equal(in[2].Result.Run.Finished) {
		t.Errorf("merged run %v–%v", m.Run.Started, m.Run.Finished)
	}
	if _, has := m.Run.Options["shard"]; has || m.Run.Options["merged_shards"] != "3" {
		t.Errorf("options %v", m.Run.Options)
	}
	if len(m.Waivers) != 1 || m.Waivers[0].Matched != 3 {
		t.Errorf("waivers %+v, want w1 matched 3 times", m.Waivers)
	}
}

func TestMergeRefuses(t *testing.T) {
	all := targets(60)
	good := func() []Input { return shardResults(t, all, 3, "") }
	for _, tc := range []struct {
		name  string
		in    func() []Input
		error string
	}{
		{"missing shard", func() []Input { return good()[:2] }, "missing shard(s) 2 of 3"},
		{"shard twice", func() []Input { g := good(); return []Input{g[0], g[1], g[2], g[0]} }, "shard 0/3 given twice"},
		{"not a shard", func() []Input { g := good(); g[1].Result.Run.Shard = nil; return g }, "s1/result.json is not a shard result"},
		{"other group", func() []Input { g := good(); g[2].Result.Run.Shard.Group = "other"; return g }, "shards of different runs"},
		{"other count", func() []Input {
			g := good()
			return append(g[:2], shardResults(t, all, 4, g[0].Result.Run.Shard.Group)[3])
		}, "is of 3 shards"},
		{"other list", func() []Input { g := good(); g[1].Result.Run.Shard.TargetsSHA256 = "ffff"; return g }, "different target lists"},
		{"other policy", func() []Input { g := good(); g[1].Result.Run.Policy.SHA256 = "bbbb"; return g }, "shards of different policies"},
		{"a month apart", func() []Input {
			g := good()
			g[1].Result.Run.Started = g[1].Result.Run.Started.AddDate(0, 1, 0)
			return g
		}, "not one run"},
		{"overlap", func() []Input {
			g := good()
			g[1].Result.Hosts = append(g[1].Result.Hosts, g[0].Result.Hosts[0])
			return g
		}, "overlapping shards"},
		{"host of another shard", func() []Input {
			g := good()
			g[1].Result.Hosts = append(g[1].Result.Hosts, g[0].Result.Hosts[0])
			g[0].Result.Hosts = g[0].Result.Hosts[1:]
			return g
		}, "which belongs to shard 0"},
		{"host lost", func() []Input { g := good(); g[1].Result.Hosts = g[1].Result.Hosts[1:]; return g }, "the shards hold 59 targets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Merge("m", tc.in())
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Errorf("Merge: %v; want error %q", err, tc.error)
			}
		})
	}
}

// TestMergeFromSpools merges shard results whose hosts are in spools, as
// bitaudit merge reads them: the merged document is byte for byte the one
// merged from hosts in memory (the spooled records are copied into it).
func TestMergeFromSpools(t *testing.T) {
	in := shardResults(t, targets(60), 3, "")
	in[1].Result.Hosts[0].Reason = "<b>escaped & copied</b>" // json.Marshal escapes it in the spool
	spooled := make([]Input, len(in))
	for k, s := range in {
		sp, err := spool.New(t.TempDir(), len(s.Result.Hosts))
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		for i := range s.Result.Hosts {
			if err := sp.Put(i, &s.Result.Hosts[i]); err != nil {
				t.Fatal(err)
			}
		}
		r := *s.Result
		r.Hosts, r.Source = nil, sp
		spooled[k] = Input{Name: s.Name, Result: &r}
	}
	var docs [2]bytes.Buffer
	for k, in := range [][]Input{in, spooled} {
		m, err := Merge("merged", []Input{in[1], in[2], in[0]})
		if err != nil {
			t.Fatal(err)
		}
		if err := reports.WriteJSON(&docs[k], m); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(docs[0].Bytes(), docs[1].Bytes()) {
		t.Error("merged from spools, the document differs from the one merged in memory")
	}
	if !bytes.Contains(docs[1].Bytes(), []byte("<b>escaped & copied</b>")) {
		t.Error("merged document lacks the host reason as written")
	}
}
