package simulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxHosts bounds the size of one fleet; it keeps every host on its own
// loopback address and the process within a sane number of sockets.
const MaxHosts = 100_000

// A Spec describes a simulated fleet: how many hosts, which host profiles
// in which proportions, their latency, and the faults injected. The YAML
// form is documented in the package documentation; LoadSpec reads it.
type Spec struct {
	// Seed makes the fleet reproducible: the same spec and seed always
	// build the same machines, addresses, faults and latencies.
	Seed int64 `yaml:"seed"`
	// Hosts is the fleet size. Zero means the sum of the profile counts
	// (allowed only when no profile entry uses a share).
	Hosts int `yaml:"hosts"`
	// Domain names the AD domain and Entra tenant the hosts join.
	Domain Domain `yaml:"domain"`
	// Latency is added before every command's output on every host.
	Latency Latency `yaml:"latency"`
	// Profiles is the host mix.
	Profiles []ProfileMix `yaml:"profiles"`
	// Faults lists the fault profiles and how many hosts get each.
	Faults []FaultMix `yaml:"faults"`
	// LongCommandLine is what hosts do with a command line over 8191
	// characters (winrm.md §1.6): "error" (default; "The command line is
	// too long.", exit 1) or "silent" (no output, exit 0).
	LongCommandLine string `yaml:"long_command_line"`
	// Directory adds computers the directory holds beyond the hosts.
	Directory DirectoryMix `yaml:"directory"`
}

// A DirectoryMix adds, after the fleet's hosts, computers the simulated AD
// (and Entra ID, for hybrid ones) holds that the targets file does not
// list. Each value is a fraction of Hosts (at least one computer when
// above zero). Unlisted computers are served like any host; offline,
// disabled and stale ones have an address where nothing listens.
type DirectoryMix struct {
	// Unlisted: enabled, active, answering, never added to the targets file.
	Unlisted float64 `yaml:"unlisted"`
	// Offline: enabled and recently active, but not answering now.
	Offline float64 `yaml:"offline"`
	// Disabled: computer account disabled.
	Disabled float64 `yaml:"disabled"`
	// Stale: enabled, no logon for 120 days or more.
	Stale float64 `yaml:"stale"`
}

// Kinds of directory-only computers (Host.Directory).
const (
	DirectoryUnlisted = "unlisted"
	DirectoryOffline  = "offline"
	DirectoryDisabled = "disabled"
	DirectoryStale    = "stale"
)

// counts returns how many computers of each kind n hosts get, in the order
// unlisted, offline, disabled, stale.
func (d DirectoryMix) counts(n int) [4]int {
	var out [4]int
	for i, f := range []float64{d.Unlisted, d.Offline, d.Disabled, d.Stale} {
		if f > 0 {
			out[i] = max(1, int(f*float64(n)+0.5))
		}
	}
	return out
}

// Domain names the directory the simulated hosts belong to.
type Domain struct {
	DNS        string `yaml:"dns"`         // AD DNS domain, e.g. "corp.example.test"
	NetBIOS    string `yaml:"netbios"`     // AD NetBIOS name, e.g. "CORP"
	TenantID   string `yaml:"tenant_id"`   // Entra tenant ID (lower-case GUID)
	TenantName string `yaml:"tenant_name"` // Entra tenant display name
}

// A ProfileMix draws hosts from one built-in host profile. Exactly one of
// Share and Count is set: counts are taken first, and the hosts left are
// split among the share entries in proportion to their shares.
type ProfileMix struct {
	Name  string   `yaml:"name"`
	Share *float64 `yaml:"share"`
	Count *int     `yaml:"count"`
	// OS overrides the profile's operating system (see [OSNames]).
	OS string `yaml:"os"`
	// Prefix overrides the computer-name prefix ("LT-", "WS-", "SRV-").
	Prefix string `yaml:"prefix"`
	// Latency overrides the fleet latency for these hosts.
	Latency *Latency `yaml:"latency"`
}

