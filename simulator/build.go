package simulator

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/bitaudit/bitaudit/simulator/windows"
)

// A Host is one simulated Windows host of a fleet.
type Host struct {
	// Address is "ip:port"; empty until the fleet is started. A host with
	// the refused fault has an address where nothing listens.
	Address string
	// Profile names the built-in host profile the machine was drawn from.
	Profile string
	// Faults lists the injected fault kinds (at most one today).
	Faults []string
	// Machine is the host's Windows state. Lock Machine.Mu once serving.
	Machine *windows.Machine
	// Expect is what an auditor should conclude about the host.
	Expect Expectation
	// Victim names the host a hostile host impersonates or copies from.
	Victim string
	// Directory is empty for a host of the targets file, else the kind of
	// directory-only computer it is (Directory* constants; see [DirectoryMix]).
	Directory string

	latency   time.Duration // before every command's output
	slowDelay time.Duration // extra, for the slow fault
	hugeBytes int           // output size, for the huge fault
}

// Fault defaults.
const (
	defaultSlowDelay = 3 * time.Second
	defaultHugeMiB   = 32
)

// Build returns the hosts spec describes, in order, without starting them.
// The same spec always yields the same hosts. spec is not modified.
func Build(spec *Spec) ([]*Host, error) {
	copied := *spec // validate fills in defaults
	spec = &copied
	if err := spec.validate(); err != nil {
		return nil, fmt.Errorf("fleet spec: %w", err)
	}
	r := rand.New(rand.NewPCG(uint64(spec.Seed), 0))
	entries := assignProfiles(spec, r)
	hosts := make([]*Host, spec.Hosts)
	for i, e := range entries {
		hosts[i] = buildHost(spec, i, spec.Profiles[e])
	}
	perm := r.Perm(spec.Hosts)
	for _, f := range spec.Faults {
		n := f.hosts(spec.Hosts)
		for _, i := range perm[:n] {
			applyFault(hosts[i], f)
		}
		perm = perm[n:]
	}
	linkHostile(hosts, r)
	for _, h := range hosts {
		// A profile that does not say otherwise is left as it is by a
		// fix pass: nothing it lacks is a backup the fix can make.
		if h.Expect.StatusAfterFix == "" || len(h.Faults) > 0 {
			h.Expect.StatusAfterFix, h.Expect.ProblemsAfterFix = h.Expect.Status, h.Expect.Problems
		}
	}
	return hosts, nil
}

// linkHostile gives every fault-free host of a hostile profile its victim:
// a distinct compliant, fault-free, honest host with a recovery password on
// its OS volume, drawn by the seed. Without a candidate the hostile host
// keeps its own build (and expectation).
func linkHostile(hosts []*Host, r *rand.Rand) {
	used := map[*Host]bool{}
	var candidates []*Host
	for _, h := range hosts {
		p, _ := profileByName(h.Profile)
		if p.borrow == nil && len(h.Faults) == 0 && h.Expect.Status == StatusCompliant && firstRecoveryPassword(h.Machine) != nil {
			candidates = append(candidates, h)
		}
	}
	for _, h := range hosts {
		p, _ := profileByName(h.Profile)
		if p.borrow == nil || len(h.Faults) > 0 {
			continue
		}
		free := slices.DeleteFunc(slices.Clone(candidates), func(c *Host) bool { return used[c] })
		if len(free) == 0 {
			continue
		}
		victim := free[r.IntN(len(free))]
		used[victim] = true
		h.Victim = victim.Machine.ComputerName
		h.Expect, victim.Expect = p.borrow(h, victim)
	}
}

// assignProfiles returns, for each host, the index of its profile entry:
// counts first, the rest split by shares (largest remainder), then shuffled
// so profiles interleave across the address range.
func assignProfiles(spec *Spec, r *rand.Rand) []int {
	n := make([]int, len(spec.Profiles))
	left := spec.Hosts
	var total float64
	for i, p := range spec.Profiles {
		if p.Count != nil {
			n[i] = *p.Count
			left -= *p.Count
		} else {
			total += *p.Share
		}
	}
	if left > 0 {
		type rem struct {
			i    int
			frac float64
		}
		var rems []rem
		given := 0
		for i, p := range spec.Profiles {
			if p.Share == nil {
				continue
			}
			exact := float64(left) * *p.Share / total
			n[i] = int(exact)
			given += n[i]
			rems = append(rems, rem{i, exact - float64(n[i])})
		}
		slices.SortStableFunc(rems, func(a, b rem) int {
			switch {
			case a.frac > b.frac:
				return -1
			case a.frac < b.frac:
				return 1
			}
			return 0
		})
		for k := 0; given < left; k++ {
			n[rems[k%len(rems)].i]++
			given++
		}
	}
	out := make([]int, 0, spec.Hosts)
	for i, c := range n {
		for range c {
			out = append(out, i)
		}
	}
	r.Shuffle(len(out), func(a, b int) { out[a], out[b] = out[b], out[a] })
	return out
}

