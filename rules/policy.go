package rules

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"gopkg.in/yaml.v3"

	"github.com/bitaudit/bitaudit/model"
)

//go:embed default.yaml
var defaultYAML []byte

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// DefaultSource is the policy name of the built-in default.
const DefaultSource = "built-in default"

// A Policy is a loaded, validated policy file. It is immutable.
type Policy struct {
	source    string
	isDefault bool
	digest    string

	organisation  string
	locations     map[model.JoinState][]model.Location
	byVolumeType  map[model.VolumeType]map[model.JoinState][]model.Location
	requireAll    bool
	acceptClaimed bool

	requiredTypes      map[model.VolumeType]bool
	allowedMethods     map[model.EncryptionMethod]bool
	allowedMethodList  []string
	requireFull        bool
	requireTPMPIN      bool
	requireBackupFirst bool
	factsMaxAge        time.Duration

	addRecoveryPassword bool
	recipients          []string

	disabled map[string]bool
	severity map[string]model.Severity
	waivers  []waiver
	custom   []Rule
}

// A waiver is one accepted exception from the policy file.
type waiver struct {
	ref     model.WaiverRef
	hosts   []string // lower-case globs
	volumes []string // normalised mount points; empty: any
	rules   []string
	scope   string
}

// DefaultPolicyYAML returns the commented default policy, as `bitaudit
// policy init` writes it. [DefaultPolicy] is this file, loaded.
func DefaultPolicyYAML() []byte { return bytes.Clone(defaultYAML) }

// DefaultPolicy returns the built-in default policy. Its [Policy.Digest] is
// the SHA-256 of [DefaultPolicyYAML], and [Policy.IsDefault] is true.
func DefaultPolicy() *Policy {
	p, err := parsePolicy(defaultYAML, DefaultSource)
	if err != nil {
		panic("rules: built-in default policy is invalid: " + err.Error()) // caught by TestDefaultPolicy
	}
	p.isDefault = true
	return p
}

// LoadPolicy reads a policy file strictly: unknown keys, wrong types, bad
// values, duplicate IDs and custom rules that do not compile to a bool are
// all errors, each prefixed with name:line:col, joined with [errors.Join].
func LoadPolicy(r io.Reader, name string) (*Policy, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read policy %s: %w", name, err)
	}
	return parsePolicy(data, name)
}

