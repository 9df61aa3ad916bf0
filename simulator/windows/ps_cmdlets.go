package windows

import (
	"slices"
	"strings"
)

// paramSpec describes one cmdlet parameter.
type paramSpec struct {
	name     string
	aliases  []string
	isSwitch bool
	position int // -1: named only
	rest     bool
}

// cmdletSpec is one emulated command.
type cmdletSpec struct {
	name   string // "Get-CimInstance"
	class  string // .NET class, for FullyQualifiedErrorIds
	params []paramSpec
	run    func(ip *interp, c *call) ([]any, error)
}

// call is one bound invocation of a cmdlet.
type call struct {
	spec     *cmdletSpec
	cmd      *command
	params   map[string]any // lower-case canonical name → value
	input    []any
	piped    bool
	errorAct string
}

func (c *call) has(name string) bool { _, ok := c.params[name]; return ok }
func (c *call) get(name string) any  { return c.params[name] }

var commonParams = []paramSpec{
	{name: "ErrorAction", aliases: []string{"ea"}, position: -1},
	{name: "WarningAction", aliases: []string{"wa"}, position: -1},
	{name: "InformationAction", aliases: []string{"infa"}, position: -1},
	{name: "ErrorVariable", aliases: []string{"ev"}, position: -1},
	{name: "Verbose", aliases: []string{"vb"}, isSwitch: true, position: -1},
	{name: "Debug", aliases: []string{"db"}, isSwitch: true, position: -1},
}

func p(name string, pos int, aliases ...string) paramSpec {
	return paramSpec{name: name, position: pos, aliases: aliases}
}

func sw(name string, aliases ...string) paramSpec {
	return paramSpec{name: name, position: -1, isSwitch: true, aliases: aliases}
}