// buildHost draws host i from its profile with the host's own seeded
// source, so a host does not change when others are added or reordered.
func buildHost(spec *Spec, i int, e ProfileMix) *Host {
	p, _ := profileByName(e.Name)
	r := rand.New(rand.NewPCG(uint64(spec.Seed), uint64(i)+1))
	osName := e.OS
	if osName == "" {
		osName = p.os[r.IntN(len(p.os))]
	}
	os, _ := osByName(osName)
	prefix := e.Prefix
	if prefix == "" {
		prefix = p.prefix
		if os.server {
			prefix = "SRV-"
		}
	}
	g := newGen(r, fmt.Sprintf("%s%04d", prefix, i+1), os, spec.Domain)
	expect := p.build(g)
	g.m.LongCommandLineSilent = spec.LongCommandLine == "silent"
	g.m.Record = record(spec.Seed, g.m)
	lat := spec.Latency
	if e.Latency != nil {
		lat = *e.Latency
	}
	return &Host{
		Profile: p.name,
		Machine: g.m,
		Expect:  expect,
		latency: lat.sample(r),
	}
}

// record derives the directories' record of a machine's account from a
// hash of the seed and the computer name, leaving the host's random stream
// untouched: active within the last two weeks, created a month to two years
// before. A hybrid-joined machine's objectGUID is its Entra deviceId (Entra
// Connect syncs the computer object with objectGUID as source anchor).
func record(seed int64, m *windows.Machine) windows.DirectoryRecord {
	h := sha256.Sum256(fmt.Appendf(nil, "%d/%s", seed, m.ComputerName))
	n := binary.BigEndian.Uint64(h[16:24])
	a := windows.DirectoryRecord{
		LogonAge:   time.Duration(1+n%13)*24*time.Hour + time.Duration(n>>8%86400)*time.Second,
		CreatedAge: time.Duration(30+n>>32%700) * 24 * time.Hour,
	}
	a.CreatedAge += a.LogonAge
	switch id := m.Identity(); {
	case id.DomainJoined && id.AzureAdJoined:
		a.ObjectGUID = id.DeviceID
	case id.DomainJoined:
		b := h[:16]
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		a.ObjectGUID = fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	}
	return a
}

// directoryProfiles are what directory-only computers are drawn from, in
// turn: escrowed and unescrowed, AD-only and hybrid.
var directoryProfiles = []string{"domain-laptop", "never-escrowed", "hybrid-laptop", "tpm-only", "domain-desktop", "hybrid-laptop"}

// BuildDirectory returns the directory-only computers spec.Directory adds,
// numbered after the hosts (unlisted, then offline, disabled, stale), without
// starting them. Offline, disabled and stale ones get the refused fault.
func BuildDirectory(spec *Spec) ([]*Host, error) {
	copied := *spec
	spec = &copied
	if err := spec.validate(); err != nil {
		return nil, fmt.Errorf("fleet spec: %w", err)
	}
	var out []*Host
	i := spec.Hosts
	for k, kind := range []string{DirectoryUnlisted, DirectoryOffline, DirectoryDisabled, DirectoryStale} {
		for j := range spec.Directory.counts(spec.Hosts)[k] {
			h := buildHost(spec, i, ProfileMix{Name: directoryProfiles[(j+k)%len(directoryProfiles)]})
			h.Directory = kind
			a := &h.Machine.Record
			switch kind {
			case DirectoryDisabled:
				a.Disabled = true
			case DirectoryStale:
				a.LogonAge = time.Duration(120+i%300) * 24 * time.Hour
				a.CreatedAge = a.LogonAge + 400*24*time.Hour
			}
			if kind != DirectoryUnlisted {
				h.Faults = append(h.Faults, FaultRefused)
				h.Expect = Expectation{Status: StatusUnreachable}
			}
			out = append(out, h)
			i++
		}
	}
	return out, nil
}

