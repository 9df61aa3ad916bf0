package windows

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PowerShell values in the emulator: nil ($null), string, int64, float64,
// float32 (System.Single), bool, time.Time, []any (object[]), *object
// (PSCustomObject, CIM instances, ErrorRecords…), *hashtable, enumVal,
// *scriptBlock and typeLit.

// property is one named value of an object or hashtable, in order.
type property struct {
	name  string
	value any
}

// method is a .NET/CIM method callable as $x.Name(args).
type method func(ip *interp, args []any) (any, error)

// object is any PowerShell object with ordered properties.
type object struct {
	typeNames []string // most derived first; typeNames[0] is what ConvertTo-Json's depth cut prints
	props     []property
	methods   map[string]method
	str       func() string // ToString; nil: "@{a=1; b=2}" like PSCustomObject
	vol       *Volume       // Win32_EncryptableVolume instance backing this CIM object
	cimClass  string        // CIM class name for CIM instances
	errRec    *psError      // ErrorRecord backing this object
}

func newObject(typeName string, kv ...any) *object {
	o := &object{typeNames: []string{typeName}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.props = append(o.props, property{kv[i].(string), kv[i+1]})
	}
	return o
}

func (o *object) get(name string) (any, bool) {
	for _, p := range o.props {
		if strings.EqualFold(p.name, name) {
			return p.value, true
		}
	}
	return nil, false
}

func (o *object) set(name string, v any) {
	for i, p := range o.props {
		if strings.EqualFold(p.name, name) {
			o.props[i].value = v
			return
		}
	}
	o.props = append(o.props, property{name, v})
}

func (o *object) String() string {
	if o.str != nil {
		return o.str()
	}
	var b strings.Builder
	b.WriteString("@{")
	for i, p := range o.props {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.name + "=" + toStr(p.value))
	}
	b.WriteString("}")
	return b.String()
}

// hashtable is @{…}; it keeps insertion order (Windows' order is the hash order).
type hashtable struct{ props []property }

func (h *hashtable) get(name string) (any, bool) {
	for _, p := range h.props {
		if strings.EqualFold(p.name, name) {
			return p.value, true
		}
	}
	return nil, false
}

// enumVal is a .NET enum value: text shows the name, JSON the number.
type enumVal struct {
	name string
	v    int64
}

// scriptBlock is { … }.
type scriptBlock struct{ body []stmt }

// automationNull is what a variable holds after capturing no output at
// all: $null everywhere, except that enumerating it yields nothing.
type automationNull struct{}

// typeLit is a type literal such as [int].
type typeLit struct{ name string }

// toStr converts a value as PowerShell's string conversion (invariant culture) does.
func toStr(v any) string {
	switch x := v.(type) {
	case nil, automationNull:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		// ToString() is "G": 15 significant digits for Double, 7 for Single
		// (JSON uses the round-trip "R" form instead).
		return dotnetG(strconv.FormatFloat(x, 'G', 15, 64))
	case float32:
		return dotnetG(strconv.FormatFloat(float64(x), 'G', 7, 32))
	case enumVal:
		return x.name
	case time.Time:
		return x.Format("1/2/2006 3:04:05 PM")
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = toStr(e)
		}
		return strings.Join(parts, " ")
	case *object:
		return x.String()
	case *hashtable:
		return "System.Collections.Hashtable"
	case *scriptBlock:
		return ""
	case typeLit:
		return x.name
	}
	return fmt.Sprint(v)
}

// formatDouble formats like .NET Framework's Double.ToString("R").
func formatDouble(f float64) string {
	if math.IsInf(f, 1) {
		return "Infinity"
	}
	if math.IsInf(f, -1) {
		return "-Infinity"
	}
	if math.IsNaN(f) {
		return "NaN"
	}
	s := strconv.FormatFloat(f, 'G', 15, 64)
	if g, _ := strconv.ParseFloat(s, 64); g != f {
		s = strconv.FormatFloat(f, 'G', 17, 64)
	}
	return dotnetG(s)
}

// formatSingle formats like .NET Framework's Single.ToString("R"): seven
// significant digits, or nine when seven do not round-trip (as in the
// captured CapacityGB 57.7006836).
func formatSingle(f float32) string {
	s := strconv.FormatFloat(float64(f), 'G', 7, 32)
	if g, _ := strconv.ParseFloat(s, 32); float32(g) != f {
		s = strconv.FormatFloat(float64(f), 'G', 9, 32)
	}
	return dotnetG(s)
}

// dotnetG turns Go's %G output into .NET's: no trailing zeros, "E+15" exponents.
func dotnetG(s string) string {
	mant, exp, hasExp := strings.Cut(s, "E")
	if strings.Contains(mant, ".") {
		mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
	}
	if !hasExp {
		return mant
	}
	sign := exp[0]
	digits := strings.TrimLeft(exp[1:], "0")
	for len(digits) < 2 {
		digits = "0" + digits
	}
	return mant + "E" + string(sign) + digits
}

func toBool(v any) bool {
	switch x := v.(type) {
	case nil, automationNull:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case int64:
		return x != 0
	case float64:
		return x != 0
	case float32:
		return x != 0
	case enumVal:
		return x.v != 0
	case []any:
		switch len(x) {
		case 0:
			return false
		case 1:
			return toBool(x[0])
		}
		return true
	}
	return true
}

