package windows

import (
	"strconv"
	"strings"
	"unicode"
)

// The PowerShell subset's syntax tree. Positions are rune offsets into the
// script, used for PowerShell's "At line:L char:C" position messages.

type stmt interface{}

type assignStmt struct {
	name  string
	value stmt // *pipeline or *foreachStmt
}

type foreachStmt struct {
	varName string
	coll    *pipeline
	body    []stmt
}

type tryStmt struct{ body, catch []stmt }

type ifStmt struct {
	conds    []*pipeline
	bodies   [][]stmt
	elseBody []stmt
}

type throwStmt struct {
	x          *pipeline
	start, end int
}

type exitStmt struct{ x *pipeline }

type pipeline struct {
	elems      []any // *command or expr; commands after the first element
	start, end int
}

type command struct {
	name       string
	args       []cmdArg
	start, end int // extent of the whole command
	nameEnd    int
}

type cmdArg struct {
	param string // parameter name without '-', or "" for a value
	value expr   // nil for a parameter without an attached value
}

type expr interface{}

type (
	litExpr   struct{ v any }
	strExpr   struct{ parts []any } // string or expr
	varExpr   struct{ name string }
	subExpr   struct{ stmts []stmt } // $( )
	arrayExpr struct{ stmts []stmt } // @( )
	parenExpr struct{ p stmt }       // ( )
	hashExpr  struct {
		keys []string
		vals []stmt
	}
	sbExpr     struct{ body []stmt }
	memberExpr struct {
		base   expr
		name   string
		call   bool
		args   []expr
		static bool
	}
	indexExpr struct{ base, idx expr }
	binExpr   struct {
		op   string
		l, r expr
	}
	unaryExpr struct {
		op string
		x  expr
	}
	castExpr struct {
		typ string
		x   expr
	}
	typeExpr  struct{ typ string }
	commaExpr struct{ items []expr }
)

// parseError is a PowerShell parser error.
type parseError struct {
	msg, id string
	pos     int
}

func (e *parseError) Error() string { return e.msg }

type parser struct {
	src []rune
	pos int
}

// parseScript parses a whole script.
func parseScript(src string) (stmts []stmt, err error) {
	return parseRunes([]rune(src))
}

// parseRunes parses a whole script given as runes, which it does not change.
func parseRunes(src []rune) (stmts []stmt, err error) {
	p := &parser{src: src}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*parseError)
			if !ok {
				panic(r)
			}
			err = pe
		}
	}()
	stmts = p.statements()
	if p.pos < len(p.src) {
		p.fail("Unexpected token '"+p.tokenAt()+"' in expression or statement.", "UnexpectedToken")
	}
	return stmts, nil
}

func (p *parser) fail(msg, id string) {
	panic(&parseError{msg: msg, id: id, pos: p.pos})
}

func (p *parser) tokenAt() string {
	end := p.pos
	for end < len(p.src) && !unicode.IsSpace(p.src[end]) && end-p.pos < 40 {
		end++
	}
	if end == p.pos && p.pos < len(p.src) {
		end++
	}
	return string(p.src[p.pos:end])
}

// find returns the offset from pos of the next r, or -1.
func (p *parser) find(r rune) int {
	for i := p.pos; i < len(p.src); i++ {
		if p.src[i] == r {
			return i - p.pos
		}
	}
	return -1
}

// hasPrefixFold reports whether the text at pos starts with s (ASCII, any case).
func (p *parser) hasPrefixFold(s string) bool {
	if p.pos+len(s) > len(p.src) {
		return false
	}
	return strings.EqualFold(string(p.src[p.pos:p.pos+len(s)]), s)
}

func (p *parser) peek() rune {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *parser) peekAt(n int) rune {
	if p.pos+n < len(p.src) {
		return p.src[p.pos+n]
	}
	return 0
}

