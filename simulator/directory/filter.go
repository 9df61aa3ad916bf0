package directory

import (
	"bytes"
	"strconv"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// binaryAttrs are compared byte for byte; other values case-insensitively.
var binaryAttrs = map[string]bool{"msfve-recoveryguid": true, "objectguid": true}

// Matching rules for extensible matches on integers (MS-ADTS 3.1.1.3.4.4).
const (
	ruleBitAnd = "1.2.840.113556.1.4.803"
	ruleBitOr  = "1.2.840.113556.1.4.804"
)

// match evaluates a compiled LDAP filter against an entry.
func match(f *ber.Packet, e *entry) bool {
	switch f.Tag {
	case ldap.FilterAnd:
		for _, c := range f.Children {
			if !match(c, e) {
				return false
			}
		}
		return true
	case ldap.FilterOr:
		for _, c := range f.Children {
			if match(c, e) {
				return true
			}
		}
		return false
	case ldap.FilterNot:
		return len(f.Children) == 1 && !match(f.Children[0], e)
	case ldap.FilterPresent:
		return len(e.get(string(f.Data.Bytes()))) > 0
	case ldap.FilterEqualityMatch, ldap.FilterApproxMatch:
		if len(f.Children) != 2 {
			return false
		}
		attr := strings.ToLower(string(f.Children[0].Data.Bytes()))
		want := f.Children[1].Data.Bytes()
		for _, v := range e.get(attr) {
			if binaryAttrs[attr] && v == string(want) || !binaryAttrs[attr] && strings.EqualFold(v, string(want)) {
				return true
			}
		}
		return false
	case ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual:
		if len(f.Children) != 2 {
			return false
		}
		want := string(f.Children[1].Data.Bytes())
		for _, v := range e.get(string(f.Children[0].Data.Bytes())) {
			c := compare(v, want)
			if f.Tag == ldap.FilterGreaterOrEqual && c >= 0 || f.Tag == ldap.FilterLessOrEqual && c <= 0 {
				return true
			}
		}
		return false
	case ldap.FilterSubstrings:
		if len(f.Children) != 2 {
			return false
		}
		for _, v := range e.get(string(f.Children[0].Data.Bytes())) {
			if substrings(strings.ToLower(v), f.Children[1].Children) {
				return true
			}
		}
		return false
	case ldap.FilterExtensibleMatch:
		var rule, attr, value string
		for _, c := range f.Children {
			switch c.Tag {
			case ldap.MatchingRuleAssertionMatchingRule:
				rule = string(c.Data.Bytes())
			case ldap.MatchingRuleAssertionType:
				attr = string(c.Data.Bytes())
			case ldap.MatchingRuleAssertionMatchValue:
				value = string(c.Data.Bytes())
			}
		}
		want, err := strconv.ParseInt(value, 10, 64)
		if err != nil || (rule != ruleBitAnd && rule != ruleBitOr) {
			return false
		}
		for _, v := range e.get(attr) {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			if rule == ruleBitAnd && n&want == want || rule == ruleBitOr && n&want != 0 {
				return true
			}
		}
		return false
	}
	return false
}

// compare orders integers numerically and other values as strings.
func compare(a, b string) int {
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	if err1 == nil && err2 == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

// substrings matches v (lower case) against initial/any/final parts.
func substrings(v string, parts []*ber.Packet) bool {
	for _, p := range parts {
		s := strings.ToLower(string(p.Data.Bytes()))
		switch p.Tag {
		case ldap.FilterSubstringsInitial:
			if !strings.HasPrefix(v, s) {
				return false
			}
			v = v[len(s):]
		case ldap.FilterSubstringsAny:
			i := strings.Index(v, s)
			if i < 0 {
				return false
			}
			v = v[i+len(s):]
		case ldap.FilterSubstringsFinal:
			if !strings.HasSuffix(v, s) {
				return false
			}
		}
	}
	return true
}

// equalities collects the attribute=value assertions that every matching
// entry must satisfy (top level, or inside a top-level AND), so a search can
// be answered from an index.
func equalities(f *ber.Packet) map[string][]byte {
	out := map[string][]byte{}
	var walk func(*ber.Packet)
	walk = func(p *ber.Packet) {
		switch p.Tag {
		case ldap.FilterAnd:
			for _, c := range p.Children {
				walk(c)
			}
		case ldap.FilterEqualityMatch:
			if len(p.Children) == 2 {
				out[strings.ToLower(string(p.Children[0].Data.Bytes()))] = bytes.Clone(p.Children[1].Data.Bytes())
			}
		}
	}
	walk(f)
	return out
}
