// Package windows emulates the parts of a Windows host that a WinRM client
// can observe: cmd.exe command-line handling, and a documented subset of
// Windows PowerShell 5.1 answering from a [Machine]'s state with the exact
// text Windows prints. Anything outside the subset fails as Windows does, so
// a client relying on something unemulated fails loudly in tests.
//
// It imports nothing of bitaudit outside the simulator, so it cannot agree
// with the collector merely by sharing code. [Machine.Run] is the entry
// point: one command line, as a WinRM shell receives it.
//
// # cmd.exe
//
// Command lines over 8191 characters fail with "The command line is too
// long." (or, with [Machine.LongCommandLineSilent], produce nothing and exit
// 0). Recognised: cmd /c X, hostname, whoami (domain\user in lower case, or
// computer\user in a workgroup; options fail as invalid), echo, dsregcmd /status, wevtutil qe, and powershell /
// powershell.exe (any case, optionally with a path) with -EncodedCommand
// (-e, -ec, -enc and other prefixes; base64 of UTF-16LE), -Command (-c), and
// the switches -NoProfile, -NonInteractive, -NoLogo, -ExecutionPolicy X,
// -OutputFormat X, -InputFormat X, -WindowStyle X. Anything else: "'x' is
// not recognized as an internal or external command," / "operable program or
// batch file.", exit 1. Output is encoded in WINRS_CODEPAGE: 65001 (UTF-8)
// or 437 (runes without a CP437 form become '?'). Line endings are CRLF.
//
// # PowerShell language subset
//
// Statements separated by newlines or ';'; comments; assignment to
// variables (including $x = foreach …, and the preference variables such as
// $ProgressPreference and $ErrorActionPreference); foreach ($v in …) {…};
// try {…} catch {…} with $_ the ErrorRecord (.Exception.Message,
// .FullyQualifiedErrorId); if/elseif/else; throw; exit N. Pipelines of
// commands, with an expression allowed as the first element. Expressions:
// '…' and "…" strings ($var, ${var}, $(…) and backtick escapes), integers
// (also 0x…), decimals, $true/$false/$null, $_, $env:COMPUTERNAME and a few
// other environment variables, @(…), @{k=v;…}, {script blocks}, casts
// [int] [string] [bool] [double] [array] [pscustomobject] [ordered], (…),
// member access with member enumeration over arrays, indexing, method calls
// ToString/ToUpper/ToLower/Trim and those of emulated objects (ToXml), the
// comma operator, unary - and -not/!, + and -, and the comparison operators
// -eq -ne -gt -ge -lt -le -like -notlike -contains -notcontains -in -notin
// (case-insensitive) and -and/-or. A variable that captured no output holds
// AutomationNull, which @() turns into an empty array.
//
// Pipeline chain operators && and || fail to parse as in 5.1 ("The token
// '&&' is not a valid statement separator in this version.", InvalidEndOfLine).
// With [Machine.LanguageMode] ConstrainedLanguage, method calls on objects
// other than core types (strings, numbers, arrays, hashtables,
// PSCustomObject) fail with MethodInvocationNotSupportedInConstrainedLanguage;
// $ExecutionContext.SessionState.LanguageMode answers the mode.
//
// Not emulated (a parse error or "not recognized" error results): functions,
// param blocks, while/for/do/switch loops, ranges (1..3), -f, -match, -split,
// -join, static members ([int]::MaxValue), & and dot-sourcing, redirection,
// here-strings. ConvertTo-Json of a raw CIM instance lacks the CimClass,
// CimInstanceProperties and CimSystemProperties members Windows adds.
//
// # PowerShell commands
//
//   - Get-CimInstance -ClassName/-Class X [-Namespace ns] [-Filter "P='v'"]:
//     Win32_OperatingSystem and Win32_ComputerSystem in root\cimv2;
//     Win32_EncryptableVolume in root\CIMV2\Security\MicrosoftVolumeEncryption
//     ('/' or '\'); MSFT_Partition in root\Microsoft\Windows\Storage (EFI
//     system, MSR, then one partition per volume with its GptType and
//     AccessPaths). Unknown namespace (also the BitLocker one under
//     [Machine.NoBitLockerFeature]): "Invalid namespace " (HRESULT
//     0x8004100e); unknown class: "Invalid class " (HRESULT 0x80041010);
//     the BitLocker and storage namespaces under [Machine.NotAdmin]:
//     "Access denied " (HRESULT 0x80041003).
//   - Invoke-CimMethod -InputObject $v -MethodName M [-Arguments @{…}] for the
//     Win32_EncryptableVolume methods GetProtectionStatus,
//     GetConversionStatus, GetEncryptionMethod, GetLockStatus,
//     GetKeyProtectors, GetKeyProtectorType, GetKeyProtectorFriendlyName,
//     GetExternalKeyFileName, GetKeyProtectorNumericalPassword,
//     GetSuspendCount, GetVersion, IsAutoUnlockEnabled, IsAutoUnlockKeyStored,
//     BackupRecoveryInformationToActiveDirectory and
//     BackupRecoveryInformationToCloudDomain; each returns its out
//     parameters and ReturnValue. On a locked volume GetConversionStatus and
//     GetEncryptionMethod return 2150694912 (FVE_E_LOCKED_VOLUME) and no out
//     parameters.
//   - Get-BitLockerVolume [-MountPoint], Backup-BitLockerKeyProtector and
//     BackupToAAD-BitLockerKeyProtector -MountPoint M -KeyProtectorId ID.
//     Backups add to [Machine.Escrow] and write events 784/845 (785/846 on
//     failure); AD backup returns 1 (S_FALSE) when the FVE policy does not
//     permit it.
//   - Get-WinEvent -FilterHashtable @{LogName=…; Id=…; ProviderName=…} or
//     -LogName, [-MaxEvents N] [-Oldest], on the
//     Microsoft-Windows-BitLocker/BitLocker Management log, newest first;
//     records have ToXml(). No match: "No events were found that match the
//     specified selection criteria." (NoMatchingEventsFound).
//   - Get-ItemProperty [-Path] HKLM:\SOFTWARE\Policies\Microsoft\FVE [-Name]:
//     the policy values (in name order) and PSPath, PSParentPath,
//     PSChildName, PSDrive, PSProvider; a missing key is a PathNotFound error.
//   - Select-Object (names, wildcards, *, -ExcludeProperty, calculated
//     @{n=…;e={…}}, -ExpandProperty, -First, -Last, -Skip), Where-Object
//     ({…} or Property -EQ/-NE/-Like/-NotLike/-GT/-LT Value), ForEach-Object
//     ({…} or a member name), Write-Output, Out-String [-Stream], Out-Null,
//     ConvertTo-Json [-InputObject] [-Depth N] [-Compress] (byte for byte as
//     5.1 writes it; several pipeline inputs form an array at depth 0; see
//     convertToJSON), and the programs dsregcmd /status, hostname, whoami
//     and wevtutil qe LOG /q:"*[System[(EventID=… or …)]]" /c:N /rd:true
//     /f:xml (events as ToXml() renders them, one per line; "Failed to read
//     events. …" with the Win32 error as exit code when the channel is
//     missing or access is denied).
//   - Without the BitLocker feature, the BitLocker module's commands are not
//     recognized and its event channel does not exist.
//   - Get-Command [-Name] N: the emulated commands only, so probing for a
//     command tells a script exactly what the emulation answers.
//   - Common parameters: -ErrorAction, -WarningAction, -Verbose, -Debug.
//
// Output reaching the end of the pipeline is written as Out-Default does
// without format views: strings and scalars as lines, objects with up to
// four properties as tables, larger ones as lists (format views such as
// Get-BitLockerVolume's default table are not emulated). Errors are written
// in PowerShell's NormalView (message, "At line:L char:C", the line with a ~
// underline, CategoryInfo, FullyQualifiedErrorId) wrapped at the 80-column
// buffer width, and under -EncodedCommand as CLIXML (#< CLIXML, one
// <S S="Error"> per line), led by a first-use progress record when
// [Machine.ProgressOnFirstUse] is set. The exit code is 1 when the script ended on an
// error or its last statement failed, else 0 (or exit N).
package windows