// skip skips blanks, comments and line continuations; with nl also newlines.
func (p *parser) skip(nl bool) {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\f' || c == '\u00a0':
			p.pos++
		case c == '`' && (p.peekAt(1) == '\n' || p.peekAt(1) == '\r'):
			p.pos += 2
			if p.peek() == '\n' {
				p.pos++
			}
		case nl && (c == '\n' || c == '\r'):
			p.pos++
		case c == '<' && p.peekAt(1) == '#':
			end := -1
			for i := p.pos + 2; i+1 < len(p.src); i++ {
				if p.src[i] == '#' && p.src[i+1] == '>' {
					end = i
					break
				}
			}
			if end < 0 {
				p.fail("Missing closing '#>' in block comment.", "MissingEndOfBlockComment")
			}
			p.pos = end + 2
		case c == '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' && p.src[p.pos] != '\r' {
				p.pos++
			}
		default:
			return
		}
	}
}

// statements parses statements until EOF or an unmatched closer (')' or '}').
func (p *parser) statements() []stmt {
	var out []stmt
	for {
		p.skip(true)
		for p.peek() == ';' {
			p.pos++
			p.skip(true)
		}
		c := p.peek()
		if c == 0 || c == ')' || c == '}' {
			return out
		}
		out = append(out, p.statement())
		p.skip(false)
		switch p.peek() {
		case ';', '\n', '\r':
			p.pos++
		case 0, ')', '}':
		default:
			p.fail("Unexpected token '"+p.tokenAt()+"' in expression or statement.", "UnexpectedToken")
		}
	}
}

func isWordChar(c rune) bool {
	return unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' || c == '-'
}

// keyword returns the keyword at pos (lower case) if a word there is one.
func (p *parser) keyword() string {
	end := p.pos
	for end < len(p.src) && (unicode.IsLetter(p.src[end])) {
		end++
	}
	w := strings.ToLower(string(p.src[p.pos:end]))
	if end < len(p.src) && isWordChar(p.src[end]) {
		return ""
	}
	switch w {
	case "foreach", "try", "catch", "if", "elseif", "else", "throw", "exit":
		return w
	}
	return ""
}

func (p *parser) expect(c rune, msg, id string) {
	p.skip(true)
	if p.peek() != c {
		p.fail(msg, id)
	}
	p.pos++
}

func (p *parser) block(what string) []stmt {
	p.skip(true)
	if p.peek() != '{' {
		p.fail("Missing statement block after "+what+".", "MissingStatementBlock")
	}
	p.pos++
	body := p.statements()
	if p.peek() != '}' {
		p.fail("Missing closing '}' in statement block or type definition.", "MissingEndCurlyBrace")
	}
	p.pos++
	return body
}

func (p *parser) statement() stmt {
	switch kw := p.keyword(); kw {
	case "foreach":
		p.pos += len(kw)
		p.expect('(', "Missing opening '(' after keyword 'foreach'.", "MissingOpenParenthesisAfterKeyword")
		p.skip(true)
		if p.peek() != '$' {
			p.fail("Missing variable name after foreach.", "MissingVariableNameAfterForeach")
		}
		p.pos++
		name := p.varName()
		p.skip(true)
		if !strings.EqualFold(p.word(), "in") {
			p.fail("Missing 'in' after variable in foreach loop.", "MissingInInForeach")
		}
		p.skip(true)
		coll := p.pipeline()
		p.expect(')', "Missing closing ')' after expression in 'foreach' statement.", "MissingEndParenthesisAfterForeach")
		return &foreachStmt{varName: name, coll: coll, body: p.block("foreach")}
	case "try":
		p.pos += len(kw)
		body := p.block("try")
		p.skip(true)
		if p.keyword() != "catch" {
			p.fail("The Try statement is missing its Catch or Finally block.", "MissingCatchOrFinally")
		}
		p.pos += len("catch")
		return &tryStmt{body: body, catch: p.block("catch")}
	case "if":
		s := &ifStmt{}
		for {
			p.pos += len(p.keyword())
			p.expect('(', "Missing '(' after 'if' in if statement.", "MissingOpenParenthesisInIfStatement")
			p.skip(true)
			s.conds = append(s.conds, p.pipeline())
			p.expect(')', "Missing closing ')' after expression in 'if' statement.", "MissingEndParenthesisAfterStatement")
			s.bodies = append(s.bodies, p.block("if"))
			save := p.pos
			p.skip(true)
			switch p.keyword() {
			case "elseif":
				continue
			case "else":
				p.pos += len("else")
				s.elseBody = p.block("else")
			default:
				p.pos = save
			}
			return s
		}
	case "throw":
		start := p.pos
		p.pos += len(kw)
		p.skip(false)
		t := &throwStmt{start: start}
		if c := p.peek(); c != 0 && c != ';' && c != '\n' && c != '\r' && c != '}' && c != ')' {
			t.x = p.pipeline()
		}
		t.end = p.pos
		return t
	case "exit":
		p.pos += len(kw)
		p.skip(false)
		e := &exitStmt{}
		if c := p.peek(); c != 0 && c != ';' && c != '\n' && c != '\r' && c != '}' {
			e.x = p.pipeline()
		}
		return e
	case "catch", "elseif", "else":
		p.fail("Unexpected token '"+kw+"' in expression or statement.", "UnexpectedToken")
	}
	if p.peek() == '$' {
		save := p.pos
		p.pos++
		name := p.varName()
		p.skip(false)
		if p.peek() == '=' && p.peekAt(1) != '=' {
			p.pos++
			p.skip(true)
			if p.keyword() == "foreach" {
				return &assignStmt{name: name, value: p.statement()}
			}
			if p.peek() == 0 || p.peek() == ';' || p.peek() == '}' {
				p.fail("You must provide a value expression following the '=' operator.", "ExpectedValueExpression")
			}
			return &assignStmt{name: name, value: p.pipeline()}
		}
		p.pos = save
	}
	return p.pipeline()
}

