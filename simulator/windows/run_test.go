package windows

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "update golden files")

// recoveryPassword matches a 48-digit BitLocker recovery password.
var recoveryPassword = regexp.MustCompile(`\d{6}(-\d{6}){7}`)

// redact keeps recovery passwords out of test output, even fake ones.
func redact(s string) string { return recoveryPassword.ReplaceAllString(s, "[redacted]") }

// masterzenCommand builds the command line masterzen/winrm's Powershell()
// sends: the progress-preference prefix, UTF-16LE, base64 (winrm.md §1.6).
func masterzenCommand(script string) string {
	return "powershell.exe -EncodedCommand " + encodeUTF16(`$ProgressPreference = 'SilentlyContinue';`+script)
}

func encodeUTF16(s string) string {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func run(t *testing.T, m *Machine, cmdline string) Output {
	t.Helper()
	return m.Run(t.Context(), Invocation{CommandLine: cmdline, Codepage: 65001, User: "auditor"})
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, redact(diff))
	}
}

// TestCollectScript golden-compares collect.ps1 (a snapshot in testdata, so
// that edits to the collector's script do not silently rewrite these
// goldens; TestLiveCollectScript runs the current one).
func TestCollectScript(t *testing.T) {
	script, err := os.ReadFile("testdata/collect.ps1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		m    *Machine
	}{
		{"domain", domainMachine()},           // OS + data + removable, AD events, FVE policy
		{"locked_workgroup", lockedMachine()}, // locked data volume, suspended OS volume, no events, no FVE key
		{"entra", entraMachine()},             // Entra joined, 845 event, non-ASCII name
		{"hybrid_decrypted", hybridMachine()}, // hybrid joined, decrypted, no protectors, no events
		{"no_volumes", emptyMachine()},        // no encryptable volumes
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := run(t, tt.m, masterzenCommand(string(script)))
			if out.ExitCode != 0 || len(out.Stderr) != 0 {
				t.Errorf("exit %d, stderr %q", out.ExitCode, redact(string(out.Stderr)))
			}
			if recoveryPassword.Match(out.Stdout) {
				t.Error("collect.ps1 output contains a recovery password")
			}
			golden(t, "collect_"+tt.name+".golden", out.Stdout)
		})
	}
}

// TestLiveCollectScript runs the collector's current collect.ps1, as the
// collector sends it, against every test machine: whatever it uses must be
// emulated (no errors, every section present, no recovery password).
func TestLiveCollectScript(t *testing.T) {
	script, err := os.ReadFile("../../collectors/winrm/collect.ps1")
	if err != nil {
		t.Skip("collector script not present:", err)
	}
	cmd := "powershell.exe -NoProfile -NonInteractive -EncodedCommand " + encodeUTF16("$ProgressPreference='SilentlyContinue';"+string(script))
	for _, m := range []*Machine{domainMachine(), lockedMachine(), entraMachine(), hybridMachine(), emptyMachine(), winVM()} {
		out := run(t, m, cmd)
		s := string(out.Stdout)
		if out.ExitCode != 0 || len(out.Stderr) != 0 || !strings.Contains(s, "##BITAUDIT END") {
			t.Errorf("%s: exit %d stderr %q", m.ComputerName, out.ExitCode, redact(string(out.Stderr)))
		}
		for _, l := range strings.Split(s, "\r\n") {
			if strings.HasPrefix(l, "##ERROR") && !strings.Contains(l, "NoMatchingEventsFound") {
				t.Errorf("%s: %s", m.ComputerName, redact(l))
			}
		}
		if recoveryPassword.MatchString(s) {
			t.Errorf("%s: output contains a recovery password", m.ComputerName)
		}
	}
}

