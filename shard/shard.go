// Package shard splits a fleet between several auditors and joins their
// results: `audit --shard I/N` audits the targets [Of] gives shard I, and
// [Merge] combines the N results into the result of one run.
//
// A target's shard depends on the target alone (a hash of its name, case
// folded, and port), never on its place in the targets file, so every
// auditor reading the same list, in any order, agrees on the split.
package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bitaudit/bitaudit/model"
)

// MaxCount bounds N in I/N.
const MaxCount = 10000

// Parse parses "I/N": shard I of N, 0 <= I < N (a Kubernetes Indexed Job's
// $JOB_COMPLETION_INDEX counts from 0).
func Parse(s string) (index, count int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("--shard %q: want I/N, e.g. 0/4 (shard 0 of 4, counted from 0)", s)
	}
	if n < 1 || n > MaxCount {
		return 0, 0, fmt.Errorf("--shard %q: N must be 1 to %d", s, MaxCount)
	}
	if i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard %q: I must be 0 to %d (shards count from 0)", s, n-1)
	}
	return i, n, nil
}

// key is what a target's shard is computed from: the target as results name
// it, case-folded.
func key(target string) string { return strings.ToLower(target) }

// Index returns the shard of count that a target (as results name it:
// host or host:port) belongs to.
func Index(target string, count int) int {
	sum := sha256.Sum256([]byte(key(target)))
	return int(binary.BigEndian.Uint64(sum[:8]) % uint64(count))
}

// Of returns the targets of shard index of count, in their given order, and
// the shard's description: the whole list's size and digest, so a merge can
// tell shards of different lists apart.
func Of(targets []model.Target, index, count int, group string) ([]model.Target, *model.Shard) {
	var out []model.Target
	for _, t := range targets {
		if Index(t.String(), count) == index {
			out = append(out, t)
		}
	}
	digest := Digest(targets)
	if group == "" {
		group = digest[:16] + "-" + strconv.Itoa(count)
	}
	return out, &model.Shard{Index: index, Count: count, Group: group, Targets: len(targets), TargetsSHA256: digest}
}

// Digest is the SHA-256 of the sorted, case-folded target list: the same
// for the same targets in any order.
func Digest(targets []model.Target) string {
	keys := make([]string, len(targets))
	for i, t := range targets {
		keys[i] = key(t.String())
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}
