package windows

import (
	"strings"
	"testing"
)

// TestRealWindowsCases checks the host states real fleets have and the
// emulation must answer as Windows does: no BitLocker feature, Constrained
// Language Mode, a non-administrator account, wevtutil, MSFT_Partition, and
// PowerShell 5.1's parser refusing pipeline chain operators.
func TestRealWindowsCases(t *testing.T) {
	noFeature := func(m *Machine) { m.NoBitLockerFeature = true }
	clm := func(m *Machine) { m.LanguageMode = "ConstrainedLanguage" }
	notAdmin := func(m *Machine) { m.NotAdmin = true }
	const idQuery = `wevtutil qe 'Microsoft-Windows-BitLocker/BitLocker Management' "/q:*[System[(EventID=784 or EventID=785)]]" /c:500 /rd:true /f:xml`
	tests := []struct {
		name   string
		setup  func(*Machine)
		script string
		code   int
		stdout []string // substrings, in order
		stderr []string
	}{
		{"no feature: namespace", noFeature,
			`try{Get-CimInstance -Namespace root/CIMV2/Security/MicrosoftVolumeEncryption -ClassName Win32_EncryptableVolume -ErrorAction Stop}catch{$_.FullyQualifiedErrorId+'|'+$_.Exception.Message+'|'}`,
			0, []string{"HRESULT 0x8004100e,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand|Invalid namespace |"}, nil},
		{"no feature: no BitLocker module", noFeature, `Get-BitLockerVolume`,
			1, nil, []string{"The term 'Get-BitLockerVolume' is not recognized"}},
		{"no feature: os still answers", noFeature, `(Get-CimInstance Win32_OperatingSystem).Caption`,
			0, []string{"Microsoft Windows 11 Enterprise"}, nil},
		{"no feature: no channel", noFeature, `cmd /c ` + strings.ReplaceAll(strings.ReplaceAll(idQuery, "'", `"`), `"/q`, `"/q`),
			15007, nil, []string{"Failed to read events. The specified channel could not be found."}},
		{"wevtutil newest first", nil, idQuery,
			0, []string{"<EventID>785</EventID>", "<EventID>784</EventID>"}, nil},
		{"wevtutil count", nil, `(` + strings.Replace(idQuery, "/c:500", "/c:1", 1) + `).Count`,
			0, []string{"1\r\n"}, nil},
		{"wevtutil same XML as ToXml", nil, `(` + strings.Replace(idQuery, "/c:500", "/c:1", 1) + `) -eq (Get-WinEvent -LogName 'Microsoft-Windows-BitLocker/BitLocker Management' -MaxEvents 1).ToXml()`,
			0, []string{"True"}, nil},
		{"wevtutil other query", nil, `wevtutil qe 'Microsoft-Windows-BitLocker/BitLocker Management' /q:*[System[Level=2]]`,
			1, nil, []string{"Failed to read events. The specified query is invalid."}},
		{"CLM: ToXml refused", clm,
			`try{Get-WinEvent -LogName 'Microsoft-Windows-BitLocker/BitLocker Management' -MaxEvents 1|ForEach-Object{$_.ToXml()}}catch{$_.FullyQualifiedErrorId+'|'+$_.Exception.Message}`,
			0, []string{"MethodInvocationNotSupportedInConstrainedLanguage|Cannot invoke method. Method invocation is supported only on core types in this language mode."}, nil},
		{"CLM: language mode", clm, `"$($ExecutionContext.SessionState.LanguageMode)"`, 0, []string{"ConstrainedLanguage\r\n"}, nil},
		{"full language mode", nil, `"$($ExecutionContext.SessionState.LanguageMode)"`, 0, []string{"FullLanguage\r\n"}, nil},
		{"CLM: core types still work", clm, `'abc'.ToUpper()`, 0, []string{"ABC"}, nil},
		{"CLM: wevtutil works", clm, idQuery, 0, []string{"<EventID>785</EventID>"}, nil},
		{"not admin: BitLocker namespace", notAdmin,
			`try{Get-CimInstance -Namespace root/CIMV2/Security/MicrosoftVolumeEncryption -ClassName Win32_EncryptableVolume -ErrorAction Stop}catch{$_.FullyQualifiedErrorId+'|'+$_.Exception.Message+'|'}`,
			0, []string{"HRESULT 0x80041003,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand|Access denied |"}, nil},
		{"not admin: log", notAdmin, idQuery, 1, nil, []string{"Failed to read events. Access is denied."}},
		{"not admin: computer still answers", notAdmin, `(Get-CimInstance Win32_ComputerSystem).Name`, 0, []string{"WS-0001"}, nil},
		{"partitions", nil,
			`Get-CimInstance -Namespace root/Microsoft/Windows/Storage -ClassName MSFT_Partition|Select-Object AccessPaths,GptType,MbrType|ConvertTo-Json -Compress`,
			0, []string{`{"AccessPaths":["\\\\?\\Volume{`, `"GptType":"{c12a7328-f81f-11d2-ba4b-00a0c93ec93b}","MbrType":null}`,
				`{"AccessPaths":null,"GptType":"{e3c9e316-0b5c-4db8-817d-f92df00215ae}"`,
				`{"AccessPaths":["C:\\","\\\\?\\Volume{1b2c3d4e-0000-4000-8000-000000000001}\\"],"GptType":"{ebd0a0a2-b9e5-4433-87c0-68b6b72699c7}"`,
				`"GptType":null,"MbrType":7}`}, nil},
		{"&& rejected", nil, `hostname && whoami`, 1, nil, []string{"The token '&&' is not a valid statement separator in this version.", "InvalidEndOfLine"}},
		{"|| rejected", nil, `hostname || whoami`, 1, nil, []string{"The token '||' is not a valid statement separator in this version."}},
		{"expression && rejected", nil, `$a=1 && 2`, 1, nil, []string{"The token '&&' is not a valid statement separator"}},
		{"dsregcmd stderr under Stop throws", func(m *Machine) { m.DsregcmdStderr = "Failed to retrieve tenant details." },
			`$ErrorActionPreference='Stop';try{dsregcmd /status}catch{'caught '+$_.FullyQualifiedErrorId}`,
			0, []string{"caught NativeCommandError"}, nil},
		{"dsregcmd stderr under Continue keeps stdout", func(m *Machine) { m.DsregcmdStderr = "Failed to retrieve tenant details." },
			`$ErrorActionPreference='Continue';dsregcmd /status`,
			1, []string{"DomainJoined : YES"}, []string{"Failed to retrieve tenant details."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := domainMachine()
			if tt.setup != nil {
				tt.setup(m)
			}
			cmd := masterzenCommand(tt.script)
			if strings.HasPrefix(tt.script, "cmd /c") {
				cmd = tt.script
			}
			out := run(t, m, cmd)
			so, se := string(out.Stdout), string(out.Stderr)
			if out.ExitCode != tt.code {
				t.Errorf("exit %d, want %d; stdout %q stderr %q", out.ExitCode, tt.code, redact(so), redact(se))
			}
			inOrder(t, "stdout", so, tt.stdout)
			inOrder(t, "stderr", strings.NewReplacer("_x000D__x000A_", "", "&amp;", "&").Replace(se), tt.stderr)
		})
	}
}

func inOrder(t *testing.T, what, s string, want []string) {
	t.Helper()
	rest := s
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("%s lacks %q (in order):\n%s", what, w, redact(s))
			return
		}
		rest = rest[i+len(w):]
	}
}