func TestGetBitLockerVolumeJSON(t *testing.T) {
	// Two volumes piped: the array takes depth 0 (ConvertToJsonCommand),
	// so at the default depth 2 each KeyProtector entry is its ToString(),
	// the protector type's name.
	out := run(t, winVM(), masterzenCommand("Get-BitLockerVolume | ConvertTo-Json"))
	if out.ExitCode != 0 {
		t.Fatalf("exit %d: %s", out.ExitCode, redact(string(out.Stderr)))
	}
	golden(t, "getbitlockervolume_winvm.json.golden", out.Stdout)
	for _, frag := range []string{
		"[\r\n    {\r\n        \"ComputerName\":  \"WIN-VM\",\r\n",
		"\"KeyProtector\":  [\r\n                             \"RecoveryPassword\",\r\n                             \"Tpm\"\r\n                         ]\r\n    },\r\n",
		"\"KeyProtector\":  [\r\n\r\n                         ]\r\n    }\r\n]\r\n",
	} {
		if !strings.Contains(string(out.Stdout), frag) {
			t.Errorf("output lacks %q", frag)
		}
	}
	if recoveryPassword.Match(out.Stdout) {
		t.Error("a recovery password appears at the default depth")
	}

	// One level deeper, the entries are objects: the content of the WIN-VM
	// capture, whose source printed them (its whitespace was mangled, so
	// compare JSON values).
	out = run(t, winVM(), masterzenCommand("Get-BitLockerVolume | ConvertTo-Json -Depth 3"))
	sample, err := os.ReadFile("testdata/sample_winvm_getbitlockervolume.json")
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(sample, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Stdout, &got); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("differs from the WIN-VM capture (-want +got):\n%s", redact(diff))
	}
	if !strings.Contains(string(out.Stdout), "\"KeyProtector\":  [\r\n                             {\r\n                                 \"KeyProtectorId\":  \"{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}\",\r\n") {
		t.Error("-Depth 3 output lacks the nested protector layout")
	}

	// One volume alone is the root object: its protectors are objects at depth 2.
	out = run(t, winVM(), masterzenCommand("Get-BitLockerVolume -MountPoint C: | ConvertTo-Json"))
	if !strings.Contains(string(out.Stdout), "\"KeyProtectorId\":  \"{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}\"") {
		t.Errorf("one volume: protectors not objects:\n%s", redact(string(out.Stdout)))
	}
}

func TestSelectProtectorIDAndType(t *testing.T) {
	out := run(t, winVM(), masterzenCommand(
		"Get-BitLockerVolume | ForEach-Object { $_.KeyProtector | Select-Object KeyProtectorId,KeyProtectorType } | ConvertTo-Json"))
	want := "[\r\n" +
		"    {\r\n        \"KeyProtectorId\":  \"{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}\",\r\n        \"KeyProtectorType\":  3\r\n    },\r\n" +
		"    {\r\n        \"KeyProtectorId\":  \"{3B3E091C-ECB9-4B46-9FDD-A9E699EC3C8C}\",\r\n        \"KeyProtectorType\":  1\r\n    }\r\n" +
		"]\r\n"
	if diff := cmp.Diff(want, string(out.Stdout)); diff != "" || out.ExitCode != 0 {
		t.Errorf("exit %d, (-want +got):\n%s", out.ExitCode, diff)
	}
}

func TestConvertToJSON(t *testing.T) {
	tests := []struct{ script, want string }{
		{`'a<b>&''c' | ConvertTo-Json`, "\"a\\u003cb\\u003e\\u0026\\u0027c\"\r\n"},
		{`@{a=1;b=@(1,2)} | ConvertTo-Json`, "{\r\n    \"a\":  1,\r\n    \"b\":  [\r\n              1,\r\n              2\r\n          ]\r\n}\r\n"},
		{`ConvertTo-Json -InputObject @('x') -Compress`, "[\"x\"]\r\n"},
		{`ConvertTo-Json -InputObject @() -Compress`, "[]\r\n"},
		{`[pscustomobject]@{a=$null;b=$true} | ConvertTo-Json -Compress`, "{\"a\":null,\"b\":true}\r\n"},
		// Beyond -Depth, PS 5.1 writes the object's string form.
		{`[pscustomobject]@{a=[pscustomobject]@{b=[pscustomobject]@{c=[pscustomobject]@{d=1}}}} | ConvertTo-Json -Compress`, "{\"a\":{\"b\":{\"c\":\"@{d=1}\"}}}\r\n"},
		{`[pscustomobject]@{a=[pscustomobject]@{b=[pscustomobject]@{c=[pscustomobject]@{d=1}}}} | ConvertTo-Json -Compress -Depth 5`, "{\"a\":{\"b\":{\"c\":{\"d\":1}}}}\r\n"},
		{`1,2 | ConvertTo-Json -Compress`, "[1,2]\r\n"},
		{"\"tab`tnl`n\" | ConvertTo-Json", "\"tab\\tnl\\n\"\r\n"},
	}
	for _, tt := range tests {
		out := run(t, emptyMachine(), masterzenCommand(tt.script))
		if string(out.Stdout) != tt.want || out.ExitCode != 0 {
			t.Errorf("%s: exit %d, got %q, want %q (stderr %q)", tt.script, out.ExitCode, out.Stdout, tt.want, out.Stderr)
		}
	}
}

