package reports

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/spool"
)

// The view: the sorted order and the wording every format shares, so the
// PDF, XLSX and CSV list the same things in the same order. Summary figures
// come from model.Summary; the view only counts the rows each listing has.

// A view is what every format shows of one result, computed in one pass
// over its hosts: the order they are listed in (a small key per host, never
// the hosts themselves, which stay in the result's [model.HostSource]), the
// rows of each listing, the label keys the targets carry, and the open
// findings by rule and severity.
type view struct {
	src model.HostSource
	// keys are the hosts in target order.
	keys []hostKey
	// Row counts of the listings: every finding (waived included), volume
	// and protector, the hosts that could not be audited, and the
	// collection gaps of audited hosts.
	findings, volumes, protectors, notAudited, gaps int
	// compliant counts the compliant hosts; fromFacts those whose facts
	// came from a facts file.
	compliant, fromFacts int
	// labelKeys are the keys of every host's labels, sorted.
	labelKeys []string
	// rules are the open findings by rule and severity, most severe first.
	rules []ruleRow
	// hostRunes are the non-ASCII characters of the hosts' texts, in the
	// order they first appear, for the PDF's font check.
	hostRunes []placedRune
}

// A hostKey is what a view keeps of one host to order and select it.
type hostKey struct {
	i      int // index in the source
	target string
	status model.Status
	// worst is the most severe unwaived finding's severity; waived is set
	// when the host has a waived finding.
	worst  model.Severity
	open   bool // an unwaived finding
	waived bool
	gaps   int // collection gaps (audited hosts only)
}

// newView reads every host of r once; a result read with
// [ReadResultSpooled] has its view built already, as its hosts were read.
func newView(r *model.Result) (*view, error) {
	if vs, ok := r.Source.(*viewedSource); ok {
		return vs.v, nil
	}
	src := r.HostSource()
	b := newViewBuilder(src, src.Len())
	raw, _ := src.(rawSource)
	for i := range src.Len() {
		var h model.HostResult
		var rb []byte
		var err error
		if raw != nil {
			if rb, err = raw.Raw(i); err == nil {
				err = json.Unmarshal(rb, &h)
			}
		} else {
			h, err = src.Host(i)
		}
		if err != nil {
			return nil, fmt.Errorf("read hosts: host %d: %w", i, err)
		}
		b.add(i, &h, rb)
	}
	return b.view(), nil
}

// A viewBuilder builds a view from the hosts of src, given in index order,
// or with byIndex in any order, each once (a [Tally]): the view is the same.
type viewBuilder struct {
	v      *view
	labels map[string]bool
	rules  ruleCounter
	seen   map[rune]int // index in v.hostRunes
	// byIndex: keys are placed at the host's index, not appended.
	byIndex bool
}

// newViewBuilder returns a builder for the n hosts of src.
func newViewBuilder(src model.HostSource, n int) *viewBuilder {
	return &viewBuilder{v: &view{src: src, keys: make([]hostKey, 0, n)}, labels: map[string]bool{}, rules: ruleCounter{}, seen: map[rune]int{}}
}

// add counts host i; raw, when known, is its JSON.
func (b *viewBuilder) add(i int, h *model.HostResult, raw []byte) {
	v := b.v
	k := hostKey{i: i, target: h.Target, status: h.Status, worst: model.SeverityNone}
	for j := range h.Findings {
		f := &h.Findings[j]
		if f.Waived() {
			k.waived = true
			continue
		}
		k.open = true
		k.worst = max(k.worst, f.Severity)
	}
	b.rules.add(i, h.Findings)
	v.findings += len(h.Findings)
	v.volumes += len(h.Volumes)
	for j := range h.Volumes {
		v.protectors += len(h.Volumes[j].Protectors)
	}
	if h.Status.Audited() {
		k.gaps = len(collectionGaps(h))
		v.gaps += k.gaps
	} else {
		v.notAudited++
	}
	if h.Status == model.StatusCompliant {
		v.compliant++
	}
	if h.Facts != nil && h.Facts.Source.Collector == "wmi" && h.Facts.Source.FactsFile != "" {
		v.fromFacts++
	}
	for l := range h.Labels {
		b.labels[l] = true
	}
	// The characters a font may lack: only non-ASCII text can, and JSON
	// all ASCII, without escapes, holds none.
	// Each is kept where it first appears: in the lowest-indexed host that
	// has it, at its first place there.
	if raw == nil || !asciiJSON(raw) {
		ord := 0
		walkStrings(reflect.ValueOf(h), "host "+h.Target, func(where, s string) {
			for _, c := range s {
				if c < 0x80 {
					continue
				}
				if j, ok := b.seen[c]; !ok {
					b.seen[c] = len(v.hostRunes)
					v.hostRunes = append(v.hostRunes, placedRune{c, where, i, ord})
				} else if p := &v.hostRunes[j]; i < p.host {
					*p = placedRune{c, where, i, ord}
				}
				ord++
			}
		})
	}
	if b.byIndex {
		v.keys[i] = k
	} else {
		v.keys = append(v.keys, k)
	}
}

