package windows

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// MaxCommandLine is cmd.exe's command-line limit in characters (winrm.md §1.6).
const MaxCommandLine = 8191

// Invocation is one command line started in a WinRM shell.
type Invocation struct {
	CommandLine string // rsp:Command plus rsp:Arguments joined by spaces, as received
	Codepage    int    // WINRS_CODEPAGE: 65001 (UTF-8) or 437 (OEM US; unrepresentable runes become '?')
	User        string // authenticated user name as given by the client (for whoami)
}

// Output is what the process wrote and its exit code.
type Output struct {
	Stdout, Stderr []byte
	ExitCode       int
}

// Run executes the command line as cmd.exe would under WinRM
// (WINRS_SKIP_CMD_SHELL=FALSE). It locks m.Mu while reading or changing
// state and returns promptly, with exit code 1, when ctx is cancelled.
func (m *Machine) Run(ctx context.Context, inv Invocation) Output {
	m.record(inv.CommandLine)
	if err := ctx.Err(); err != nil {
		return Output{ExitCode: 1}
	}
	if utf8.RuneCountInString(inv.CommandLine) > MaxCommandLine {
		m.Mu.Lock()
		silent := m.LongCommandLineSilent
		m.Mu.Unlock()
		if silent {
			return Output{}
		}
		return m.encode(inv, "", "The command line is too long.\r\n", 1)
	}
	m.Mu.Lock()
	defer m.Mu.Unlock()
	stdout, stderr, code := m.runCmd(ctx, inv)
	if ctx.Err() != nil {
		code = 1
	}
	return m.encode(inv, stdout, stderr, code)
}

// record notes a command line in m.Received.
func (m *Machine) record(line string) {
	sum := sha256.Sum256([]byte(line))
	d := hex.EncodeToString(sum[:])
	m.Mu.Lock()
	defer m.Mu.Unlock()
	for i := range m.Received {
		if m.Received[i].Digest == d {
			m.Received[i].Count++
			return
		}
	}
	rc := ReceivedCommand{Digest: d, Count: 1}
	if len(line) <= maxRecordedCommand {
		rc.CommandLine = line
	}
	m.Received = append(m.Received, rc)
}

// encode converts the process output to the shell's codepage.
func (m *Machine) encode(inv Invocation, stdout, stderr string, code int) Output {
	return Output{Stdout: encodeCodepage(stdout, inv.Codepage), Stderr: encodeCodepage(stderr, inv.Codepage), ExitCode: code}
}

// encodeCodepage encodes s as UTF-8 for 65001 (and unknown codepages) or as
// OEM 437 with '?' for runes 437 cannot represent, as the console does.
func encodeCodepage(s string, cp int) []byte {
	if s == "" {
		return nil
	}
	if cp != 437 {
		return []byte(s)
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if b, ok := charmap.CodePage437.EncodeRune(r); ok {
			out = append(out, b)
		} else {
			out = append(out, '?')
		}
	}
	return out
}

// runCmd interprets one cmd.exe command line. Quoting is handled only for
// the program name and the powershell.exe arguments; & | > are not.
func (m *Machine) runCmd(ctx context.Context, inv Invocation) (stdout, stderr string, code int) {
	line := strings.TrimLeft(inv.CommandLine, " \t")
	name, rest := cmdSplit(line)
	base := strings.ToLower(name)
	if i := strings.LastIndexAny(base, `\/`); i >= 0 {
		base = base[i+1:]
	}
	base = strings.TrimSuffix(base, ".exe")
	switch base {
	case "":
		return "", "", 0
	case "hostname":
		if strings.TrimSpace(rest) != "" {
			// hostname.exe takes no arguments; with any it refuses to set the name.
			return "", "sethostname: Use the Network Control Panel Applet to set hostname.\r\n", 1
		}
		return m.ComputerName + "\r\n", "", 0
	case "whoami":
		if a := cmdArgv(rest); len(a) > 0 {
			// Options (/all, /groups, /upn…) are not emulated: fail loudly.
			return "", "ERROR: Invalid argument/option - '" + a[0] + "'.\r\nType \"WHOAMI /?\" for usage.\r\n", 1
		}
		return m.whoami(inv.User) + "\r\n", "", 0
	case "echo":
		if strings.TrimSpace(rest) == "" {
			return "ECHO is on.\r\n", "", 0
		}
		return strings.TrimPrefix(rest, " ") + "\r\n", "", 0
	case "dsregcmd":
		if strings.EqualFold(strings.TrimSpace(rest), "/status") {
			if m.DsregcmdStderr != "" {
				return m.dsregcmdStatus(), m.DsregcmdStderr + "\r\n", 0
			}
			return m.dsregcmdStatus(), "", 0
		}
		return "", "", 1
	case "wevtutil":
		return m.wevtutil(cmdArgv(rest))
	case "powershell":
		return m.runPowerShellArgs(ctx, inv, cmdArgv(rest))
	case "cmd":
		// cmd /c X and cmd /k X run X (the shell then exits under WinRM).
		r := strings.TrimLeft(rest, " \t")
		if len(r) >= 2 && r[0] == '/' && (r[1]|0x20 == 'c' || r[1]|0x20 == 'k') {
			sub := inv
			sub.CommandLine = strings.TrimSpace(r[2:])
			return m.runCmd(ctx, sub)
		}
		return "", "", 0
	}
	return "", "'" + name + "' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n", 1
}