func TestDsregcmdHybrid(t *testing.T) {
	out := run(t, hybridMachine(), "dsregcmd /status")
	golden(t, "dsregcmd_hybrid.golden", out.Stdout)
	// The capture's lines (padding collapsed by its source) appear in order.
	sample, err := os.ReadFile("/work/shared/samples/dsregcmd-status_hybrid-joined_fragment.txt")
	if err != nil {
		t.Skip("shared sample not available:", err)
	}
	var names []string
	for _, l := range strings.Split(string(sample), "\n") {
		if strings.HasPrefix(l, "#") || !strings.Contains(l, " : ") {
			continue
		}
		names = append(names, strings.TrimSpace(strings.SplitN(l, " : ", 2)[0]))
	}
	rest := string(out.Stdout)
	for _, n := range names {
		i := strings.Index(rest, n+" : ")
		if i < 0 {
			t.Errorf("dsregcmd output lacks %q (in order)", n)
			continue
		}
		if col := i - (strings.LastIndex(rest[:i], "\n") + 1) + len(n); col != 26 {
			t.Errorf("%q ends at column %d, want 26", n, col)
		}
		rest = rest[i:]
	}
	ps := run(t, hybridMachine(), masterzenCommand("dsregcmd /status"))
	if string(ps.Stdout) != string(out.Stdout) {
		t.Error("dsregcmd inside PowerShell differs from cmd.exe")
	}
}