// Validate checks a policy file and returns every error found, or nil.
func Validate(r io.Reader, name string) []error {
	_, err := LoadPolicy(r, name)
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Source names where the policy came from: a file name or [DefaultSource].
func (p *Policy) Source() string { return p.source }

// IsDefault reports whether this is the built-in default policy.
func (p *Policy) IsDefault() bool { return p.isDefault }

// Digest returns the hex SHA-256 of the policy file's bytes.
func (p *Policy) Digest() string { return p.digest }

// CustomRules returns the policy's custom rules in file order.
func (p *Policy) CustomRules() []Rule { return slices.Clone(p.custom) }

// Organisation returns the organisation name to print on reports.
func (p *Policy) Organisation() string { return p.organisation }

func parsePolicy(data []byte, name string) (*Policy, error) {
	sum := sha256.Sum256(data)
	p := &Policy{source: name, digest: hex.EncodeToString(sum[:])}
	p.setDefaults()
	d := &decoder{name: name}

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return p, nil // an empty file: every default applies
	case err != nil:
		// yaml.v3 syntax errors carry a line but no column.
		if m := yamlLineErr.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s:%s: yaml syntax: %s", name, m[1], m[2])
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(&extra, "a policy file holds one YAML document")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	var customNode *yaml.Node
	var waiverNode *yaml.Node
	d.fields(root, "policy", map[string]func(*yaml.Node){
		"organisation": func(n *yaml.Node) { p.organisation, _ = d.str(n, "organisation") },
		"escrow":       func(n *yaml.Node) { p.decodeEscrow(d, n) },
		"encryption":   func(n *yaml.Node) { p.decodeEncryption(d, n) },
		"rules":        func(n *yaml.Node) { p.decodeRules(d, n) },
		"waivers":      func(n *yaml.Node) { waiverNode = n },
		"remediation":  func(n *yaml.Node) { p.decodeRemediation(d, n) },
		"custom_rules": func(n *yaml.Node) { customNode = n },
		"facts":        func(n *yaml.Node) { p.decodeFacts(d, n) },
	})
	// Custom rules first: waivers and severities may name them.
	if customNode != nil {
		p.decodeCustom(d, customNode)
	}
	if waiverNode != nil {
		p.decodeWaivers(d, waiverNode)
	}
	p.checkRuleIDs(d)
	if err := d.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// setDefaults sets the values the default policy file documents; a policy
// file overrides them key by key.
func (p *Policy) setDefaults() {
	p.locations = map[model.JoinState][]model.Location{
		model.JoinDomain:    {model.LocationAD},
		model.JoinEntra:     {model.LocationEntra},
		model.JoinHybrid:    {model.LocationAD, model.LocationEntra},
		model.JoinWorkgroup: {model.LocationExternal},
		model.JoinUnknown:   {model.LocationAD, model.LocationEntra, model.LocationExternal},
	}
	p.byVolumeType = map[model.VolumeType]map[model.JoinState][]model.Location{}
	p.acceptClaimed = false
	p.requiredTypes = map[model.VolumeType]bool{model.VolumeOS: true, model.VolumeFixed: true}
	p.setMethods([]model.EncryptionMethod{model.MethodXTSAES128, model.MethodXTSAES256, model.MethodAES256})
	p.requireBackupFirst = true
	p.factsMaxAge = 7 * 24 * time.Hour
	p.disabled = map[string]bool{}
	p.severity = map[string]model.Severity{}
}

// decodeFacts reads the facts section: how old a local collection's facts
// file may be (facts.max_age: "7d", "36h"; at least an hour).
func (p *Policy) decodeFacts(d *decoder, n *yaml.Node) {
	d.fields(n, "facts", map[string]func(*yaml.Node){
		"max_age": func(n *yaml.Node) {
			s, ok := d.str(n, "facts.max_age")
			if !ok {
				return
			}
			age, err := parseAge(s)
			if err != nil {
				d.errorf(n, "facts.max_age: %v", err)
				return
			}
			p.factsMaxAge = age
		},
	})
}

// parseAge parses a duration in days ("7d") or as Go writes one ("36h").
func parseAge(s string) (time.Duration, error) {
	var age time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 3650 {
			return 0, fmt.Errorf("%q is not a number of days from 1 to 3650", s)
		}
		age = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if age, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a duration (e.g. 7d, 36h)", s)
		}
	}
	if age < time.Hour {
		return 0, fmt.Errorf("%q is shorter than an hour", s)
	}
	return age, nil
}

func (p *Policy) setMethods(ms []model.EncryptionMethod) {
	p.allowedMethods = map[model.EncryptionMethod]bool{}
	p.allowedMethodList = nil
	for _, m := range ms {
		p.allowedMethods[m] = true
		p.allowedMethodList = append(p.allowedMethodList, string(m))
	}
}

var (
	joinStates  = []model.JoinState{model.JoinDomain, model.JoinEntra, model.JoinHybrid, model.JoinWorkgroup, model.JoinUnknown}
	volumeTypes = []model.VolumeType{model.VolumeOS, model.VolumeFixed, model.VolumeRemovable}
	methods     = []model.EncryptionMethod{model.MethodXTSAES128, model.MethodXTSAES256, model.MethodAES128, model.MethodAES256,
		model.MethodAES128Diffuser, model.MethodAES256Diffuser, model.MethodHardware}
)

