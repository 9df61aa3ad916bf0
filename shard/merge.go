package shard

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// MaxSpread is how far apart the shards of one run may have started.
const MaxSpread = 24 * time.Hour

// An Input is one shard result and where it was read from. Its hosts are
// read through Result.HostSource(), one at a time.
type Input struct {
	Name   string
	Result *model.Result
}

// mergedHosts are the hosts of every shard in target order, each read
// from its shard's own source when asked for: a merge of 10,000 hosts
// holds their places, not the hosts.
type mergedHosts struct {
	parts []model.HostSource
	at    []place
}

// A place is host i of part.
type place struct {
	part, i int32
}

func (m *mergedHosts) Len() int { return len(m.at) }

func (m *mergedHosts) Host(i int) (model.HostResult, error) {
	p := m.at[i]
	return m.parts[p.part].Host(int(p.i))
}

// Raw returns host i's JSON record where its shard's source keeps one (a
// spool), else its encoding, so result.json copies a spooled record rather
// than decode and encode it again.
func (m *mergedHosts) Raw(i int) ([]byte, error) {
	p := m.at[i]
	if r, ok := m.parts[p.part].(interface{ Raw(int) ([]byte, error) }); ok {
		return r.Raw(int(p.i))
	}
	h, err := m.parts[p.part].Host(int(p.i))
	if err != nil {
		return nil, err
	}
	return json.Marshal(&h)
}

