package wsman_test

import (
	"os/exec"
	"strings"
	"testing"
)

// pywinrmBasicScript runs two commands with pywinrm 0.3.0 over Basic: it
// sends codepage 437, PT20S, a constant a:To, no CDATA, and asserts
// RelatesTo on Signal and Delete (docs/winrm.md §1.3, §6.5).
const pywinrmBasicScript = `
import sys, winrm
s = winrm.Session("http://" + sys.argv[1] + "/wsman", auth=(sys.argv[2], sys.argv[3]), transport="plaintext")
a = s.run_cmd("hostname")
b = s.run_cmd("nosuch", ["x", "y"])
sys.stdout.write(repr((a.std_out, a.status_code, b.std_err[:20], b.status_code)))
`

// TestPywinrmBasic cross-checks the host with a second, independent client.
func TestPywinrmBasic(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import winrm").Run() != nil {
		t.Skip("pywinrm not installed (Debian python3-winrm)")
	}
	s := startHost(t, testConfig(), false)
	out, err := exec.CommandContext(t.Context(), py, "-c", pywinrmBasicScript, s.addr.String(), testUser, testPassword).CombinedOutput()
	if err != nil {
		t.Fatalf("pywinrm: %v\n%s", err, out)
	}
	want := `(b'WKS-0042\r\n', 0, b"'nosuch x y' is not ", 1)`
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("pywinrm got %s, want %s", got, want)
	}
}