// cmdlets lists every emulated command; aliases map onto these names.
func cmdlets() map[string]*cmdletSpec {
	list := []*cmdletSpec{
		{name: "Get-CimInstance", class: "Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand",
			params: []paramSpec{p("ClassName", 0, "Class"), p("Namespace", -1), p("Filter", 1), p("Property", -1), p("ComputerName", -1, "CN"), sw("KeyOnly"), sw("Shallow"), p("OperationTimeoutSec", -1, "OT")},
			run:    runGetCimInstance},
		{name: "Invoke-CimMethod", class: "Microsoft.Management.Infrastructure.CimCmdlets.InvokeCimMethodCommand",
			params: []paramSpec{p("InputObject", -1, "CimInstance"), p("MethodName", 1, "Name"), p("Arguments", 2), p("ClassName", 0, "Class"), p("Namespace", -1)},
			run:    runInvokeCimMethod},
		{name: "Get-BitLockerVolume", class: "Get-BitLockerVolume",
			params: []paramSpec{{name: "MountPoint", position: 0, rest: false}},
			run:    runGetBitLockerVolume},
		{name: "Backup-BitLockerKeyProtector", class: "Backup-BitLockerKeyProtector",
			params: []paramSpec{p("MountPoint", 0), p("KeyProtectorId", 1), sw("WhatIf", "wi"), sw("Confirm", "cf")},
			run:    func(ip *interp, c *call) ([]any, error) { return runBackupCmdlet(ip, c, false) }},
		{name: "BackupToAAD-BitLockerKeyProtector", class: "BackupToAAD-BitLockerKeyProtector",
			params: []paramSpec{p("MountPoint", 0), p("KeyProtectorId", 1), sw("WhatIf", "wi"), sw("Confirm", "cf")},
			run:    func(ip *interp, c *call) ([]any, error) { return runBackupCmdlet(ip, c, true) }},
		{name: "Get-WinEvent", class: "Microsoft.PowerShell.Commands.GetWinEventCommand",
			params: []paramSpec{p("LogName", 0), p("FilterHashtable", -1), p("MaxEvents", -1), sw("Oldest"), p("ComputerName", -1, "Cn"), p("ProviderName", -1)},
			run:    runGetWinEvent},
		{name: "Get-ItemProperty", class: "Microsoft.PowerShell.Commands.GetItemPropertyCommand",
			params: []paramSpec{p("Path", 0), p("Name", 1, "PSProperty"), p("LiteralPath", -1, "PSPath", "LP")},
			run:    runGetItemProperty},
		{name: "Select-Object", class: "Microsoft.PowerShell.Commands.SelectObjectCommand",
			params: []paramSpec{p("Property", 0), p("ExcludeProperty", -1), p("ExpandProperty", -1), p("First", -1), p("Last", -1), p("Skip", -1), sw("Unique"), p("InputObject", -1)},
			run:    runSelectObject},
		{name: "Where-Object", class: "Microsoft.PowerShell.Commands.WhereObjectCommand",
			params: []paramSpec{p("FilterScript", 0, "Property"), p("Value", 1), sw("EQ", "IEQ"), sw("NE", "INE"), sw("Like", "ILike"), sw("NotLike", "INotLike"), sw("GT"), sw("LT"), p("InputObject", -1)},
			run:    runWhereObject},
		{name: "ForEach-Object", class: "Microsoft.PowerShell.Commands.ForEachObjectCommand",
			params: []paramSpec{p("Process", 0, "MemberName"), p("InputObject", -1)},
			run:    runForEachObject},
		{name: "Write-Output", class: "Microsoft.PowerShell.Commands.WriteOutputCommand",
			params: []paramSpec{{name: "InputObject", position: 0, rest: true}, sw("NoEnumerate")},
			run:    runWriteOutput},
		{name: "Out-String", class: "Microsoft.PowerShell.Commands.OutStringCommand",
			params: []paramSpec{sw("Stream"), p("Width", -1), p("InputObject", -1)},
			run:    runOutString},
		{name: "Out-Null", class: "Microsoft.PowerShell.Commands.OutNullCommand",
			params: []paramSpec{p("InputObject", -1)},
			run:    func(*interp, *call) ([]any, error) { return nil, nil }},
		{name: "ConvertTo-Json", class: "Microsoft.PowerShell.Commands.ConvertToJsonCommand",
			params: []paramSpec{p("InputObject", 0), p("Depth", -1), sw("Compress")},
			run:    runConvertToJSON},
		{name: "Get-Command", class: "Microsoft.PowerShell.Commands.GetCommandCommand",
			params: []paramSpec{{name: "Name", position: 0, rest: true}, p("Module", -1), p("CommandType", -1, "Type")},
			run:    runGetCommand},
		{name: "dsregcmd.exe", params: []paramSpec{{name: "Args", position: 0, rest: true}}, run: runNative},
		{name: "hostname.exe", params: []paramSpec{{name: "Args", position: 0, rest: true}}, run: runNative},
		{name: "whoami.exe", params: []paramSpec{{name: "Args", position: 0, rest: true}}, run: runNative},
		{name: "wevtutil.exe", params: []paramSpec{{name: "Args", position: 0, rest: true}}, run: runNative},
	}
	m := map[string]*cmdletSpec{}
	for _, c := range list {
		m[strings.ToLower(c.name)] = c
	}
	alias := map[string]string{
		"select": "select-object", "where": "where-object", "?": "where-object", "foreach": "foreach-object", "%": "foreach-object",
		"echo": "write-output", "write": "write-output", "gcim": "get-ciminstance", "icim": "invoke-cimmethod", "gp": "get-itemproperty",
		"dsregcmd": "dsregcmd.exe", "hostname": "hostname.exe", "whoami": "whoami.exe", "wevtutil": "wevtutil.exe",
		`c:\windows\system32\dsregcmd.exe`: "dsregcmd.exe",
	}
	for a, n := range alias {
		m[a] = m[n]
	}
	return m
}

// cmdletTable is filled in init: the table's run functions reach back to
// runCommand, which a package-level initializer may not.
var cmdletTable map[string]*cmdletSpec

func init() { cmdletTable = cmdlets() }

// runCommand binds and runs one command of a pipeline.
func (ip *interp) runCommand(cmd *command, input []any, piped bool) ([]any, error) {
	ip.curCmd = cmd
	spec := cmdletTable[strings.ToLower(cmd.name)]
	if spec != nil && ip.m.NoBitLockerFeature && isBitLockerModule(spec) {
		spec = nil // the BitLocker module ships with the feature
	}
	if spec == nil {
		return nil, &psError{
			msg:      "The term '" + cmd.name + "' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.",
			fqid:     "CommandNotFoundException",
			category: "ObjectNotFound: (" + ellipsize(cmd.name) + ":String) [], CommandNotFoundException",
			exType:   "System.Management.Automation.CommandNotFoundException",
			cmdName:  cmd.name, start: cmd.start, end: cmd.nameEnd,
		}
	}
	if ip.m.ProgressOnFirstUse && !strings.HasSuffix(spec.name, ".exe") &&
		!strings.EqualFold(toStr(ip.vars["progresspreference"]), "SilentlyContinue") {
		ip.progress = true
	}
	c := &call{spec: spec, cmd: cmd, params: map[string]any{}, input: input, piped: piped}
	if err := ip.bind(c); err != nil {
		return nil, err
	}
	if ea, ok := c.params["erroraction"]; ok {
		c.errorAct = toStr(ea)
	}
	return spec.run(ip, c)
}

