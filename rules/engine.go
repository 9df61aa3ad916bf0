package rules

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// expiringWindow is how long before its expiry a waiver is listed as expiring.
const expiringWindow = 30 * 24 * time.Hour

// An Engine evaluates hosts against one policy and set of rules. It is safe
// for concurrent use; the only state it changes is the waivers' match counts.
type Engine struct {
	p          *Policy
	notAudited *Rule
	hostRules  []*Rule
	volRules   []*Rule
	rules      map[string]*Rule
	order      []*Rule
	enabled    map[string]bool
	severity   map[string]model.Severity
	matched    []atomic.Int64 // per policy waiver
}

// NewEngine prepares rules (typically [Builtin]) and the policy's custom
// rules under p; a nil p is [DefaultPolicy]. It fails when rule IDs collide
// or the policy names a rule that does not exist.
func NewEngine(p *Policy, rules []Rule) (*Engine, error) {
	if p == nil {
		p = DefaultPolicy()
	}
	e := &Engine{
		p:        p,
		rules:    map[string]*Rule{},
		enabled:  map[string]bool{},
		severity: map[string]model.Severity{},
		matched:  make([]atomic.Int64, len(p.waivers)),
	}
	all := slices.Concat(rules, p.custom) // a copy: the engine keeps pointers into it
	for i := range all {
		r := &all[i]
		if _, dup := e.rules[r.ID]; dup || r.ID == "" {
			return nil, fmt.Errorf("rule ID %q is empty or defined twice", r.ID)
		}
		e.rules[r.ID] = r
		e.order = append(e.order, r)
	}
	var unknown []string
	for id := range p.disabled {
		if e.rules[id] == nil {
			unknown = append(unknown, id)
		}
	}
	for id := range p.severity {
		if e.rules[id] == nil {
			unknown = append(unknown, id)
		}
	}
	for _, w := range p.waivers {
		for _, id := range w.rules {
			if e.rules[id] == nil {
				unknown = append(unknown, id)
			}
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("policy %s names unknown rules: %s", p.source, strings.Join(slices.Compact(unknown), ", "))
	}
	for i := range all {
		r := &all[i]
		if p.disabled[r.ID] {
			continue
		}
		e.enabled[r.ID] = true
		e.severity[r.ID] = r.Severity
		if s, ok := p.severity[r.ID]; ok {
			e.severity[r.ID] = s
		}
	}
	for i := range all {
		r := &all[i]
		if r.check == nil || !e.anyEnabled(r) {
			continue
		}
		switch {
		case r.ID == IDNotAudited:
			e.notAudited = r
		case r.Scope == ScopeHost:
			e.hostRules = append(e.hostRules, r)
		default:
			e.volRules = append(e.volRules, r)
		}
	}
	return e, nil
}

func (e *Engine) anyEnabled(r *Rule) bool {
	if e.enabled[r.ID] {
		return true
	}
	for _, id := range r.emits {
		if e.enabled[id] {
			return true
		}
	}
	return false
}

// Policy returns the engine's policy.
func (e *Engine) Policy() *Policy { return e.p }

// AcceptedLocations returns the backup locations that count for a volume of
// type vt on a host with the given join state, in policy order. Under
// `require: any` one verified location suffices; under `require: all`
// every one must hold the key.
func (e *Engine) AcceptedLocations(join model.JoinState, vt model.VolumeType) []model.Location {
	return slices.Clone(e.accepted(join, vt))
}

// RequireAll reports whether every accepted location must hold a key.
func (e *Engine) RequireAll() bool { return e.p.requireAll }

func (e *Engine) accepted(join model.JoinState, vt model.VolumeType) []model.Location {
	return e.p.accepted(join, vt)
}

// evalCtx is the state of one Evaluate call.
type evalCtx struct {
	e   *Engine
	p   *Policy
	h   *model.HostResult
	now time.Time
}

// join is the join state the host is evaluated by: the directory's where
// it contradicts the host (model.HostResult.EffectiveJoin).
func (c *evalCtx) join() model.JoinState { return c.h.EffectiveJoin() }

// Evaluate replaces h.Findings with the host's findings, sorted, with
// waivers applied as of now. For an audited host it sets Status to
// noncompliant when any unwaived finding is low or above (info findings
// never count), else compliant, and Reason to a short sentence. A host that
// was not audited gets the host.not-audited finding; its Status and Reason
// are left alone.
//
// Evaluating a host again (after remediation, or when a cross-host check
// changed its evidence) first un-counts the waiver matches of the findings
// it replaces, so [Engine.Waivers] counts each finding once.
func (e *Engine) Evaluate(h *model.HostResult, now time.Time) {
	e.forget(h.Findings)
	c := &evalCtx{e: e, p: e.p, h: h, now: now}
	var out []model.Finding
	if !h.Status.Audited() {
		if e.notAudited != nil {
			out = e.run(c, e.notAudited, nil, out)
		}
		h.Findings = e.finish(c, out, now)
		return
	}
	for _, r := range e.hostRules {
		out = e.run(c, r, nil, out)
	}
	for i := range h.Volumes {
		v := &h.Volumes[i]
		v.AcceptedLocations = e.AcceptedLocations(c.join(), v.Type)
		for _, r := range e.volRules {
			if unevaluable(v) && !r.onLocked {
				continue
			}
			out = e.run(c, r, v, out)
		}
	}
	h.Findings = e.finish(c, out, now)
	h.Status, h.Reason = verdict(h)
}

// forget un-counts the waiver matches recorded for findings.
func (e *Engine) forget(findings []model.Finding) {
	for _, f := range findings {
		for i := range e.p.waivers {
			w := &e.p.waivers[i]
			switch {
			case f.Waiver != nil && f.Waiver.ID == w.ref.ID:
				e.matched[i].Add(-1)
			case f.RuleID == IDWaiverExpired && f.Evidence["waiver"] == w.ref.ID:
				n, _ := strconv.Atoi(f.Evidence["findings"])
				e.matched[i].Add(-int64(n))
			}
		}
	}
}

// run applies one rule and completes the findings it produced from the rule
// data, dropping those of disabled rules.
func (e *Engine) run(c *evalCtx, r *Rule, v *model.Volume, out []model.Finding) []model.Finding {
	start := len(out)
	out = r.check(c, v, out)
	kept := start
	for _, f := range out[start:] {
		if f.RuleID == "" {
			f.RuleID = r.ID
		}
		if !e.enabled[f.RuleID] {
			continue
		}
		rule := e.rules[f.RuleID]
		f.Title, f.Remediation = rule.Title, rule.Remediation
		if _, override := e.p.severity[f.RuleID]; override || f.Severity == model.SeverityNone {
			f.Severity = e.severity[f.RuleID]
		}
		if v != nil && f.Volume == "" {
			f.Volume = v.MountPoint
		}
		out[kept] = f
		kept++
	}
	return out[:kept]
}

// finish applies waivers, adds waiver.expired findings and sorts.
func (e *Engine) finish(c *evalCtx, out []model.Finding, now time.Time) []model.Finding {
	if len(e.p.waivers) > 0 {
		out = e.applyWaivers(c, out, now)
	}
	slices.SortFunc(out, func(a, b model.Finding) int {
		return cmp.Or(
			cmp.Compare(a.Volume, b.Volume),
			cmp.Compare(b.Severity, a.Severity),
			cmp.Compare(a.RuleID, b.RuleID),
			cmp.Compare(a.ProtectorID, b.ProtectorID),
			cmp.Compare(a.Message, b.Message),
		)
	})
	if out == nil {
		out = []model.Finding{}
	}
	return out
}

// hostNames returns the lower-case names a waiver's host patterns match:
// the target, its host part, its DNS name from the targets file, and the
// computer name the directory confirmed. Never what the host reports about
// itself: a host reporting KIOSK-01 does not inherit KIOSK-01's waiver.
func hostNames(h *model.HostResult) []string {
	names := []string{strings.ToLower(h.Target)}
	if host, _, ok := strings.Cut(h.Target, ":"); ok && !strings.Contains(h.Target, "]") && strings.Count(h.Target, ":") == 1 {
		names = append(names, strings.ToLower(host))
	}
	if id := h.Identity; id != nil {
		for _, n := range []string{id.DNSName, id.ConfirmedName()} {
			if n != "" {
				names = append(names, strings.ToLower(n))
			}
		}
	}
	return names
}

func (w *waiver) matchesHost(names []string) bool {
	for _, pat := range w.hosts {
		for _, n := range names {
			if ok, _ := path.Match(pat, n); ok {
				return true
			}
		}
	}
	return false
}

func (w *waiver) covers(f *model.Finding) bool {
	if !slices.Contains(w.rules, f.RuleID) {
		return false
	}
	if len(w.volumes) == 0 {
		return true
	}
	return f.Volume != "" && slices.Contains(w.volumes, normalizeVolume(f.Volume))
}

func (e *Engine) applyWaivers(c *evalCtx, out []model.Finding, now time.Time) []model.Finding {
	names := hostNames(c.h)
	var hostWaivers []int
	for i := range e.p.waivers {
		if e.p.waivers[i].matchesHost(names) {
			hostWaivers = append(hostWaivers, i)
		}
	}
	if len(hostWaivers) == 0 {
		return out
	}
	type expiredUse struct {
		idx   int
		rules []string
		count int
	}
	var expired []expiredUse
	for fi := range out {
		f := &out[fi]
		for _, wi := range hostWaivers {
			w := &e.p.waivers[wi]
			if !w.covers(f) {
				continue
			}
			if now.Before(w.ref.Expires) {
				if f.Waiver == nil {
					ref := w.ref
					f.Waiver = &ref
					e.matched[wi].Add(1)
				}
				continue
			}
			e.matched[wi].Add(1)
			j := slices.IndexFunc(expired, func(u expiredUse) bool { return u.idx == wi })
			if j < 0 {
				expired = append(expired, expiredUse{idx: wi})
				j = len(expired) - 1
			}
			expired[j].count++
			if !slices.Contains(expired[j].rules, f.RuleID) {
				expired[j].rules = append(expired[j].rules, f.RuleID)
			}
		}
	}
	if !e.enabled[IDWaiverExpired] {
		return out
	}
	rule := e.rules[IDWaiverExpired]
	for _, u := range expired {
		w := &e.p.waivers[u.idx]
		slices.Sort(u.rules)
		ev := map[string]string{
			"waiver":   w.ref.ID,
			"expires":  w.ref.Expires.Format(time.DateOnly),
			"owner":    w.ref.Owner,
			"rules":    strings.Join(u.rules, ","),
			"findings": strconv.Itoa(u.count),
		}
		if w.ref.Ticket != "" {
			ev["ticket"] = w.ref.Ticket
		}
		out = append(out, model.Finding{
			RuleID: IDWaiverExpired, Title: rule.Title, Severity: e.severity[IDWaiverExpired], Remediation: rule.Remediation,
			Message: fmt.Sprintf("Waiver %s (owner %s) expired on %s; the %d finding(s) it covered count again.",
				w.ref.ID, w.ref.Owner, w.ref.Expires.Format(time.DateOnly), u.count),
			Evidence: ev,
		})
	}
	return out
}

// verdict returns the status and reason of an audited, evaluated host.
func verdict(h *model.HostResult) (model.Status, string) {
	var bySev [model.SeverityCritical + 1]int
	blocking, waived, info := 0, 0, 0
	for _, f := range h.Findings {
		switch {
		case f.Waived():
			waived++
		case f.Severity >= model.SeverityLow && f.Severity <= model.SeverityCritical:
			blocking++
			bySev[f.Severity]++
		default:
			info++
		}
	}
	var extra []string
	if waived > 0 {
		extra = append(extra, plural(waived, "waived finding"))
	}
	if info > 0 {
		extra = append(extra, plural(info, "informational finding"))
	}
	if blocking > 0 {
		var parts []string
		for _, s := range model.Severities {
			if bySev[s] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", bySev[s], s))
			}
		}
		reason := fmt.Sprintf("%s: %s", plural(blocking, "finding"), strings.Join(parts, ", "))
		if len(extra) > 0 {
			reason += "; " + strings.Join(extra, ", ")
		}
		return model.StatusNoncompliant, reason
	}
	reason := "no BitLocker-capable volumes found"
	if len(h.Volumes) > 0 {
		reason = "all volumes encrypted and recovery keys backed up"
		if waived > 0 {
			reason = "all volumes meet the policy, with waivers" // a waived finding may be a missing backup
		}
		for _, v := range h.Volumes {
			if v.Conversion != model.FullyEncrypted && waived == 0 {
				reason = "all volumes meet the policy"
				break
			}
		}
	}
	if len(extra) > 0 {
		reason += " (" + strings.Join(extra, ", ") + ")"
	}
	return model.StatusCompliant, reason
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Waivers returns every policy waiver with its state at now: "expired" from
// 00:00 UTC on its expiry date, "expiring" within 30 days before it, else
// "active". Matched counts the findings each covered (or, expired, would
// have covered) across all Evaluate calls so far.
func (e *Engine) Waivers(now time.Time) []model.WaiverStatus {
	out := make([]model.WaiverStatus, len(e.p.waivers))
	for i := range e.p.waivers {
		w := &e.p.waivers[i]
		state := "active"
		switch {
		case !now.Before(w.ref.Expires):
			state = "expired"
		case w.ref.Expires.Sub(now) <= expiringWindow:
			state = "expiring"
		}
		out[i] = model.WaiverStatus{WaiverRef: w.ref, Scope: w.scope, State: state, Matched: int(e.matched[i].Load())}
	}
	return out
}

// Rules returns the rules the engine evaluates (built-in and custom, minus
// disabled ones) with the policy's severity overrides applied, in catalog
// order, for `bitaudit rules list --policy`.
func (e *Engine) Rules() []Rule {
	var out []Rule
	for _, r := range e.order {
		if e.enabled[r.ID] {
			c := *r
			c.Severity = e.severity[r.ID]
			out = append(out, c)
		}
	}
	return out
}
