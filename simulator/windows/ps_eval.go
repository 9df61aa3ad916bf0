package windows

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
)

// psError is a PowerShell ErrorRecord.
type psError struct {
	msg      string // Exception.Message
	fqid     string // FullyQualifiedErrorId
	category string // CategoryInfo as the error view prints it
	exType   string // exception type name
	cmdName  string // "Get-WinEvent" → "Get-WinEvent : " prefix
	start    int    // extent of the failing command in the script
	end      int
	// terminating is set once the error ends the script (throw, Stop).
	terminating bool
}

func (e *psError) Error() string { return e.msg }

// errExit ends the script with an exit code (exit N).
type errExit struct{ code int }

func (e *errExit) Error() string { return fmt.Sprintf("exit %d", e.code) }

// interp runs one PowerShell script against a Machine.
type interp struct {
	ctx     context.Context
	m       *Machine
	inv     Invocation
	src     []rune
	vars    map[string]any
	stderr  []string // error view lines, before host wrapping
	inTry   int
	failed  bool // $? of the last statement was false
	curCmd  *command
	curPipe *pipeline
	// progress is set once a module command ran with progress shown
	// (Machine.ProgressOnFirstUse and $ProgressPreference not SilentlyContinue).
	progress bool
}

var errCancelled = errors.New("cancelled")

// runPowerShell runs a script as powershell.exe does under WinRM.
func (m *Machine) runPowerShell(ctx context.Context, inv Invocation, script string, clixml bool) (string, string, int) {
	parsed := parseCached(script)
	ip := &interp{ctx: ctx, m: m, inv: inv, src: parsed.src, vars: map[string]any{
		"erroractionpreference":    "Continue",
		"progresspreference":       "Continue",
		"warningpreference":        "Continue",
		"verbosepreference":        "SilentlyContinue",
		"debugpreference":          "SilentlyContinue",
		"informationpreference":    "SilentlyContinue",
		"confirmpreference":        "High",
		"ofs":                      " ",
		"pshome":                   `C:\Windows\System32\WindowsPowerShell\v1.0`,
		"formatenumerationlimit":   int64(4),
		"maximumhistorycount":      int64(4096),
		"psculture":                "en-US",
		"psuiculture":              "en-US",
		"executioncontext":         executionContext(m),
		"pid":                      int64(4242),
		"host":                     nil,
		"psversiontable":           psVersionTable(),
		"psdefaultparametervalues": &hashtable{},
	}}
	var out strings.Builder
	out.Grow(8 << 10) // a collection prints some KiB
	code := 0
	stmts, err := parsed.stmts, parsed.err
	if err != nil {
		var pe *parseError
		errors.As(err, &pe)
		ip.writeParseError(pe)
		code = 1
	} else {
		code = ip.runTop(stmts, &out)
	}
	var stderr string
	if len(ip.stderr) > 0 || (clixml && ip.progress) {
		stderr = renderErrors(ip.stderr, clixml, ip.progress)
	}
	return out.String(), stderr, code
}

func psVersionTable() *hashtable {
	return &hashtable{props: []property{
		{"PSVersion", "5.1.22621.4391"}, {"PSEdition", "Desktop"}, {"BuildVersion", "10.0.22621.4391"},
		{"CLRVersion", "4.0.30319.42000"}, {"WSManStackVersion", "3.0"}, {"PSRemotingProtocolVersion", "2.3"},
		{"SerializationVersion", "1.1.0.1"},
	}}
}

// runTop runs the top-level statements, formatting each one's output.
func (ip *interp) runTop(stmts []stmt, out *strings.Builder) int {
	for _, s := range stmts {
		items, err := ip.execStmt(s)
		writeFormatted(out, items)
		if err != nil {
			var ex *errExit
			if errors.As(err, &ex) {
				return ex.code
			}
			if errors.Is(err, errCancelled) {
				return 1
			}
			var pe *psError
			if errors.As(err, &pe) {
				ip.writeError(pe)
				ip.failed = true
				if pe.terminating || ip.stopPreference() {
					return 1
				}
				continue
			}
		}
	}
	if ip.failed {
		return 1
	}
	return 0
}

