package krbseal

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"
)

// RFC 4121 §4.2.6.2 Wrap token header: TOK_ID 05 04, Flags, Filler FF,
// EC (2), RRC (2), SND_SEQ (8), all big-endian.
const (
	headerSize = 16

	flagSentByAcceptor = 0x01
	flagSealed         = 0x02
	flagAcceptorSubkey = 0x04
)

var (
	// ErrIntegrity marks a token that does not verify: tampered, replayed,
	// reordered, reflected back to its sender, or not sealed. The context
	// is unusable afterwards.
	ErrIntegrity = errors.New("kerberos message integrity check failed")
	// ErrEncType marks a session key of an encryption type we do not
	// seal with: only the AES types (RFC 3962, RFC 8009) are supported.
	ErrEncType = errors.New("unsupported kerberos encryption type")
)

// A Session is the per-message protection of one established GSS-API
// Kerberos context (RFC 4121 §4.2): it seals what this side sends and
// unseals what the peer sends, each direction with its own sequence
// numbers. It is safe for concurrent use, but a WinRM context belongs to
// one TCP connection and its messages must be sealed in the order they are
// sent.
type Session struct {
	key            types.EncryptionKey
	et             etype.EType
	initiator      bool // this side started the context
	acceptorSubkey bool // key is the acceptor's subkey: tokens carry flag 0x04

	mu      sync.Mutex
	sendSeq uint64
	recvSeq uint64
	broken  bool
}

// NewSession returns the protection of a context whose per-message key is
// key. initiator says which side this is; acceptorSubkey whether key came
// from the acceptor's AP-REP; sendSeq and recvSeq are the initial sequence
// numbers of this side's and the peer's tokens (RFC 4121 §4.2.3).
func NewSession(key types.EncryptionKey, initiator, acceptorSubkey bool, sendSeq, recvSeq uint64) (*Session, error) {
	et, err := aesEtype(key.KeyType)
	if err != nil {
		return nil, err
	}
	if len(key.KeyValue) != keySize(et) {
		return nil, fmt.Errorf("%d-byte key for encryption type %d: %w", len(key.KeyValue), key.KeyType, ErrEncType)
	}
	return &Session{key: key, et: et, initiator: initiator, acceptorSubkey: acceptorSubkey, sendSeq: sendSeq, recvSeq: recvSeq}, nil
}

// aesEtype returns the gokrb5 profile of an AES encryption type; RC4 and
// DES get an error saying what to change.
func aesEtype(id int32) (etype.EType, error) {
	switch id {
	case etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96,
		etypeID.AES128_CTS_HMAC_SHA256_128, etypeID.AES256_CTS_HMAC_SHA384_192:
		return crypto.GetEtype(id)
	case etypeID.RC4_HMAC:
		return nil, fmt.Errorf("encryption type 23 (rc4-hmac) is not supported: "+
			"enable AES for the account (msDS-SupportedEncryptionTypes) or the KDC's enctypes: %w", ErrEncType)
	}
	return nil, fmt.Errorf("encryption type %d is not supported (want aes128/aes256): %w", id, ErrEncType)
}

// keySize is the protocol key length of et. gokrb5 v8.4.4 says 24 bytes
// for aes256-cts-hmac-sha384-192, whose key is 32 bytes (RFC 8009 §3); its
// own encryption code expects 32.
func keySize(et etype.EType) int {
	if et.GetETypeID() == etypeID.AES256_CTS_HMAC_SHA384_192 {
		return 32
	}
	return et.GetKeyByteSize()
}

// rrc is the right rotation count WinRM uses: the AES trailer (16-byte
// confounder block plus the checksum) moves into the signature, leaving
// the data part exactly as long as the plaintext (kerberos.md §2.5: EC=0,
// RRC=28 for the *-sha1-96 types, as MIT's gss_wrap_iov makes them).
func (s *Session) rrc() int { return 16 + s.et.GetHMACBitLength()/8 }

// Overhead is the signature length of every sealed message (60 bytes for
// the *-sha1-96 types).
func (s *Session) Overhead() int { return headerSize + s.rrc() + s.et.GetConfounderByteSize() }

func (s *Session) usages() (send, recv uint32) {
	if s.initiator {
		return keyusage.GSSAPI_INITIATOR_SEAL, keyusage.GSSAPI_ACCEPTOR_SEAL
	}
	return keyusage.GSSAPI_ACCEPTOR_SEAL, keyusage.GSSAPI_INITIATOR_SEAL
}

func (s *Session) flags(fromAcceptor bool) byte {
	f := byte(flagSealed)
	if fromAcceptor {
		f |= flagSentByAcceptor
	}
	if s.acceptorSubkey {
		f |= flagAcceptorSubkey
	}
	return f
}

func header(flags byte, ec, rrc uint16, seq uint64) []byte {
	h := make([]byte, headerSize)
	h[0], h[1], h[2], h[3] = 0x05, 0x04, flags, 0xff
	binary.BigEndian.PutUint16(h[4:], ec)
	binary.BigEndian.PutUint16(h[6:], rrc)
	binary.BigEndian.PutUint64(h[8:], seq)
	return h
}