// Merge combines the results of every shard of one run into one result
// with id as its run ID. It refuses results that are not shards, shards of
// different runs (run group, target list, shard count), of different
// policies or started more than [MaxSpread] apart, a shard given twice,
// targets in more than one shard or in the wrong one, and a missing shard,
// naming it. The merged result's Source reads each host from its shard's
// source, which must stay open while the result is used; its error is also
// that of reading a shard's hosts.
func Merge(id string, in []Input) (*model.Result, error) {
	if len(in) == 0 {
		return nil, errors.New("no shard results to merge")
	}
	first := in[0]
	for _, s := range in {
		if s.Result.Run.Shard == nil {
			return nil, fmt.Errorf("%s is not a shard result (it has no run.shard): merge combines the results of audit --shard I/N", s.Name)
		}
	}
	fs := first.Result.Run.Shard
	byIndex := map[int]string{}
	owner := map[string]string{}
	for _, s := range in {
		r, sh := s.Result, s.Result.Run.Shard
		switch {
		case sh.Group != fs.Group:
			return nil, fmt.Errorf("%s belongs to run group %q, %s to %q: shards of different runs", s.Name, sh.Group, first.Name, fs.Group)
		case sh.Count != fs.Count:
			return nil, fmt.Errorf("%s is shard %d/%d, %s is of %d shards", s.Name, sh.Index, sh.Count, first.Name, fs.Count)
		case sh.TargetsSHA256 != fs.TargetsSHA256 || sh.Targets != fs.Targets:
			return nil, fmt.Errorf("%s and %s were split from different target lists", s.Name, first.Name)
		case r.Run.Policy.SHA256 != first.Result.Run.Policy.SHA256:
			return nil, fmt.Errorf("%s was evaluated against policy %s (%.12s…), %s against %s (%.12s…): shards of different policies",
				s.Name, r.Run.Policy.Source, r.Run.Policy.SHA256, first.Name, first.Result.Run.Policy.Source, first.Result.Run.Policy.SHA256)
		}
		if d := r.Run.Started.Sub(first.Result.Run.Started).Abs(); d > MaxSpread {
			return nil, fmt.Errorf("%s started %s after %s: more than %s apart, not one run", s.Name, d.Round(time.Minute), first.Name, MaxSpread)
		}
		if prev, dup := byIndex[sh.Index]; dup {
			return nil, fmt.Errorf("shard %d/%d given twice: %s and %s", sh.Index, sh.Count, prev, s.Name)
		}
		byIndex[sh.Index] = s.Name
		err := model.EachHost(r.HostSource(), func(_ int, h *model.HostResult) error {
			k := key(h.Target)
			if prev, dup := owner[k]; dup {
				return fmt.Errorf("target %s is in both %s and %s: overlapping shards", h.Target, prev, s.Name)
			}
			owner[k] = s.Name
			if got := Index(h.Target, sh.Count); got != sh.Index {
				return fmt.Errorf("%s (shard %d/%d) holds %s, which belongs to shard %d", s.Name, sh.Index, sh.Count, h.Target, got)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var missing []string
	for i := range fs.Count {
		if _, ok := byIndex[i]; !ok {
			missing = append(missing, strconv.Itoa(i))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing shard(s) %s of %d: merge needs every shard of the run", strings.Join(missing, ", "), fs.Count)
	}
	if len(owner) != fs.Targets {
		return nil, fmt.Errorf("the shards hold %d targets, the target list they were split from has %d", len(owner), fs.Targets)
	}

	ordered := slices.Clone(in)
	slices.SortFunc(ordered, func(a, b Input) int { return cmp.Compare(a.Result.Run.Shard.Index, b.Result.Run.Shard.Index) })
	base := first.Result.Run
	out := &model.Result{Schema: model.ResultSchema, Run: model.Run{
		ID: id, Started: base.Started, Finished: base.Finished, ToolVersion: base.ToolVersion, Organisation: base.Organisation,
		Options: maps.Clone(base.Options), TargetCount: fs.Targets, Policy: base.Policy, Scope: base.Scope,
		// Every shard read the whole targets file: its duplicates are the same in each.
		DuplicateLines: base.DuplicateLines, Duplicates: base.Duplicates,
	}}
	delete(out.Run.Options, "shard")
	out.Run.Options["merged_shards"] = strconv.Itoa(fs.Count)
	waivers := map[string]model.WaiverStatus{}
	var latest time.Time
	hosts := &mergedHosts{}
	var targets []string // by place, for the sort
	for _, s := range ordered {
		r := s.Result
		out.Run.MergedFrom = append(out.Run.MergedFrom, r.Run.ID)
		if r.Run.Started.Before(out.Run.Started) {
			out.Run.Started = r.Run.Started
		}
		if r.Run.Finished.After(out.Run.Finished) {
			out.Run.Finished = r.Run.Finished
		}
		out.Run.Interrupted = out.Run.Interrupted || r.Run.Interrupted
		if out.Run.StopReason == "" && r.Run.StopReason != "" {
			out.Run.StopReason = fmt.Sprintf("shard %d/%d: %s", r.Run.Shard.Index, r.Run.Shard.Count, r.Run.StopReason)
		}
		out.Run.RejectedInputs = append(out.Run.RejectedInputs, r.Run.RejectedInputs...)
		src := r.HostSource()
		part := int32(len(hosts.parts))
		hosts.parts = append(hosts.parts, src)
		err := model.EachHost(src, func(i int, h *model.HostResult) error {
			hosts.at = append(hosts.at, place{part, int32(i)})
			targets = append(targets, h.Target)
			return nil
		})
		if err != nil {
			return nil, err
		}
		out.Remediation = append(out.Remediation, r.Remediation...)
		newer := !r.Run.Finished.Before(latest)
		if newer {
			latest = r.Run.Finished
		}
		for _, w := range r.Waivers {
			old, had := waivers[w.ID]
			if had {
				w.Matched += old.Matched
				if !newer {
					w.State = old.State
				}
			}
			waivers[w.ID] = w
		}
	}
	// By target, as model.SortHosts orders hosts.
	order := make([]int, len(hosts.at))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(targets[a], targets[b]) })
	sorted := make([]place, len(order))
	for i, o := range order {
		sorted[i] = hosts.at[o]
	}
	hosts.at = sorted
	out.Source = hosts
	slices.SortStableFunc(out.Remediation, func(a, b model.RemediationEntry) int { return a.Time.Compare(b.Time) })
	for _, id := range slices.Sorted(maps.Keys(waivers)) {
		out.Waivers = append(out.Waivers, waivers[id])
	}
	var err error
	if out.Summary, err = model.SummarizeSource(hosts); err != nil {
		return nil, err
	}
	return out, nil
}
