package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bitaudit/bitaudit/model"
)

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	sum := sha256.Sum256(DefaultPolicyYAML())
	if got, want := p.Digest(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Digest = %s, want SHA-256 of DefaultPolicyYAML %s", got, want)
	}
	if !p.IsDefault() || p.Source() != DefaultSource {
		t.Errorf("default policy: IsDefault %v, Source %q", p.IsDefault(), p.Source())
	}
	// The file `policy init` writes loads as a normal policy with the same digest.
	q, err := LoadPolicy(bytes.NewReader(DefaultPolicyYAML()), "bitaudit-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if q.IsDefault() || q.Digest() != p.Digest() {
		t.Errorf("loaded default: IsDefault %v, digest %s", q.IsDefault(), q.Digest())
	}
	// An empty file is valid: every default applies.
	if _, err := LoadPolicy(strings.NewReader(""), "empty.yaml"); err != nil {
		t.Errorf("empty policy: %v", err)
	}
}

// TestDefaultPolicyDocumentsEveryKey checks that the commented default names
// each key the decoder accepts and each built-in rule's variables.
func TestDefaultPolicyDocumentsEveryKey(t *testing.T) {
	doc := string(DefaultPolicyYAML())
	for _, key := range []string{
		"organisation:", "escrow:", "locations:", "by_volume_type:", "require:", "accept_claimed:",
		"encryption:", "required_volume_types:", "allowed_methods:", "require_full_encryption:", "require_tpm_pin:",
		"require_backup_before_encryption:", "rules:", "disabled:", "severity:", "waivers:", "custom_rules:",
		"id:", "hosts:", "volumes:", "reason:", "owner:", "ticket:", "expires:", "title:", "scope:", "expr:", "message:", "remediation:",
	} {
		if !strings.Contains(doc, key) {
			t.Errorf("default policy does not document %s", key)
		}
	}
	for _, name := range []string{"host.name", "host.target", "host.fqdn", "host.join_state", "host.domain", "host.os.caption",
		"host.os.version", "host.os.build", "host.policy", "host.labels", "host.volume_count", "volume.mount_point", "volume.type",
		"volume.conversion", "volume.protection", "volume.method", "volume.encryption_percentage", "volume.used_space_only",
		"volume.locked", "volume.suspend_count", "volume.protector_types", "volume.recovery_passwords", "volume.backed_up"} {
		if !strings.Contains(doc, name) {
			t.Errorf("default policy does not document CEL variable %s", name)
		}
	}
}

// errLine matches file:line:col, or file:line for YAML syntax errors,
// which yaml.v3 reports without a column.
var errLine = regexp.MustCompile(`^testdata/policies/bad-[a-z0-9-]+\.yaml:\d+(:\d+)?: `)

// TestBadPolicies loads each malformed policy and compares every error
// with its .err golden.
func TestBadPolicies(t *testing.T) {
	paths, err := filepath.Glob("testdata/policies/bad-*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no bad policies: %v", err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := LoadPolicy(bytes.NewReader(data), p); err == nil {
				t.Fatal("LoadPolicy accepted a bad policy")
			}
			errs := Validate(bytes.NewReader(data), p)
			var lines []string
			for _, e := range errs {
				if !errLine.MatchString(e.Error()) {
					t.Errorf("error without file:line:col: %q", e)
				}
				lines = append(lines, e.Error())
			}
			got := strings.Join(lines, "\n") + "\n"
			golden := strings.TrimSuffix(p, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), got); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
		})
	}
}

func TestAcceptedLocations(t *testing.T) {
	p, err := LoadPolicy(strings.NewReader("escrow:\n  locations:\n    workgroup: [external, entra]\n  by_volume_type:\n    removable:\n      domain: [external]\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(p, Builtin())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		join model.JoinState
		vt   model.VolumeType
		want []model.Location
	}{
		{model.JoinDomain, model.VolumeOS, []model.Location{model.LocationAD}},
		{model.JoinDomain, model.VolumeRemovable, []model.Location{model.LocationExternal}},
		{model.JoinEntra, model.VolumeRemovable, []model.Location{model.LocationEntra}},
		{model.JoinHybrid, model.VolumeFixed, []model.Location{model.LocationAD, model.LocationEntra}},
		{model.JoinWorkgroup, model.VolumeOS, []model.Location{model.LocationExternal, model.LocationEntra}},
		{model.JoinUnknown, model.VolumeOS, []model.Location{model.LocationAD, model.LocationEntra, model.LocationExternal}},
		{model.JoinState("martian"), model.VolumeOS, []model.Location{model.LocationAD, model.LocationEntra, model.LocationExternal}},
	}
	for _, tt := range tests {
		got := e.AcceptedLocations(tt.join, tt.vt)
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("AcceptedLocations(%s, %s) (-want +got):\n%s", tt.join, tt.vt, d)
		}
		got[0] = "mutated" // callers get a copy
	}
	if got := e.AcceptedLocations(model.JoinDomain, model.VolumeOS); got[0] != model.LocationAD {
		t.Error("AcceptedLocations returned the engine's own slice")
	}
}

func TestEngineRules(t *testing.T) {
	p, err := LoadPolicy(strings.NewReader(`rules:
  disabled: [volume.locked]
  severity: {escrow.partial: high}
custom_rules:
  - {id: custom.x, scope: host, expr: "false", message: m}
`), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(p, Builtin())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]model.Severity{}
	for _, r := range e.Rules() {
		got[r.ID] = r.Severity
	}
	if _, ok := got[IDLocked]; ok || got[IDEscrowPartial] != model.SeverityHigh || got["custom.x"] != model.SeverityMedium ||
		len(got) != len(Builtin()) || len(p.CustomRules()) != 1 {
		t.Errorf("Rules() = %v", got)
	}
}