// asciiJSON reports whether the JSON b is ASCII without \u escapes.
func asciiJSON(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return !bytes.Contains(b, []byte(`\u`))
}

func (b *viewBuilder) view() *view {
	v := b.v
	if b.byIndex { // in the order the characters first appear, by index
		slices.SortFunc(v.hostRunes, func(x, y placedRune) int {
			return cmp.Or(cmp.Compare(x.host, y.host), cmp.Compare(x.ord, y.ord))
		})
	}
	// Natural order (127.0.10.2 before 127.0.10.10, ws-9 before ws-10).
	slices.SortStableFunc(v.keys, func(a, b hostKey) int {
		return cmp.Or(naturalCompare(a.target, b.target), strings.Compare(a.target, b.target))
	})
	v.labelKeys = sortedKeys(b.labels)
	v.rules = b.rules.rows()
	return v
}

// A placedRune is a character and where it first appears: in host (an
// index), its ord-th non-ASCII character.
type placedRune struct {
	r         rune
	where     string
	host, ord int
}

// A viewedSource is a HostSource with its view, built as its hosts were
// read (ReadResultSpooled) or stored (a [Tally]); its hosts must not change.
type viewedSource struct {
	*spool.Spool
	v *view
}

// A Tally builds the view the reports share as a run's hosts are stored,
// given to Add in any order (a spool's observer), so that [WriteAll] needs
// no pass over the hosts before drawing them. It is safe for concurrent
// use.
type Tally struct {
	mu      sync.Mutex
	b       *viewBuilder
	added   []bool
	n       int
	again   bool // a host was added twice (changed after it was stored)
	sourced bool
}

// NewTally returns a Tally for a run of n hosts.
func NewTally(n int) *Tally {
	b := newViewBuilder(nil, n)
	b.v.keys, b.byIndex = b.v.keys[:n], true
	return &Tally{b: b, added: make([]bool, n)}
}

// Add counts host i as stored; record, when known, is its JSON. A host
// stored again (changed after the collection: the cross-host check,
// coverage, --fix) makes the Tally give up: the reports then read the
// hosts once more.
func (t *Tally) Add(i int, h *model.HostResult, record []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.again || t.sourced:
	case i < 0 || i >= len(t.added) || t.added[i]:
		t.again = true
	default:
		t.added[i] = true
		t.n++
		t.b.add(i, h, record)
	}
}

// Source returns sp with the view built, to be the result's Source, and
// true, when Add counted each of sp's hosts exactly once; otherwise sp and
// false. sp's hosts must not change after.
func (t *Tally) Source(sp *spool.Spool) (model.HostSource, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sourced || t.again || t.n != len(t.added) || sp.Len() != len(t.added) {
		t.again = true
		return sp, false
	}
	t.sourced = true
	t.b.v.src = sp
	return &viewedSource{Spool: sp, v: t.b.view()}, true
}

// hostsAhead is how many hosts [view.hosts] decodes ahead of its caller,
// on a goroutine of its own: decoding is about a third of the PDF's work,
// and where a core is free it overlaps with the drawing.
const hostsAhead = 16

