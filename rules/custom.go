package rules

import (
	"fmt"
	"regexp"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
	"gopkg.in/yaml.v3"

	"github.com/bitaudit/bitaudit/model"
)

// CEL variables of custom rules. Each is declared under its dotted name
// ("host.os.build"): CEL resolves a qualified name by the longest prefix
// declared in scope (cel-spec doc/langdef.md, "Name Resolution"), so
// `host.policy["X"]` is the map variable host.policy indexed, and a
// misspelt variable is a type-check error when the policy loads.
var (
	hostVars = []cel.EnvOption{
		cel.Variable("host.name", cel.StringType),
		cel.Variable("host.target", cel.StringType),
		cel.Variable("host.fqdn", cel.StringType),
		cel.Variable("host.join_state", cel.StringType),
		cel.Variable("host.domain", cel.StringType),
		cel.Variable("host.os.caption", cel.StringType),
		cel.Variable("host.os.version", cel.StringType),
		cel.Variable("host.os.build", cel.StringType),
		cel.Variable("host.policy", cel.MapType(cel.StringType, cel.IntType)),
		cel.Variable("host.labels", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("host.volume_count", cel.IntType),
	}
	volumeVars = []cel.EnvOption{
		cel.Variable("volume.mount_point", cel.StringType),
		cel.Variable("volume.type", cel.StringType),
		cel.Variable("volume.conversion", cel.StringType),
		cel.Variable("volume.protection", cel.StringType),
		cel.Variable("volume.method", cel.StringType),
		cel.Variable("volume.encryption_percentage", cel.DoubleType),
		cel.Variable("volume.used_space_only", cel.BoolType),
		cel.Variable("volume.locked", cel.BoolType),
		cel.Variable("volume.suspend_count", cel.IntType),
		cel.Variable("volume.protector_types", cel.ListType(cel.StringType)),
		cel.Variable("volume.recovery_passwords", cel.IntType),
		cel.Variable("volume.backed_up", cel.IntType),
	}
)

// celCostLimit bounds the work of one evaluation, so a custom rule cannot
// stall an audit.
const celCostLimit = 100_000

var customIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

func newCELEnv(scope string) (*cel.Env, error) {
	opts := append([]cel.EnvOption{}, hostVars...)
	if scope == ScopeVolume {
		opts = append(opts, volumeVars...)
	}
	return cel.NewEnv(opts...)
}

func (p *Policy) decodeCustom(d *decoder, n *yaml.Node) {
	envs := map[string]*cel.Env{}
	ids := map[string]bool{}
	d.list(n, "custom_rules", func(i int, item *yaml.Node) {
		what := fmt.Sprintf("custom_rules[%d]", i)
		r := Rule{Custom: true, Severity: model.SeverityMedium, Scope: ScopeVolume}
		var message string
		var exprNode *yaml.Node
		d.fields(item, what, map[string]func(*yaml.Node){
			"id":    func(n *yaml.Node) { r.ID, _ = d.str(n, what+".id") },
			"title": func(n *yaml.Node) { r.Title, _ = d.text(n, what+".title") },
			"severity": func(n *yaml.Node) {
				s, ok := d.str(n, what+".severity")
				if !ok {
					return
				}
				sev, err := model.ParseSeverity(s)
				if err != nil || sev == model.SeverityNone {
					d.errorf(n, "%s.severity: unknown severity %q (want info, low, medium, high or critical)", what, s)
					return
				}
				r.Severity = sev
			},
			"scope": func(n *yaml.Node) {
				if s, ok := oneOf(d, n, what+".scope", []string{ScopeHost, ScopeVolume}); ok {
					r.Scope = s
				}
			},
			"expr":        func(n *yaml.Node) { r.Expr, _ = d.str(n, what+".expr"); exprNode = n },
			"message":     func(n *yaml.Node) { message, _ = d.text(n, what+".message") },
			"remediation": func(n *yaml.Node) { r.Remediation, _ = d.text(n, what+".remediation") },
			"rationale":   func(n *yaml.Node) { r.Rationale, _ = d.text(n, what+".rationale") },
		})
		item = deref(item)
		if item.Kind != yaml.MappingNode {
			return
		}
		if r.ID != "" {
			what = fmt.Sprintf("custom rule %q", r.ID)
		}
		switch {
		case r.ID == "":
			d.errorf(item, "%s: id is required", what)
		case !customIDPattern.MatchString(r.ID):
			d.errorf(item, "%s: id must be lower case letters, digits, '.', '_' or '-'", what)
		case ids[r.ID] || isBuiltin(r.ID):
			d.errorf(item, "%s: duplicate rule id", what)
		}
		ids[r.ID] = true
		if r.Title == "" {
			r.Title = r.ID
		}
		if message == "" {
			d.errorf(item, "%s: message is required", what)
		}
		if exprNode == nil || strings.TrimSpace(r.Expr) == "" {
			d.errorf(item, "%s: expr is required", what)
			return
		}
		env := envs[r.Scope]
		if env == nil {
			var err error
			if env, err = newCELEnv(r.Scope); err != nil {
				d.errorf(exprNode, "%s: CEL environment: %v", what, err)
				return
			}
			envs[r.Scope] = env
		}
		prg, ok := compileRule(d, env, exprNode, what, r.Expr)
		if !ok {
			return
		}
		r.check = customCheck(prg, message, r.Severity)
		r.onLocked = true
		p.custom = append(p.custom, r)
	})
}

func isBuiltin(id string) bool {
	for _, r := range Builtin() {
		if r.ID == id {
			return true
		}
	}
	return false
}

// compileRule parses and type-checks expr; each CEL issue becomes an error
// at its position in the policy file where that can be computed (a
// single-line expression), else at the expression with CEL's own position.
func compileRule(d *decoder, env *cel.Env, n *yaml.Node, what, expr string) (cel.Program, bool) {
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		for _, e := range iss.Errors() {
			line, col := e.Location.Line(), e.Location.Column()
			if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 && !strings.Contains(expr, "\n") && line == 1 {
				off := 0
				if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
					off = 1
				}
				d.errorAt(n.Line, n.Column+off+col, "%s: expr: %s", what, e.Message)
			} else {
				d.errorf(n, "%s: expr %d:%d: %s", what, line, col+1, e.Message)
			}
		}
		return nil, false
	}
	if !ast.OutputType().IsExactType(types.BoolType) {
		d.errorf(n, "%s: expr must be a bool, is %s", what, ast.OutputType())
		return nil, false
	}
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit))
	if err != nil {
		d.errorf(n, "%s: expr: %v", what, err)
		return nil, false
	}
	return prg, true
}

