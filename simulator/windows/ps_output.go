package windows

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// hostWidth is the console buffer width powershell.exe assumes when its
// output is redirected under WinRM; error lines wrap one column short of it.
const hostWidth = 80

// writeFormatted writes pipeline output as Out-Default does without format
// views: strings and scalars one per line; objects with up to four
// properties as a table (consecutive objects of the same shape share one),
// larger ones as a list. Tables are not cut to the console width.
func writeFormatted(b *strings.Builder, items []any) {
	var table []*object
	flush := func() {
		if len(table) > 0 {
			writeTable(b, table)
			table = nil
		}
	}
	for _, it := range items {
		x, isObj := it.(*object)
		if isObj && x.errRec == nil && len(x.props) > 0 && len(x.props) <= 4 {
			if len(table) > 0 && !sameShape(table[0], x) {
				flush()
			}
			table = append(table, x)
			continue
		}
		flush()
		switch x := it.(type) {
		case nil, automationNull:
		case []any:
			writeFormatted(b, x)
		case *object:
			if x.errRec != nil || len(x.props) == 0 {
				b.WriteString(x.String() + "\r\n")
				continue
			}
			writeList(b, x.props)
		case *hashtable:
			writeHashTable(b, x)
		default:
			b.WriteString(toStr(x) + "\r\n")
		}
	}
	flush()
}

func sameShape(a, b *object) bool {
	if len(a.props) != len(b.props) {
		return false
	}
	for i := range a.props {
		if a.props[i].name != b.props[i].name {
			return false
		}
	}
	return true
}

// isNumeric reports whether Format-Table right-aligns v.
func isNumeric(v any) bool {
	switch v.(type) {
	case int64, float64, float32:
		return true
	}
	return false
}

// writeTable is Format-Table's layout: a blank line, headers, dashes, one
// row per object (numbers right-aligned), two blank lines.
func writeTable(b *strings.Builder, rows []*object) {
	cols := rows[0].props
	width := make([]int, len(cols))
	right := make([]bool, len(cols))
	cells := make([][]string, len(rows))
	for i, p := range cols {
		width[i] = utf8.RuneCountInString(p.name)
	}
	for r, o := range rows {
		cells[r] = make([]string, len(cols))
		for i, p := range o.props {
			cells[r][i] = listValue(p.value)
			width[i] = max(width[i], utf8.RuneCountInString(cells[r][i]))
			right[i] = right[i] || isNumeric(p.value)
		}
	}
	line := func(vals []string) {
		var l strings.Builder
		for i, v := range vals {
			if i > 0 {
				l.WriteByte(' ')
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(v))
			if right[i] {
				l.WriteString(pad + v)
			} else {
				l.WriteString(v + pad)
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " ") + "\r\n")
	}
	b.WriteString("\r\n")
	heads, dashes := make([]string, len(cols)), make([]string, len(cols))
	for i, p := range cols {
		heads[i] = p.name
		dashes[i] = strings.Repeat("-", utf8.RuneCountInString(p.name))
	}
	line(heads)
	line(dashes)
	for _, r := range cells {
		line(r)
	}
	b.WriteString("\r\n\r\n")
}

// writeList is Format-List's layout: names padded to the longest.
func writeList(b *strings.Builder, props []property) {
	width := 0
	for _, p := range props {
		width = max(width, utf8.RuneCountInString(p.name))
	}
	b.WriteString("\r\n")
	for _, p := range props {
		fmt.Fprintf(b, "%-*s : %s\r\n", width, p.name, listValue(p.value))
	}
	b.WriteString("\r\n")
}