// bind assigns the command's arguments to parameters, as far as the subset needs.
func (ip *interp) bind(c *call) error {
	var all []paramSpec // the command's parameters and the common ones, once a name is given
	var positional []any
	args := c.cmd.args
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a.param == "" {
			v, err := ip.eval(a.value)
			if err != nil {
				return err
			}
			positional = append(positional, v)
			continue
		}
		if all == nil {
			all = append(append(make([]paramSpec, 0, len(c.spec.params)+len(commonParams)), c.spec.params...), commonParams...)
		}
		ps, err := c.lookupParam(all, a.param)
		if err != nil {
			return err
		}
		key := strings.ToLower(ps.name)
		switch {
		case a.value != nil:
			v, err := ip.eval(a.value)
			if err != nil {
				return err
			}
			c.params[key] = v
		case ps.isSwitch:
			c.params[key] = true
		default:
			if i+1 >= len(args) || args[i+1].param != "" {
				return c.bindError("Missing an argument for parameter '"+ps.name+"'. Specify a parameter of type 'System.Object' and try again.", "MissingArgument")
			}
			i++
			v, err := ip.eval(args[i].value)
			if err != nil {
				return err
			}
			c.params[key] = v
		}
	}
	for _, v := range positional {
		bound := false
		for _, ps := range c.spec.params {
			key := strings.ToLower(ps.name)
			if ps.position < 0 || ps.isSwitch {
				continue
			}
			if _, done := c.params[key]; done && !ps.rest {
				continue
			}
			if ps.rest {
				if prev, ok := c.params[key]; ok {
					c.params[key] = append(enumerate(prev), v)
				} else {
					c.params[key] = []any{v}
				}
			} else {
				c.params[key] = v
			}
			bound = true
			break
		}
		if !bound {
			return c.bindError("A positional parameter cannot be found that accepts argument '"+toStr(v)+"'.", "PositionalParameterNotFound")
		}
	}
	return nil
}