func TestEventXML(t *testing.T) {
	m := domainMachine()
	out := run(t, m, masterzenCommand(`(Get-WinEvent -FilterHashtable @{LogName='Microsoft-Windows-BitLocker/BitLocker Management';Id=784} -MaxEvents 1).ToXml()`))
	want := "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>" +
		"<Provider Name='Microsoft-Windows-BitLocker-API' Guid='{5d674230-ca9f-11da-a94d-0800200c9a66}'/>" +
		"<EventID>784</EventID><Version>0</Version><Level>4</Level><Task>0</Task><Opcode>0</Opcode>" +
		"<Keywords>0x4000000000000000</Keywords><TimeCreated SystemTime='2025-03-04T10:20:30.1234567Z'/>" +
		"<EventRecordID>7</EventRecordID><Correlation ACTIVITY/><Execution ProcessID='1028' ThreadID='2028'/>" +
		"<Channel>Microsoft-Windows-BitLocker/BitLocker Management</Channel><Computer>WS-0001.corp.example.test</Computer>" +
		"<Security UserID='S-1-5-18'/></System><EventData>" +
		"<Data Name='ProtectorGUID'>{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}</Data>" +
		"<Data Name='IdentificationGUID'>{1B2C3D4E-0000-4000-8000-000000000001}</Data></EventData></Event>\r\n"
	want = strings.Replace(want, "ACTIVITY", "ActivityID='"+activityID(m.Events[0])+"'", 1)
	if diff := cmp.Diff(want, string(out.Stdout)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Newest first, -MaxEvents honoured.
	out = run(t, m, masterzenCommand(`(Get-WinEvent -FilterHashtable @{LogName='Microsoft-Windows-BitLocker/BitLocker Management';Id=784,785}).Id`))
	if got := string(out.Stdout); got != "785\r\n784\r\n" {
		t.Errorf("event order: %q", got)
	}
}

func TestCommandErrors(t *testing.T) {
	notCmd := "'%s' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
	tests := []struct {
		name, cmdline  string
		stdout, stderr string
		code           int
	}{
		{"cmd unknown", "ipconfig /all", "", strings.ReplaceAll(notCmd, "%s", "ipconfig"), 1},
		{"cmd quoted unknown", `"C:\Tools\x.exe" -v`, "", strings.ReplaceAll(notCmd, "%s", `C:\Tools\x.exe`), 1},
		{"echo", "echo hello  world", "hello  world\r\n", "", 0},
		{"hostname", "HOSTNAME", "WS-0001\r\n", "", 0},
		{"cmd /c", "cmd.exe /c hostname", "WS-0001\r\n", "", 0},
		{"bad base64", "powershell -enc not!base64", "", "Cannot process the command because the value specified with -EncodedCommand is not properly encoded. The value must be Base64 encoded.\r\n", 1},
		{"whoami option", "whoami /all", "", "ERROR: Invalid argument/option - '/all'.\r\nType \"WHOAMI /?\" for usage.\r\n", 1},
		{"whoami domain", "whoami", "corp\\auditor\r\n", "", 0},
		{"powershell full path", `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -enc ` + encodeUTF16("hostname"), "WS-0001\r\n", "", 0},
		{"powershell -Command", `PowerShell -Command "Write-Output 'hi there'"`, "hi there\r\n", "", 0},
		{"ps unknown (CLIXML)", masterzenCommand("Foo-Bar"), "",
			"#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">" +
				"<S S=\"Error\">Foo-Bar : The term 'Foo-Bar' is not recognized as the name of a cmdlet, _x000D__x000A_</S>" +
				"<S S=\"Error\">function, script file, or operable program. Check the spelling of the name, or _x000D__x000A_</S>" +
				"<S S=\"Error\">if a path was included, verify that the path is correct and try again._x000D__x000A_</S>" +
				"<S S=\"Error\">At line:1 char:42_x000D__x000A_</S>" +
				"<S S=\"Error\">+ $ProgressPreference = 'SilentlyContinue';Foo-Bar_x000D__x000A_</S>" +
				"<S S=\"Error\">+                                          ~~~~~~~_x000D__x000A_</S>" +
				"<S S=\"Error\">    + CategoryInfo          : ObjectNotFound: (Foo-Bar:String) [], CommandNotF _x000D__x000A_</S>" +
				"<S S=\"Error\">   oundException_x000D__x000A_</S>" +
				"<S S=\"Error\">    + FullyQualifiedErrorId : CommandNotFoundException_x000D__x000A_</S>" +
				"<S S=\"Error\"> _x000D__x000A_</S></Objs>", 1},
		{"ps unknown then more (continues)", `powershell -Command "Foo-Bar; 'after'"`, "after\r\n", "", 0},
		{"ps Stop ends script", masterzenCommand("$ErrorActionPreference='Stop'; Foo-Bar; 'after'"), "", "", 1},
		{"try/catch", masterzenCommand("try { Get-CimInstance -Namespace root/nope -ClassName X -ErrorAction Stop } catch { $_.FullyQualifiedErrorId + '|' + $_.Exception.Message + '|' }"),
			"HRESULT 0x8004100e,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand|Invalid namespace |\r\n", "", 0},
		{"missing FVE key silenced", masterzenCommand(`Get-ItemProperty -Path HKLM:\SOFTWARE\Policies\Microsoft\FVE -ErrorAction SilentlyContinue; 'ok'`), "ok\r\n", "", 0},
		{"parse error", masterzenCommand("foreach ($a in @(1)) {"), "", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := domainMachine()
			m.FVEPolicy = nil
			out := run(t, m, tt.cmdline)
			if out.ExitCode != tt.code || string(out.Stdout) != tt.stdout {
				t.Errorf("exit %d stdout %q; want %d %q (stderr %q)", out.ExitCode, out.Stdout, tt.code, tt.stdout, out.Stderr)
			}
			if tt.stderr != "" && string(out.Stderr) != tt.stderr {
				t.Errorf("stderr:\n%q\nwant\n%q", out.Stderr, tt.stderr)
			}
			if tt.code != 0 && tt.stderr == "" && len(out.Stderr) == 0 {
				t.Error("failure without stderr")
			}
		})
	}
}

func TestParseErrorText(t *testing.T) {
	out := run(t, emptyMachine(), `powershell -Command "$x = (1"`)
	want := "At line:1 char:8\r\n+ $x = (1\r\n+        ~\r\nMissing closing ')' in expression.\r\n" +
		"    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordEx \r\n   ception\r\n" +
		"    + FullyQualifiedErrorId : MissingEndParenthesisInExpression\r\n \r\n"
	if string(out.Stderr) != want || out.ExitCode != 1 {
		t.Errorf("exit %d stderr %q, want %q", out.ExitCode, out.Stderr, want)
	}
}

func TestCodepage(t *testing.T) {
	m := entraMachine() // "LAPTOP-Ä01"
	m.ComputerName = "LAPTOP-Ä01Ł"
	for _, tt := range []struct {
		cp   int
		want string
	}{
		{65001, "LAPTOP-Ä01Ł\r\n"},
		{437, "LAPTOP-\x8e01?\r\n"}, // Ä is 0x8E in CP437; Ł has no CP437 form
	} {
		for _, cmdline := range []string{"hostname", masterzenCommand("hostname"), masterzenCommand("$env:COMPUTERNAME")} {
			out := m.Run(t.Context(), Invocation{CommandLine: cmdline, Codepage: tt.cp, User: "auditor"})
			if string(out.Stdout) != tt.want {
				t.Errorf("codepage %d %.30q: got %q, want %q", tt.cp, cmdline, out.Stdout, tt.want)
			}
		}
	}
}