// word reads a run of letters.
func (p *parser) word() string {
	start := p.pos
	for p.pos < len(p.src) && unicode.IsLetter(p.src[p.pos]) {
		p.pos++
	}
	return string(p.src[start:p.pos])
}

// varName reads a variable name after '$'.
func (p *parser) varName() string {
	if p.peek() == '{' {
		end := p.find('}')
		if end < 0 {
			p.fail("Missing '}' in variable reference.", "MissingEndCurlyBrace")
		}
		name := string(p.src[p.pos+1 : p.pos+end])
		p.pos += end + 1
		return name
	}
	start := p.pos
	if p.peek() == '_' || p.peek() == '?' || p.peek() == '^' || p.peek() == '$' {
		p.pos++
		if p.src[start] != '_' {
			return string(p.src[start:p.pos])
		}
	}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' {
			p.pos++
			continue
		}
		if c == ':' && p.pos > start && unicode.IsLetter(p.peekAt(1)) {
			scope := strings.ToLower(string(p.src[start:p.pos]))
			if scope == "env" || scope == "global" || scope == "script" || scope == "local" {
				p.pos++
				continue
			}
		}
		break
	}
	if p.pos == start {
		p.fail("Variable reference is not valid. '$' was not followed by a valid variable name character. Consider using ${} to delimit the name.", "InvalidVariableReference")
	}
	return string(p.src[start:p.pos])
}

func (p *parser) pipeline() *pipeline {
	pl := &pipeline{start: p.pos}
	pl.elems = append(pl.elems, p.pipeElem(true))
	for {
		p.skip(false)
		if p.peek() != '|' || p.peekAt(1) == '|' {
			break
		}
		p.pos++
		p.skip(true)
		if c := p.peek(); c == 0 || c == ';' || c == ')' || c == '}' {
			p.fail("An empty pipe element is not allowed.", "EmptyPipeElement")
		}
		pl.elems = append(pl.elems, p.pipeElem(false))
	}
	// Pipeline chain operators came with PowerShell 7; 5.1's tokenizer
	// rejects them (ParserStrings.InvalidEndOfLine).
	if c := p.peek(); (c == '&' || c == '|') && p.peekAt(1) == c {
		p.fail("The token '"+string([]rune{c, c})+"' is not a valid statement separator in this version.", "InvalidEndOfLine")
	}
	pl.end = p.pos
	return pl
}