// whoami prints domain\user in lower case, or computer\user in a workgroup.
func (m *Machine) whoami(user string) string {
	if i := strings.LastIndexAny(user, `\`); i >= 0 {
		user = user[i+1:]
	}
	if i := strings.Index(user, "@"); i >= 0 {
		user = user[:i]
	}
	if m.DNSDomain == "" {
		return strings.ToLower(m.ComputerName) + `\` + user
	}
	return strings.ToLower(m.NetBIOSDomain) + `\` + strings.ToLower(user)
}

// cmdSplit returns the first word of a cmd.exe line (quotes removed) and the rest.
func cmdSplit(line string) (string, string) {
	if strings.HasPrefix(line, `"`) {
		if i := strings.Index(line[1:], `"`); i >= 0 {
			return line[1 : i+1], line[i+2:]
		}
		return line[1:], ""
	}
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return line, ""
	}
	return line[:i], line[i:]
}

// cmdArgv splits arguments as CommandLineToArgvW does for simple quoting.
func cmdArgv(s string) []string {
	if !strings.Contains(s, `"`) && utf8.ValidString(s) {
		// No quoting: blanks separate the arguments (the collection's
		// powershell.exe line is thousands of characters of base64).
		var args []string
		for i := 0; i < len(s); {
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' {
				j++
			}
			if j > i {
				args = append(args, s[i:j])
			}
			i = j + 1
		}
		return args
	}
	var args []string
	var cur strings.Builder
	inQ, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQ, have = !inQ, true
		case (r == ' ' || r == '\t') && !inQ:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}

// runPowerShellArgs handles powershell.exe's own command line.
func (m *Machine) runPowerShellArgs(ctx context.Context, inv Invocation, args []string) (string, string, int) {
	var script string
	encoded := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "/") {
			script = strings.Join(args[i:], " ")
			break
		}
		sw := strings.ToLower(a[1:])
		switch {
		case sw == "e" || sw == "ec" || (len(sw) >= 2 && strings.HasPrefix("encodedcommand", sw)):
			// Messages from PowerShell's CommandLineParameterParser; the
			// exit code of a rejected command line is not confirmed [?], 1 here.
			if i+1 >= len(args) {
				return "", "Cannot process the command because of a missing parameter. A command must follow -Command.\r\n", 1
			}
			s, ok := decodeUTF16Base64(args[i+1])
			if !ok {
				return "", "Cannot process the command because the value specified with -EncodedCommand is not properly encoded. The value must be Base64 encoded.\r\n", 1
			}
			script, encoded = s, true
			i = len(args)
		case sw == "c" || (len(sw) >= 2 && strings.HasPrefix("command", sw)):
			script = strings.Join(args[i+1:], " ")
			i = len(args)
		case sw == "ep" || sw == "ex" || strings.HasPrefix("executionpolicy", sw) && len(sw) >= 2,
			sw == "o" || strings.HasPrefix("outputformat", sw) && len(sw) >= 2,
			sw == "if" || strings.HasPrefix("inputformat", sw) && len(sw) >= 2,
			sw == "w" || strings.HasPrefix("windowstyle", sw) && len(sw) >= 2,
			sw == "v" || strings.HasPrefix("version", sw) && len(sw) >= 2:
			i++ // switch with a value
		default:
			// -NoProfile, -NonInteractive, -NoLogo, -Sta, -Mta and other flags.
		}
	}
	return m.runPowerShell(ctx, inv, script, encoded)
}

// decodeUTF16Base64 decodes -EncodedCommand's base64 of UTF-16LE text.
func decodeUTF16Base64(s string) (string, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%2 != 0 {
		return "", false
	}
	// UTF-16 to UTF-8 directly, as utf16.Decode does: unpaired surrogates
	// become U+FFFD.
	var out strings.Builder
	out.Grow(len(b) / 2)
	for i := 0; i < len(b); i += 2 {
		r := rune(b[i]) | rune(b[i+1])<<8
		if utf16.IsSurrogate(r) {
			if r < 0xdc00 && i+3 < len(b) {
				if r2 := rune(b[i+2]) | rune(b[i+3])<<8; 0xdc00 <= r2 && r2 < 0xe000 {
					r = utf16.DecodeRune(r, r2)
					i += 2
				} else {
					r = utf8.RuneError
				}
			} else {
				r = utf8.RuneError
			}
		}
		out.WriteRune(r)
	}
	return out.String(), true
}