// sample draws one latency.
func (l Latency) sample(r *rand.Rand) time.Duration {
	switch l.kind {
	case latencyUniform:
		return l.Min + time.Duration(r.Int64N(int64(l.Max-l.Min)+1))
	case latencyNormal:
		return max(0, l.Mean+time.Duration(r.NormFloat64()*float64(l.Stddev)))
	}
	return l.Fixed
}

// applyFault injects f into h and sets what an auditor should then
// conclude, following winrm.md §6.4 and the project's status mapping
// (reset and refused: unreachable; hung and stall: the per-host deadline
// ends it; an answer that is not a usable WS-Management exchange or a
// complete output: protocol error). A slow host keeps its profile's
// expectation: it is audited when the delay fits the host timeout.
func applyFault(h *Host, f FaultMix) {
	h.Faults = append(h.Faults, f.Kind)
	switch f.Kind {
	case FaultSlow:
		h.slowDelay = time.Duration(f.Delay)
		if h.slowDelay == 0 {
			h.slowDelay = defaultSlowDelay
		}
		return
	case FaultHuge:
		h.hugeBytes = f.SizeMiB << 20
		if h.hugeBytes == 0 {
			h.hugeBytes = defaultHugeMiB << 20
		}
	}
	h.Expect = Expectation{Status: faultStatus[f.Kind]}
}

var faultStatus = map[string]string{
	FaultHung:          StatusTimeout,
	FaultStall:         StatusTimeout,
	FaultReset:         StatusUnreachable,
	FaultRefused:       StatusUnreachable,
	FaultTruncated:     StatusProtocolError,
	FaultGarbled:       StatusProtocolError,
	FaultHuge:          StatusProtocolError,
	FaultQuota:         StatusProtocolError,
	FaultNonSOAP:       StatusProtocolError,
	FaultWrongPassword: StatusAuthFailed,
}

// DefaultSpec returns the realistic default mix for n hosts: about 70%
// compliant across join states and volume layouts, the typical failures
// (no recovery password, never escrowed, escrow claimed but missing,
// suspended, decrypted data volume, ...), about 3% unreachable, and a few
// slow, hung and wrong-password hosts, and one impostor. Latency is 5-50
// ms per command.
func DefaultSpec(n int, seed int64) *Spec {
	share := func(f float64) *float64 { return &f }
	mix := func(name string, f float64) ProfileMix { return ProfileMix{Name: name, Share: share(f)} }
	fault := func(kind string, f float64) FaultMix { return FaultMix{Kind: kind, Share: share(f)} }
	one := 1
	return &Spec{
		Seed:    seed,
		Hosts:   n,
		Domain:  defaultDomain(),
		Latency: UniformLatency(5*time.Millisecond, 50*time.Millisecond),
		Profiles: []ProfileMix{
			// Compliant, 70%.
			mix("domain-laptop", 0.23),
			mix("constrained-language", 0.03),
			mix("domain-desktop", 0.10),
			mix("domain-server", 0.04),
			mix("entra-laptop", 0.10),
			mix("hybrid-laptop", 0.09),
			mix("data-autounlock", 0.03),
			mix("used-space-only", 0.03),
			mix("tpm-pin", 0.02),
			mix("workgroup", 0.01),
			mix("removable-unencrypted", 0.02),
			// Noncompliant, 30%.
			mix("tpm-only", 0.03),
			mix("server-no-bitlocker", 0.02),
			mix("never-escrowed", 0.04),
			mix("escrow-lost", 0.04),
			mix("suspended", 0.04),
			mix("data-decrypted", 0.04),
			mix("backup-not-required", 0.02),
			mix("stale-escrow", 0.015),
			mix("two-passwords", 0.015),
			mix("encrypting", 0.01),
			mix("os-decrypted", 0.01),
			mix("clear-key", 0.01),
			mix("legacy-aes128", 0.005),
			mix("data-locked", 0.005),
			// One impostor, so every demo shows identity binding at work.
			{Name: "impostor", Count: &one},
		},
		// A directory knows more computers than any hand-kept list: as many
		// answering computers nobody listed as the list has Entra-only and
		// workgroup hosts, a few offline, disabled and stale accounts.
		Directory: DirectoryMix{Unlisted: 0.18, Offline: 0.06, Disabled: 0.03, Stale: 0.03},
		Faults: []FaultMix{
			fault(FaultRefused, 0.03),
			fault(FaultSlow, 0.01),
			fault(FaultWrongPassword, 0.005),
			fault(FaultHung, 0.002),
		},
	}
}
