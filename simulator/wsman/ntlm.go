package wsman

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"golang.org/x/crypto/md4"

	"github.com/bitaudit/bitaudit/simulator/ntlmsession"
)

// NTLM message layout and algorithms follow MS-NLMP 2.2.1 and 3.3.2, as
// summarised in docs/winrm.md §2.3–2.4.

var ntlmSignature = []byte("NTLMSSP\x00")

// NTLM negotiate flags (MS-NLMP 2.2.2.5).
const (
	flagUnicode        uint32 = 1 << 0
	flagOEM            uint32 = 1 << 1
	flagRequestTarget  uint32 = 1 << 2
	flagSign           uint32 = 1 << 4
	flagSeal           uint32 = 1 << 5
	flagLMKey          uint32 = 1 << 7
	flagNTLM           uint32 = 1 << 9
	flagAnonymous      uint32 = 1 << 11
	flagAlwaysSign     uint32 = 1 << 15
	flagTargetDomain   uint32 = 1 << 16
	flagTargetServer   uint32 = 1 << 17
	flagESS            uint32 = 1 << 19
	flagTargetInfo     uint32 = 1 << 23
	flagNegotiate128   uint32 = 1 << 29
	flagKeyExch        uint32 = 1 << 30
	flagNegotiate56    uint32 = 1 << 31
	flagsServerOffered        = flagUnicode | flagOEM | flagRequestTarget | flagSign | flagSeal |
		flagNTLM | flagAlwaysSign | flagESS | flagNegotiate128 | flagKeyExch | flagNegotiate56
)

// AV pair IDs (MS-NLMP 2.2.2.1).
const (
	avEOL            = 0
	avNbComputerName = 1
	avNbDomainName   = 2
	avDNSComputer    = 3
	avDNSDomain      = 4
	avTimestamp      = 7
)

// errNTLM marks a malformed or unacceptable NTLM message.
var errNTLM = errors.New("ntlm")

// ntlmType returns the message type of an NTLMSSP token (1, 2 or 3).
func ntlmType(b []byte) (uint32, error) {
	if len(b) < 12 || !bytes.Equal(b[:8], ntlmSignature) {
		return 0, fmt.Errorf("%w: not an NTLMSSP message", errNTLM)
	}
	return binary.LittleEndian.Uint32(b[8:12]), nil
}

// parseNegotiate returns the flags of a NEGOTIATE message.
func parseNegotiate(b []byte) (uint32, error) {
	t, err := ntlmType(b)
	if err != nil {
		return 0, err
	}
	if t != 1 || len(b) < 16 {
		return 0, fmt.Errorf("%w: want NEGOTIATE, got type %d (%d bytes)", errNTLM, t, len(b))
	}
	return binary.LittleEndian.Uint32(b[12:16]), nil
}

// challengeFlags answers a client's NEGOTIATE flags like Windows: the flags
// both sides support, plus what a server always sets. KEY_EXCH is only
// echoed when asked for, and LM_KEY never (go-ntlmssp aborts on either,
// docs/winrm.md §2.3). A domain member names its domain as the target, a
// workgroup host itself (MS-NLMP 2.2.2.5 flags N and O).
func challengeFlags(client uint32, domainMember bool) uint32 {
	f := client & flagsServerOffered
	if f&flagUnicode != 0 {
		f &^= flagOEM
	} else if f&flagOEM == 0 {
		f |= flagUnicode
	}
	target := flagTargetServer
	if domainMember {
		target = flagTargetDomain
	}
	return f | flagNTLM | target | flagTargetInfo
}

// ntlmTarget names the server in CHALLENGE messages.
type ntlmTarget struct {
	Computer, NetBIOSDomain, DNSDomain string
}

// buildChallenge builds a CHALLENGE message (MS-NLMP 2.2.1.2) without the
// optional Version field: a 48-byte header, TargetName and TargetInfo.
func buildChallenge(t ntlmTarget, flags uint32, serverChallenge [8]byte, now time.Time) []byte {
	nbDomain := t.NetBIOSDomain
	if nbDomain == "" {
		nbDomain = strings.ToUpper(t.Computer)
	}
	dnsComputer := strings.ToLower(t.Computer)
	if t.DNSDomain != "" {
		dnsComputer += "." + t.DNSDomain
	}
	var info bytes.Buffer
	av := func(id uint16, v []byte) {
		var h [4]byte
		binary.LittleEndian.PutUint16(h[0:], id)
		binary.LittleEndian.PutUint16(h[2:], uint16(len(v)))
		info.Write(h[:])
		info.Write(v)
	}
	av(avNbDomainName, utf16le(nbDomain))
	av(avNbComputerName, utf16le(strings.ToUpper(t.Computer)))
	av(avDNSDomain, utf16le(t.DNSDomain))
	av(avDNSComputer, utf16le(dnsComputer))
	var ft [8]byte
	binary.LittleEndian.PutUint64(ft[:], uint64(now.UnixNano()/100)+116444736000000000)
	av(avTimestamp, ft[:])
	av(avEOL, nil)

	targetName := utf16le(nbDomain)
	const header = 48
	msg := make([]byte, header, header+len(targetName)+info.Len())
	copy(msg, ntlmSignature)
	binary.LittleEndian.PutUint32(msg[8:], 2)
	putVarField(msg[12:], len(targetName), header)
	binary.LittleEndian.PutUint32(msg[20:], flags)
	copy(msg[24:32], serverChallenge[:])
	putVarField(msg[40:], info.Len(), header+len(targetName))
	msg = append(msg, targetName...)
	return append(msg, info.Bytes()...)
}

