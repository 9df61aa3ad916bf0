package windows

import "sync"

// Hosts of a fleet run the same scripts (every audit sends one collection
// script), and running a parse tree never changes it, so the parse of a
// script is shared: the cache holds what parseScript returned, error
// included, for the scripts run most recently. What a script prints still
// comes from running it against the machine's state of the moment.
var parsedScripts = struct {
	sync.Mutex
	m map[string]parsedScript
}{m: map[string]parsedScript{}}

type parsedScript struct {
	src   []rune // the script, for position messages; never changed
	stmts []stmt
	err   error
}

// Bounds of the parse cache: scripts longer than a command line can carry
// are not kept, and the cache starts over once it holds maxParsedScripts.
const (
	maxParsedScripts    = 64
	maxParsedScriptSize = 2 * MaxCommandLine
)

// parseCached parses src through the cache.
func parseCached(src string) parsedScript {
	parse := func() parsedScript {
		r := []rune(src)
		stmts, err := parseRunes(r)
		return parsedScript{r, stmts, err}
	}
	if len(src) > maxParsedScriptSize {
		return parse()
	}
	c := &parsedScripts
	c.Lock()
	p, ok := c.m[src]
	c.Unlock()
	if ok {
		return p
	}
	p = parse()
	c.Lock()
	if len(c.m) >= maxParsedScripts {
		clear(c.m)
	}
	c.m[src] = p
	c.Unlock()
	return p
}