// hosts calls fn with every host whose key keep accepts (nil: every host),
// in target order, read from the source one at a time (decoded up to
// hostsAhead ahead); it stops at fn's first error or the source's, which
// it returns. keep must not change anything: it runs on the decoding
// goroutine.
func (v *view) hosts(keep func(*hostKey) bool, fn func(h *model.HostResult) error) error {
	type decoded struct {
		h      model.HostResult
		target string
		err    error
	}
	next := make(chan decoded, hostsAhead)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait() // the decoder is gone when hosts returns
	defer close(stop)
	wg.Go(func() {
		defer close(next)
		for i := range v.keys {
			k := &v.keys[i]
			if keep != nil && !keep(k) {
				continue
			}
			h, err := v.src.Host(k.i)
			select {
			case next <- decoded{h, k.target, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	})
	for d := range next {
		if d.err != nil {
			return fmt.Errorf("read host %s: %w", d.target, d.err)
		}
		if err := fn(&d.h); err != nil {
			return err
		}
	}
	return nil
}

// count is the number of hosts keep accepts.
func (v *view) count(keep func(*hostKey) bool) int {
	n := 0
	for i := range v.keys {
		if keep(&v.keys[i]) {
			n++
		}
	}
	return n
}

// pick restricts keep to at most n hosts: all it accepts when they are no
// more, else the first n in target order, or with bySeverity the n with
// the most severe open findings (in target order among equals). It
// returns the selection, how many hosts keep accepts, and how many the
// selection leaves out.
func (v *view) pick(keep func(*hostKey) bool, n int, bySeverity bool) (sel func(*hostKey) bool, total, left int) {
	var ks []*hostKey
	for i := range v.keys {
		if keep(&v.keys[i]) {
			ks = append(ks, &v.keys[i])
		}
	}
	if len(ks) <= n {
		return keep, len(ks), 0
	}
	if bySeverity {
		slices.SortStableFunc(ks, func(a, b *hostKey) int { return cmp.Compare(b.worst, a.worst) })
	}
	in := make(map[int]bool, n)
	for _, k := range ks[:n] {
		in[k.i] = true
	}
	return func(k *hostKey) bool { return in[k.i] }, len(ks), len(ks) - n
}

// Selections of hosts by key.
func audited(k *hostKey) bool    { return k.status.Audited() }
func notAudited(k *hostKey) bool { return !k.status.Audited() }
func hasOpen(k *hostKey) bool    { return k.open && k.status.Audited() }
func hasWaived(k *hostKey) bool  { return k.waived }

// naturalCompare compares strings with runs of ASCII digits compared by
// value, case-insensitively otherwise.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmp.Or(cmp.Compare(len(na), len(nb)), strings.Compare(na, nb)); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		ra, sa := utf8.DecodeRuneInString(a)
		rb, sb := utf8.DecodeRuneInString(b)
		if c := cmp.Compare(unicode.ToLower(ra), unicode.ToLower(rb)); c != 0 {
			return c
		}
		a, b = a[sa:], b[sb:]
	}
	return cmp.Compare(len(a), len(b))
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// sortedFindings returns a host's findings, most severe first, then by
// rule, volume, protector and message.
func sortedFindings(h *model.HostResult) []*model.Finding {
	fs := make([]*model.Finding, len(h.Findings))
	for i := range h.Findings {
		fs[i] = &h.Findings[i]
	}
	slices.SortStableFunc(fs, func(a, b *model.Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity, a.Severity),
			strings.Compare(a.RuleID, b.RuleID),
			strings.Compare(a.Volume, b.Volume),
			strings.Compare(a.ProtectorID, b.ProtectorID),
			strings.Compare(a.Message, b.Message),
		)
	})
	return fs
}

// sortedVolumes returns a host's volumes ordered by mount point.
func sortedVolumes(h *model.HostResult) []*model.Volume {
	vs := make([]*model.Volume, len(h.Volumes))
	for i := range h.Volumes {
		vs[i] = &h.Volumes[i]
	}
	slices.SortStableFunc(vs, func(a, b *model.Volume) int { return strings.Compare(a.MountPoint, b.MountPoint) })
	return vs
}

// sortedWaivers orders waivers by expiry, then ID.
func sortedWaivers(r *model.Result) []model.WaiverStatus {
	ws := slices.Clone(r.Waivers)
	slices.SortStableFunc(ws, func(a, b model.WaiverStatus) int {
		return cmp.Or(a.Expires.Compare(b.Expires), strings.Compare(a.ID, b.ID))
	})
	return ws
}

// sortedRemediation orders the --fix log by time, then target, volume, protector.
func sortedRemediation(r *model.Result) []model.RemediationEntry {
	es := slices.Clone(r.Remediation)
	slices.SortStableFunc(es, func(a, b model.RemediationEntry) int {
		return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Target, b.Target),
			strings.Compare(a.Volume, b.Volume), strings.Compare(a.ProtectorID, b.ProtectorID))
	})
	return es
}

// ruleRow is one rule at one severity: a custom rule can report findings
// of several severities, each counted on its own row.
type ruleRow struct {
	ID       string
	Title    string
	Severity model.Severity
	Count    int
	host     int // the index of the host the title is from
}

// A ruleCounter counts open (unwaived) findings by rule and severity.
type ruleCounter map[ruleKey]*ruleRow

type ruleKey struct {
	id  string
	sev model.Severity
}

// add counts the findings of host i. A row's title is its first finding's
// in the lowest-indexed host, whatever order hosts are added in.
func (c ruleCounter) add(i int, fs []model.Finding) {
	for _, f := range fs {
		if f.Waived() {
			continue
		}
		k := ruleKey{f.RuleID, f.Severity}
		switch r := c[k]; {
		case r == nil:
			c[k] = &ruleRow{ID: f.RuleID, Title: f.Title, Severity: f.Severity, host: i}
		case i < r.host:
			r.Title, r.host = f.Title, i
		}
		c[k].Count++
	}
}

