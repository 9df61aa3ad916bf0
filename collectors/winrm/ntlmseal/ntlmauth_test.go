package ntlmseal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// ntlmAuthServer plays the server with ntlm-auth's SessionSecurity (Debian
// python3-ntlm-auth, pywinrm's dependency): it unwraps each client message
// given as "sealed:signature" hex lines on stdin and prints its wrap of
// "reply:" + message the same way.
const ntlmAuthServer = `
import sys, binascii
from ntlm_auth.session_security import SessionSecurity
s = SessionSecurity(int(sys.argv[1]), binascii.unhexlify(sys.argv[2]), source="server")
for line in sys.stdin.read().split():
    sealed, sig = (binascii.unhexlify(x) for x in line.split(":"))
    msg = s.unwrap(sealed, sig)
    out, outsig = s.wrap(b"reply:" + msg)
    print(binascii.hexlify(out).decode() + ":" + binascii.hexlify(outsig).decode())
`

// TestNTLMAuthInterop checks the client's session security against a third
// implementation over several messages in both directions, so running RC4
// state and sequence numbers are covered, not only the first message.
func TestNTLMAuthInterop(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import ntlm_auth.session_security").Run() != nil {
		t.Skip("ntlm-auth not installed (apt-get install python3-ntlm-auth)")
	}
	key := make([]byte, 16)
	rand.Read(key)
	const flags = clientFlags | 0x00020000 // as granted by a server
	c, err := newClientSecurity(flags, key)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []string{"<s:Envelope>1</s:Envelope>", strings.Repeat("é", 5000), "", "<s:Envelope>4</s:Envelope>"}
	var in strings.Builder
	for _, m := range msgs {
		sig, sealed, _ := c.Seal([]byte(m))
		fmt.Fprintf(&in, "%x:%x\n", sealed, sig)
	}
	cmd := exec.CommandContext(t.Context(), py, "-c", ntlmAuthServer, fmt.Sprint(flags), hex.EncodeToString(key))
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ntlm-auth server: %v\n%s", err, out)
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(msgs) {
		t.Fatalf("ntlm-auth answered %d messages, want %d:\n%s", len(lines), len(msgs), out)
	}
	for i, l := range lines {
		sealedHex, sigHex, _ := strings.Cut(l, ":")
		sealed, _ := hex.DecodeString(sealedHex)
		sig, _ := hex.DecodeString(sigHex)
		got, err := c.Unseal(sig, sealed)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if want := "reply:" + msgs[i]; !bytes.Equal(got, []byte(want)) {
			t.Fatalf("reply %d = %.30q, want %.30q", i, got, want)
		}
	}
}