func TestLongCommandLine(t *testing.T) {
	m := emptyMachine()
	long := masterzenCommand("'" + strings.Repeat("x", 3019-2) + "'")
	if n := len(long); n != 8191 {
		t.Fatalf("test setup: command line has %d characters, want 8191", n)
	}
	if out := run(t, m, long); out.ExitCode != 0 {
		t.Errorf("8191 characters should run: exit %d %q", out.ExitCode, out.Stderr)
	}
	tooLong := masterzenCommand("'" + strings.Repeat("x", 3019-1) + "'")
	out := run(t, m, tooLong)
	if out.ExitCode != 1 || string(out.Stderr) != "The command line is too long.\r\n" || len(out.Stdout) != 0 {
		t.Errorf("default: exit %d stdout %q stderr %q", out.ExitCode, out.Stdout, out.Stderr)
	}
	m.LongCommandLineSilent = true
	out = run(t, m, tooLong)
	if out.ExitCode != 0 || len(out.Stderr) != 0 || len(out.Stdout) != 0 {
		t.Errorf("silent: exit %d stdout %q stderr %q", out.ExitCode, out.Stdout, out.Stderr)
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	out := domainMachine().Run(ctx, Invocation{CommandLine: masterzenCommand("Get-BitLockerVolume"), Codepage: 65001})
	if out.ExitCode != 1 || len(out.Stdout) != 0 {
		t.Errorf("cancelled: exit %d stdout %q", out.ExitCode, redact(string(out.Stdout)))
	}
}

func TestWhoami(t *testing.T) {
	for _, tt := range []struct {
		m          *Machine
		user, want string
	}{
		{domainMachine(), "Auditor", "corp\\auditor\r\n"},
		{domainMachine(), `CORP\Auditor`, "corp\\auditor\r\n"},
		{emptyMachine(), "Auditor", "srv-empty\\Auditor\r\n"},
	} {
		out := tt.m.Run(t.Context(), Invocation{CommandLine: "whoami", Codepage: 65001, User: tt.user})
		if string(out.Stdout) != tt.want {
			t.Errorf("whoami as %q on %s: %q, want %q", tt.user, tt.m.ComputerName, out.Stdout, tt.want)
		}
	}
}

func TestLiveMethods(t *testing.T) {
	m := lockedMachine()
	q := `$v = Get-CimInstance -Namespace root\CIMV2\Security\MicrosoftVolumeEncryption -ClassName Win32_EncryptableVolume -Filter "DriveLetter='E:'";`
	tests := []struct{ expr, want string }{
		{`(Invoke-CimMethod -InputObject $v -MethodName GetConversionStatus).ReturnValue`, "2150694912"},
		{`$null -eq (Invoke-CimMethod -InputObject $v -MethodName GetConversionStatus).ConversionStatus`, "True"},
		{`(Invoke-CimMethod -InputObject $v -MethodName GetEncryptionMethod).ReturnValue`, "2150694912"},
		{`(Invoke-CimMethod -InputObject $v -MethodName GetLockStatus).LockStatus`, "1"},
		{`(Invoke-CimMethod -InputObject $v -MethodName GetKeyProtectors -Arguments @{KeyProtectorType=3}).VolumeKeyProtectorID`, "{22222222-3333-4444-8555-666666666666}"},
		{`(Invoke-CimMethod -InputObject $v -MethodName GetKeyProtectorType -Arguments @{VolumeKeyProtectorID='{33333333-4444-4555-8666-777777777777}'}).KeyProtectorType`, "8"},
		{`(Invoke-CimMethod -InputObject $v -MethodName GetKeyProtectorType -Arguments @{VolumeKeyProtectorID='{00000000-0000-0000-0000-000000000000}'}).ReturnValue`, "2147942487"},
		{`(Invoke-CimMethod -InputObject $v -MethodName GetVersion).Version`, "2"},
		{`(Invoke-CimMethod -InputObject $v -MethodName GetKeyProtectorNumericalPassword -Arguments @{VolumeKeyProtectorID='{22222222-3333-4444-8555-666666666666}'}).ReturnValue`, "2150694912"},
		{`$v.PersistentVolumeID`, "{AAAAAAAA-0000-4000-8000-000000000002}"},
	}
	for _, tt := range tests {
		out := run(t, m, masterzenCommand(q+tt.expr))
		if got := strings.TrimSuffix(string(out.Stdout), "\r\n"); got != tt.want || out.ExitCode != 0 {
			t.Errorf("%s: exit %d got %q want %q (stderr %q)", tt.expr, out.ExitCode, redact(got), tt.want, out.Stderr)
		}
	}
}

func TestRemediation(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	m := domainMachine()
	m.Now = func() time.Time { return now }
	q := `$v = Get-CimInstance -Namespace root/CIMV2/Security/MicrosoftVolumeEncryption -ClassName Win32_EncryptableVolume -Filter "DriveLetter='C:'";` +
		`(Invoke-CimMethod -InputObject $v -MethodName BackupRecoveryInformationToActiveDirectory -Arguments @{VolumeKeyProtectorID='{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}'}).ReturnValue`
	if out := run(t, m, masterzenCommand(q)); string(out.Stdout) != "0\r\n" {
		t.Fatalf("AD backup: %q %q", out.Stdout, out.Stderr)
	}
	if len(m.Escrow.AD) != 1 || m.Escrow.AD[0].ProtectorID != "{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}" || !m.Escrow.AD[0].Created.Equal(now) {
		t.Errorf("escrow after AD backup: %+v", m.Escrow.AD)
	}
	if e := m.Events[len(m.Events)-1]; e.ID != 784 || e.RecordID != 10 {
		t.Errorf("last event %d record %d, want 784 record 10", e.ID, e.RecordID)
	}

	m.FVEPolicy = nil // policy no longer permits AD backup: S_FALSE
	if out := run(t, m, masterzenCommand(q)); string(out.Stdout) != "1\r\n" {
		t.Errorf("AD backup without policy: %q", out.Stdout)
	}

	e := entraMachine()
	out := run(t, e, masterzenCommand(`BackupToAAD-BitLockerKeyProtector -MountPoint C: -KeyProtectorId '{44444444-5555-4666-8777-888888888888}' | Select-Object -ExpandProperty MountPoint`))
	if string(out.Stdout) != "C:\r\n" || len(e.Escrow.Entra) != 1 || e.Events[len(e.Events)-1].ID != 845 {
		t.Errorf("Entra backup: %q %q escrow %+v", out.Stdout, out.Stderr, e.Escrow.Entra)
	}
	w := lockedMachine() // workgroup, not Entra joined: 846 and an error
	out = run(t, w, masterzenCommand(`BackupToAAD-BitLockerKeyProtector -MountPoint E: -KeyProtectorId '{22222222-3333-4444-8555-666666666666}'`))
	if out.ExitCode != 1 || len(w.Escrow.Entra) != 0 || w.Events[len(w.Events)-1].ID != 846 {
		t.Errorf("failed Entra backup: exit %d escrow %+v", out.ExitCode, w.Escrow.Entra)
	}
}

func FuzzParse(f *testing.F) {
	script, _ := os.ReadFile("testdata/collect.ps1")
	for _, s := range []string{string(script), "$a = @{x=1;y='a'}; $a.x", "foreach($i in 1,2){ \"$i $($i)\" }", "try { throw 'x' } catch { $_ }",
		"Get-BitLockerVolume | Select-Object -First 1 * -ExcludeProperty Rec*", "[int]'5' + 1", "if ($true) { 1 } elseif ($false) { 2 } else { 3 }", "`", "@(", "\"$(", "'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := parseScript(s); err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		out := winVM().Run(ctx, Invocation{CommandLine: "powershell -enc " + encodeUTF16(s), Codepage: 437})
		if out.ExitCode != 0 && out.ExitCode != 1 && !strings.Contains(strings.ToLower(s), "exit") {
			t.Errorf("unexpected exit code %d", out.ExitCode)
		}
	})
}