func putVarField(b []byte, n, offset int) {
	binary.LittleEndian.PutUint16(b[0:], uint16(n))
	binary.LittleEndian.PutUint16(b[2:], uint16(n))
	binary.LittleEndian.PutUint32(b[4:], uint32(offset))
}

// authenticateMessage holds the fields of an AUTHENTICATE message that the
// server needs.
type authenticateMessage struct {
	LMResponse, NTResponse []byte
	Domain, User           string
	Workstation            string
	EncryptedSessionKey    []byte
	Flags                  uint32
}

// parseAuthenticate decodes an AUTHENTICATE message (MS-NLMP 2.2.1.3). It
// never panics on malformed input.
func parseAuthenticate(b []byte) (*authenticateMessage, error) {
	t, err := ntlmType(b)
	if err != nil {
		return nil, err
	}
	if t != 3 || len(b) < 64 {
		return nil, fmt.Errorf("%w: want AUTHENTICATE, got type %d (%d bytes)", errNTLM, t, len(b))
	}
	field := func(at int) ([]byte, error) {
		n := int(binary.LittleEndian.Uint16(b[at:]))
		off := int(binary.LittleEndian.Uint32(b[at+4:]))
		if n == 0 {
			return nil, nil
		}
		if off < 0 || off > len(b) || n > len(b)-off {
			return nil, fmt.Errorf("%w: field at %d out of range", errNTLM, at)
		}
		return b[off : off+n], nil
	}
	m := &authenticateMessage{Flags: binary.LittleEndian.Uint32(b[60:])}
	raw := make([][]byte, 6)
	for i := range raw {
		if raw[i], err = field(12 + 8*i); err != nil {
			return nil, err
		}
	}
	str := func(v []byte) (string, error) {
		if m.Flags&flagUnicode == 0 {
			return string(v), nil
		}
		if len(v)%2 != 0 {
			return "", fmt.Errorf("%w: odd-length UTF-16 string", errNTLM)
		}
		return fromUTF16LE(v), nil
	}
	m.LMResponse, m.NTResponse, m.EncryptedSessionKey = raw[0], raw[1], raw[5]
	if m.Domain, err = str(raw[2]); err != nil {
		return nil, err
	}
	if m.User, err = str(raw[3]); err != nil {
		return nil, err
	}
	if m.Workstation, err = str(raw[4]); err != nil {
		return nil, err
	}
	return m, nil
}

// ntlmSession is what a successful NTLM authentication leaves on a
// connection: enough to add signing and sealing later.
type ntlmSession struct {
	User, Domain   string
	Flags          uint32
	SessionBaseKey [16]byte
	sealer         *ntlmsession.Session // message encryption, nil without SEAL (sealing.go)
}

// minBlob is the fixed part of an NTLMv2 client blob (MS-NLMP 2.2.2.7):
// RespType, HiRespType, 6 reserved, timestamp, client challenge, 4 reserved.
const minBlob = 28

// verifyAuthenticate checks an NTLMv2 AUTHENTICATE against the expected
// account and this connection's server challenge. NTLMv1 (24-byte)
// responses and anonymous logons are refused.
func verifyAuthenticate(m *authenticateMessage, wantUser, password string, serverChallenge [8]byte) (*ntlmSession, error) {
	if m.User == "" && len(m.NTResponse) == 0 {
		return nil, fmt.Errorf("%w: anonymous logon refused", errNTLM)
	}
	if len(m.NTResponse) == 24 {
		return nil, fmt.Errorf("%w: NTLMv1 response refused", errNTLM)
	}
	if len(m.NTResponse) < 16+minBlob {
		return nil, fmt.Errorf("%w: NT response too short (%d bytes)", errNTLM, len(m.NTResponse))
	}
	if !strings.EqualFold(m.User, wantUser) {
		return nil, fmt.Errorf("%w: unknown user", errNTLM)
	}
	proof, blob := m.NTResponse[:16], m.NTResponse[16:]
	if blob[0] != 1 || blob[1] != 1 {
		return nil, fmt.Errorf("%w: bad NTLMv2 blob version", errNTLM)
	}
	key := ntowfv2(password, m.User, m.Domain)
	want := ntProofStr(key, serverChallenge[:], blob)
	if subtle.ConstantTimeCompare(want, proof) != 1 {
		return nil, fmt.Errorf("%w: wrong password", errNTLM)
	}
	s := &ntlmSession{User: m.User, Domain: m.Domain, Flags: m.Flags}
	copy(s.SessionBaseKey[:], hmacMD5(key, proof))
	return s, nil
}

// ntowfv2 is NTOWFv2 of MS-NLMP 3.3.2: the domain is used exactly as sent.
func ntowfv2(password, user, domain string) []byte {
	h := md4.New()
	h.Write(utf16le(password))
	return hmacMD5(h.Sum(nil), utf16le(strings.ToUpper(user)+domain))
}

// ntProofStr is HMAC_MD5(NTOWFv2, ServerChallenge ‖ blob).
func ntProofStr(key, serverChallenge, blob []byte) []byte {
	return hmacMD5(key, serverChallenge, blob)
}

func hmacMD5(key []byte, msgs ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, b := range msgs {
		m.Write(b)
	}
	return m.Sum(nil)
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func fromUTF16LE(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}