// Seal encrypts msg as an RFC 4121 Wrap token with confidentiality and
// returns it split as MS-WSMV carries it: the signature (header and
// rotated trailer, [Session.Overhead] bytes) and the data (as long as msg).
func (s *Session) Seal(msg []byte) (signature, data []byte, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return nil, nil, fmt.Errorf("security context already failed: %w", ErrIntegrity)
	}
	send, _ := s.usages()
	flags := s.flags(!s.initiator)
	inner := header(flags, 0, 0, s.sendSeq)
	plain := make([]byte, 0, len(msg)+headerSize)
	plain = append(append(plain, msg...), inner...)
	_, ct, err := s.et.EncryptMessage(s.key.KeyValue, plain, send)
	if err != nil {
		return nil, nil, fmt.Errorf("seal: %w", err)
	}
	rrc := s.rrc()
	token := make([]byte, 0, headerSize+len(ct))
	token = append(token, header(flags, 0, uint16(rrc), s.sendSeq)...)
	token = append(token, ct[len(ct)-rrc:]...) // rotate right by RRC
	token = append(token, ct[:len(ct)-rrc]...)
	s.sendSeq++
	cut := len(token) - len(msg)
	return token[:cut:cut], token[cut:], nil
}

// Unseal verifies and decrypts the peer's next Wrap token, given as its
// MS-WSMV signature and data parts. It checks the token ID, the direction,
// sealed and acceptor-subkey flags, the sequence number and the encrypted
// copy of the header; any failure breaks the session.
func (s *Session) Unseal(signature, data []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return nil, fmt.Errorf("security context already failed: %w", ErrIntegrity)
	}
	msg, err := s.unseal(signature, data)
	if err != nil {
		s.broken = true
		return nil, err
	}
	s.recvSeq++
	return msg, nil
}

func (s *Session) unseal(signature, data []byte) ([]byte, error) {
	token := make([]byte, 0, len(signature)+len(data))
	token = append(append(token, signature...), data...)
	if len(token) < headerSize+s.rrc()+s.et.GetConfounderByteSize() {
		return nil, fmt.Errorf("token of %d bytes is too short: %w", len(token), ErrIntegrity)
	}
	h := token[:headerSize]
	if h[0] != 0x05 || h[1] != 0x04 || h[3] != 0xff {
		return nil, fmt.Errorf("not a Wrap token (%x): %w", h[:4], ErrIntegrity)
	}
	want := s.flags(s.initiator)
	if got := h[2]; got != want {
		switch {
		case got&flagSealed == 0:
			return nil, fmt.Errorf("token is not sealed: %w", ErrIntegrity)
		case got&flagSentByAcceptor != want&flagSentByAcceptor:
			return nil, fmt.Errorf("token was sent in the other direction (reflected): %w", ErrIntegrity)
		}
		return nil, fmt.Errorf("token flags %#x, want %#x: %w", got, want, ErrIntegrity)
	}
	ec := int(binary.BigEndian.Uint16(h[4:]))
	rrc := int(binary.BigEndian.Uint16(h[6:]))
	if seq := binary.BigEndian.Uint64(h[8:]); seq != s.recvSeq {
		return nil, fmt.Errorf("sequence number %d, want %d (replayed or out of order): %w", seq, s.recvSeq, ErrIntegrity)
	}
	_, recv := s.usages()
	body := token[headerSize:]
	plain, err := s.et.DecryptMessage(s.key.KeyValue, rotateLeft(body, rrc), recv)
	if err != nil && ec != 0 {
		// DCE-style peers rotate by RRC+EC (MS-KILE 3.4.5.4.1); WinRM is
		// not DCE, but accept it rather than guess (kerberos.md §2.5 #2).
		plain, err = s.et.DecryptMessage(s.key.KeyValue, rotateLeft(body, rrc+ec), recv)
	}
	if err != nil {
		return nil, fmt.Errorf("decrypt: %v: %w", err, ErrIntegrity)
	}
	if len(plain) < ec+headerSize {
		return nil, fmt.Errorf("decrypted token too short: %w", ErrIntegrity)
	}
	inner := plain[len(plain)-headerSize:]
	outer := bytes.Clone(h)
	outer[6], outer[7] = 0, 0 // the encrypted copy has RRC 0 (RFC 4121 §4.2.5)
	if subtle.ConstantTimeCompare(inner, outer) != 1 {
		return nil, fmt.Errorf("encrypted header does not match: %w", ErrIntegrity)
	}
	return plain[:len(plain)-headerSize-ec], nil
}

// rotateLeft undoes the sender's right rotation by n (RFC 4121 §4.2.5).
func rotateLeft(b []byte, n int) []byte {
	if len(b) == 0 {
		return b
	}
	n %= len(b)
	out := make([]byte, 0, len(b))
	return append(append(out, b[n:]...), b[:n]...)
}