// TestPositionMessageTruncation reproduces the error captured in
// MEM-Zone/MEM.Zone#14 (long lines cut around the failing command).
func TestPositionMessageTruncation(t *testing.T) {
	m := emptyMachine()
	for _, tt := range []struct{ script, want string }{
		{strings.Repeat(" ", 18) + `$SuperPeer = Get-CimInstance -Namespace 'root\ccm\Policy\Machine\ActualConfig' -ClassName 'CCM_SuperPeerClientConfig'`,
			"Get-CimInstance : Invalid namespace \r\n" +
				"At line:1 char:32\r\n" +
				`+ ... SuperPeer = Get-CimInstance -Namespace 'root\ccm\Policy\Machine\Actua ...` + "\r\n" +
				"+                 " + strings.Repeat("~", 57) + "\r\n" +
				`    + CategoryInfo          : MetadataError: (root\ccm\Policy...eerClientConfi ` + "\r\n"},
		{`Get-CimInstance -Namespace 'root\ccm\Policy\Machine\ActualConfig' -ClassName 'CCM_SuperPeerClientConfig' -Verbose:$true`,
			"Get-CimInstance : Invalid namespace \r\n" +
				"At line:1 char:1\r\n" +
				`+ Get-CimInstance -Namespace 'root\ccm\Policy\Machine\ActualConfig' -Cl ...` + "\r\n" +
				"+ " + strings.Repeat("~", 69) + "\r\n"},
	} {
		m.Mu.Lock()
		_, stderr, code := m.runPowerShell(t.Context(), Invocation{Codepage: 65001}, tt.script, false)
		m.Mu.Unlock()
		if code != 1 || !strings.HasPrefix(stderr, tt.want) {
			t.Errorf("exit %d, stderr:\n%s\nwant prefix:\n%s", code, stderr, tt.want)
		}
	}
}

