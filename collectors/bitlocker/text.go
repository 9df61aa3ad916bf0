package bitlocker

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// recoveryPasswordRE matches the shape of a 48-digit BitLocker recovery
// password (8 groups of 6 digits). Nothing of that shape may leave this
// package, whatever the host printed.
var recoveryPasswordRE = regexp.MustCompile(`\d{6}(-\d{6}){7}`)

// guidRE matches a bare GUID; braced protector IDs are checked with braceGUIDRE.
var (
	guidRE      = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
	braceGUIDRE = regexp.MustCompile(`^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$`)
	// deviceIDRE is Win32_EncryptableVolume.DeviceID: \\?\Volume{guid}\
	deviceIDRE    = regexp.MustCompile(`^\\\\\?\\Volume\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}\\$`)
	driveLetterRE = regexp.MustCompile(`^[A-Za-z]:$`)
)

// Clean makes host-supplied text safe to show: it redacts anything shaped
// like a recovery password, replaces control characters and invalid UTF-8,
// collapses whitespace runs and truncates to max bytes (max <= 0: no limit).
// Collectors use it for excerpts of host output in error messages.
func Clean(s string, max int) string {
	s = recoveryPasswordRE.ReplaceAllString(s, "[redacted]")
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) {
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	out := strings.TrimSpace(b.String())
	if max > 0 && len(out) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + "…"
	}
	return out
}

// field checks a short single-line value from the host: valid UTF-8, no
// control characters, at most max bytes, nothing password-shaped.
func field(name, s string, max int) (string, error) {
	if !utf8.ValidString(s) || len(s) > max || recoveryPasswordRE.MatchString(s) {
		return "", protocolf("%s: invalid value", name)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", protocolf("%s: invalid value", name)
		}
	}
	return strings.TrimSpace(s), nil
}
