package winrm

import (
	_ "embed"
	"encoding/base64"
	"fmt"
	"unicode/utf16"
)

// collectScript is the collection script; its output format is decoded by
// collectors/bitlocker.DecodeCollection.
//
//go:embed collect.ps1
var collectScript string

// maxCommandLine is cmd.exe's command-line limit: masterzen/winrm runs
// commands with WINRS_SKIP_CMD_SHELL=FALSE, so the command line passes
// through cmd.exe (winrm.md §1.6).
const maxCommandLine = 8191

// progressOff keeps PowerShell's progress records (CLIXML on stderr) away,
// as masterzen's own Powershell() helper does.
const progressOff = "$ProgressPreference='SilentlyContinue';"

// encodedCommand returns the powershell.exe command line that runs script:
// UTF-16LE, base64, -EncodedCommand, no profile, never interactive. It
// refuses command lines longer than cmd.exe accepts.
func encodedCommand(script string) (string, error) {
	u := utf16.Encode([]rune(progressOff + script))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	cmd := "powershell.exe -NoProfile -NonInteractive -EncodedCommand " + base64.StdEncoding.EncodeToString(b)
	if len(cmd) > maxCommandLine {
		return "", fmt.Errorf("collection command line is %d characters, over the %d cmd.exe accepts", len(cmd), maxCommandLine)
	}
	return cmd, nil
}