// startsExpression reports whether the text at pos is an expression rather than a command.
func (p *parser) startsExpression() bool {
	c := p.peek()
	switch {
	case c == '$' || c == '\'' || c == '"' || c == '(' || c == '@' || c == '[' || c == '!' || c == ',' || c == '{':
		return true
	case unicode.IsDigit(c):
		return true
	case c == '-' && (unicode.IsDigit(p.peekAt(1)) || p.hasPrefixFold("-not")):
		return true
	case c == '.' && unicode.IsDigit(p.peekAt(1)):
		return true
	}
	return false
}

func (p *parser) pipeElem(first bool) any {
	p.skip(false)
	if p.startsExpression() {
		if !first {
			p.fail("Expressions are only allowed as the first element of a pipeline.", "ExpressionsMustBeFirstInPipeline")
		}
		return p.expression()
	}
	return p.command()
}

func isArgEnd(c rune) bool {
	return c == 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';' || c == '|' || c == ')' || c == '}' || c == '(' || c == '{' || c == ','
}

func (p *parser) command() *command {
	cmd := &command{start: p.pos}
	if c := p.peek(); c == '&' || c == '.' && !unicode.IsLetter(p.peekAt(1)) {
		p.fail("The ampersand (&) character is not allowed.", "AmpersandNotAllowed")
	}
	for !isArgEnd(p.peek()) || (p.peek() == ',' && p.pos == cmd.start) {
		if p.peek() == '"' || p.peek() == '\'' {
			break
		}
		p.pos++
	}
	cmd.name = string(p.src[cmd.start:p.pos])
	if cmd.name == "" {
		p.fail("Unexpected token '"+p.tokenAt()+"' in expression or statement.", "UnexpectedToken")
	}
	cmd.nameEnd = p.pos
	for {
		p.skip(false)
		c := p.peek()
		if c == 0 || c == ';' || c == '|' || c == ')' || c == '}' || c == '\n' || c == '\r' || c == '&' && p.peekAt(1) == '&' {
			break
		}
		if c == '-' && (unicode.IsLetter(p.peekAt(1)) || p.peekAt(1) == '_') {
			p.pos++
			start := p.pos
			for p.pos < len(p.src) && (unicode.IsLetter(p.src[p.pos]) || unicode.IsDigit(p.src[p.pos]) || p.src[p.pos] == '_' || p.src[p.pos] == '-') {
				p.pos++
			}
			a := cmdArg{param: string(p.src[start:p.pos])}
			if p.peek() == ':' {
				p.pos++
				a.value = p.argValue()
			}
			cmd.args = append(cmd.args, a)
			continue
		}
		cmd.args = append(cmd.args, cmdArg{value: p.argValue()})
	}
	cmd.end = p.pos
	for cmd.end > cmd.start && unicode.IsSpace(p.src[cmd.end-1]) {
		cmd.end--
	}
	return cmd
}

// argValue parses one argument in command mode, including comma lists.
func (p *parser) argValue() expr {
	var items []expr
	for {
		p.skip(false)
		items = append(items, p.argItem())
		p.skip(false)
		if p.peek() != ',' {
			break
		}
		p.pos++
		p.skip(true)
	}
	if len(items) == 1 {
		return items[0]
	}
	return &commaExpr{items: items}
}

func (p *parser) argItem() expr {
	c := p.peek()
	switch c {
	case '$', '\'', '"', '(', '@', '{', '[':
		return p.postfix()
	}
	start := p.pos
	for !isArgEnd(p.peek()) {
		if c := p.peek(); (c == '"' || c == '\'') && p.pos > start {
			break
		}
		p.pos++
	}
	w := string(p.src[start:p.pos])
	if w == "" {
		p.fail("Missing argument in parameter list.", "MissingArgument")
	}
	if n, ok := parseNumber(w); ok {
		return &litExpr{v: n}
	}
	return &litExpr{v: w}
}