// rows are the counts most severe first; per rule they add up to
// Summary.FindingsByRule.
func (c ruleCounter) rows() []ruleRow {
	out := make([]ruleRow, 0, len(c))
	for _, row := range c {
		out = append(out, *row)
	}
	slices.SortFunc(out, func(a, b ruleRow) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), strings.Compare(a.ID, b.ID))
	})
	return out
}

// computerName is what an auditor knows the machine by, shown next to the
// target: the name confirmed independently of the host (directory, Entra
// ID), else the name the host reported, else the first label of the DNS
// name the targets file gave (hosts not audited).
func computerName(h *model.HostResult) string {
	if h.Identity != nil && h.Identity.ComputerName != "" {
		return h.Identity.ComputerName
	}
	if h.Facts != nil && h.Facts.Hostname != "" {
		return h.Facts.Hostname
	}
	if h.Identity != nil && h.Identity.DNSName != "" {
		label, _, _ := strings.Cut(h.Identity.DNSName, ".")
		if host, _, _ := strings.Cut(h.Target, ":"); !strings.EqualFold(host, h.Identity.DNSName) && !strings.EqualFold(host, label) {
			return strings.ToUpper(label)
		}
	}
	return ""
}

// sortedKeys returns a map's keys in order.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// stamp formats a time with its offset, the form every report prints.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02 15:04:05 -07:00")
}

// day formats a date.
func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02")
}

// percent formats a 0..1 share.
// percent prints a share; a share of nothing (nil) is "n/a", never 100 %.
func percent(f *float64) string {
	if f == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f %%", *f*100)
}

// escrowNote says, in words, when the run verified no backup at any source
// or weakened its directory connections; "" when neither. Reports print it
// where a reader starts (PDF page 1, the XLSX Summary).
func escrowNote(r *model.Result) (sources, insecure string) {
	if r.Run.Options["escrow_sources"] == "none" {
		sources = "None configured: recovery-key backups were not verified at any source (AD DS, Entra ID, external key store); " +
			"only the hosts' own claims were seen, and they do not count as backed up."
	}
	if v := r.Run.Options["escrow_insecure"]; v != "" {
		insecure = "Insecure escrow-source settings were in force: " + strings.ReplaceAll(v, ",", ", ") + "."
	}
	return sources, insecure
}

// statusLabel is the human wording of a host status.
func statusLabel(s model.Status) string {
	switch s {
	case model.StatusAuthFailed:
		return "auth failed"
	case model.StatusProtocolError:
		return "protocol error"
	}
	return string(s)
}

// label turns a snake_case enum value into words.
func label[S ~string](s S) string { return strings.ReplaceAll(string(s), "_", " ") }

// notRequired is the backup cell of a location the policy does not accept
// for the volume: whatever the state there, it does not count.
const notRequired = "not required"

// required reports whether the policy accepts loc for v; a volume from a
// result without accepted locations counts every location.
func required(v *model.Volume, loc model.Location) bool {
	return v.AcceptedLocations == nil || slices.Contains(v.AcceptedLocations, loc)
}

// backupCell is the state of a protector at one location, with the event
// or object that supports it: "verified", "claimed (event 845)"; "not
// required" where the policy does not accept the location for the volume.
func backupCell(v *model.Volume, p *model.Protector, loc model.Location) string {
	if !required(v, loc) && p.Type == model.ProtectorRecoveryPassword {
		return notRequired
	}
	for _, b := range p.Backups {
		if b.Location != loc {
			continue
		}
		s := string(b.State)
		if b.Event != 0 {
			s += fmt.Sprintf(" (event %d)", b.Event)
		}
		return s
	}
	return ""
}

// waiverNote describes a finding's waiver in a few words.
func waiverNote(f *model.Finding) string {
	if f.Waiver == nil {
		return ""
	}
	return fmt.Sprintf("waived: %s until %s", f.Waiver.ID, day(f.Waiver.Expires))
}

// hostOS is the OS caption and build of a host, when known.
func hostOS(h *model.HostResult) string {
	if h.Facts == nil {
		return ""
	}
	s := h.Facts.OS.Caption
	if h.Facts.OS.Build != "" {
		s = strings.TrimSpace(s + " (build " + h.Facts.OS.Build + ")")
	}
	return s
}

// hostJoin is a host's join state and domain.
func hostJoin(h *model.HostResult) string {
	if h.Facts == nil {
		return ""
	}
	s := string(h.Facts.Join.State)
	if h.Facts.Join.DomainName != "" {
		s += " " + h.Facts.Join.DomainName
	}
	return s
}

// labelsText renders target labels as sorted key=value pairs.
func labelsText(m map[string]string) string {
	var b strings.Builder
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + m[k])
	}
	return b.String()
}

// num formats a count with thousands separators: 10,000.
func num(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// plural formats a count with the singular or plural wording that follows it.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return num(n) + " " + many
}
