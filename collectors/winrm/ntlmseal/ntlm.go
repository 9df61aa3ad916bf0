package ntlmseal

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rc4"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"

	"golang.org/x/crypto/md4"
)

// NEGOTIATE flags (MS-NLMP 2.2.2.5).
const (
	flagUnicode       = 0x00000001
	flagRequestTarget = 0x00000004
	flagSign          = 0x00000010
	flagSeal          = 0x00000020
	flagNTLM          = 0x00000200
	flagAlwaysSign    = 0x00008000
	flagESS           = 0x00080000
	flagTargetInfo    = 0x00800000
	flagVersion       = 0x02000000
	flag128           = 0x20000000
	flagKeyExch       = 0x40000000
	flag56            = 0x80000000
)

// clientFlags are the capabilities requested in NEGOTIATE, the set a Windows
// client asks for when it wants sealing.
const clientFlags = flagUnicode | flagRequestTarget | flagSign | flagSeal | flagNTLM |
	flagAlwaysSign | flagESS | flagTargetInfo | flagVersion | flag128 | flagKeyExch | flag56

// AV pair IDs (MS-NLMP 2.2.2.1).
const (
	avEOL             = 0
	avFlags           = 6
	avTimestamp       = 7
	avTargetName      = 9
	avChannelBindings = 10
	avFlagMIC         = 0x2 // MsvAvFlags: the AUTHENTICATE message carries a MIC
)

// A Binding ties an AUTHENTICATE message to where it was meant to go
// (MS-NLMP 3.1.5.1.2), so a host that checks ("extended protection",
// CbtHardeningLevel=Strict) refuses it when it arrives relayed.
type Binding struct {
	// ChannelBindings is the 16-byte MD5 of the TLS channel bindings
	// (package tlsbind): MsvAvChannelBindings. Nil over plain HTTP.
	ChannelBindings []byte
	// TargetName is the service principal the client means, e.g.
	// "HTTP/win1.corp.example.test": MsvAvTargetName.
	TargetName string
}

// pairs returns the AV pairs b adds to the client's target info.
func (b Binding) pairs() []byte {
	var out []byte
	if len(b.ChannelBindings) == 16 {
		out = binary.LittleEndian.AppendUint16(out, avChannelBindings)
		out = binary.LittleEndian.AppendUint16(out, 16)
		out = append(out, b.ChannelBindings...)
	}
	if b.TargetName != "" {
		name := utf16le(b.TargetName)
		out = binary.LittleEndian.AppendUint16(out, avTargetName)
		out = binary.LittleEndian.AppendUint16(out, uint16(len(name)))
		out = append(out, name...)
	}
	return out
}

// NegotiateMessage returns a NEGOTIATE_MESSAGE asking for NTLMv2 with
// signing, sealing and key exchange.
func NegotiateMessage() []byte { return negotiateMessage() }