// parseNumber parses an integer or decimal literal.
func parseNumber(w string) (any, bool) {
	lw := strings.ToLower(w)
	if strings.HasPrefix(lw, "0x") {
		n, err := strconv.ParseUint(lw[2:], 16, 64)
		if err != nil {
			return nil, false
		}
		if n <= 0xFFFFFFFF {
			return int64(int32(uint32(n))), true // PowerShell: 0x80000000 is a negative int32
		}
		return int64(n), true
	}
	if n, err := strconv.ParseInt(w, 10, 64); err == nil {
		return n, true
	}
	if strings.ContainsAny(w, ".eE") {
		if f, err := strconv.ParseFloat(w, 64); err == nil && (unicode.IsDigit(rune(w[0])) || w[0] == '.') {
			return f, true
		}
	}
	return nil, false
}

// Expression grammar (PowerShell precedence, simplified):
// logical(-and -or) < comparison < additive(+ -) < comma < unary/cast < postfix.

func (p *parser) expression() expr {
	l := p.comparison()
	for {
		p.skip(false)
		op := p.dashOp("and", "or")
		if op == "" {
			return l
		}
		p.skip(true)
		l = &binExpr{op: op, l: l, r: p.comparison()}
	}
}

// dashOp consumes one of the -operators if present.
func (p *parser) dashOp(ops ...string) string {
	if p.peek() != '-' {
		return ""
	}
	rest := strings.ToLower(string(p.src[p.pos+1 : min(len(p.src), p.pos+12)]))
	for _, op := range ops {
		if strings.HasPrefix(rest, op) && (len(rest) == len(op) || !isWordChar(rune(rest[len(op)]))) {
			p.pos += 1 + len(op)
			return op
		}
	}
	return ""
}

var compOps = []string{"eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch", "contains", "notcontains", "in", "notin",
	"ieq", "ine", "ilike", "inotlike", "ceq", "cne", "clike", "cnotlike"}

func (p *parser) comparison() expr {
	l := p.additive()
	for {
		p.skip(false)
		op := p.dashOp(compOps...)
		if op == "" {
			return l
		}
		p.skip(true)
		l = &binExpr{op: op, l: l, r: p.additive()}
	}
}

func (p *parser) additive() expr {
	l := p.comma()
	for {
		p.skip(false)
		c := p.peek()
		if c != '+' && !(c == '-' && !unicode.IsLetter(p.peekAt(1))) {
			return l
		}
		p.pos++
		p.skip(true)
		l = &binExpr{op: string(c), l: l, r: p.comma()}
	}
}

func (p *parser) comma() expr {
	first := p.unary()
	p.skip(false)
	if p.peek() != ',' {
		return first
	}
	items := []expr{first}
	for p.peek() == ',' {
		p.pos++
		p.skip(true)
		items = append(items, p.unary())
		p.skip(false)
	}
	return &commaExpr{items: items}
}

func (p *parser) unary() expr {
	p.skip(false)
	switch {
	case p.peek() == '!':
		p.pos++
		return &unaryExpr{op: "not", x: p.unary()}
	case p.dashOp("not") != "":
		p.skip(true)
		return &unaryExpr{op: "not", x: p.unary()}
	case p.peek() == '-':
		p.pos++
		return &unaryExpr{op: "-", x: p.unary()}
	case p.peek() == ',':
		p.pos++
		p.skip(true)
		return &commaExpr{items: []expr{p.unary()}}
	case p.peek() == '[':
		save := p.pos
		typ := p.typeName()
		if typ != "" {
			p.skip(false)
			if p.peek() == ':' && p.peekAt(1) == ':' {
				p.pos = save
				return p.postfix()
			}
			c := p.peek()
			if c == 0 || c == ')' || c == ';' || c == '}' || c == '|' || c == '\n' || c == '\r' || c == ',' {
				return &typeExpr{typ: typ}
			}
			return &castExpr{typ: typ, x: p.unary()}
		}
		p.pos = save
	}
	return p.postfix()
}

// typeName reads "[name]" and returns name, or "" if it is not a type literal.
func (p *parser) typeName() string {
	if p.peek() != '[' {
		return ""
	}
	end := p.find(']')
	if end < 0 {
		return ""
	}
	name := strings.TrimSpace(string(p.src[p.pos+1 : p.pos+end]))
	if name == "" {
		return ""
	}
	for _, c := range name {
		if !(unicode.IsLetter(c) || unicode.IsDigit(c) || c == '.' || c == '_' || c == '[' || c == ']') {
			return ""
		}
	}
	p.pos += end + 1
	return name
}