func TestInteractiveForms(t *testing.T) {
	tests := []struct{ script, want string }{
		{`(Get-BitLockerVolume -MountPoint C:).KeyProtector | Where-Object KeyProtectorType -eq 'RecoveryPassword' | Select-Object -ExpandProperty KeyProtectorId`,
			"{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}"},
		{`Get-BitLockerVolume | Where-Object { $_.VolumeType -eq 'OperatingSystem' } | Select-Object MountPoint, VolumeStatus, ProtectionStatus | ConvertTo-Json -Compress`,
			`{"MountPoint":"C:","VolumeStatus":1,"ProtectionStatus":1}`},
		{`"$env:COMPUTERNAME is in $((Get-CimInstance Win32_ComputerSystem).Domain)"`, "WS-0001 is in corp.example.test"},
		{`[int](Get-CimInstance Win32_OperatingSystem).BuildNumber -ge 22000`, "True"},
		{`$x = @(); $x.Count`, "0"},
		{`@($null).Count; $null | ConvertTo-Json; @(@()).Count`, "1\r\nnull\r\n0"},
		{`$k = foreach ($i in @()) { $i }; @($k).Count; $null -eq $k`, "0\r\nTrue"},
		{`Get-WinEvent -LogName 'Microsoft-Windows-BitLocker/BitLocker Management' -MaxEvents 1 | Select-Object Id, RecordId | ConvertTo-Json -Compress`, `{"Id":785,"RecordId":9}`},
		{`Get-ItemProperty -Path HKLM:\SOFTWARE\Policies\Microsoft\FVE -Name OSActiveDirectoryBackup | Select-Object -ExpandProperty OSActiveDirectoryBackup`, "1"},
		{`Get-ItemProperty HKLM:\SOFTWARE\Policies\Microsoft\FVE | Select-Object PSChildName, PSPath | ConvertTo-Json -Compress`,
			`{"PSChildName":"FVE","PSPath":"Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\FVE"}`},
		{`if ((Get-CimInstance Win32_ComputerSystem).PartOfDomain) { 'domain' } else { 'workgroup' }`, "domain"},
		{`Get-BitLockerVolume | ForEach-Object MountPoint`, "C:\r\nD:\r\n\\\\?\\Volume{1b2c3d4e-0000-4000-8000-000000000003}\\"},
		{`(Get-BitLockerVolume | Select-Object -First 1).CapacityGB`, "475.7724"},
		{`1 + 2; 'a' + 1; 1,2 + 3 | ConvertTo-Json -Compress`, "3\r\na1\r\n[1,2,3]"},
		{`$h = @{ a = 1 }; $h.a; $h['a']`, "1\r\n1"},
		{`'x' | Out-String`, "x\r\n"},
		{`(Get-Command BackupToAAD-BitLockerKeyProtector).Source`, "BitLocker"},
		{`$v = Get-CimInstance -Namespace root/CIMV2/Security/MicrosoftVolumeEncryption -ClassName Win32_EncryptableVolume -Filter "DriveLetter='C:'"; Invoke-CimMethod -InputObject $v -MethodName GetProtectionStatus`,
			"\r\nProtectionStatus ReturnValue PSComputerName\r\n---------------- ----------- --------------\r\n               1           0\r\n\r\n"},
		{`$null -eq (Get-Command Enable-BitLocker -ErrorAction SilentlyContinue)`, "True"},
		{`foreach ($i in 1,2) { Foo-Bar; $i }`, "1\r\n2"}, // the error ends only its own statement
		{`Get-CimInstance -Namespace root/CIMV2/Security/MicrosoftVolumeEncryption -ClassName Win32_EncryptableVolume | Select-Object -First 1 | ForEach-Object { $_.ToString() }`,
			`Win32_EncryptableVolume (DeviceID = "\\?\Volume{1b2c3d4e-0000-4000-8000-000000000001}\")`},
	}
	for _, tt := range tests {
		out := run(t, domainMachine(), masterzenCommand(tt.script))
		if got := strings.TrimSuffix(string(out.Stdout), "\r\n"); got != tt.want || out.ExitCode != 0 {
			t.Errorf("%s:\nexit %d got %q\nwant %q\nstderr %q", tt.script, out.ExitCode, redact(got), tt.want, out.Stderr)
		}
	}
}

