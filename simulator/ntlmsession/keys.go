package ntlmsession

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"golang.org/x/crypto/md4"
)

// Negotiate flags that change session security (MS-NLMP 2.2.2.5).
const (
	FlagUnicode  uint32 = 1 << 0
	FlagSign     uint32 = 1 << 4
	FlagSeal     uint32 = 1 << 5
	FlagESS      uint32 = 1 << 19
	Flag128      uint32 = 1 << 29
	FlagKeyExch  uint32 = 1 << 30
	Flag56       uint32 = 1 << 31
	avIDFlags           = 6
	avFlagHasMIC        = 2
)

// Authenticate is what an NTLMv2 AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3)
// carries for session security.
type Authenticate struct {
	Flags        uint32
	User, Domain string
	NtResponse   []byte
	EncryptedKey []byte // EncryptedRandomSessionKey, empty without KEY_EXCH
	MIC          []byte // nil when the message has none
	micOffset    int
}

// ParseAuthenticate decodes an AUTHENTICATE_MESSAGE.
func ParseAuthenticate(msg []byte) (*Authenticate, error) {
	if len(msg) < 64 || string(msg[:8]) != "NTLMSSP\x00" || binary.LittleEndian.Uint32(msg[8:12]) != 3 {
		return nil, errors.New("not an NTLM AUTHENTICATE message")
	}
	get := func(at int) ([]byte, error) {
		l := int(binary.LittleEndian.Uint16(msg[at : at+2]))
		off := int(binary.LittleEndian.Uint32(msg[at+4 : at+8]))
		if off+l > len(msg) || off < 0 {
			return nil, fmt.Errorf("AUTHENTICATE field at offset %d is out of bounds", at)
		}
		return msg[off : off+l], nil
	}
	a := &Authenticate{Flags: binary.LittleEndian.Uint32(msg[60:64])}
	var fields [5][]byte
	for i, at := range []int{20, 28, 36, 52, 12} {
		f, err := get(at)
		if err != nil {
			return nil, err
		}
		fields[i] = f
	}
	if a.Flags&FlagUnicode == 0 {
		return nil, errors.New("AUTHENTICATE without Unicode strings is not supported")
	}
	a.NtResponse, a.EncryptedKey = fields[0], fields[3]
	a.Domain, a.User = fromUTF16(fields[1]), fromUTF16(fields[2])
	if len(a.NtResponse) <= 24 {
		return nil, errors.New("AUTHENTICATE carries no NTLMv2 response")
	}
	// The MIC follows the 8-byte Version field, which is present (zeroed
	// when NEGOTIATE_VERSION is not set) in every message carrying a MIC; the
	// client announces the MIC with MsvAvFlags bit 0x2 (MS-NLMP 2.2.1.3,
	// 2.2.2.1).
	if hasMICFlag(a.NtResponse[16:]) {
		const start = 72
		if len(msg) < start+16 {
			return nil, errors.New("AUTHENTICATE announces a MIC it does not carry")
		}
		a.micOffset = start
		a.MIC = msg[start : start+16]
	}
	return a, nil
}

// hasMICFlag scans the AV pairs of an NTLMv2 client challenge (28 bytes of
// header precede them) for MsvAvFlags with the MIC bit.
func hasMICFlag(blob []byte) bool {
	if len(blob) < 28 {
		return false
	}
	p := blob[28:]
	for len(p) >= 4 {
		id, n := binary.LittleEndian.Uint16(p), int(binary.LittleEndian.Uint16(p[2:]))
		if id == 0 || len(p) < 4+n {
			return false
		}
		if id == avIDFlags && n == 4 {
			return binary.LittleEndian.Uint32(p[4:])&avFlagHasMIC != 0
		}
		p = p[4+n:]
	}
	return false
}

func fromUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func toUTF16(s string) []byte {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, r)
	}
	return b
}

// ResponseKeyNT computes NTOWFv2 (MS-NLMP 3.3.2) for the user and domain as
// the client sent them.
func ResponseKeyNT(password, user, domain string) []byte {
	nt := md4.New()
	nt.Write(toUTF16(password))
	m := hmac.New(md5.New, nt.Sum(nil))
	m.Write(toUTF16(strings.ToUpper(user) + domain))
	return m.Sum(nil)
}

// SessionBaseKey verifies the NTLMv2 response against serverChallenge and
// returns the session base key, HMAC_MD5(NTOWFv2, NTProofStr) (MS-NLMP
// 3.3.2). It fails when the proof does not match, i.e. the password is wrong.
func SessionBaseKey(responseKeyNT, serverChallenge, ntResponse []byte) ([]byte, error) {
	if len(ntResponse) <= 24 {
		return nil, errors.New("not an NTLMv2 response")
	}
	proof, blob := ntResponse[:16], ntResponse[16:]
	m := hmac.New(md5.New, responseKeyNT)
	m.Write(serverChallenge)
	m.Write(blob)
	if subtle.ConstantTimeCompare(m.Sum(nil), proof) != 1 {
		return nil, errors.New("NTLMv2 response does not match the password")
	}
	k := hmac.New(md5.New, responseKeyNT)
	k.Write(proof)
	return k.Sum(nil), nil
}

// ExportedSessionKey recovers the key both sides derive session security
// from. With NTLMv2 the key exchange key is the session base key (MS-NLMP
// 3.4.5.1); with KEY_EXCH the client chose a random key and sent it
// RC4-encrypted under the key exchange key (MS-NLMP 3.2.5.1.2).
func ExportedSessionKey(flags uint32, sessionBaseKey, encryptedKey []byte) ([]byte, error) {
	if flags&FlagKeyExch == 0 {
		return bytes.Clone(sessionBaseKey), nil
	}
	if len(encryptedKey) != 16 {
		return nil, fmt.Errorf("EncryptedRandomSessionKey is %d bytes, want 16", len(encryptedKey))
	}
	c, err := rc4.NewCipher(sessionBaseKey)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	c.XORKeyStream(key, encryptedKey)
	return key, nil
}

// Accept verifies an AUTHENTICATE message with the user's password and the
// server challenge, checks its MIC over the three handshake messages when
// present, and returns the negotiated flags and the exported session key.
func Accept(negotiate, challenge, authenticate []byte, password string) (flags uint32, exportedKey []byte, err error) {
	a, err := ParseAuthenticate(authenticate)
	if err != nil {
		return 0, nil, err
	}
	if len(challenge) < 32 {
		return 0, nil, errors.New("CHALLENGE message too short")
	}
	base, err := SessionBaseKey(ResponseKeyNT(password, a.User, a.Domain), challenge[24:32], a.NtResponse)
	if err != nil {
		return 0, nil, err
	}
	key, err := ExportedSessionKey(a.Flags, base, a.EncryptedKey)
	if err != nil {
		return 0, nil, err
	}
	if a.MIC != nil {
		zeroed := bytes.Clone(authenticate)
		clear(zeroed[a.micOffset : a.micOffset+16])
		m := hmac.New(md5.New, key)
		m.Write(negotiate)
		m.Write(challenge)
		m.Write(zeroed)
		if !hmac.Equal(m.Sum(nil), a.MIC) {
			return 0, nil, errors.New("AUTHENTICATE MIC does not verify")
		}
	}
	return a.Flags, key, nil
}