func (ip *interp) stopPreference() bool {
	return strings.EqualFold(toStr(ip.vars["erroractionpreference"]), "Stop")
}

func (ip *interp) checkCtx() error {
	if ip.ctx.Err() != nil {
		return errCancelled
	}
	return nil
}

// execBlock runs statements, collecting their output.
// A statement-terminating error (not Stop, not throw) outside try ends only
// its own statement: it is written and the block goes on, as in PowerShell.
func (ip *interp) execBlock(stmts []stmt) ([]any, error) {
	var out []any
	for _, s := range stmts {
		items, err := ip.execStmt(s)
		out = append(out, items...)
		if err == nil {
			continue
		}
		var pe *psError
		if errors.As(err, &pe) && !pe.terminating && ip.inTry == 0 && !ip.stopPreference() {
			ip.writeError(pe)
			ip.failed = true
			continue
		}
		return out, err
	}
	return out, nil
}

func (ip *interp) execStmt(s stmt) ([]any, error) {
	if err := ip.checkCtx(); err != nil {
		return nil, err
	}
	ip.failed = false
	switch st := s.(type) {
	case *assignStmt:
		v, err := ip.stmtValue(st.value)
		if err != nil {
			return nil, err
		}
		ip.setVar(st.name, v)
		return nil, nil
	case *foreachStmt:
		coll, err := ip.execPipeline(st.coll)
		if err != nil {
			return nil, err
		}
		var out []any
		for _, item := range flattenOne(coll) {
			if err := ip.checkCtx(); err != nil {
				return out, err
			}
			ip.setVar(st.varName, item)
			items, err := ip.execBlock(st.body)
			out = append(out, items...)
			if err != nil {
				return out, err
			}
		}
		return out, nil
	case *tryStmt:
		ip.inTry++
		out, err := ip.execBlock(st.body)
		ip.inTry--
		var pe *psError
		if err != nil && errors.As(err, &pe) {
			saved := ip.vars["_"]
			ip.vars["_"] = errorRecord(pe)
			items, err2 := ip.execBlock(st.catch)
			ip.vars["_"] = saved
			return append(out, items...), err2
		}
		return out, err
	case *ifStmt:
		for i, c := range st.conds {
			v, err := ip.execPipeline(c)
			if err != nil {
				return nil, err
			}
			if toBool(collapse(v)) {
				return ip.execBlock(st.bodies[i])
			}
		}
		return ip.execBlock(st.elseBody)
	case *throwStmt:
		msg := "ScriptHalted"
		if st.x != nil {
			v, err := ip.execPipeline(st.x)
			if err != nil {
				return nil, err
			}
			msg = toStr(collapse(v))
		}
		return nil, &psError{msg: msg, fqid: msg, category: "OperationStopped: (" + ellipsize(msg) + ":String) [], RuntimeException",
			exType: "System.Management.Automation.RuntimeException", start: st.start, end: st.end, terminating: true}
	case *exitStmt:
		code := 0
		if st.x != nil {
			v, err := ip.execPipeline(st.x)
			if err != nil {
				return nil, err
			}
			if n, ok := toNumber(collapse(v)); ok {
				code = int(toFloat(n))
			}
		}
		return nil, &errExit{code: code}
	case *pipeline:
		return ip.execPipeline(st)
	}
	return nil, fmt.Errorf("unknown statement %T", s)
}

// stmtValue is the value a statement gives an assignment or hash entry: a
// lone expression keeps its value (@(1) stays an array); pipeline output
// collapses; no output at all is AutomationNull, which @() sees as empty.
func (ip *interp) stmtValue(s stmt) (any, error) {
	if pl, ok := s.(*pipeline); ok && len(pl.elems) == 1 {
		if _, isCmd := pl.elems[0].(*command); !isCmd {
			ip.curPipe = pl
			return ip.eval(pl.elems[0])
		}
	}
	items, err := ip.execStmt(s)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return automationNull{}, nil
	}
	return collapse(items), nil
}

// flattenOne enumerates pipeline output for foreach: arrays inside are enumerated once.
func flattenOne(items []any) []any {
	if len(items) == 1 {
		return enumerate(items[0])
	}
	return items
}

