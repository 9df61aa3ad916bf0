package windows

import (
	"strings"
	"testing"
)

// TestLowerIs: parameter names compare as strings.ToLower would have it.
func TestLowerIs(t *testing.T) {
	for _, s := range []string{"MethodName", "methodname", "Method", "", "ÄrgerName", "\u212aey", "Key", "E\xffx"} {
		for _, name := range []string{"methodname", "method", "Method", "", "ärgername", "ärg", "key", "kelvin", "e\ufffdx", "e"} {
			lower := strings.ToLower(name)
			if got, want := lowerIs(s, lower), strings.ToLower(s) == lower; got != want {
				t.Errorf("lowerIs(%q, %q) = %v, want %v", s, lower, got, want)
			}
			if got, want := lowerHasPrefix(s, lower), strings.HasPrefix(strings.ToLower(s), lower); got != want {
				t.Errorf("lowerHasPrefix(%q, %q) = %v, want %v", s, lower, got, want)
			}
		}
	}
}