func oneOf[T ~string](d *decoder, n *yaml.Node, what string, valid []T) (T, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return "", false
	}
	if !slices.Contains(valid, T(s)) {
		names := make([]string, len(valid))
		for i, v := range valid {
			names[i] = string(v)
		}
		d.errorf(n, "%s: unknown value %q (want one of %s)", what, s, strings.Join(names, ", "))
		return "", false
	}
	return T(s), true
}

func (p *Policy) decodeLocationMap(d *decoder, n *yaml.Node, what string, into map[model.JoinState][]model.Location) {
	d.entries(n, what, func(k, v *yaml.Node) {
		js, ok := oneOf(d, k, what+" key", joinStates)
		if !ok {
			return
		}
		locs := []model.Location{}
		d.list(v, what+"."+string(js), func(_ int, item *yaml.Node) {
			if l, ok := oneOf(d, item, what+"."+string(js)+" item", model.Locations); ok {
				locs = append(locs, l)
			}
		})
		if len(locs) == 0 && (v.Kind == yaml.SequenceNode || isNull(v)) {
			d.errorf(v, "%s.%s: list at least one location (ad, entra, external)", what, js)
			return
		}
		into[js] = locs
	})
}

func (p *Policy) decodeEscrow(d *decoder, n *yaml.Node) {
	d.fields(n, "escrow", map[string]func(*yaml.Node){
		"locations": func(n *yaml.Node) { p.decodeLocationMap(d, n, "escrow.locations", p.locations) },
		"by_volume_type": func(n *yaml.Node) {
			d.entries(n, "escrow.by_volume_type", func(k, v *yaml.Node) {
				vt, ok := oneOf(d, k, "escrow.by_volume_type key", volumeTypes)
				if !ok {
					return
				}
				m := map[model.JoinState][]model.Location{}
				p.decodeLocationMap(d, v, "escrow.by_volume_type."+string(vt), m)
				p.byVolumeType[vt] = m
			})
		},
		"require": func(n *yaml.Node) {
			if s, ok := oneOf(d, n, "escrow.require", []string{"any", "all"}); ok {
				p.requireAll = s == "all"
			}
		},
		"accept_claimed": func(n *yaml.Node) { p.acceptClaimed, _ = d.boolean(n, "escrow.accept_claimed") },
	})
}

func (p *Policy) decodeEncryption(d *decoder, n *yaml.Node) {
	d.fields(n, "encryption", map[string]func(*yaml.Node){
		"required_volume_types": func(n *yaml.Node) {
			p.requiredTypes = map[model.VolumeType]bool{}
			d.list(n, "encryption.required_volume_types", func(_ int, v *yaml.Node) {
				if vt, ok := oneOf(d, v, "encryption.required_volume_types item", volumeTypes); ok {
					p.requiredTypes[vt] = true
				}
			})
		},
		"allowed_methods": func(n *yaml.Node) {
			var ms []model.EncryptionMethod
			d.list(n, "encryption.allowed_methods", func(_ int, v *yaml.Node) {
				if m, ok := oneOf(d, v, "encryption.allowed_methods item", methods); ok {
					ms = append(ms, m)
				}
			})
			p.setMethods(ms)
		},
		"require_full_encryption": func(n *yaml.Node) {
			p.requireFull, _ = d.boolean(n, "encryption.require_full_encryption")
		},
		"require_tpm_pin": func(n *yaml.Node) { p.requireTPMPIN, _ = d.boolean(n, "encryption.require_tpm_pin") },
		"require_backup_before_encryption": func(n *yaml.Node) {
			p.requireBackupFirst, _ = d.boolean(n, "encryption.require_backup_before_encryption")
		},
	})
}