// toNumber converts to int64 or float64 for arithmetic.
func toNumber(v any) (any, bool) {
	switch x := v.(type) {
	case nil, automationNull:
		return int64(0), true
	case int64, float64:
		return x, true
	case float32:
		return float64(x), true
	case bool:
		if x {
			return int64(1), true
		}
		return int64(0), true
	case enumVal:
		return x.v, true
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return int64(0), true
		}
		if n, ok := parseNumber(s); ok {
			return n, true
		}
	}
	return nil, false
}

// enumerate yields the items a pipeline or foreach sees for v.
func enumerate(v any) []any {
	switch x := v.(type) {
	case automationNull:
		return nil
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

// collapse is how captured output becomes a value: nothing → $null, one → it, many → array.
func collapse(items []any) any {
	switch len(items) {
	case 0:
		return nil
	case 1:
		return items[0]
	}
	return items
}

// getMember reads a property, with PowerShell's member enumeration on arrays.
func getMember(v any, name string) any {
	switch x := v.(type) {
	case nil, automationNull:
		return nil
	case *object:
		if val, ok := x.get(name); ok {
			return val
		}
		return nil
	case *hashtable:
		if val, ok := x.get(name); ok {
			return val
		}
		switch strings.ToLower(name) {
		case "count":
			return int64(len(x.props))
		case "keys":
			keys := make([]any, len(x.props))
			for i, p := range x.props {
				keys[i] = p.name
			}
			return keys
		}
		return nil
	case []any:
		switch strings.ToLower(name) {
		case "count", "length":
			return int64(len(x))
		}
		var out []any
		for _, e := range x {
			if e == nil {
				continue
			}
			r := getMember(e, name)
			if arr, ok := r.([]any); ok {
				out = append(out, arr...)
			} else if r != nil {
				out = append(out, r)
			}
		}
		return collapse(out)
	case string:
		if strings.EqualFold(name, "Length") {
			return int64(len([]rune(x)))
		}
	case enumVal:
		if strings.EqualFold(name, "value__") {
			return x.v
		}
	}
	if strings.EqualFold(name, "Count") || strings.EqualFold(name, "Length") {
		return int64(1)
	}
	return nil
}

// likeMatch implements -like wildcards (*, ?, [a-z]) case-insensitively.
func likeMatch(s, pattern string) bool {
	s, pattern = strings.ToLower(s), strings.ToLower(pattern)
	return wildcard([]rune(s), []rune(pattern))
}

// wildcard matches without backtracking blow-up: the last '*' is the only
// resumption point (linear in practice, O(len(s)·len(p)) at worst).
func wildcard(s, p []rune) bool {
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				star, mark = pi, si
				pi++
				continue
			case '?':
				si, pi = si+1, pi+1
				continue
			case '[':
				if n, ok := matchSet(s[si], p[pi:]); n > 0 {
					if ok {
						si, pi = si+1, pi+n
						continue
					}
				} else if s[si] == '[' {
					si, pi = si+1, pi+1
					continue
				}
			default:
				if p[pi] == s[si] {
					si, pi = si+1, pi+1
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		pi, mark = star+1, mark+1
		si = mark
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchSet matches c against a "[a-z]" set at the start of p; n is the
// set's length in p, 0 if p does not start a complete set.
func matchSet(c rune, p []rune) (n int, ok bool) {
	end := -1
	for i := 1; i < len(p); i++ {
		if p[i] == ']' {
			end = i
			break
		}
	}
	if end < 0 {
		return 0, false
	}
	set := p[1:end]
	for i := 0; i < len(set); i++ {
		if i+2 < len(set) && set[i+1] == '-' {
			if c >= set[i] && c <= set[i+2] {
				ok = true
			}
			i += 2
		} else if set[i] == c {
			ok = true
		}
	}
	return end + 1, ok
}

// compareEq is PowerShell's -eq for scalars (case-insensitive strings, numeric conversion to the left type).
func compareEq(l, r any) bool {
	if _, ok := l.(automationNull); ok {
		l = nil
	}
	if _, ok := r.(automationNull); ok {
		r = nil
	}
	switch lv := l.(type) {
	case nil:
		return r == nil
	case string:
		if r == nil {
			return false
		}
		return strings.EqualFold(lv, toStr(r))
	case bool:
		return lv == toBool(r)
	}
	if r == nil {
		return false
	}
	ln, ok1 := toNumber(l)
	rn, ok2 := toNumber(r)
	if ok1 && ok2 {
		return toFloat(ln) == toFloat(rn)
	}
	return strings.EqualFold(toStr(l), toStr(r))
}

func toFloat(n any) float64 {
	switch x := n.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// compare orders l and r for -gt/-lt; numbers numerically, otherwise as text.
func compare(l, r any) int {
	if _, isStr := l.(string); !isStr {
		ln, ok1 := toNumber(l)
		rn, ok2 := toNumber(r)
		if ok1 && ok2 {
			a, b := toFloat(ln), toFloat(rn)
			switch {
			case a < b:
				return -1
			case a > b:
				return 1
			}
			return 0
		}
	}
	return strings.Compare(strings.ToLower(toStr(l)), strings.ToLower(toStr(r)))
}

// sortedKeys returns map keys in order, for deterministic output.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
