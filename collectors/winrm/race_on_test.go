//go:build race

package winrm

// raceEnabled: the race detector slows every goroutine several times over,
// so load tests shrink to what still proves their point.
const raceEnabled = true