func (p *Policy) decodeRemediation(d *decoder, n *yaml.Node) {
	d.fields(n, "remediation", map[string]func(*yaml.Node){
		"add_recovery_password": func(n *yaml.Node) {
			p.addRecoveryPassword, _ = d.boolean(n, "remediation.add_recovery_password")
		},
		"external_recipients": func(n *yaml.Node) {
			p.recipients = nil
			d.list(n, "remediation.external_recipients", func(_ int, v *yaml.Node) {
				s, ok := d.str(v, "remediation.external_recipients item")
				if !ok {
					return
				}
				if _, err := age.ParseX25519Recipient(s); err != nil {
					d.errorf(v, "remediation.external_recipients: %q is not an age recipient (age1…)", s)
					return
				}
				p.recipients = append(p.recipients, s)
			})
		},
	})
}

// Remediation is what the policy lets --fix do.
type Remediation struct {
	// AddRecoveryPassword allows adding one recovery-password protector
	// to a volume that has none.
	AddRecoveryPassword bool
	// ExternalRecipients are the age recipients exports to the external
	// key store are encrypted to; none means no export.
	ExternalRecipients []string
}

// Remediation returns the policy's remediation section.
func (p *Policy) Remediation() Remediation {
	return Remediation{AddRecoveryPassword: p.addRecoveryPassword, ExternalRecipients: slices.Clone(p.recipients)}
}

// AcceptedLocations returns where a recovery password of a volume of type
// vt on a host in join state js must be backed up, and whether every one
// of them must hold it (escrow.require: all).
func (p *Policy) AcceptedLocations(js model.JoinState, vt model.VolumeType) (locs []model.Location, all bool) {
	return slices.Clone(p.accepted(js, vt)), p.requireAll
}

// accepted is AcceptedLocations without the copy, for the engine.
func (p *Policy) accepted(js model.JoinState, vt model.VolumeType) []model.Location {
	if l, ok := p.byVolumeType[vt][js]; ok {
		return l
	}
	if l, ok := p.locations[js]; ok {
		return l
	}
	return p.locations[model.JoinUnknown]
}

// A ruleIDNode is a rule ID the policy names, checked once custom rules are known.
type ruleIDNode struct {
	id   string
	node *yaml.Node
	what string
}

func (p *Policy) decodeRules(d *decoder, n *yaml.Node) {
	d.fields(n, "rules", map[string]func(*yaml.Node){
		"disabled": func(n *yaml.Node) {
			d.list(n, "rules.disabled", func(_ int, v *yaml.Node) {
				if id, ok := d.str(v, "rules.disabled item"); ok {
					p.disabled[id] = true
					d.ruleRefs = append(d.ruleRefs, ruleIDNode{id, v, "rules.disabled"})
				}
			})
		},
		"severity": func(n *yaml.Node) {
			d.entries(n, "rules.severity", func(k, v *yaml.Node) {
				s, ok := d.str(v, "rules.severity."+k.Value)
				if !ok {
					return
				}
				sev, err := model.ParseSeverity(s)
				if err != nil || sev == model.SeverityNone {
					d.errorf(v, "rules.severity.%s: unknown severity %q (want info, low, medium, high or critical)", k.Value, s)
					return
				}
				p.severity[k.Value] = sev
				d.ruleRefs = append(d.ruleRefs, ruleIDNode{k.Value, k, "rules.severity"})
			})
		},
	})
}

// knownRule reports whether id is a built-in rule or one of the policy's custom rules.
func (p *Policy) knownRule(id string) bool {
	for _, r := range Builtin() {
		if r.ID == id {
			return true
		}
	}
	for _, r := range p.custom {
		if r.ID == id {
			return true
		}
	}
	return false
}

func (p *Policy) checkRuleIDs(d *decoder) {
	for _, r := range d.ruleRefs {
		if !p.knownRule(r.id) {
			d.errorf(r.node, "%s: unknown rule %q (see `bitaudit rules list`)", r.what, r.id)
		}
	}
}

