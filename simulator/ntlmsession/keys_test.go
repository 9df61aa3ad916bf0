package ntlmsession

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func fromHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// MS-NLMP 4.2.4 (NTLMv2 authentication) example values:
// https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/125f7a94-933e-4023-a146-a449e49bf774
const (
	vectorFlags     = 0xe28a8233
	vectorChallenge = "0123456789abcdef"
	// NTProofStr followed by the client challenge structure: 0101, Z(6),
	// time 0, client challenge aa×8, Z(4), AV pairs NbDomainName "Domain",
	// NbComputerName "Server", EOL, Z(4).
	vectorNtResponse = "68cd0ab851e51c96aabc927bebef6a1c" +
		"0101000000000000" + "0000000000000000" + "aaaaaaaaaaaaaaaa" + "00000000" +
		"02000c0044006f006d00610069006e00" + "01000c00530065007200760065007200" + "00000000" + "00000000"
	vectorBaseKey      = "8de40ccadbc14a82f15cb0ad0de95ca3"
	vectorEncryptedKey = "c5dad2544fc9799094ce1ce90bc9d03e"
	vectorRandomKey    = "55555555555555555555555555555555"
)

func TestKeyDerivationVectors(t *testing.T) {
	ntowf := ResponseKeyNT("Password", "User", "Domain")
	if want := fromHex(t, "0c868a403bfd7a93a3001ef22ef02e3f"); !bytes.Equal(ntowf, want) {
		t.Fatalf("NTOWFv2 = %x, want %x", ntowf, want)
	}
	base, err := SessionBaseKey(ntowf, fromHex(t, vectorChallenge), fromHex(t, vectorNtResponse))
	if err != nil {
		t.Fatal(err)
	}
	if want := fromHex(t, vectorBaseKey); !bytes.Equal(base, want) {
		t.Fatalf("SessionBaseKey = %x, want %x", base, want)
	}
	key, err := ExportedSessionKey(vectorFlags, base, fromHex(t, vectorEncryptedKey))
	if err != nil {
		t.Fatal(err)
	}
	if want := fromHex(t, vectorRandomKey); !bytes.Equal(key, want) {
		t.Errorf("ExportedSessionKey = %x, want %x", key, want)
	}
	// Without KEY_EXCH the exported key is the key exchange key itself.
	key, err = ExportedSessionKey(vectorFlags&^FlagKeyExch, base, nil)
	if err != nil || !bytes.Equal(key, base) {
		t.Errorf("ExportedSessionKey without KEY_EXCH = %x, %v; want the session base key", key, err)
	}
}

func TestSessionBaseKeyWrongPassword(t *testing.T) {
	_, err := SessionBaseKey(ResponseKeyNT("Passw0rd", "User", "Domain"), fromHex(t, vectorChallenge), fromHex(t, vectorNtResponse))
	if err == nil {
		t.Fatal("a response computed with another password verified")
	}
}

func TestChannelKeyVectors(t *testing.T) {
	c, err := newChannel(vectorFlags, fromHex(t, vectorRandomKey), clientToServerSign, clientToServerSeal)
	if err != nil {
		t.Fatal(err)
	}
	if want := fromHex(t, "4788dc861b4782f35d43fd98fe1a2d39"); !bytes.Equal(c.signKey, want) {
		t.Errorf("client signing key = %x, want %x", c.signKey, want)
	}
	// The sealing key itself is inside the RC4 state; its first keystream
	// bytes over "Plaintext" are checked by TestUnsealVector.
}

// plaintextUTF16 is "Plaintext" in UTF-16LE, the MS-NLMP 4.2.4.4 message.
var plaintextUTF16 = []byte("P\x00l\x00a\x00i\x00n\x00t\x00e\x00x\x00t\x00")

const (
	vectorSealed    = "54e50165bf1936dc996020c1811b0f06fb5f"
	vectorSignature = "010000007fb38ec5c55d497600000000"
)

// TestUnsealVector: the server verifies and decrypts the client's sealed
// "Plaintext" from MS-NLMP 4.2.4.4.
func TestUnsealVector(t *testing.T) {
	s, err := NewServerSession(vectorFlags, fromHex(t, vectorRandomKey))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := s.unwrap(fromHex(t, vectorSealed), fromHex(t, vectorSignature))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, plaintextUTF16) {
		t.Errorf("unsealed %q, want %q", plain, plaintextUTF16)
	}
}

// TestSealVector: the client end of this package reproduces the vector.
func TestSealVector(t *testing.T) {
	c, err := newSession(vectorFlags, fromHex(t, vectorRandomKey), true)
	if err != nil {
		t.Fatal(err)
	}
	sealed, sig := c.wrap(plaintextUTF16)
	if want := fromHex(t, vectorSealed); !bytes.Equal(sealed, want) {
		t.Errorf("sealed = %x, want %x", sealed, want)
	}
	if want := fromHex(t, vectorSignature); !bytes.Equal(sig[:], want) {
		t.Errorf("signature = %x, want %x", sig, want)
	}
}
