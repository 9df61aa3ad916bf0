package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// A decoder walks a YAML node tree strictly, collecting every error with
// its file:line:col instead of stopping at the first.
type decoder struct {
	name     string
	errs     []posError
	ruleRefs []ruleIDNode
}

type posError struct {
	line, col int
	err       error
}

// err returns every error in file order, joined, or nil.
func (d *decoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(d.errs, func(a, b posError) int {
		if a.line != b.line {
			return a.line - b.line
		}
		return a.col - b.col
	})
	errs := make([]error, len(d.errs))
	for i, e := range d.errs {
		errs[i] = e.err
	}
	return errors.Join(errs...)
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errorAt(n.Line, n.Column, format, args...)
}

func (d *decoder) errorAt(line, col int, format string, args ...any) {
	d.errs = append(d.errs, posError{line, col, fmt.Errorf("%s:%d:%d: %s", d.name, line, col, fmt.Sprintf(format, args...))})
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!null":
			return "null"
		}
		return fmt.Sprintf("%s %s", strings.TrimPrefix(n.Tag, "!!"), n.Value)
	}
	return "an alias"
}

// fields decodes a mapping: each known key's value goes to its setter;
// unknown and repeated keys are errors. A null node is an empty mapping.
func (d *decoder) fields(n *yaml.Node, what string, set map[string]func(*yaml.Node)) {
	d.entries(n, what, func(k, v *yaml.Node) {
		f, ok := set[k.Value]
		if !ok {
			keys := make([]string, 0, len(set))
			for k := range set {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			d.errorf(k, "unknown key %q in %s (known: %s)", k.Value, what, strings.Join(keys, ", "))
			return
		}
		f(v)
	})
}

// entries decodes a mapping with free keys, in file order.
func (d *decoder) entries(n *yaml.Node, what string, each func(k, v *yaml.Node)) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: want a mapping, got %s", what, kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if seen[k.Value] {
			d.errorf(k, "duplicate key %q in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		each(k, v)
	}
}

// list decodes a sequence; a null node is an empty list.
func (d *decoder) list(n *yaml.Node, what string, each func(i int, v *yaml.Node)) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s: want a list, got %s", what, kindName(n))
		return
	}
	for i, v := range n.Content {
		each(i, deref(v))
	}
}

// str decodes a string scalar.
func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		d.errorf(n, "%s: want a string, got %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

// text decodes free text: a string, or a number written without quotes.
func (d *decoder) text(n *yaml.Node, what string) (string, bool) {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		return n.Value, true
	}
	return d.str(n, what)
}

func (d *decoder) boolean(n *yaml.Node, what string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errorf(n, "%s: want true or false, got %s", what, kindName(n))
		return false, false
	}
	return n.Value == "true", true
}

// strings decodes a list of strings.
func (d *decoder) strings(n *yaml.Node, what string) ([]string, bool) {
	out := []string{}
	ok := true
	d.list(n, what, func(_ int, v *yaml.Node) {
		s, good := d.str(v, what+" item")
		ok = ok && good
		out = append(out, s)
	})
	return out, ok && (deref(n).Kind == yaml.SequenceNode || isNull(deref(n)))
}