// A FaultMix injects one fault kind into Count hosts, or into Share of all
// hosts (rounded). A host gets at most one fault.
type FaultMix struct {
	Kind  string   `yaml:"kind"`
	Share *float64 `yaml:"share"`
	Count *int     `yaml:"count"`
	// Delay is the extra time before output for "slow" (default 3s).
	Delay Duration `yaml:"delay"`
	// SizeMiB is the output size for "huge" (default 32).
	SizeMiB int `yaml:"size_mib"`
}

// Fault kinds (winrm.md §6.4).
const (
	FaultSlow          = "slow"           // extra delay before each command's output
	FaultHung          = "hung"           // commands never finish
	FaultReset         = "reset"          // TCP reset mid-exchange
	FaultStall         = "stall"          // headers and part of the body, then silence
	FaultTruncated     = "truncated"      // XML body cut short
	FaultGarbled       = "garbled"        // corrupt base64 in output streams
	FaultHuge          = "huge"           // tens of MiB of output
	FaultWrongPassword = "wrong_password" // the host accepts another password
	FaultQuota         = "quota"          // shell quota fault on Create
	FaultNonSOAP       = "nonsoap"        // an HTML error page instead of SOAP
	FaultRefused       = "refused"        // nothing listens at the address
)

// FaultKinds lists every fault kind a spec may name.
var FaultKinds = []string{
	FaultSlow, FaultHung, FaultReset, FaultStall, FaultTruncated, FaultGarbled,
	FaultHuge, FaultWrongPassword, FaultQuota, FaultNonSOAP, FaultRefused,
}

// Duration is a time.Duration written in YAML as a Go duration string ("200ms").
type Duration time.Duration

// UnmarshalYAML implements [yaml.Unmarshaler].
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Latency is a per-host latency: fixed, uniform in [Min, Max], or normal
// with Mean and Stddev (clamped at zero). Each host draws its latency once,
// from its own seeded source, when the fleet is built.
type Latency struct {
	Fixed, Min, Max, Mean, Stddev time.Duration
	kind                          latencyKind
}

type latencyKind int

const (
	latencyFixed latencyKind = iota
	latencyUniform
	latencyNormal
)

// UnmarshalYAML implements [yaml.Unmarshaler]: a duration scalar, or a
// mapping with either min and max or mean and stddev.
func (l *Latency) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		d, err := parseDuration(n)
		if err != nil {
			return err
		}
		*l = Latency{Fixed: d}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return lineError(n, "latency must be a duration or a mapping {min, max} or {mean, stddev}")
	}
	var out Latency
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		switch k.Value {
		case "min":
			out.Min = d
		case "max":
			out.Max = d
		case "mean":
			out.Mean = d
		case "stddev":
			out.Stddev = d
		default:
			return lineError(k, fmt.Sprintf("field %s not found in latency (want min and max, or mean and stddev)", k.Value))
		}
		seen[k.Value] = true
	}
	switch {
	case seen["min"] && seen["max"] && !seen["mean"] && !seen["stddev"]:
		if out.Min > out.Max {
			return lineError(n, "latency min is greater than max")
		}
		out.kind = latencyUniform
	case seen["mean"] && !seen["min"] && !seen["max"]:
		out.kind = latencyNormal
	default:
		return lineError(n, "latency mapping needs min and max, or mean (and stddev)")
	}
	*l = out
	return nil
}

// FixedLatency returns a fixed latency.
func FixedLatency(d time.Duration) Latency { return Latency{Fixed: d} }

// UniformLatency returns a latency drawn uniformly from [min, max].
func UniformLatency(min, max time.Duration) Latency {
	return Latency{Min: min, Max: max, kind: latencyUniform}
}

// NormalLatency returns a latency drawn from a normal distribution, clamped at zero.
func NormalLatency(mean, stddev time.Duration) Latency {
	return Latency{Mean: mean, Stddev: stddev, kind: latencyNormal}
}