func TestLike(t *testing.T) {
	for _, tt := range []struct {
		s, p string
		want bool
	}{
		{"PSPath", "PS*", true}, {"OSRecovery", "PS*", false}, {"abc", "a?c", true}, {"abc", "[a-b]bc", true},
		{"cbc", "[a-b]bc", false}, {"RecoveryPassword", "*password", true}, {"x", "*", true}, {"", "*", true},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "*a*a*a*a*a*a*a*a*a*a*a*a*b", false}, {"a[", "a[", true},
	} {
		if got := likeMatch(tt.s, tt.p); got != tt.want {
			t.Errorf("%q -like %q = %v", tt.s, tt.p, got)
		}
	}
}

// flipCtx reports cancellation from its n-th Err call on, to cancel a run midway.
type flipCtx struct {
	context.Context
	n int
}

func (c *flipCtx) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

func TestCancelMidScript(t *testing.T) {
	ctx := &flipCtx{Context: t.Context(), n: 4}
	out := domainMachine().Run(ctx, Invocation{CommandLine: masterzenCommand("'one'; 'two'; 'three'; 'four'; 'five'; 'six'"), Codepage: 65001})
	if out.ExitCode != 1 || strings.Contains(string(out.Stdout), "six") {
		t.Errorf("exit %d stdout %q, want exit 1 and the script stopped", out.ExitCode, out.Stdout)
	}
}

func TestProgressOnFirstUse(t *testing.T) {
	m := emptyMachine()
	m.ProgressOnFirstUse = true
	// pywinrm's run_ps: no $ProgressPreference prefix.
	out := run(t, m, "powershell -encodedcommand "+encodeUTF16("Get-CimInstance Win32_OperatingSystem | Select-Object -ExpandProperty BuildNumber"))
	want := "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">" + firstUseProgress + "</Objs>"
	if string(out.Stdout) != "20348\r\n" || string(out.Stderr) != want || out.ExitCode != 0 {
		t.Errorf("exit %d stdout %q stderr %q", out.ExitCode, out.Stdout, out.Stderr)
	}
	// masterzen's prefix silences it.
	out = run(t, m, masterzenCommand("Get-CimInstance Win32_OperatingSystem | Select-Object -ExpandProperty BuildNumber"))
	if len(out.Stderr) != 0 {
		t.Errorf("stderr with SilentlyContinue: %q", out.Stderr)
	}
}

func TestNativeStderr(t *testing.T) {
	out := run(t, domainMachine(), `powershell -Command "whoami /all; 'next'"`)
	want := "whoami : ERROR: Invalid argument/option - '/all'.\r\n" +
		"At line:1 char:1\r\n+ whoami /all; 'next'\r\n+ ~~~~~~~~~~~\r\n" +
		"    + CategoryInfo          : NotSpecified: (ERROR: Invalid argument/option -  \r\n" +
		"   '/all'.:String) [], RemoteException\r\n" +
		"    + FullyQualifiedErrorId : NativeCommandError\r\n" +
		"Type \"WHOAMI /?\" for usage.\r\n \r\n"
	if string(out.Stdout) != "next\r\n" || string(out.Stderr) != want {
		t.Errorf("stdout %q\nstderr %q\nwant   %q", out.Stdout, out.Stderr, want)
	}
}