func (p *parser) postfix() expr {
	x := p.primary()
	for {
		c := p.peek()
		switch {
		case c == '.' && (unicode.IsLetter(p.peekAt(1)) || p.peekAt(1) == '_' || p.peekAt(1) == '\''):
			p.pos++
			x = p.member(x, false)
		case c == ':' && p.peekAt(1) == ':':
			p.pos += 2
			x = p.member(x, true)
		case c == '[':
			p.pos++
			p.skip(true)
			idx := p.expression()
			p.expect(']', "Missing ']' after array index expression.", "MissingEndSquareBracket")
			x = &indexExpr{base: x, idx: idx}
		default:
			return x
		}
	}
}

func (p *parser) member(base expr, static bool) expr {
	var name string
	if p.peek() == '\'' {
		name = p.singleQuoted()
	} else {
		start := p.pos
		for p.pos < len(p.src) && (unicode.IsLetter(p.src[p.pos]) || unicode.IsDigit(p.src[p.pos]) || p.src[p.pos] == '_') {
			p.pos++
		}
		name = string(p.src[start:p.pos])
	}
	m := &memberExpr{base: base, name: name, static: static}
	if p.peek() == '(' {
		p.pos++
		m.call = true
		p.skip(true)
		for p.peek() != ')' {
			m.args = append(m.args, p.unary())
			p.skip(true)
			if p.peek() == ',' {
				p.pos++
				p.skip(true)
				continue
			}
			if p.peek() != ')' {
				p.fail("Missing ')' in method call.", "MissingEndParenthesisInMethodCall")
			}
		}
		p.pos++
	}
	return m
}

func (p *parser) primary() expr {
	c := p.peek()
	switch {
	case c == '$' && p.peekAt(1) == '(':
		p.pos += 2
		s := p.statements()
		p.expect(')', "Missing closing ')' in subexpression.", "MissingEndParenthesisInSubexpression")
		return &subExpr{stmts: s}
	case c == '$':
		p.pos++
		return &varExpr{name: p.varName()}
	case c == '@' && p.peekAt(1) == '(':
		p.pos += 2
		s := p.statements()
		p.expect(')', "Missing closing ')' in subexpression.", "MissingEndParenthesisInSubexpression")
		return &arrayExpr{stmts: s}
	case c == '@' && p.peekAt(1) == '{':
		p.pos += 2
		return p.hash()
	case c == '(':
		p.pos++
		p.skip(true)
		var s stmt
		if p.peek() == '$' || p.keyword() != "" {
			s = p.statement()
		} else {
			s = p.pipeline()
		}
		p.expect(')', "Missing closing ')' in expression.", "MissingEndParenthesisInExpression")
		return &parenExpr{p: s}
	case c == '{':
		p.pos++
		body := p.statements()
		p.expect('}', "Missing closing '}' in statement block or type definition.", "MissingEndCurlyBrace")
		return &sbExpr{body: body}
	case c == '\'':
		return &litExpr{v: p.singleQuoted()}
	case c == '"':
		return p.doubleQuoted()
	case c == '[':
		if t := p.typeName(); t != "" {
			return &typeExpr{typ: t}
		}
	case unicode.IsDigit(c) || c == '.' && unicode.IsDigit(p.peekAt(1)):
		start := p.pos
		for p.pos < len(p.src) && (unicode.IsLetter(p.src[p.pos]) || unicode.IsDigit(p.src[p.pos]) || p.src[p.pos] == '.' && unicode.IsDigit(p.peekAt(1))) {
			p.pos++
		}
		if n, ok := parseNumber(string(p.src[start:p.pos])); ok {
			return &litExpr{v: n}
		}
		p.pos = start
		p.fail("Unexpected token '"+p.tokenAt()+"' in expression or statement.", "UnexpectedToken")
	}
	if c == 0 {
		p.fail("You must provide a value expression following the operator.", "ExpectedValueExpression")
	}
	p.fail("Unexpected token '"+p.tokenAt()+"' in expression or statement.", "UnexpectedToken")
	return nil
}