func (c *call) lookupParam(all []paramSpec, name string) (paramSpec, error) {
	ln := strings.ToLower(name)
	for _, ps := range all {
		if lowerIs(ps.name, ln) {
			return ps, nil
		}
		for _, a := range ps.aliases {
			if lowerIs(a, ln) {
				return ps, nil
			}
		}
	}
	var found []paramSpec
	for _, ps := range all {
		if lowerHasPrefix(ps.name, ln) {
			found = append(found, ps)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	if len(found) > 1 {
		return paramSpec{}, c.bindError("Parameter cannot be processed because the parameter name '"+name+"' is ambiguous.", "AmbiguousParameter")
	}
	return paramSpec{}, c.bindError("A parameter cannot be found that matches parameter name '"+name+"'.", "NamedParameterNotFound")
}

// lowerIs reports whether strings.ToLower(s) == lower, without building
// the lower-case copy when s is ASCII (every parameter name is).
func lowerIs(s, lower string) bool {
	if !isASCII(s) {
		return strings.ToLower(s) == lower
	}
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// lowerHasPrefix reports whether strings.ToLower(s) starts with lower.
func lowerHasPrefix(s, lower string) bool {
	if !isASCII(s) {
		return strings.HasPrefix(strings.ToLower(s), lower)
	}
	return len(s) >= len(lower) && lowerIs(s[:len(lower)], lower)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (c *call) bindError(msg, id string) *psError {
	return &psError{msg: msg, fqid: id + "," + c.spec.class,
		category: "InvalidArgument: (:) [" + c.spec.name + "], ParameterBindingException",
		exType:   "System.Management.Automation.ParameterBindingException",
		cmdName:  c.spec.name, start: c.cmd.start, end: c.cmd.end}
}

// nonTerminating handles a cmdlet's WriteError under the effective
// ErrorAction: dropped, written, or turned into a script-terminating error.
func (ip *interp) nonTerminating(c *call, e *psError) error {
	if e.cmdName == "" {
		e.cmdName = c.spec.name
	}
	e.start, e.end = c.cmd.start, c.cmd.end
	act := c.errorAct
	if act == "" {
		act = toStr(ip.vars["erroractionpreference"])
	}
	switch strings.ToLower(act) {
	case "silentlycontinue", "ignore":
		return nil
	case "stop":
		e.terminating = true
		return e
	}
	ip.writeError(e)
	ip.failed = true
	return nil
}

// terminatingError is a cmdlet's ThrowTerminatingError.
func (c *call) terminatingError(msg, id, category, exType string) *psError {
	return &psError{msg: msg, fqid: id + "," + c.spec.class, category: category, exType: exType,
		cmdName: c.spec.name, start: c.cmd.start, end: c.cmd.end}
}

// invokeBlock runs a script block with $_ bound to item.
func (ip *interp) invokeBlock(sb *scriptBlock, item any) ([]any, error) {
	saved, had := ip.vars["_"]
	ip.vars["_"] = item
	defer func() {
		if had {
			ip.vars["_"] = saved
		} else {
			delete(ip.vars, "_")
		}
	}()
	return ip.execBlock(sb.body)
}

func pipelineInput(c *call) []any {
	if v, ok := c.params["inputobject"]; ok {
		return enumerate(v)
	}
	return c.input
}

func runSelectObject(ip *interp, c *call) ([]any, error) {
	in := pipelineInput(c)
	if c.has("skip") {
		n := intArg(c.get("skip"))
		in = in[min(n, len(in)):]
	}
	if c.has("first") {
		n := intArg(c.get("first"))
		in = in[:min(max(n, 0), len(in))]
	}
	if c.has("last") {
		n := intArg(c.get("last"))
		in = in[max(0, len(in)-n):]
	}
	specs := enumerate(c.get("property"))
	excl := enumerate(c.get("excludeproperty"))
	if c.has("expandproperty") {
		name := toStr(c.get("expandproperty"))
		var out []any
		for _, it := range in {
			if _, ok := it.(*object); ok {
				if _, found := it.(*object).get(name); !found {
					if err := ip.nonTerminating(c, &psError{msg: "Property \"" + name + "\" cannot be found.", fqid: "ExpandPropertyNotFound," + c.spec.class,
						category: "InvalidArgument: (" + ellipsize(toStr(it)) + ":PSObject) [Select-Object], PSArgumentException", exType: "System.Management.Automation.PSArgumentException"}); err != nil {
						return out, err
					}
					continue
				}
			}
			out = append(out, enumerate(getMember(it, name))...)
		}
		return out, nil
	}
	if len(specs) == 0 && len(excl) == 0 {
		return in, nil
	}
	var out []any
	for _, it := range in {
		o := &object{typeNames: []string{"Selected." + typeNameOf(it), "System.Management.Automation.PSCustomObject"}}
		for _, s := range specs {
			switch sp := s.(type) {
			case *hashtable:
				name, _ := sp.get("n")
				if name == nil {
					name, _ = sp.get("name")
				}
				if name == nil {
					name, _ = sp.get("label")
				}
				if name == nil {
					name, _ = sp.get("l")
				}
				ex, ok := sp.get("e")
				if !ok {
					ex, _ = sp.get("expression")
				}
				var v any
				if sb, isSB := ex.(*scriptBlock); isSB {
					res, err := ip.invokeBlock(sb, it)
					if err != nil {
						return out, err
					}
					v = collapse(res)
				} else {
					v = getMember(it, toStr(ex))
					if name == nil {
						name = toStr(ex)
					}
				}
				o.set(toStr(name), v)
			default:
				pat := toStr(sp)
				if strings.ContainsAny(pat, "*?[") {
					for _, pr := range propsOf(it) {
						if likeMatch(pr.name, pat) && !excluded(pr.name, excl) {
							o.set(pr.name, pr.value)
						}
					}
					continue
				}
				if !excluded(pat, excl) {
					o.set(propName(it, pat), getMember(it, pat))
				}
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// intArg converts a numeric argument; non-numbers count as 0.
func intArg(v any) int {
	n, _ := toNumber(v)
	return int(toFloat(n))
}

func propsOf(v any) []property {
	switch x := v.(type) {
	case *object:
		return x.props
	case *hashtable:
		return []property{{"IsReadOnly", false}, {"IsFixedSize", false}, {"IsSynchronized", false}, {"Keys", getMember(x, "keys")}, {"Values", nil}, {"SyncRoot", nil}, {"Count", int64(len(x.props))}}
	case string:
		return []property{{"Length", int64(len([]rune(x)))}}
	}
	return nil
}

// propName returns the property's own spelling, as Select-Object keeps it.
func propName(v any, name string) string {
	for _, p := range propsOf(v) {
		if strings.EqualFold(p.name, name) {
			return p.name
		}
	}
	return name
}

func excluded(name string, patterns []any) bool {
	for _, p := range patterns {
		if likeMatch(name, toStr(p)) {
			return true
		}
	}
	return false
}

func runWhereObject(ip *interp, c *call) ([]any, error) {
	var out []any
	f := c.get("filterscript")
	for _, it := range pipelineInput(c) {
		keep := false
		if sb, ok := f.(*scriptBlock); ok {
			res, err := ip.invokeBlock(sb, it)
			if err != nil {
				return out, err
			}
			keep = toBool(collapse(res))
		} else {
			v := getMember(it, toStr(f))
			want := c.get("value")
			switch {
			case c.has("eq"):
				keep = compareEq(v, want)
			case c.has("ne"):
				keep = !compareEq(v, want)
			case c.has("like"):
				keep = likeMatch(toStr(v), toStr(want))
			case c.has("notlike"):
				keep = !likeMatch(toStr(v), toStr(want))
			case c.has("gt"):
				keep = compare(v, want) > 0
			case c.has("lt"):
				keep = compare(v, want) < 0
			default:
				keep = toBool(v)
			}
		}
		if keep {
			out = append(out, it)
		}
	}
	return out, nil
}

func runForEachObject(ip *interp, c *call) ([]any, error) {
	var out []any
	proc := c.get("process")
	for _, it := range pipelineInput(c) {
		if err := ip.checkCtx(); err != nil {
			return out, err
		}
		sb, ok := proc.(*scriptBlock)
		if !ok {
			out = append(out, enumerate(getMember(it, toStr(proc)))...)
			continue
		}
		res, err := ip.invokeBlock(sb, it)
		out = append(out, res...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func runWriteOutput(ip *interp, c *call) ([]any, error) {
	if v, ok := c.params["inputobject"]; ok {
		arr := enumerate(v)
		if len(arr) == 1 {
			return enumerate(arr[0]), nil
		}
		return arr, nil
	}
	return c.input, nil
}

func runOutString(ip *interp, c *call) ([]any, error) {
	var b strings.Builder
	writeFormatted(&b, pipelineInput(c))
	if c.has("stream") {
		var out []any
		for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\r\n"), "\r\n") {
			out = append(out, l)
		}
		return out, nil
	}
	return []any{b.String()}, nil
}

func runConvertToJSON(ip *interp, c *call) ([]any, error) {
	depth := 2
	if c.has("depth") {
		n, ok := toNumber(c.get("depth"))
		if !ok {
			return nil, c.bindError("Cannot bind parameter 'Depth'. Cannot convert value \""+toStr(c.get("depth"))+"\" to type \"System.Int32\".", "CannotConvertArgumentNoMessage")
		}
		depth = int(toFloat(n))
	}
	switch {
	case c.has("inputobject"):
		return []any{convertToJSON(c.get("inputobject"), depth, c.has("compress"))}, nil
	case len(c.input) == 0:
		return nil, nil
	case len(c.input) == 1:
		return []any{convertToJSON(c.input[0], depth, c.has("compress"))}, nil
	}
	return []any{convertPipelineToJSON(c.input, depth, c.has("compress"))}, nil
}

// runNative runs an external program (dsregcmd, hostname, whoami) as cmd.exe
// would: its stdout lines become strings in the pipeline; its first stderr
// line becomes a NativeCommandError record and later lines follow as plain
// text, as Windows PowerShell 5.1 shows redirected native stderr.
func runNative(ip *interp, c *call) ([]any, error) {
	line := strings.TrimSuffix(c.spec.name, ".exe")
	for _, a := range enumerate(c.get("args")) {
		// Windows PowerShell 5.1 builds the native command line by
		// quoting arguments that contain whitespace (NativeCommandParameterBinder).
		s := toStr(a)
		if strings.ContainsAny(s, " \t") && !strings.HasPrefix(s, `"`) {
			s = `"` + s + `"`
		}
		line += " " + s
	}
	stdout, stderr, code := ip.m.runCmd(ip.ctx, Invocation{CommandLine: line, Codepage: ip.inv.Codepage, User: ip.inv.User})
	ip.vars["lastexitcode"] = int64(code)
	var out []any
	if stdout != "" {
		for _, l := range strings.Split(strings.TrimSuffix(stdout, "\r\n"), "\r\n") {
			out = append(out, l)
		}
	}
	if stderr != "" {
		lines := strings.Split(strings.TrimSuffix(stderr, "\r\n"), "\r\n")
		e := &psError{msg: lines[0], fqid: "NativeCommandError",
			category: "NotSpecified: (" + ellipsize(lines[0]) + ":String) [], RemoteException",
			exType:   "System.Management.Automation.RemoteException", cmdName: c.cmd.name}
		if err := ip.nonTerminating(c, e); err != nil {
			return out, err
		}
		if len(ip.stderr) > 0 && ip.stderr[len(ip.stderr)-1] == " " {
			ip.stderr = append(ip.stderr[:len(ip.stderr)-1], append(lines[1:], " ")...)
		}
	}
	if code != 0 {
		ip.failed = true
	}
	return out, nil
}

func isBitLockerModule(spec *cmdletSpec) bool {
	_, source := commandSource(spec)
	return source == "BitLocker"
}

// commandSource is the module (or "" for applications) of each emulated command.
func commandSource(spec *cmdletSpec) (kind, source string) {
	switch {
	case strings.HasSuffix(spec.name, ".exe"):
		return "Application", `C:\Windows\system32\` + spec.name
	case strings.HasSuffix(spec.name, "BitLockerVolume"), strings.HasSuffix(spec.name, "BitLockerKeyProtector"):
		return "Function", "BitLocker" // BitLocker.psm1 functions
	case strings.Contains(spec.class, "CimCmdlets"):
		return "Cmdlet", "CimCmdlets"
	case spec.name == "Get-ItemProperty":
		return "Cmdlet", "Microsoft.PowerShell.Management"
	case spec.name == "Get-WinEvent":
		return "Cmdlet", "Microsoft.PowerShell.Diagnostics"
	case spec.name == "Get-Command" || spec.name == "Where-Object" || spec.name == "ForEach-Object":
		return "Cmdlet", "Microsoft.PowerShell.Core"
	}
	return "Cmdlet", "Microsoft.PowerShell.Utility"
}

// runGetCommand answers Get-Command -Name for the emulated commands; any
// other name fails as Windows does, so scripts that probe for a cmdlet
// (e.g. BackupToAAD-BitLockerKeyProtector) see exactly what is emulated.
func runGetCommand(ip *interp, c *call) ([]any, error) {
	var out []any
	for _, n := range enumerate(c.get("name")) {
		name := toStr(n)
		var found []*cmdletSpec
		for key, spec := range cmdletTable {
			// Each command once (not via its aliases); -like is equality without wildcards.
			if key == strings.ToLower(spec.name) && likeMatch(spec.name, name) && !(ip.m.NoBitLockerFeature && isBitLockerModule(spec)) {
				found = append(found, spec)
			}
		}
		if len(found) == 0 {
			if strings.ContainsAny(name, "*?[") {
				continue
			}
			if err := ip.nonTerminating(c, &psError{
				msg:      "The term '" + name + "' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.",
				fqid:     "CommandNotFoundException," + c.spec.class,
				category: "ObjectNotFound: (" + ellipsize(name) + ":String) [Get-Command], CommandNotFoundException",
				exType:   "System.Management.Automation.CommandNotFoundException"}); err != nil {
				return out, err
			}
			continue
		}
		slices.SortFunc(found, func(a, b *cmdletSpec) int { return strings.Compare(a.name, b.name) })
		for _, spec := range found {
			kind, source := commandSource(spec)
			o := newObject("System.Management.Automation."+kind+"Info",
				"CommandType", enumVal{name: kind, v: map[string]int64{"Function": 2, "Cmdlet": 8, "Application": 32}[kind]},
				"Name", spec.name, "Version", nil, "Source", source)
			name := spec.name
			o.str = func() string { return name }
			out = append(out, o)
		}
	}
	return out, nil
}
