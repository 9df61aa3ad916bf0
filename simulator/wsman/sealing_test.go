package wsman_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"golang.org/x/crypto/md4"
)

// pywinrmScript runs `hostname` with pywinrm over NTLM, forcing message
// encryption, and prints stdout and the exit code.
const pywinrmScript = `
import sys, winrm
s = winrm.Session(sys.argv[1], auth=(sys.argv[2], sys.argv[3]), transport="ntlm",
                  message_encryption=sys.argv[4], server_cert_validation="ignore")
for _ in range(2):
    r = s.run_cmd("hostname")
sys.stdout.write(r.std_out.decode() + "|" + str(r.status_code))
`

// pywinrm returns a Python interpreter with pywinrm (Debian python3-winrm),
// or skips: it is an optional third-party cross-check of message encryption.
func pywinrm(t *testing.T) string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import winrm").Run() == nil {
			return py
		}
	}
	t.Skip("pywinrm not installed (apt-get install python3-winrm)")
	return ""
}

// ntHashes returns the "LM:NT" hash form ntlm-auth accepts instead of a
// password (ntlm_auth/compute_hash.py _ntowfv1): Python on OpenSSL 3 has no
// MD4 to hash the password itself.
func ntHashes(password string) string {
	h := md4.New()
	for _, u := range utf16.Encode([]rune(password)) {
		h.Write(binary.LittleEndian.AppendUint16(nil, u))
	}
	return strings.Repeat("0", 32) + ":" + hex.EncodeToString(h.Sum(nil))
}

// TestPywinrmSealed: pywinrm's independent NTLM sealing (ntlm-auth
// session_security) interoperates with the host's, and without encryption
// the host refuses it as Windows does.
func TestPywinrmSealed(t *testing.T) {
	py := pywinrm(t)
	cfg := testConfig()
	cfg.AllowBasic, cfg.RequireEncryption = false, true
	s := startHost(t, cfg, false)
	for _, tc := range []struct {
		mode string
		ok   bool
	}{{"always", true}, {"never", false}} {
		t.Run(tc.mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, py, "-c", pywinrmScript,
				"http://127.0.0.1:"+strconv.Itoa(s.addr.Port)+"/wsman", testUser, ntHashes(testPassword), tc.mode).CombinedOutput()
			got := string(out)
			if tc.ok && (err != nil || got != "WKS-0042\r\n|0") {
				t.Fatalf("pywinrm: %v\n%s", err, got)
			}
			if !tc.ok && (err == nil || !strings.Contains(got, "InvalidCredentialsError")) {
				t.Fatalf("unencrypted pywinrm run: %v\n%s", err, got)
			}
		})
	}
}
