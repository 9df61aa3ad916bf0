package windows

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// TestParseCacheRunsAgainstCurrentState: the collection script's parse is
// shared, never its output. A second machine gets its own answer, and a
// backup that changes the machine shows in the next collection.
func TestParseCacheRunsAgainstCurrentState(t *testing.T) {
	script, err := os.ReadFile("testdata/collect.ps1")
	if err != nil {
		t.Fatal(err)
	}
	collect := masterzenCommand(string(script))
	m := domainMachine()
	m.Now = func() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }
	before := run(t, m, collect)
	parsedScripts.Lock()
	_, cached := parsedScripts.m["$ProgressPreference = 'SilentlyContinue';"+string(script)]
	parsedScripts.Unlock()
	if !cached {
		t.Fatal("the collection script's parse is not cached")
	}
	if again := run(t, m, collect); !bytes.Equal(again.Stdout, before.Stdout) {
		t.Error("the same machine answered the same script differently")
	}
	other := run(t, entraMachine(), collect)
	if bytes.Equal(other.Stdout, before.Stdout) || !strings.Contains(string(other.Stdout), `"Name":"`+entraMachine().ComputerName+`"`) {
		t.Error("a second machine got the first one's answer")
	}

	backup := masterzenCommand(`$v = Get-CimInstance -Namespace root/CIMV2/Security/MicrosoftVolumeEncryption -ClassName Win32_EncryptableVolume -Filter "DriveLetter='C:'";` +
		`(Invoke-CimMethod -InputObject $v -MethodName BackupRecoveryInformationToActiveDirectory -Arguments @{VolumeKeyProtectorID='{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}'}).ReturnValue`)
	if out := run(t, m, backup); string(out.Stdout) != "0\r\n" {
		t.Fatalf("AD backup: %q %q", out.Stdout, out.Stderr)
	}
	after := run(t, m, collect)
	if bytes.Equal(after.Stdout, before.Stdout) {
		t.Fatal("the collection after a backup is the one before it")
	}
	const ev784 = `EventID\u003e784\u003c` // the section is JSON: < and > escaped
	if n, want := strings.Count(string(after.Stdout), ev784), strings.Count(string(before.Stdout), ev784)+1; n != want {
		t.Errorf("after the backup the events section has %d events 784, want %d", n, want)
	}
}

// TestParseCacheKeepsErrors: a script that does not parse fails the same
// way every time it is run.
func TestParseCacheKeepsErrors(t *testing.T) {
	bad := masterzenCommand("Get-Date -Format 'yyyy")
	first := run(t, domainMachine(), bad)
	if first.ExitCode != 1 || !strings.Contains(string(first.Stderr), "TerminatorExpectedAtEndOfString") {
		t.Fatalf("exit %d, stderr %q", first.ExitCode, first.Stderr)
	}
	if second := run(t, domainMachine(), bad); second.ExitCode != first.ExitCode || !bytes.Equal(second.Stderr, first.Stderr) {
		t.Errorf("second run: exit %d, stderr %q; first: %q", second.ExitCode, second.Stderr, first.Stderr)
	}
}
