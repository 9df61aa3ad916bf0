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
	stmts []stmt
	err   error
}

// Bounds of the parse cache: scripts longer than a command line can carry
// are not kept, and the cache starts over once it holds maxParsedScripts.
const (
	maxParsedScripts    = 64
	maxParsedScriptSize = 2 * MaxCommandLine
)

// parseCached is parseScript through the cache.
func parseCached(src string) ([]stmt, error) {
	if len(src) > maxParsedScriptSize {
		return parseScript(src)
	}
	c := &parsedScripts
	c.Lock()
	p, ok := c.m[src]
	c.Unlock()
	if ok {
		return p.stmts, p.err
	}
	stmts, err := parseScript(src)
	c.Lock()
	if len(c.m) >= maxParsedScripts {
		clear(c.m)
	}
	c.m[src] = parsedScript{stmts, err}
	c.Unlock()
	return stmts, err
}