func TestNewEngineRejects(t *testing.T) {
	if _, err := NewEngine(nil, append(Builtin(), Builtin()[0])); err == nil {
		t.Error("duplicate rule IDs accepted")
	}
	p, err := LoadPolicy(strings.NewReader("rules:\n  disabled: [volume.locked]\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewEngine(p, nil); err == nil || !strings.Contains(err.Error(), "volume.locked") {
		t.Errorf("policy naming a rule missing from the engine: err = %v", err)
	}
}

// TestWaiversConcurrent evaluates from many goroutines, as audit workers do,
// and checks the match counts (run with -race).
func TestWaiversConcurrent(t *testing.T) {
	p, err := LoadPolicy(strings.NewReader(`waivers:
  - {id: W-1, hosts: "*", rules: [volume.not-encrypted], reason: r, owner: o, expires: 2027-01-01}
  - {id: W-2, hosts: ["none-*"], rules: [volume.not-encrypted], reason: r, owner: o, expires: 2026-01-01}
`), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(p, Builtin())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			h := benchHost(i)
			h.Volumes[1].Conversion = model.FullyDecrypted
			e.Evaluate(&h, now)
			if h.Status != model.StatusCompliant {
				t.Errorf("host %d: %s (%s)", i, h.Status, h.Reason)
			}
		})
	}
	wg.Wait()
	got := e.Waivers(now)
	if got[0].Matched != 50 || got[0].State != "expiring" || got[1].Matched != 0 || got[1].State != "expired" {
		t.Errorf("waivers: %+v", got)
	}
}

func TestBuiltinCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Builtin() {
		if seen[r.ID] {
			t.Errorf("duplicate ID %s", r.ID)
		}
		seen[r.ID] = true
		if r.Title == "" || r.Rationale == "" || r.Remediation == "" || len(r.References) == 0 || r.Severity == model.SeverityNone {
			t.Errorf("%s: incomplete rule data", r.ID)
		}
		switch r.Scope {
		case ScopeHost, ScopeVolume, ScopeProtector, ScopeDirectory:
		default:
			t.Errorf("%s: scope %q", r.ID, r.Scope)
		}
		for _, ref := range r.References {
			if ref.Relation != Supports && ref.Relation != Satisfies {
				t.Errorf("%s: relation %q", r.ID, ref.Relation)
			}
		}
		if !strings.Contains(doc(t), r.ID) {
			t.Errorf("%s is not listed in the package documentation", r.ID)
		}
	}
}

func doc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFormatTableAndJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := FormatTable(&buf, Builtin()); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(Builtin(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"testdata/rules.txt": buf.Bytes(), "testdata/rules.json": append(b, '\n')} {
		if *update {
			if err := os.WriteFile(name, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(string(want), string(got)); d != "" {
			t.Errorf("%s (-want +got):\n%s", name, d)
		}
	}
}

// FuzzLoadPolicy checks that any input either loads or fails with errors
// that each name the file, and never panics.
func FuzzLoadPolicy(f *testing.F) {
	f.Add(DefaultPolicyYAML())
	for _, p := range []string{"testdata/policies/bad-cel.yaml", "testdata/policies/bad-values.yaml", "testdata/policies/bad-waiver-fields.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := LoadPolicy(bytes.NewReader(data), "fuzz.yaml")
		if err != nil {
			for _, e := range Validate(bytes.NewReader(data), "fuzz.yaml") {
				if !strings.HasPrefix(e.Error(), "fuzz.yaml:") {
					t.Fatalf("error without file name: %q", e)
				}
			}
			return
		}
		if _, err := NewEngine(p, Builtin()); err != nil {
			t.Fatalf("loaded policy rejected by NewEngine: %v", err)
		}
	})
}

func TestRemediationSection(t *testing.T) {
	const recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	tests := []struct {
		name, yaml string
		want       Remediation
		err        string
	}{
		{name: "default", yaml: "", want: Remediation{}},
		{name: "allowed", yaml: "remediation:\n  add_recovery_password: true\n  external_recipients: [" + recipient + "]\n",
			want: Remediation{AddRecoveryPassword: true, ExternalRecipients: []string{recipient}}},
		{name: "not a recipient", yaml: "remediation:\n  external_recipients: [\"ssh-ed25519 AAAA\"]\n", err: "p.yaml:2:25: remediation.external_recipients: \"ssh-ed25519 AAAA\" is not an age recipient"},
		{name: "unknown key", yaml: "remediation:\n  rotate: true\n", err: "p.yaml:2:3: unknown key \"rotate\" in remediation"},
		{name: "wrong type", yaml: "remediation:\n  add_recovery_password: yes please\n", err: "p.yaml:2:26"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := LoadPolicy(strings.NewReader(tt.yaml), "p.yaml")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, p.Remediation(), cmpopts.EquateEmpty()); d != "" {
				t.Error(d)
			}
		})
	}
	locs, all := DefaultPolicy().AcceptedLocations(model.JoinHybrid, model.VolumeOS)
	if d := cmp.Diff([]model.Location{model.LocationAD, model.LocationEntra}, locs); d != "" || all {
		t.Errorf("hybrid OS volume: %v all=%v", locs, all)
	}
}
