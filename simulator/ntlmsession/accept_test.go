package ntlmsession

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/Azure/go-ntlmssp"
)

// challengeMsg builds a CHALLENGE_MESSAGE with target info NbDomainName
// "Domain" and NbComputerName "Server" and no version.
func challengeMsg(flags uint32, server []byte) []byte {
	ti := []byte{2, 0, 12, 0}
	ti = append(ti, toUTF16("Domain")...)
	ti = append(ti, 1, 0, 12, 0)
	ti = append(ti, toUTF16("Server")...)
	ti = append(ti, 0, 0, 0, 0)
	m := []byte("NTLMSSP\x00")
	m = binary.LittleEndian.AppendUint32(m, 2)
	m = binary.LittleEndian.AppendUint16(m, 0) // TargetName: empty
	m = binary.LittleEndian.AppendUint16(m, 0)
	m = binary.LittleEndian.AppendUint32(m, 48)
	m = binary.LittleEndian.AppendUint32(m, flags)
	m = append(m, server...)
	m = append(m, make([]byte, 8)...)
	m = binary.LittleEndian.AppendUint16(m, uint16(len(ti)))
	m = binary.LittleEndian.AppendUint16(m, uint16(len(ti)))
	m = binary.LittleEndian.AppendUint32(m, 48)
	return append(m, ti...)
}

// TestAcceptGoNTLMSSP verifies an AUTHENTICATE from a third-party client
// (go-ntlmssp: NTLMv2, no key exchange, no MIC), where the exported key is the
// session base key.
func TestAcceptGoNTLMSSP(t *testing.T) {
	const flags = 0xA08A8205 // what winrm.md §2.3 found both clients accept
	neg, err := ntlmssp.NewNegotiateMessage("", "")
	if err != nil {
		t.Fatal(err)
	}
	chal := challengeMsg(flags, fromHex(t, vectorChallenge))
	auth, err := ntlmssp.ProcessChallenge(chal, "alice", "S3cret!", false)
	if err != nil {
		t.Fatal(err)
	}
	gotFlags, key, err := Accept(neg, chal, auth, "S3cret!")
	if err != nil {
		t.Fatal(err)
	}
	if gotFlags&FlagKeyExch != 0 || len(key) != 16 {
		t.Errorf("flags %#x, key %d bytes", gotFlags, len(key))
	}
	a, err := ParseAuthenticate(auth)
	if err != nil {
		t.Fatal(err)
	}
	base, err := SessionBaseKey(ResponseKeyNT("S3cret!", a.User, a.Domain), fromHex(t, vectorChallenge), a.NtResponse)
	if err != nil || !bytes.Equal(key, base) {
		t.Errorf("exported key %x, want the session base key %x (%v)", key, base, err)
	}
	if _, _, err := Accept(neg, chal, auth, "wrong"); err == nil {
		t.Error("Accept succeeded with the wrong password")
	}
}
