package ntlmsession

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/bitaudit/bitaudit/simulator/sealedbody"
)

// ErrVerify reports a sealed message whose signature or sequence number is
// wrong: tampered with, replayed or out of order. The session cannot be used
// after it.
var ErrVerify = errors.New("ntlm message verification failed")

// channel is one direction of NTLM session security with extended session
// security (MS-NLMP 3.4.4.2): its signing key, its RC4 handle, which runs on
// across messages, and its sequence number.
type channel struct {
	signKey []byte
	cipher  *rc4.Cipher
	seq     uint32
}

func newChannel(flags uint32, exportedKey []byte, signConst, sealConst string) (*channel, error) {
	// SIGNKEY (MS-NLMP 3.4.5.2).
	sign := md5.Sum(append(append([]byte{}, exportedKey...), signConst...))
	// SEALKEY (MS-NLMP 3.4.5.3): 128, 56 or 40 bits of the key, then MD5.
	n := 5
	if flags&Flag128 != 0 {
		n = 16
	} else if flags&Flag56 != 0 {
		n = 7
	}
	seal := md5.Sum(append(append([]byte{}, exportedKey[:n]...), sealConst...))
	c, err := rc4.NewCipher(seal[:])
	if err != nil {
		return nil, err
	}
	return &channel{signKey: sign[:], cipher: c}, nil
}

// signature is MAC() with extended session security (MS-NLMP 3.4.4.2):
// version 1, the first 8 bytes of HMAC_MD5(SigningKey, SeqNum || Message),
// RC4-encrypted when KEY_EXCH was negotiated, and SeqNum.
func (c *channel) signature(keyExch bool, plain []byte) [16]byte {
	var sig [16]byte
	binary.LittleEndian.PutUint32(sig[0:4], 1)
	binary.LittleEndian.PutUint32(sig[12:16], c.seq)
	m := hmac.New(md5.New, c.signKey)
	m.Write(sig[12:16])
	m.Write(plain)
	sum := m.Sum(nil)
	if keyExch {
		c.cipher.XORKeyStream(sig[4:12], sum[:8])
	} else {
		copy(sig[4:12], sum[:8])
	}
	return sig
}

// Session is the server's NTLM security context for one connection. It is
// safe for concurrent use, but messages must be unsealed and sealed in the
// order the client sent and expects them.
type Session struct {
	mu      sync.Mutex
	keyExch bool
	in, out *channel
	failed  bool
}

const (
	clientToServerSign = "session key to client-to-server signing key magic constant\x00"
	clientToServerSeal = "session key to client-to-server sealing key magic constant\x00"
	serverToClientSign = "session key to server-to-client signing key magic constant\x00"
	serverToClientSeal = "session key to server-to-client sealing key magic constant\x00"
)

// NewServerSession derives the server's keys from the negotiated flags and the
// exported session key (see [Accept]). Extended session security and sealing
// must have been negotiated.
func NewServerSession(flags uint32, exportedKey []byte) (*Session, error) {
	return newSession(flags, exportedKey, false)
}

// newSession builds either end; the client end exists for tests.
func newSession(flags uint32, exportedKey []byte, client bool) (*Session, error) {
	if flags&FlagESS == 0 || flags&FlagSeal == 0 {
		return nil, fmt.Errorf("flags %#08x: sealing with extended session security was not negotiated", flags)
	}
	if len(exportedKey) != 16 {
		return nil, fmt.Errorf("exported session key is %d bytes, want 16", len(exportedKey))
	}
	c2s, err := newChannel(flags, exportedKey, clientToServerSign, clientToServerSeal)
	if err != nil {
		return nil, err
	}
	s2c, err := newChannel(flags, exportedKey, serverToClientSign, serverToClientSeal)
	if err != nil {
		return nil, err
	}
	s := &Session{keyExch: flags&FlagKeyExch != 0, in: c2s, out: s2c}
	if client {
		s.in, s.out = s2c, c2s
	}
	return s, nil
}

// wrap seals one message (MS-NLMP 3.4.3 SEAL): the data is encrypted first,
// then the checksum, with the same RC4 handle.
func (s *Session) wrap(plain []byte) (sealed []byte, sig [16]byte) {
	sealed = make([]byte, len(plain))
	s.out.cipher.XORKeyStream(sealed, plain)
	sig = s.out.signature(s.keyExch, plain)
	s.out.seq++
	return sealed, sig
}

// unwrap decrypts one message and verifies its signature against the next
// expected sequence number.
func (s *Session) unwrap(sealed, sig []byte) ([]byte, error) {
	if s.failed {
		return nil, fmt.Errorf("session failed earlier: %w", ErrVerify)
	}
	if len(sig) != 16 || binary.LittleEndian.Uint32(sig[0:4]) != 1 {
		s.failed = true
		return nil, fmt.Errorf("malformed signature: %w", ErrVerify)
	}
	plain := make([]byte, len(sealed))
	s.in.cipher.XORKeyStream(plain, sealed)
	want := s.in.signature(s.keyExch, plain)
	if !hmac.Equal(want[:], sig) {
		s.failed = true
		if got := binary.LittleEndian.Uint32(sig[12:16]); got != s.in.seq {
			return nil, fmt.Errorf("sequence number %d, expected %d: %w", got, s.in.seq, ErrVerify)
		}
		return nil, fmt.Errorf("signature mismatch: %w", ErrVerify)
	}
	s.in.seq++
	return plain, nil
}

// IsEncrypted reports whether a Content-Type header announces an encrypted
// message sealed by Negotiate.
func IsEncrypted(contentType string) bool { return sealedbody.IsEncrypted(contentType) }

// ErrNotEncrypted reports a body that is not an MS-WSMV encrypted message.
var ErrNotEncrypted = sealedbody.ErrNotEncrypted

// Unseal verifies and decrypts a request body sent with contentType and
// returns the SOAP message. Every part must verify, in sequence; any failure
// wraps [ErrVerify] or [ErrNotEncrypted].
func (s *Session) Unseal(contentType string, body []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	soap, err := sealedbody.Decode(contentType, body, func(sig, sealed []byte) ([]byte, error) { return s.unwrap(sealed, sig) })
	if err != nil && sealedbody.IsEncrypted(contentType) {
		s.failed = true
	}
	return soap, err
}

// Seal encrypts and signs a SOAP response and returns the Content-Type and
// body to send.
func (s *Session) Seal(soap []byte) (contentType string, body []byte, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed {
		return "", nil, fmt.Errorf("session failed earlier: %w", ErrVerify)
	}
	sealed, sig := s.wrap(soap)
	ct, b := sealedbody.Encode(len(soap), sig[:], sealed)
	return ct, b, nil
}