// normalizeVolume turns "c", "C:" and `C:\` into "C:"; other mount points
// are compared case-insensitively as given.
func normalizeVolume(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.TrimSuffix(s, `\`)
	if len(s) == 1 && s[0] >= 'A' && s[0] <= 'Z' {
		s += ":"
	}
	return s
}

func (p *Policy) decodeWaivers(d *decoder, n *yaml.Node) {
	ids := map[string]bool{}
	d.list(n, "waivers", func(i int, item *yaml.Node) {
		var w waiver
		what := fmt.Sprintf("waivers[%d]", i)
		var expiresSet, rulesSet, hostsSet bool
		d.fields(item, what, map[string]func(*yaml.Node){
			"id": func(n *yaml.Node) { w.ref.ID, _ = d.text(n, what+".id") },
			"hosts": func(n *yaml.Node) {
				// One pattern or a list of them.
				if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
					w.hosts = []string{n.Value}
				} else {
					w.hosts, _ = d.strings(n, what+".hosts")
				}
				hostsSet = true
				for j, h := range w.hosts {
					w.hosts[j] = strings.ToLower(h)
					if _, err := path.Match(w.hosts[j], ""); err != nil || h == "" {
						d.errorf(n, "%s.hosts: invalid pattern %q", what, h)
					}
				}
			},
			"volumes": func(n *yaml.Node) {
				vs, _ := d.strings(n, what+".volumes")
				for _, v := range vs {
					w.volumes = append(w.volumes, normalizeVolume(v))
				}
			},
			"rules": func(n *yaml.Node) {
				rulesSet = true
				d.list(n, what+".rules", func(_ int, item *yaml.Node) {
					id, ok := d.str(item, what+".rules item")
					switch {
					case !ok:
					case id == IDWaiverExpired:
						d.errorf(item, "%s.rules: %s cannot be waived", what, id)
					default:
						w.rules = append(w.rules, id)
						d.ruleRefs = append(d.ruleRefs, ruleIDNode{id, item, what + ".rules"})
					}
				})
			},
			"reason": func(n *yaml.Node) { w.ref.Reason, _ = d.text(n, what+".reason") },
			"owner":  func(n *yaml.Node) { w.ref.Owner, _ = d.text(n, what+".owner") },
			"ticket": func(n *yaml.Node) { w.ref.Ticket, _ = d.text(n, what+".ticket") },
			"expires": func(n *yaml.Node) {
				expiresSet = true
				if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!timestamp") {
					d.errorf(n, "%s.expires: want a date YYYY-MM-DD, got %s", what, kindName(n))
					return
				}
				t, err := time.Parse(time.DateOnly, n.Value)
				if err != nil {
					d.errorf(n, "%s.expires: want a date YYYY-MM-DD, got %q", what, n.Value)
					return
				}
				w.ref.Expires = t.UTC()
			},
		})
		item = deref(item)
		if item.Kind != yaml.MappingNode {
			return
		}
		switch {
		case w.ref.ID == "":
			d.errorf(item, "%s: id is required", what)
		case ids[w.ref.ID]:
			d.errorf(item, "%s: duplicate waiver id %q", what, w.ref.ID)
		}
		ids[w.ref.ID] = true
		if !expiresSet {
			d.errorf(item, "%s: expires is required (a waiver without expiry is not accepted)", what)
		}
		if !hostsSet || len(w.hosts) == 0 {
			d.errorf(item, "%s: hosts is required (use \"*\" for every host)", what)
		}
		if !rulesSet || len(w.rules) == 0 {
			d.errorf(item, "%s: rules is required (list the rule IDs it covers)", what)
		}
		if strings.TrimSpace(w.ref.Reason) == "" {
			d.errorf(item, "%s: reason is required", what)
		}
		if strings.TrimSpace(w.ref.Owner) == "" {
			d.errorf(item, "%s: owner is required", what)
		}
		w.scope = waiverScope(w)
		p.waivers = append(p.waivers, w)
	})
}

func waiverScope(w waiver) string {
	s := "hosts=" + strings.Join(w.hosts, ",")
	if len(w.volumes) > 0 {
		s += " volumes=" + strings.Join(w.volumes, ",")
	}
	return s + " rules=" + strings.Join(w.rules, ",")
}
