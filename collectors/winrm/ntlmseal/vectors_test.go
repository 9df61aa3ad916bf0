package ntlmseal

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// The MS-NLMP 4.2.4 NTLMv2 example: User "User", Domain "Domain", Password
// "Password", server challenge 0123456789abcdef, client challenge aa×8, time
// zero, random session key 55×16, AV pairs NbDomainName "Domain" and
// NbComputerName "Server", flags 0xe28a8233. Expected values from MS-NLMP
// 4.2.4.1–4.2.4.4 (https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/125f7a94-933e-4023-a146-a449e49bf774).
var (
	specCreds           = credentials{user: "User", password: "Password", domain: "Domain"}
	specServerChallenge = unhex("0123456789abcdef")
	specClientChallenge = bytes.Repeat([]byte{0xaa}, 8)
	specRandomKey       = bytes.Repeat([]byte{0x55}, 16)
	specAVPairs         = unhex("02000c0044006f006d00610069006e00" + "01000c00530065007200760065007200" + "00000000")
	specFlags           = uint32(0xe28a8233)
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestNTLMv2Vectors(t *testing.T) {
	key := ntowfv2(specCreds)
	temp := ntlmv2Temp(0, specClientChallenge, specAVPairs)
	proof := hmacMD5(key, specServerChallenge, temp)
	baseKey := hmacMD5(key, proof)
	lmv2 := hmacMD5(key, specServerChallenge, specClientChallenge)

	tests := []struct {
		name      string
		got, want []byte
	}{
		{"NTOWFv2", key, unhex("0c868a403bfd7a93a3001ef22ef02e3f")},
		{"NTProofStr", proof, unhex("68cd0ab851e51c96aabc927bebef6a1c")},
		{"SessionBaseKey", baseKey, unhex("8de40ccadbc14a82f15cb0ad0de95ca3")},
		{"LMv2", lmv2, unhex("86c35097ac9cec102554764a57cccc19")},
		{"ClientSealKey", sealKey(specFlags, specRandomKey, clientSealMagic), unhex("59f600973cc4960a25480a7c196e4c58")},
		{"ClientSignKey", md5Concat(specRandomKey, clientSignMagic), unhex("4788dc861b4782f35d43fd98fe1a2d39")},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s = %x, want %x", tt.name, tt.got, tt.want)
		}
	}
}

// TestKeyExchangeVector checks the random session key encrypted with the key
// exchange key (MS-NLMP 4.2.4.2.3 EncryptedSessionKey).
func TestKeyExchangeVector(t *testing.T) {
	enc, err := encryptKey(unhex("8de40ccadbc14a82f15cb0ad0de95ca3"), specRandomKey)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex("c5dad2544fc9799094ce1ce90bc9d03e"); !bytes.Equal(enc, want) {
		t.Errorf("EncryptedRandomSessionKey = %x, want %x", enc, want)
	}
}

// TestSealVector seals "Plaintext" (UTF-16LE) with sequence number 0 (MS-NLMP
// 4.2.4.4 GSS_WrapEx).
func TestSealVector(t *testing.T) {
	s, err := newClientSecurity(specFlags, specRandomKey)
	if err != nil {
		t.Fatal(err)
	}
	sig, sealed, _ := s.Seal(utf16le("Plaintext"))
	if want := unhex("54e50165bf1936dc996020c1811b0f06fb5f"); !bytes.Equal(sealed, want) {
		t.Errorf("sealed = %x, want %x", sealed, want)
	}
	if want := unhex("010000007fb38ec5c55d497600000000"); !bytes.Equal(sig, want) {
		t.Errorf("signature = %x, want %x", sig, want)
	}
}

// TestAuthenticateMessage checks the AUTHENTICATE layout against a CHALLENGE
// carrying a timestamp and no VERSION: LmChallengeResponse is Z(24), the AV
// pairs announce the MIC, Version is zero and the MIC at 72 covers all three
// messages with itself zeroed.
func TestAuthenticateMessage(t *testing.T) {
	pairs := append(unhex("07000800"+"0011223344556677"), specAVPairs...)
	chal := challengeMessage(specFlags&^flagVersion, specServerChallenge, pairs)
	neg := negotiateMessage()
	rnd := bytes.NewReader(append(append([]byte{}, specClientChallenge...), specRandomKey...))
	res, err := authenticateMessage(specCreds, neg, chal, Binding{}, rnd, zeroTime)
	if err != nil {
		t.Fatal(err)
	}
	m := res.message
	lm, _ := field(m, 12)
	nt, _ := field(m, 20)
	user, _ := field(m, 36)
	if !bytes.Equal(lm, make([]byte, 24)) {
		t.Errorf("LmChallengeResponse = %x, want Z(24)", lm)
	}
	if !bytes.Equal(user, utf16le("User")) {
		t.Errorf("UserName = %x", user)
	}
	if !bytes.Contains(nt, unhex("0600040002000000")) || !bytes.Contains(nt, unhex("0011223344556677")) {
		t.Errorf("NTLMv2 blob lacks MsvAvFlags=MIC or the server timestamp: %x", nt)
	}
	if !bytes.Equal(m[64:72], make([]byte, 8)) {
		t.Errorf("Version = %x, want zero without NEGOTIATE_VERSION", m[64:72])
	}
	zeroed := bytes.Clone(m)
	clear(zeroed[72:88])
	if want := hmacMD5(res.exportedKey, neg, chal, zeroed); !bytes.Equal(m[72:88], want) {
		t.Errorf("MIC = %x, want %x", m[72:88], want)
	}
	if res.flags&flagVersion != 0 || res.flags&flagKeyExch == 0 {
		t.Errorf("negotiated flags %#x", res.flags)
	}
}
