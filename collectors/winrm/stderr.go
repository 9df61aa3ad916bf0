package winrm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/bitaudit/bitaudit/collectors/bitlocker"
)

// powershell.exe with redirected stderr writes its error stream as a
// "#< CLIXML" document whose messages are <S S="Error"> strings with CR/LF
// escaped as _x000D__x000A_ (winrm.md M9; ansible/ansible#67964,
// hashicorp/terraform-provider-ad#74 "Extract error messages from CLIXML
// serialised output").
var (
	// clixmlErrorRE finds error-stream strings in the CLIXML document.
	clixmlErrorRE = regexp.MustCompile(`<S S="Error">([^<]*)</S>`)
	// clixmlEscapeRE matches CLIXML character escapes such as _x000D_.
	clixmlEscapeRE = regexp.MustCompile(`_x([0-9A-Fa-f]{4})_`)
)

// stderrExcerpt returns ", stderr: <text>" with the first bytes of the
// command's stderr, CLIXML decoded and cleaned, or "" when there is none.
func stderrExcerpt(stderr string) string {
	s := stderr
	if strings.HasPrefix(strings.TrimSpace(s), "#< CLIXML") {
		var parts []string
		for _, m := range clixmlErrorRE.FindAllStringSubmatch(s, 8) {
			parts = append(parts, m[1])
		}
		s = strings.Join(parts, "")
		s = clixmlEscapeRE.ReplaceAllStringFunc(s, func(e string) string {
			n, _ := strconv.ParseUint(e[2:6], 16, 16)
			return string(rune(n))
		})
		s = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&apos;", "'").Replace(s)
	}
	s = excerpt(s, 4096, 240)
	if s == "" {
		return ""
	}
	return ", stderr: " + s
}

// stdoutExcerpt returns a short, cleaned start of stdout when it is not
// collection output at all (no BEGIN marker), or "".
func stdoutExcerpt(stdout string) string {
	if strings.Contains(stdout, "##BITAUDIT BEGIN") {
		return ""
	}
	if s := excerpt(stdout, 200, 60); s != "" {
		return fmt.Sprintf(", stdout starts %q", s)
	}
	return ""
}

// excerpt cleans the first raw bytes of s and shortens the result to max
// bytes. Digits and dashes at the cut are dropped, so a recovery password
// straddling it cannot leak in part.
func excerpt(s string, raw, max int) string {
	if len(s) > raw {
		s = strings.TrimRight(s[:raw], "0123456789-")
	}
	return bitlocker.Clean(s, max)
}
