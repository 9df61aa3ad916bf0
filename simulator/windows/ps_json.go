package windows

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// jnode is a JSON value as ConvertTo-Json builds it before writing.
type jnode struct {
	kind  byte // 'n' null, 's' string, 'r' raw (numbers, bools), 'a' array, 'o' object
	text  string
	items []jnode
	keys  []string
}

// convertToJSON is Windows PowerShell 5.1's ConvertTo-Json.
//
// Matched behaviour: values deeper than depth become their string form
// (PSCustomObject "@{a=1; b=2}", arrays joined by spaces, hashtables
// "System.Collections.Hashtable"); enums are numbers; DateTime is
// "\/Date(ms)\/"; strings are escaped as JavaScriptSerializer does (", \,
// control characters, and <, >, &, ' as \u003c, \u003e, \u0026, \u0027).
// The indented form is 5.1's own re-indenter: four spaces per level, two
// spaces after the colon, and nested arrays/objects indented from the column
// where their bracket sits (as in real captures such as
// `"Power":  [\r\n                  {` — the same layout the mangled
// shared/samples capture was flattened from); empty arrays print as
// "[\r\n\r\n<pad>]".
func convertToJSON(v any, depth int, compress bool) string {
	n := jsonValue(v, 0, depth)
	var b strings.Builder
	if compress {
		writeCompact(&b, n)
	} else {
		writePretty(&b, n, 0)
	}
	return b.String()
}

// convertPipelineToJSON converts several pipeline inputs, written as one
// array. As in PowerShell's ConvertToJsonCommand.EndProcessing (the 5.1
// source, published as PowerShell 6.0's ConvertToJsonCommand.cs with its
// JavaScriptSerializer branch), several inputs are gathered into an array
// processed at depth 0, so each element sits at depth 1 and its nested
// values one level deeper than when it is piped alone:
// `Get-BitLockerVolume | ConvertTo-Json` with two volumes prints each
// KeyProtector entry as its ToString() at the default depth 2.
func convertPipelineToJSON(items []any, depth int, compress bool) string {
	return convertToJSON(items, depth, compress)
}

func jsonValue(v any, depth, maxDepth int) jnode {
	switch x := v.(type) {
	case nil, automationNull:
		return jnode{kind: 'n'}
	case string:
		return jnode{kind: 's', text: x}
	case bool:
		if x {
			return jnode{kind: 'r', text: "true"}
		}
		return jnode{kind: 'r', text: "false"}
	case int64:
		return jnode{kind: 'r', text: strconv.FormatInt(x, 10)}
	case float64:
		return jnode{kind: 'r', text: formatDouble(x)}
	case float32:
		return jnode{kind: 'r', text: formatSingle(x)}
	case enumVal:
		return jnode{kind: 'r', text: strconv.FormatInt(x.v, 10)}
	case time.Time:
		return jnode{kind: 'r', text: fmt.Sprintf(`"\/Date(%d)\/"`, x.UnixMilli())}
	}
	if depth > maxDepth {
		return jnode{kind: 's', text: toStr(v)}
	}
	switch x := v.(type) {
	case []any:
		n := jnode{kind: 'a', items: []jnode{}}
		for _, e := range x {
			n.items = append(n.items, jsonValue(e, depth+1, maxDepth))
		}
		return n
	case *hashtable:
		return jsonObject(x.props, depth, maxDepth)
	case *object:
		return jsonObject(x.props, depth, maxDepth)
	}
	return jnode{kind: 's', text: toStr(v)}
}

func jsonObject(props []property, depth, maxDepth int) jnode {
	n := jnode{kind: 'o'}
	for _, p := range props {
		n.keys = append(n.keys, p.name)
		n.items = append(n.items, jsonValue(p.value, depth+1, maxDepth))
	}
	return n
}

// jsonString escapes s as System.Web.Script.Serialization.JavaScriptSerializer does.
func jsonString(s string) string {
	if plainJSON(s) {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '<', '>', '&', '\'', '\u0085', '\u2028', '\u2029':
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteRune(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// plainJSON reports whether s is printable ASCII that jsonString writes
// unchanged.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&', c == '\'':
			return false
		}
	}
	return true
}

func writeCompact(b *strings.Builder, n jnode) {
	switch n.kind {
	case 'n':
		b.WriteString("null")
	case 's':
		b.WriteString(jsonString(n.text))
	case 'r':
		b.WriteString(n.text)
	case 'a':
		b.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCompact(b, it)
		}
		b.WriteByte(']')
	case 'o':
		b.WriteByte('{')
		for i, it := range n.items {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(jsonString(n.keys[i]) + ":")
			writeCompact(b, it)
		}
		b.WriteByte('}')
	}
}

// writePretty writes n whose first character sits at column col.
func writePretty(b *strings.Builder, n jnode, col int) {
	switch n.kind {
	case 'a', 'o':
		open, close := "[", "]"
		if n.kind == 'o' {
			open, close = "{", "}"
		}
		b.WriteString(open + "\r\n")
		if len(n.items) == 0 {
			b.WriteString("\r\n" + strings.Repeat(" ", col) + close)
			return
		}
		pad := strings.Repeat(" ", col+4)
		for i, it := range n.items {
			if i > 0 {
				b.WriteString(",\r\n")
			}
			b.WriteString(pad)
			if n.kind == 'a' {
				writePretty(b, it, col+4)
				continue
			}
			key := jsonString(n.keys[i]) + ":  "
			b.WriteString(key)
			writePretty(b, it, col+4+utf8.RuneCountInString(key))
		}
		b.WriteString("\r\n" + strings.Repeat(" ", col) + close)
	default:
		writeCompact(b, n)
	}
}
