package wsman

import (
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"github.com/Azure/go-ntlmssp"
)

// MS-NLMP 4.2.1 and 4.2.4 test vectors (docs/winrm.md §2.4).
func TestNTLMv2Vectors(t *testing.T) {
	serverChallenge, _ := hex.DecodeString("0123456789abcdef")
	clientChallenge, _ := hex.DecodeString("aaaaaaaaaaaaaaaa")
	avPairs, _ := hex.DecodeString("02000c0044006f006d00610069006e0001000c00530065007200760065007200" + "00000000")
	// blob = 01 01 00×6 | Time(8, zero) | ClientChallenge | 00×4 | AV pairs | 00×4
	blob := append([]byte{1, 1, 0, 0, 0, 0, 0, 0}, make([]byte, 8)...)
	blob = append(blob, clientChallenge...)
	blob = append(blob, 0, 0, 0, 0)
	blob = append(blob, avPairs...) // NbDomainName, NbComputerName, EOL
	blob = append(blob, 0, 0, 0, 0)

	key := ntowfv2("Password", "User", "Domain")
	if got, want := hex.EncodeToString(key), "0c868a403bfd7a93a3001ef22ef02e3f"; got != want {
		t.Errorf("NTOWFv2 = %s, want %s", got, want)
	}
	proof := ntProofStr(key, serverChallenge, blob)
	if got, want := hex.EncodeToString(proof), "68cd0ab851e51c96aabc927bebef6a1c"; got != want {
		t.Errorf("NTProofStr = %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(hmacMD5(key, proof)), "8de40ccadbc14a82f15cb0ad0de95ca3"; got != want {
		t.Errorf("SessionBaseKey = %s, want %s", got, want)
	}
	lm := hmacMD5(key, serverChallenge, clientChallenge)
	if got, want := hex.EncodeToString(lm), "86c35097ac9cec102554764a57cccc19"; got != want {
		t.Errorf("LMv2 = %s, want %s", got, want)
	}

	// The verifier accepts the vector's response and computes the same key.
	var sc [8]byte
	copy(sc[:], serverChallenge)
	m := &authenticateMessage{User: "User", Domain: "Domain", NTResponse: append(proof, blob...), Flags: flagUnicode}
	s, err := verifyAuthenticate(m, "user", "Password", sc)
	if err != nil {
		t.Fatalf("verifyAuthenticate: %v", err)
	}
	if got := hex.EncodeToString(s.SessionBaseKey[:]); got != "8de40ccadbc14a82f15cb0ad0de95ca3" {
		t.Errorf("session key = %s", got)
	}
	if _, err := verifyAuthenticate(m, "user", "password", sc); err == nil {
		t.Error("wrong password accepted")
	}
}

// TestNTLMWithGoNTLMSSP runs the handshake against an independent client
// implementation and checks the refusals.
func TestNTLMWithGoNTLMSSP(t *testing.T) {
	neg, err := ntlmssp.NewNegotiateMessage("", "")
	if err != nil {
		t.Fatal(err)
	}
	flags, err := parseNegotiate(neg)
	if err != nil {
		t.Fatal(err)
	}
	cf := challengeFlags(flags, true)
	// UNICODE, NTLM, ALWAYS_SIGN, ESS, TARGET_INFO, 128, 56 as go-ntlmssp asks,
	// plus TARGET_TYPE_DOMAIN; nothing it did not ask for.
	if want := uint32(0xA0898201); cf != want {
		t.Errorf("challenge flags %#x, want %#x", cf, want)
	}
	if cf&(flagKeyExch|flagLMKey) != 0 {
		t.Errorf("challenge flags %#x offer KEY_EXCH or LM_KEY unasked", cf)
	}
	if got := challengeFlags(flags|flagKeyExch|flagLMKey, false); got&flagKeyExch == 0 || got&flagLMKey != 0 {
		t.Errorf("challenge flags %#x: want KEY_EXCH echoed and LM_KEY never", got)
	}
	sc := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	ch := buildChallenge(ntlmTarget{Computer: "WKS-1", NetBIOSDomain: "CORP", DNSDomain: "corp.example"}, cf, sc, time.Now())
	for _, tc := range []struct {
		user, password string
		ok             bool
	}{
		{"auditor", "pw", true},
		{"AUDITOR", "pw", true},
		{`CORP\auditor`, "pw", true},
		{"auditor", "PW", false},
		{"someone", "pw", false},
	} {
		auth, err := ntlmssp.NewAuthenticateMessage(ch, tc.user, tc.password, nil)
		if err != nil {
			t.Fatal(err)
		}
		m, err := parseAuthenticate(auth)
		if err != nil {
			t.Fatal(err)
		}
		_, err = verifyAuthenticate(m, "auditor", "pw", sc)
		if (err == nil) != tc.ok {
			t.Errorf("%s/%s: err = %v, want ok=%v", tc.user, tc.password, err, tc.ok)
		}
		other := sc
		other[0] ^= 1
		if _, err := verifyAuthenticate(m, "auditor", "pw", other); err == nil {
			t.Errorf("%s: accepted against another challenge", tc.user)
		}
	}
}

func TestNTLMRefusesV1AndAnonymous(t *testing.T) {
	var sc [8]byte
	for name, m := range map[string]*authenticateMessage{
		"anonymous": {Flags: flagUnicode | flagAnonymous},
		"ntlmv1":    {User: "auditor", NTResponse: make([]byte, 24), LMResponse: make([]byte, 24)},
		"short":     {User: "auditor", NTResponse: make([]byte, 30)},
	} {
		if _, err := verifyAuthenticate(m, "auditor", "pw", sc); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestParseAuthenticateBounds(t *testing.T) {
	msg := make([]byte, 64)
	copy(msg, ntlmSignature)
	binary.LittleEndian.PutUint32(msg[8:], 3)
	binary.LittleEndian.PutUint16(msg[20:], 100) // NT response beyond the message
	binary.LittleEndian.PutUint32(msg[24:], 60)
	if _, err := parseAuthenticate(msg); err == nil {
		t.Error("out-of-range field accepted")
	}
}

func FuzzParseNTLM(f *testing.F) {
	neg, _ := ntlmssp.NewNegotiateMessage("", "")
	f.Add(neg)
	ch := buildChallenge(ntlmTarget{Computer: "H"}, challengeFlags(0xA0880001, false), [8]byte{}, time.Unix(0, 0))
	if auth, err := ntlmssp.NewAuthenticateMessage(ch, "u", "p", nil); err == nil {
		f.Add(auth)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseNegotiate(b)
		if m, err := parseAuthenticate(b); err == nil {
			_, _ = verifyAuthenticate(m, "u", "p", [8]byte{})
		}
	})
}