func (ip *interp) setVar(name string, v any) {
	name = strings.ToLower(name)
	name = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(name, "global:"), "script:"), "local:")
	ip.vars[name] = v
}

func (ip *interp) getVar(name string) any {
	l := strings.ToLower(name)
	switch l {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	case "?":
		return !ip.failed
	}
	if env, ok := strings.CutPrefix(l, "env:"); ok {
		return ip.envVar(env)
	}
	l = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(l, "global:"), "script:"), "local:")
	return ip.vars[l]
}

func (ip *interp) envVar(name string) any {
	switch name {
	case "computername":
		return ip.m.ComputerName
	case "username":
		u := ip.inv.User
		if i := strings.LastIndex(u, `\`); i >= 0 {
			u = u[i+1:]
		}
		return u
	case "userdomain":
		return ip.m.NetBIOSDomain
	case "userdnsdomain":
		if ip.m.DNSDomain == "" {
			return nil
		}
		return strings.ToUpper(ip.m.DNSDomain)
	case "systemdrive":
		return "C:"
	case "systemroot", "windir":
		return `C:\Windows`
	case "os":
		return "Windows_NT"
	}
	return nil
}

// execPipeline runs a pipeline and returns its output items.
func (ip *interp) execPipeline(pl *pipeline) ([]any, error) {
	ip.curPipe = pl
	var items []any
	for i, el := range pl.elems {
		if err := ip.checkCtx(); err != nil {
			return nil, err
		}
		switch e := el.(type) {
		case *command:
			out, err := ip.runCommand(e, items, i > 0)
			if err != nil {
				return out, err
			}
			items = out
		default:
			v, err := ip.eval(e)
			if err != nil {
				return nil, err
			}
			if v == nil {
				items = []any{nil} // $null is one item; AutomationNull and @() are none
			} else {
				items = enumerate(v)
			}
		}
	}
	return items, nil
}

// eval evaluates an expression to one value.
func (ip *interp) eval(e expr) (any, error) {
	switch x := e.(type) {
	case *litExpr:
		return x.v, nil
	case *strExpr:
		var b strings.Builder
		for _, part := range x.parts {
			if s, ok := part.(string); ok {
				b.WriteString(s)
				continue
			}
			v, err := ip.eval(part)
			if err != nil {
				return nil, err
			}
			b.WriteString(toStr(v))
		}
		return b.String(), nil
	case *varExpr:
		return ip.getVar(x.name), nil
	case *subExpr:
		out, err := ip.execBlock(x.stmts)
		return collapse(out), err
	case *arrayExpr:
		out, err := ip.execBlock(x.stmts)
		if out == nil {
			out = []any{}
		}
		if len(out) == 1 {
			if arr, ok := out[0].([]any); ok {
				return arr, err
			}
		}
		return out, err
	case *parenExpr:
		return ip.stmtValue(x.p)
	case *hashExpr:
		h := &hashtable{}
		for i, k := range x.keys {
			v, err := ip.stmtValue(x.vals[i])
			if err != nil {
				return nil, err
			}
			if _, dup := h.get(k); dup {
				return nil, ip.runtimeError("Duplicate keys '"+k+"' are not allowed in hash literals.", "DuplicateKeyInHashLiteral")
			}
			if _, ok := v.(automationNull); ok {
				v = nil
			}
			h.props = append(h.props, property{k, v})
		}
		return h, nil
	case *sbExpr:
		return &scriptBlock{body: x.body}, nil
	case *commaExpr:
		arr := make([]any, 0, len(x.items))
		for _, it := range x.items {
			v, err := ip.eval(it)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, nil
	case *unaryExpr:
		v, err := ip.eval(x.x)
		if err != nil {
			return nil, err
		}
		if x.op == "not" {
			return !toBool(v), nil
		}
		n, ok := toNumber(v)
		if !ok {
			return nil, ip.runtimeError("Cannot convert value \""+toStr(v)+"\" to type \"System.Int32\".", "InvalidCastFromStringToInteger")
		}
		if f, isF := n.(float64); isF {
			return -f, nil
		}
		return -n.(int64), nil
	case *binExpr:
		return ip.evalBinary(x)
	case *castExpr:
		v, err := ip.eval(x.x)
		if err != nil {
			return nil, err
		}
		return ip.cast(x.typ, v)
	case *typeExpr:
		return typeLit{name: x.typ}, nil
	case *memberExpr:
		return ip.evalMember(x)
	case *indexExpr:
		base, err := ip.eval(x.base)
		if err != nil {
			return nil, err
		}
		idx, err := ip.eval(x.idx)
		if err != nil {
			return nil, err
		}
		switch b := base.(type) {
		case []any:
			n, _ := toNumber(idx)
			i := int(toFloat(n))
			if i < 0 {
				i += len(b)
			}
			if i < 0 || i >= len(b) {
				return nil, nil
			}
			return b[i], nil
		case *hashtable:
			v, _ := b.get(toStr(idx))
			return v, nil
		case nil:
			return nil, ip.runtimeError("Cannot index into a null array.", "NullArray")
		}
		n, _ := toNumber(idx)
		if int(toFloat(n)) == 0 {
			return base, nil
		}
		return nil, nil
	}
	return nil, fmt.Errorf("unknown expression %T", e)
}

func (ip *interp) evalBinary(x *binExpr) (any, error) {
	l, err := ip.eval(x.l)
	if err != nil {
		return nil, err
	}
	if x.op == "and" && !toBool(l) {
		return false, nil
	}
	if x.op == "or" && toBool(l) {
		return true, nil
	}
	r, err := ip.eval(x.r)
	if err != nil {
		return nil, err
	}
	op := strings.TrimPrefix(x.op, "i")
	if arr, ok := l.([]any); ok && op != "+" && op != "and" && op != "or" && op != "contains" && op != "notcontains" {
		// Comparison operators filter arrays.
		out := []any{}
		for _, e := range arr {
			v, _ := ip.compareOp(op, e, r)
			if toBool(v) {
				out = append(out, e)
			}
		}
		return out, nil
	}
	switch op {
	case "and", "or":
		return toBool(r), nil
	case "+":
		return ip.add(l, r)
	case "-":
		ln, ok1 := toNumber(l)
		rn, ok2 := toNumber(r)
		if !ok1 || !ok2 {
			return nil, ip.runtimeError("Cannot convert value \""+toStr(r)+"\" to type \"System.Int32\".", "InvalidCastFromStringToInteger")
		}
		li, lInt := ln.(int64)
		ri, rInt := rn.(int64)
		if lInt && rInt {
			return li - ri, nil
		}
		return toFloat(ln) - toFloat(rn), nil
	}
	return ip.compareOp(op, l, r)
}

func (ip *interp) compareOp(op string, l, r any) (any, error) {
	switch op {
	case "eq", "ceq":
		return compareEq(l, r), nil
	case "ne", "cne":
		return !compareEq(l, r), nil
	case "gt":
		return compare(l, r) > 0, nil
	case "ge":
		return compare(l, r) >= 0, nil
	case "lt":
		return compare(l, r) < 0, nil
	case "le":
		return compare(l, r) <= 0, nil
	case "like", "clike":
		return likeMatch(toStr(l), toStr(r)), nil
	case "notlike", "cnotlike":
		return !likeMatch(toStr(l), toStr(r)), nil
	case "contains", "notcontains":
		found := false
		for _, e := range enumerate(l) {
			if compareEq(e, r) {
				found = true
			}
		}
		return found == (op == "contains"), nil
	case "in", "notin":
		found := false
		for _, e := range enumerate(r) {
			if compareEq(e, l) {
				found = true
			}
		}
		return found == (op == "in"), nil
	}
	return nil, ip.runtimeError("The operator -"+op+" is not supported by this emulation.", "OperatorNotSupported")
}

// Sizes beyond which the emulation refuses to grow a value, so that a
// doubling loop cannot exhaust the simulator's memory.
const (
	maxArray  = 1 << 20
	maxString = 1 << 24
)

func (ip *interp) add(l, r any) (any, error) {
	switch lv := l.(type) {
	case nil:
		return r, nil
	case string:
		rs := toStr(r)
		if len(lv)+len(rs) > maxString {
			return nil, ip.runtimeError("Exception of type 'System.OutOfMemoryException' was thrown.", "System.OutOfMemoryException")
		}
		return lv + rs, nil
	case []any:
		if len(lv)+len(enumerate(r)) > maxArray {
			return nil, ip.runtimeError("Exception of type 'System.OutOfMemoryException' was thrown.", "System.OutOfMemoryException")
		}
		out := append(append([]any{}, lv...), enumerate(r)...)
		if r == nil {
			out = append(out, nil)
		}
		return out, nil
	case *hashtable:
		rh, ok := r.(*hashtable)
		if !ok {
			return nil, ip.runtimeError("A hash table can only be added to another hash table.", "AddHashTableToNonHashTable")
		}
		return &hashtable{props: append(append([]property{}, lv.props...), rh.props...)}, nil
	}
	ln, ok1 := toNumber(l)
	rn, ok2 := toNumber(r)
	if !ok1 || !ok2 {
		return nil, ip.runtimeError("Cannot convert value \""+toStr(r)+"\" to type \"System.Int32\". Error: \"Input string was not in a correct format.\"", "InvalidCastFromStringToInteger")
	}
	li, lInt := ln.(int64)
	ri, rInt := rn.(int64)
	if lInt && rInt {
		return li + ri, nil
	}
	return toFloat(ln) + toFloat(rn), nil
}

func (ip *interp) cast(typ string, v any) (any, error) {
	switch strings.ToLower(typ) {
	case "int", "int32", "long", "int64", "uint32", "system.int32", "system.int64":
		n, ok := toNumber(v)
		if !ok {
			return nil, ip.runtimeError("Cannot convert value \""+toStr(v)+"\" to type \"System.Int32\". Error: \"Input string was not in a correct format.\"", "InvalidCastFromStringToInteger")
		}
		if f, isF := n.(float64); isF {
			return int64(math.RoundToEven(f)), nil
		}
		return n, nil
	case "string", "system.string":
		if v == nil {
			return "", nil
		}
		return toStr(v), nil
	case "bool", "boolean", "system.boolean":
		return toBool(v), nil
	case "double", "system.double", "float", "single":
		n, ok := toNumber(v)
		if !ok {
			return nil, ip.runtimeError("Cannot convert value \""+toStr(v)+"\" to type \"System.Double\".", "InvalidCastFromStringToDoubleOrSingle")
		}
		return toFloat(n), nil
	case "array", "object[]", "system.object[]":
		if v == nil {
			return []any{}, nil
		}
		return enumerate(v), nil
	case "pscustomobject", "psobject", "ordered":
		if h, ok := v.(*hashtable); ok {
			if strings.EqualFold(typ, "ordered") {
				return h, nil
			}
			o := &object{typeNames: []string{"System.Management.Automation.PSCustomObject", "System.Object"}}
			o.props = append(o.props, h.props...)
			return o, nil
		}
		return v, nil
	case "hashtable":
		if h, ok := v.(*hashtable); ok {
			return h, nil
		}
	}
	return nil, ip.runtimeError("Unable to find type ["+typ+"].", "TypeNotFound")
}

func (ip *interp) evalMember(x *memberExpr) (any, error) {
	base, err := ip.eval(x.base)
	if err != nil {
		return nil, err
	}
	if x.static {
		return nil, ip.runtimeError("Static member access is not supported by this emulation.", "StaticMemberNotSupported")
	}
	if !x.call {
		return getMember(base, x.name), nil
	}
	args := make([]any, len(x.args))
	for i, a := range x.args {
		if args[i], err = ip.eval(a); err != nil {
			return nil, err
		}
	}
	if arr, ok := base.([]any); ok {
		var out []any
		for _, e := range arr {
			v, err := ip.callMethod(e, x.name, args)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return collapse(out), nil
	}
	return ip.callMethod(base, x.name, args)
}

func (ip *interp) callMethod(base any, name string, args []any) (any, error) {
	if ip.constrained() && !coreType(base) {
		// PowerShell's own error for a method call on a type outside the
		// Constrained Language allow-list (about_Language_Modes: "Method
		// invocation is supported only on core types").
		e := ip.runtimeError("Cannot invoke method. Method invocation is supported only on core types in this language mode.", "MethodInvocationNotSupportedInConstrainedLanguage")
		return nil, e
	}
	if o, ok := base.(*object); ok {
		for n, m := range o.methods {
			if strings.EqualFold(n, name) {
				return m(ip, args)
			}
		}
	}
	switch strings.ToLower(name) {
	case "tostring":
		return toStr(base), nil
	case "toupper":
		if s, ok := base.(string); ok {
			return strings.ToUpper(s), nil
		}
	case "tolower":
		if s, ok := base.(string); ok {
			return strings.ToLower(s), nil
		}
	case "trim":
		if s, ok := base.(string); ok {
			return strings.TrimSpace(s), nil
		}
	}
	if base == nil {
		return nil, ip.runtimeError("You cannot call a method on a null-valued expression.", "InvokeMethodOnNull")
	}
	return nil, ip.runtimeError("Method invocation failed because ["+typeNameOf(base)+"] does not contain a method named '"+name+"'.", "MethodNotFound")
}

func typeNameOf(v any) string {
	switch x := v.(type) {
	case string:
		return "System.String"
	case int64:
		return "System.Int32"
	case float64:
		return "System.Double"
	case bool:
		return "System.Boolean"
	case []any:
		return "System.Object[]"
	case *hashtable:
		return "System.Collections.Hashtable"
	case *object:
		return x.typeNames[0]
	}
	return "System.Object"
}

// runtimeError is a statement-terminating RuntimeException at the current statement.
func (ip *interp) runtimeError(msg, id string) *psError {
	e := &psError{msg: msg, fqid: id, category: "InvalidOperation: (:) [], RuntimeException",
		exType: "System.Management.Automation.RuntimeException"}
	if ip.curPipe != nil {
		e.start, e.end = ip.curPipe.start, ip.curPipe.end
	}
	return e
}

// errorRecord is the $_ a catch block sees.
func errorRecord(pe *psError) *object {
	ex := newObject(pe.exType, "Message", pe.msg)
	ex.str = func() string { return pe.msg }
	rec := newObject("System.Management.Automation.ErrorRecord",
		"Exception", ex,
		"TargetObject", nil,
		"CategoryInfo", pe.category,
		"FullyQualifiedErrorId", pe.fqid,
		"ErrorDetails", nil,
		"InvocationInfo", nil,
		"ScriptStackTrace", "at <ScriptBlock>, <No file>: line 1",
		"PipelineIterationInfo", []any{})
	rec.str = func() string { return pe.msg }
	rec.errRec = pe
	return rec
}

// constrained reports whether the session runs in Constrained Language Mode.
func (ip *interp) constrained() bool { return ip.m.LanguageMode == "ConstrainedLanguage" }

// coreType reports whether Constrained Language Mode lets a script call
// methods on v: the primitive types, strings, arrays, hashtables and
// PSCustomObject are on its allow-list; .NET objects such as
// EventLogRecord are not.
func coreType(v any) bool {
	switch x := v.(type) {
	case *object:
		return x.typeNames[0] == "System.Management.Automation.PSCustomObject"
	case nil:
		return true
	}
	return true
}

// executionContext is $ExecutionContext as far as the emulation goes:
// SessionState.LanguageMode (System.Management.Automation.PSLanguageMode:
// FullLanguage 0, RestrictedLanguage 1, NoLanguage 2, ConstrainedLanguage 3).
func executionContext(m *Machine) *object {
	mode := enumVal{name: "FullLanguage", v: 0}
	if m.LanguageMode == "ConstrainedLanguage" {
		mode = enumVal{name: "ConstrainedLanguage", v: 3}
	}
	ss := newObject("System.Management.Automation.SessionState", "LanguageMode", mode)
	ss.str = func() string { return "System.Management.Automation.SessionState" }
	ec := newObject("System.Management.Automation.EngineIntrinsics", "SessionState", ss)
	ec.str = func() string { return "System.Management.Automation.EngineIntrinsics" }
	return ec
}