func customCheck(prg cel.Program, message string, sev model.Severity) checkFunc {
	return func(c *evalCtx, v *model.Volume, out []model.Finding) []model.Finding {
		val, _, err := prg.Eval(&activation{c: c, v: v})
		if err == nil {
			if b, ok := val.Value().(bool); !ok || !b {
				return out
			}
		}
		var ev map[string]string
		if v == nil {
			ev = map[string]string{"join_state": string(c.join())}
		} else {
			ev = volumeEvidence(v, "encryption_method", string(v.Method))
		}
		if err != nil {
			// Never compliant by error: the finding says the rule could not
			// be evaluated, at low severity or above.
			ev["error"] = err.Error()
			return append(out, model.Finding{Severity: max(sev, model.SeverityLow),
				Message: "Custom rule could not be evaluated: " + err.Error(), Evidence: ev})
		}
		return append(out, model.Finding{Message: message, Evidence: ev})
	}
}

// An activation resolves the CEL variables of one host (and volume) on
// demand, so an evaluation computes only the variables its expression reads.
type activation struct {
	c *evalCtx
	v *model.Volume
}

func (a *activation) Parent() interpreter.Activation { return nil }

func (a *activation) ResolveName(name string) (any, bool) {
	if v, ok := strings.CutPrefix(name, "volume."); ok {
		if a.v == nil {
			return nil, false
		}
		return volumeVar(a.c, a.v, v)
	}
	if h, ok := strings.CutPrefix(name, "host."); ok {
		return hostVar(a.c.h, h)
	}
	return nil, false
}

func hostVar(h *model.HostResult, name string) (any, bool) {
	f := h.Facts
	if f == nil {
		f = &model.HostFacts{}
	}
	switch name {
	case "name":
		if f.Hostname != "" {
			return f.Hostname, true
		}
		return h.Target, true
	case "target":
		return h.Target, true
	case "fqdn":
		return f.FQDN, true
	case "join_state":
		if f.Join.State == "" {
			return string(model.JoinUnknown), true
		}
		return string(f.Join.State), true
	case "domain":
		return f.Join.DomainName, true
	case "os.caption":
		return f.OS.Caption, true
	case "os.version":
		return f.OS.Version, true
	case "os.build":
		return f.OS.Build, true
	case "policy":
		if f.Policy == nil {
			return map[string]int64{}, true
		}
		return f.Policy, true
	case "labels":
		if h.Labels == nil {
			return map[string]string{}, true
		}
		return h.Labels, true
	case "volume_count":
		return int64(len(h.Volumes)), true
	}
	return nil, false
}

func volumeVar(c *evalCtx, v *model.Volume, name string) (any, bool) {
	switch name {
	case "mount_point":
		return v.MountPoint, true
	case "type":
		return string(v.Type), true
	case "conversion":
		return string(v.Conversion), true
	case "protection":
		return string(v.Protection), true
	case "method":
		return string(v.Method), true
	case "encryption_percentage":
		return v.EncryptionPercent, true
	case "used_space_only":
		return v.UsedSpaceOnly, true
	case "locked":
		return v.Locked, true
	case "suspend_count":
		if v.SuspendCount == nil {
			return int64(-1), true
		}
		return int64(*v.SuspendCount), true
	case "protector_types":
		types := make([]string, len(v.Protectors))
		for i, p := range v.Protectors {
			types[i] = string(p.Type)
		}
		return types, true
	case "recovery_passwords":
		n := 0
		for _, p := range v.Protectors {
			if p.Type == model.ProtectorRecoveryPassword {
				n++
			}
		}
		return int64(n), true
	case "backed_up":
		accepted := c.e.accepted(c.join(), v.Type)
		n := 0
		for i := range v.Protectors {
			if p := &v.Protectors[i]; p.Type == model.ProtectorRecoveryPassword {
				if vd, _ := c.verdict(p, accepted); vd == escrowOK {
					n++
				}
			}
		}
		return int64(n), true
	}
	return nil, false
}