// AuthenticateMessage returns the NTLMv2 AUTHENTICATE_MESSAGE, with its
// MIC, answering challenge for the NEGOTIATE negotiate, as user
// ("DOMAIN\user", "user@domain" or "user") with password, bound by b.
func AuthenticateMessage(user, password string, negotiate, challenge []byte, b Binding) ([]byte, error) {
	c := credentials{user: user, password: password}
	if d, u, ok := strings.Cut(user, `\`); ok {
		c.domain, c.user = d, u
	}
	r, err := authenticateMessage(c, negotiate, challenge, b, rand.Reader, time.Now())
	if err != nil {
		return nil, err
	}
	return r.message, nil
}

var signature = []byte("NTLMSSP\x00")

// clientVersion is the VERSION structure sent when NEGOTIATE_VERSION is set:
// Windows 10.0 build 19041, NTLMSSP_REVISION_W2K3 (MS-NLMP 2.2.2.10).
var clientVersion = []byte{10, 0, 0x61, 0x4a, 0, 0, 0, 0x0f}

// negotiateMessage builds the NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1) without
// domain or workstation: 32 bytes of header and the 8-byte version.
func negotiateMessage() []byte {
	m := make([]byte, 40)
	copy(m, signature)
	binary.LittleEndian.PutUint32(m[8:], 1)
	binary.LittleEndian.PutUint32(m[12:], clientFlags)
	// DomainNameFields and WorkstationFields stay zero: offsets 16 and 24.
	copy(m[32:], clientVersion)
	return m
}

// challenge is the part of a CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2) the client uses.
type challenge struct {
	flags      uint32
	server     [8]byte
	targetInfo []byte
}

func parseChallenge(m []byte) (challenge, error) {
	var c challenge
	if len(m) < 48 || !bytes.Equal(m[:8], signature) || binary.LittleEndian.Uint32(m[8:]) != 2 {
		return c, errors.New("not an NTLM CHALLENGE message")
	}
	c.flags = binary.LittleEndian.Uint32(m[20:])
	copy(c.server[:], m[24:32])
	ti, err := field(m, 40)
	if err != nil {
		return c, fmt.Errorf("challenge target info: %w", err)
	}
	c.targetInfo = ti
	return c, nil
}

// field returns the payload a (len u16, maxlen u16, offset u32) field at off points to.
func field(m []byte, off int) ([]byte, error) {
	n := int(binary.LittleEndian.Uint16(m[off:]))
	start := int(binary.LittleEndian.Uint32(m[off+4:]))
	if start > len(m) || n > len(m)-start {
		return nil, fmt.Errorf("field at %d runs past the message", off)
	}
	return m[start : start+n], nil
}

// credentials are the user's; domain may be empty.
type credentials struct {
	user, password, domain string
}

// ntowfv2 is NTOWFv2 (MS-NLMP 3.3.2): HMAC_MD5(MD4(UNICODE(password)),
// UNICODE(Uppercase(user) + domain)).
func ntowfv2(c credentials) []byte {
	h := md4.New()
	h.Write(utf16le(c.password))
	mac := hmac.New(md5.New, h.Sum(nil))
	mac.Write(utf16le(strings.ToUpper(c.user) + c.domain))
	return mac.Sum(nil)
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return b
}

func hmacMD5(key []byte, parts ...[]byte) []byte {
	mac := hmac.New(md5.New, key)
	for _, p := range parts {
		mac.Write(p)
	}
	return mac.Sum(nil)
}

// ntlmv2Temp builds the NTLMv2_CLIENT_CHALLENGE ("temp" in MS-NLMP 3.3.2):
// 01 01, Z(6), Time, ClientChallenge, Z(4), AV pairs, Z(4).
func ntlmv2Temp(timestamp uint64, clientChallenge, avPairs []byte) []byte {
	t := make([]byte, 0, 28+len(avPairs)+4)
	t = append(t, 1, 1, 0, 0, 0, 0, 0, 0)
	t = binary.LittleEndian.AppendUint64(t, timestamp)
	t = append(t, clientChallenge...)
	t = append(t, 0, 0, 0, 0)
	t = append(t, avPairs...)
	return append(t, 0, 0, 0, 0)
}

// clientAVPairs returns the server's AV pairs with MsvAvFlags announcing the
// MIC, and the server's timestamp if it sent one (MS-NLMP 3.1.5.1.2).
func clientAVPairs(targetInfo []byte, b Binding) (pairs []byte, timestamp uint64, hasTime bool, err error) {
	var flags uint32
	for rest := targetInfo; ; {
		if len(rest) < 4 {
			return nil, 0, false, errors.New("challenge target info is not terminated")
		}
		id := binary.LittleEndian.Uint16(rest)
		n := int(binary.LittleEndian.Uint16(rest[2:]))
		if len(rest)-4 < n {
			return nil, 0, false, errors.New("challenge target info pair runs past the end")
		}
		val := rest[4 : 4+n]
		switch id {
		case avEOL:
			var f [4]byte
			binary.LittleEndian.PutUint32(f[:], flags|avFlagMIC)
			pairs = binary.LittleEndian.AppendUint16(pairs, avFlags)
			pairs = binary.LittleEndian.AppendUint16(pairs, 4)
			pairs = append(pairs, f[:]...)
			pairs = append(pairs, b.pairs()...)
			pairs = append(pairs, 0, 0, 0, 0)
			return pairs, timestamp, hasTime, nil
		case avFlags:
			if n == 4 {
				flags = binary.LittleEndian.Uint32(val)
			}
			rest = rest[4+n:]
			continue // re-emitted before EOL
		case avTargetName, avChannelBindings:
			rest = rest[4+n:]
			continue // a server never sends these; ours go before EOL
		case avTimestamp:
			if n == 8 {
				timestamp, hasTime = binary.LittleEndian.Uint64(val), true
			}
		}
		pairs = append(pairs, rest[:4+n]...)
		rest = rest[4+n:]
	}
}

// filetime converts t to Windows FILETIME (100 ns since 1601-01-01).
func filetime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100) + 116444736000000000
}

// authResult is what the client keeps from a completed handshake.
type authResult struct {
	message     []byte
	flags       uint32
	exportedKey []byte
}

// authenticateMessage computes the NTLMv2 AUTHENTICATE_MESSAGE (MS-NLMP
// 2.2.1.3, 3.1.5.1.2) answering chal, with the MIC over all three messages.
// rand supplies the client challenge and the random session key.
func authenticateMessage(c credentials, negotiate, chalMsg []byte, b Binding, rand io.Reader, now time.Time) (authResult, error) {
	chal, err := parseChallenge(chalMsg)
	if err != nil {
		return authResult{}, err
	}
	flags := chal.flags & clientFlags
	if flags&flagUnicode == 0 {
		return authResult{}, errors.New("server refused Unicode NTLM")
	}
	if flags&(flagSign|flagSeal|flagESS) != flagSign|flagSeal|flagESS {
		return authResult{}, fmt.Errorf("server did not grant signing, sealing and extended session security (flags %#08x)", chal.flags)
	}
	pairs, ts, hasTime, err := clientAVPairs(chal.targetInfo, b)
	if err != nil {
		return authResult{}, err
	}
	if !hasTime {
		ts = filetime(now)
	}
	random := make([]byte, 8+16)
	if _, err := io.ReadFull(rand, random); err != nil {
		return authResult{}, fmt.Errorf("ntlm random: %w", err)
	}
	clientChallenge, randomKey := random[:8], random[8:]

	key := ntowfv2(c)
	temp := ntlmv2Temp(ts, clientChallenge, pairs)
	proof := hmacMD5(key, chal.server[:], temp)
	nt := append(proof, temp...)
	lm := make([]byte, 24) // Z(24) when the server sent MsvAvTimestamp
	if !hasTime {
		lm = append(hmacMD5(key, chal.server[:], clientChallenge), clientChallenge...)
	}
	// With NTLMv2 the key exchange key is the session base key (MS-NLMP 3.4.5.1).
	kxkey := hmacMD5(key, proof)
	exported, encryptedKey := kxkey, []byte(nil)
	if flags&flagKeyExch != 0 {
		exported = randomKey
		if encryptedKey, err = encryptKey(kxkey, randomKey); err != nil {
			return authResult{}, err
		}
	}

	const header = 88 // 64 fixed + Version(8) + MIC(16)
	payloads := [][]byte{utf16le(c.domain), utf16le(c.user), nil, lm, nt, encryptedKey}
	fieldOffsets := []int{28, 36, 44, 12, 20, 52} // same order as payloads
	m := make([]byte, header)
	copy(m, signature)
	binary.LittleEndian.PutUint32(m[8:], 3)
	for i, p := range payloads {
		o := fieldOffsets[i]
		binary.LittleEndian.PutUint16(m[o:], uint16(len(p)))
		binary.LittleEndian.PutUint16(m[o+2:], uint16(len(p)))
		binary.LittleEndian.PutUint32(m[o+4:], uint32(len(m)))
		m = append(m, p...)
	}
	binary.LittleEndian.PutUint32(m[60:], flags)
	if flags&flagVersion != 0 { // else the field stays zero (MS-NLMP 2.2.1.3)
		copy(m[64:72], clientVersion)
	}
	copy(m[72:88], hmacMD5(exported, negotiate, chalMsg, m))
	return authResult{message: m, flags: flags, exportedKey: exported}, nil
}

// encryptKey is the KEY_EXCH step of MS-NLMP 3.1.5.1.2:
// EncryptedRandomSessionKey = RC4K(KeyExchangeKey, ExportedSessionKey).
func encryptKey(kxkey, exportedKey []byte) ([]byte, error) {
	ciph, err := rc4.NewCipher(kxkey)
	if err != nil {
		return nil, fmt.Errorf("key exchange: %w", err)
	}
	out := make([]byte, len(exportedKey))
	ciph.XORKeyStream(out, exportedKey)
	return out, nil
}