func listValue(v any) string {
	if arr, ok := v.([]any); ok {
		parts := make([]string, len(arr))
		for i, e := range arr {
			parts[i] = toStr(e)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return toStr(v)
}

// writeHashTable is the default table view of a hashtable.
func writeHashTable(b *strings.Builder, h *hashtable) {
	b.WriteString("\r\nName                           Value\r\n----                           -----\r\n")
	for _, p := range h.props {
		fmt.Fprintf(b, "%-30s %s\r\n", p.name, listValue(p.value))
	}
	b.WriteString("\r\n")
}

// writeError records an error as PowerShell's NormalView error view prints it.
func (ip *interp) writeError(e *psError) {
	prefix := ""
	if e.cmdName != "" {
		prefix = e.cmdName + " : "
	}
	lines := strings.Split(strings.ReplaceAll(prefix+e.msg, "\r\n", "\n"), "\n")
	lines = append(lines, ip.positionMessage(e.start, e.end)...)
	lines = append(lines, chunked("+ CategoryInfo          : "+e.category), chunked("+ FullyQualifiedErrorId : "+e.fqid), " ")
	ip.stderr = append(ip.stderr, lines...)
}

// chunked reproduces the error view's `$indentString -split "(.{$width})"`
// with $width = buffer width - 6, each piece prefixed by four spaces.
func chunked(s string) string {
	width := hostWidth - 6
	r := []rune(s)
	var b strings.Builder
	for len(r) > 0 {
		n := min(width, len(r))
		b.WriteString("    " + string(r[:n]))
		r = r[n:]
	}
	return b.String()
}

// positionMessage is PowerShell's position message: "At line:L char:C",
// the source line and a ~ underline of the extent. start may equal
// len(src) (the parser's caret after the last character). Lines longer than
// 69 characters are cut around the extent with "... " / " ..." markers as
// in PositionUtilities.VerboseMessage (PowerShell/PowerShell
// src/System.Management.Automation/engine/parser/Position.cs; 5.1 prints
// ASCII dots where 7 prints U+2026, as captured in MEM-Zone/MEM.Zone#14).
func (ip *interp) positionMessage(start, end int) []string {
	if start > len(ip.src) || end <= start {
		return nil
	}
	line, col, lineStart := 1, 1, 0
	for i := 0; i < start; i++ {
		if ip.src[i] == '\n' {
			line++
			col = 1
			lineStart = i + 1
		} else {
			col++
		}
	}
	lineEnd := lineStart
	for lineEnd < len(ip.src) && ip.src[lineEnd] != '\n' && ip.src[lineEnd] != '\r' {
		lineEnd++
	}
	head := fmt.Sprintf("At line:%d char:%d", line, col)
	src := []rune(strings.TrimRight(string(ip.src[lineStart:lineEnd]), " \t"))
	if len(src) == 0 {
		return []string{head, "+ "}
	}
	before := col - 1
	errLen := len(src) - before
	if end <= lineEnd && end-lineStart <= len(src) {
		errLen = end - start
	}
	// Tabs expand to four spaces before measuring.
	if strings.ContainsRune(string(src), '\t') {
		b := []rune(strings.ReplaceAll(string(src[:min(before, len(src))]), "\t", "    "))
		e := []rune(strings.ReplaceAll(string(src[min(before, len(src)):min(before+max(errLen, 0), len(src))]), "\t", "    "))
		rest := []rune(strings.ReplaceAll(string(src[min(before+max(errLen, 0), len(src)):]), "\t", "    "))
		before, errLen = len(b), len(e)
		src = append(append(b, e...), rest...)
	}
	const maxLine = 69
	prefixDots, suffixDots := false, false
	if len(src) > maxLine {
		totalPrefix := before
		prefix := min(totalPrefix, 12)
		totalSuffix := len(src) - errLen - before
		suffix := min(totalSuffix, 8)
		cand := prefix + errLen + suffix
		if cand >= maxLine {
			if prefix+errLen >= maxLine {
				errLen = maxLine - prefix
			}
			suffixDots = true
		} else {
			if avail := totalPrefix - prefix; avail > 0 {
				prefix += min(avail, maxLine-cand)
				cand = prefix + errLen + suffix
			}
			if cand < maxLine && totalSuffix > 0 {
				suffix += min(totalSuffix, maxLine-cand)
			}
			suffixDots = suffix < totalSuffix
		}
		prefixDots = prefix < totalPrefix
		from := max(before-prefix, 0)
		src = src[from:min(from+maxLine, len(src))]
		before = min(before, prefix)
		errLen = min(errLen, maxLine-before)
	}
	text := string(src)
	pad := before
	if prefixDots {
		text = "... " + text
		pad += 4
	}
	if suffixDots {
		text += " ..."
	}
	return []string{head, "+ " + text, "+ " + strings.Repeat(" ", pad) + strings.Repeat("~", max(errLen, 1))}
}

// ellipsize shortens a CategoryInfo target over 40 characters to its first
// and last 15 with "..." between (seen as "(root\ccm\Policy...eerClientConfig:String)"
// in MEM-Zone/MEM.Zone#14).
func ellipsize(s string) string {
	r := []rune(s)
	if len(r) <= 40 {
		return s
	}
	return string(r[:15]) + "..." + string(r[len(r)-15:])
}

// writeParseError records a parser error as powershell.exe prints it.
func (ip *interp) writeParseError(pe *parseError) {
	pos := min(pe.pos, len(ip.src))
	lines := ip.positionMessage(pos, pos+1)
	lines = append(lines, pe.msg)
	lines = append(lines, chunked("+ CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException"), chunked("+ FullyQualifiedErrorId : "+pe.id), " ")
	ip.stderr = append(ip.stderr, lines...)
}

// wrapLine wraps one line as the console host does at hostWidth-1 columns,
// breaking after the last space that fits (matched against the CLIXML
// captured in ManageIQ/manageiq#10473 and diyan/pywinrm#166).
func wrapLine(s string) []string {
	limit := hostWidth - 1
	r := []rune(s)
	var out []string
	for len(r) > limit {
		cut := -1
		for i := limit - 1; i > 0; i-- {
			if r[i] == ' ' {
				cut = i + 1
				break
			}
		}
		if cut <= 0 {
			cut = limit
		}
		out = append(out, string(r[:cut]))
		r = r[cut:]
	}
	return append(out, string(r))
}

// firstUseProgress is the progress record powershell.exe sends while it
// builds its module analysis cache, as pywinrm users see it on stderr
// (diyan/pywinrm#166, #245; winrm.md §6.3).
const firstUseProgress = `<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN>` +
	`<MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC>` +
	`<T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>`

// renderErrors produces stderr: CLIXML (as powershell.exe -EncodedCommand
// sends it under WinRM, optionally led by the first-use progress record)
// or plain text lines.
func renderErrors(lines []string, clixml, progress bool) string {
	var wrapped []string
	for _, l := range lines {
		wrapped = append(wrapped, wrapLine(l)...)
	}
	var b strings.Builder
	if !clixml {
		for _, l := range wrapped {
			b.WriteString(l + "\r\n")
		}
		return b.String()
	}
	b.WriteString("#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">")
	if progress {
		b.WriteString(firstUseProgress)
	}
	for _, l := range wrapped {
		b.WriteString(`<S S="Error">` + clixmlEscape(l+"\r\n") + `</S>`)
	}
	b.WriteString("</Objs>")
	return b.String()
}

// clixmlEscape escapes text for a CLIXML <S> element: XML entities and
// control characters as _xHHHH_ (with a literal "_x" itself escaped).
func clixmlEscape(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		switch {
		case c == '&':
			b.WriteString("&amp;")
		case c == '<':
			b.WriteString("&lt;")
		case c == '>':
			b.WriteString("&gt;")
		case c == '_' && isEscapeLike(r[i:]):
			b.WriteString("_x005F_")
		case c < 0x20:
			fmt.Fprintf(&b, "_x%04X_", c)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// isEscapeLike reports whether r starts with "_xHHHH_", which CLIXML must
// escape so that it is not decoded as a character escape.
func isEscapeLike(r []rune) bool {
	if len(r) < 7 || r[1] != 'x' || r[6] != '_' {
		return false
	}
	for _, c := range r[2:6] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