func parseDuration(n *yaml.Node) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return 0, lineError(n, "want a duration such as 200ms")
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		return 0, lineError(n, fmt.Sprintf("invalid duration %q (want e.g. 200ms, 1.5s)", n.Value))
	}
	if d < 0 {
		return 0, lineError(n, fmt.Sprintf("negative duration %q", n.Value))
	}
	return d, nil
}

// lineError reports a problem at a node in the form yaml.v3 uses for type
// errors, so LoadSpec can rewrite every message to file:line alike.
func lineError(n *yaml.Node, msg string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, msg)}}
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// LoadSpec reads a fleet spec in YAML. It is strict: unknown keys, wrong
// types and invalid values are errors of the form "name:line: message".
func LoadSpec(r io.Reader, name string) (*Spec, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read fleet spec %s: %w", name, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, positioned(name, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: empty fleet spec", name)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, positioned(name, err)
	}
	if err := s.validate(); err != nil {
		var pe *pathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", name, lineOf(root.Content[0], pe.path), pe.msg)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &s, nil
}

// positioned rewrites yaml.v3's "line N: msg" errors as "name:N: msg".
func positioned(name string, err error) error {
	var te *yaml.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for i, m := range msgs {
		if sub := yamlLine.FindStringSubmatch(m); sub != nil {
			msgs[i] = name + ":" + sub[1] + ": " + m[len(sub[0]):]
		} else {
			msgs[i] = name + ": " + strings.TrimPrefix(m, "yaml: ")
		}
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// A pathError is a validation error at a path of keys and indexes in the
// document; LoadSpec turns the path into a line number.
type pathError struct {
	path []any
	msg  string
}

func (e *pathError) Error() string {
	var b strings.Builder
	for _, p := range e.path {
		switch p := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		case int:
			b.WriteString("[" + strconv.Itoa(p) + "]")
		}
	}
	return b.String() + ": " + e.msg
}

func errAt(msg string, path ...any) error { return &pathError{path: path, msg: msg} }

// lineOf returns the line of the deepest node found along path.
func lineOf(n *yaml.Node, path []any) int {
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch p := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						line, next = n.Content[i].Line, n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && p < len(n.Content) {
				next = n.Content[p]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

var (
	guidRe    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	netbiosRe = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{0,14}$`)
	dnsRe     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
	prefixRe  = regexp.MustCompile(`^[A-Z][A-Z0-9]{0,6}-$`)
)

// validate checks the spec and fills defaults (domain names, hosts from
// counts). Errors carry the path of the offending value.
func (s *Spec) validate() error {
	if s.Hosts < 0 || s.Hosts > MaxHosts {
		return errAt(fmt.Sprintf("hosts must be between 1 and %d", MaxHosts), "hosts")
	}
	if s.Domain == (Domain{}) {
		s.Domain = defaultDomain()
	}
	d := s.Domain
	switch {
	case !dnsRe.MatchString(d.DNS):
		return errAt(fmt.Sprintf("dns %q is not a lower-case DNS domain name", d.DNS), "domain", "dns")
	case !netbiosRe.MatchString(d.NetBIOS):
		return errAt(fmt.Sprintf("netbios %q is not an upper-case NetBIOS name (1-15 characters)", d.NetBIOS), "domain", "netbios")
	case !guidRe.MatchString(d.TenantID):
		return errAt(fmt.Sprintf("tenant_id %q is not a lower-case GUID", d.TenantID), "domain", "tenant_id")
	case d.TenantName == "":
		return errAt("tenant_name is empty", "domain", "tenant_name")
	}
	if s.LongCommandLine != "" && s.LongCommandLine != "error" && s.LongCommandLine != "silent" {
		return errAt(fmt.Sprintf("long_command_line %q: want error or silent", s.LongCommandLine), "long_command_line")
	}
	if len(s.Profiles) == 0 {
		return errAt("profiles: at least one host profile is required", "profiles")
	}
	counted, shared := 0, false
	for i, p := range s.Profiles {
		if _, ok := profileByName(p.Name); !ok {
			return errAt(fmt.Sprintf("unknown host profile %q (known: %s)", p.Name, strings.Join(ProfileNames(), ", ")), "profiles", i, "name")
		}
		if err := checkAmount(p.Share, p.Count, "profiles", i); err != nil {
			return err
		}
		if p.Count != nil {
			counted += *p.Count
		} else {
			shared = true
		}
		if p.OS != "" {
			if _, ok := osByName(p.OS); !ok {
				return errAt(fmt.Sprintf("unknown os %q (known: %s)", p.OS, strings.Join(OSNames(), ", ")), "profiles", i, "os")
			}
		}
		if p.Prefix != "" && !prefixRe.MatchString(p.Prefix) {
			return errAt(fmt.Sprintf("prefix %q must be upper-case letters or digits followed by '-', e.g. \"LT-\"", p.Prefix), "profiles", i, "prefix")
		}
	}
	if s.Hosts == 0 {
		if shared {
			return errAt("hosts is required when a profile uses a share", "hosts")
		}
		s.Hosts = counted
	}
	if s.Hosts == 0 {
		return errAt("the fleet has no hosts", "hosts")
	}
	if counted > s.Hosts {
		return errAt(fmt.Sprintf("profile counts add up to %d, more than hosts (%d)", counted, s.Hosts), "profiles")
	}
	if counted < s.Hosts && !shared {
		return errAt(fmt.Sprintf("profile counts add up to %d of %d hosts and no profile has a share", counted, s.Hosts), "profiles")
	}
	for _, kv := range []struct {
		key string
		v   float64
	}{{"unlisted", s.Directory.Unlisted}, {"offline", s.Directory.Offline}, {"disabled", s.Directory.Disabled}, {"stale", s.Directory.Stale}} {
		if kv.v < 0 || kv.v > 1 {
			return errAt("a directory share is a fraction of hosts, between 0 and 1", "directory", kv.key)
		}
	}
	faulted := 0
	for i, f := range s.Faults {
		if !slices.Contains(FaultKinds, f.Kind) {
			return errAt(fmt.Sprintf("unknown fault kind %q (known: %s)", f.Kind, strings.Join(FaultKinds, ", ")), "faults", i, "kind")
		}
		if err := checkAmount(f.Share, f.Count, "faults", i); err != nil {
			return err
		}
		if f.Share != nil && *f.Share > 1 {
			return errAt("a fault share is a fraction of all hosts, at most 1", "faults", i, "share")
		}
		if f.Delay != 0 && f.Kind != FaultSlow {
			return errAt("delay applies only to kind slow", "faults", i, "delay")
		}
		if f.SizeMiB != 0 && f.Kind != FaultHuge {
			return errAt("size_mib applies only to kind huge", "faults", i, "size_mib")
		}
		if f.SizeMiB < 0 || f.SizeMiB > 1024 {
			return errAt("size_mib must be between 1 and 1024", "faults", i, "size_mib")
		}
		faulted += f.hosts(s.Hosts)
	}
	if faulted > s.Hosts {
		return errAt(fmt.Sprintf("faults need %d hosts, the fleet has %d (a host gets at most one fault)", faulted, s.Hosts), "faults")
	}
	return nil
}

func checkAmount(share *float64, count *int, list string, i int) error {
	switch {
	case share != nil && count != nil:
		return errAt("set share or count, not both", list, i, "count")
	case share == nil && count == nil:
		return errAt("set share or count", list, i)
	case share != nil && !(*share > 0):
		return errAt("share must be greater than 0", list, i, "share")
	case count != nil && *count < 0:
		return errAt("count must not be negative", list, i, "count")
	}
	return nil
}

// hosts returns how many of n hosts the fault applies to.
func (f FaultMix) hosts(n int) int {
	if f.Count != nil {
		return *f.Count
	}
	return int(*f.Share*float64(n) + 0.5)
}

func defaultDomain() Domain {
	return Domain{
		DNS:        "corp.example.test",
		NetBIOS:    "CORP",
		TenantID:   "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b",
		TenantName: "Example Corp",
	}
}