func (p *parser) hash() expr {
	h := &hashExpr{}
	for {
		p.skip(true)
		for p.peek() == ';' {
			p.pos++
			p.skip(true)
		}
		if p.peek() == '}' {
			p.pos++
			return h
		}
		var key string
		switch p.peek() {
		case '\'':
			key = p.singleQuoted()
		case '"':
			key = p.singleOrPlain()
		default:
			start := p.pos
			for p.pos < len(p.src) && (unicode.IsLetter(p.src[p.pos]) || unicode.IsDigit(p.src[p.pos]) || p.src[p.pos] == '_' || p.src[p.pos] == '-') {
				p.pos++
			}
			key = string(p.src[start:p.pos])
		}
		if key == "" {
			p.fail("Missing key before '=' in hash literal.", "MissingEqualsInHashLiteral")
		}
		p.skip(false)
		if p.peek() != '=' {
			p.fail("Missing '=' operator after key in hash literal.", "MissingEqualsInHashLiteral")
		}
		p.pos++
		p.skip(true)
		var v stmt
		if p.keyword() != "" || p.peek() == '$' {
			v = p.statement()
		} else {
			v = p.pipeline()
		}
		h.keys = append(h.keys, key)
		h.vals = append(h.vals, v)
		p.skip(false)
		switch p.peek() {
		case ';', '\n', '\r', '}':
		default:
			p.fail("Missing statement after '=' in hash literal.", "MissingStatementInHashLiteral")
		}
	}
}

func (p *parser) singleOrPlain() string {
	s := p.doubleQuoted()
	var b strings.Builder
	for _, part := range s.(*strExpr).parts {
		if str, ok := part.(string); ok {
			b.WriteString(str)
		}
	}
	return b.String()
}

func (p *parser) singleQuoted() string {
	p.pos++ // opening quote
	var b strings.Builder
	for {
		if p.pos >= len(p.src) {
			p.fail("The string is missing the terminator: '.", "TerminatorExpectedAtEndOfString")
		}
		c := p.src[p.pos]
		if isSingleQuote(c) {
			if p.pos+1 < len(p.src) && isSingleQuote(p.src[p.pos+1]) {
				b.WriteRune(c)
				p.pos += 2
				continue
			}
			p.pos++
			return b.String()
		}
		b.WriteRune(c)
		p.pos++
	}
}

func isSingleQuote(c rune) bool { return c == '\'' || c == '\u2018' || c == '\u2019' }

func (p *parser) doubleQuoted() expr {
	p.pos++
	s := &strExpr{}
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			s.parts = append(s.parts, b.String())
			b.Reset()
		}
	}
	for {
		if p.pos >= len(p.src) {
			p.fail("The string is missing the terminator: \".", "TerminatorExpectedAtEndOfString")
		}
		c := p.src[p.pos]
		switch {
		case c == '"':
			if p.peekAt(1) == '"' {
				b.WriteRune('"')
				p.pos += 2
				continue
			}
			p.pos++
			flush()
			return s
		case c == '`' && p.pos+1 < len(p.src):
			esc := p.src[p.pos+1]
			p.pos += 2
			switch esc {
			case 'n':
				b.WriteRune('\n')
			case 'r':
				b.WriteRune('\r')
			case 't':
				b.WriteRune('\t')
			case '0':
				b.WriteRune(0)
			case 'a':
				b.WriteRune(7)
			case 'b':
				b.WriteRune(8)
			case 'e':
				b.WriteRune(27)
			default:
				b.WriteRune(esc)
			}
		case c == '$' && p.peekAt(1) == '(':
			flush()
			p.pos += 2
			st := p.statements()
			p.expect(')', "Missing closing ')' in subexpression.", "MissingEndParenthesisInSubexpression")
			s.parts = append(s.parts, &subExpr{stmts: st})
		case c == '$' && (unicode.IsLetter(p.peekAt(1)) || p.peekAt(1) == '_' || p.peekAt(1) == '{'):
			flush()
			p.pos++
			s.parts = append(s.parts, &varExpr{name: p.varName()})
		default:
			b.WriteRune(c)
			p.pos++
		}
	}
}
