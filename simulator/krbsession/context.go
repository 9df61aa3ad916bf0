package krbsession

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/bitaudit/bitaudit/simulator/sealedbody"
)

// ErrVerify reports a sealed message that does not verify: tampered,
// replayed, out of order, reflected or not sealed. The context is dead
// after it, as an SSPI context is after SEC_E_MESSAGE_ALTERED /
// SEC_E_OUT_OF_SEQUENCE.
var ErrVerify = errors.New("kerberos message verification failed")

// Key usages (RFC 4121 §2) and Wrap token flags (§4.2.2).
const (
	usageAcceptorSeal  = 22
	usageInitiatorSeal = 24

	sentByAcceptor = 1
	sealed         = 2
	acceptorSubkey = 4
)

// A Context is the acceptor's end of one established context: it always
// uses its own subkey, so every token carries AcceptorSubkey.
type Context struct {
	key types.EncryptionKey
	et  etype.EType

	mu      sync.Mutex
	sendSeq uint64 // our next sequence number (from the AP-REP)
	recvSeq uint64 // the client's next (from its authenticator)
	failed  bool
}

// protocolKeySize is the key length of an AES etype (RFC 3962, RFC 8009).
func protocolKeySize(id int32) (int, error) {
	switch id {
	case 17, 19:
		return 16, nil
	case 18, 20:
		return 32, nil
	}
	return 0, fmt.Errorf("encryption type %d: the simulated host, like a 2026 domain, accepts AES only", id)
}

// newKey draws a random acceptor subkey of etype id.
func newKey(id int32) (types.EncryptionKey, error) {
	n, err := protocolKeySize(id)
	if err != nil {
		return types.EncryptionKey{}, err
	}
	k := make([]byte, n)
	if _, err := rand.Read(k); err != nil {
		return types.EncryptionKey{}, err
	}
	return types.EncryptionKey{KeyType: id, KeyValue: k}, nil
}

func newContext(key types.EncryptionKey, ourSeq, peerSeq uint64) (*Context, error) {
	if _, err := protocolKeySize(key.KeyType); err != nil {
		return nil, err
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, err
	}
	return &Context{key: key, et: et, sendSeq: ourSeq, recvSeq: peerSeq}, nil
}

// NewTestContext returns an acceptor context for key with the given
// initial sequence numbers, for tests that exchange tokens with a peer
// established elsewhere (golden vectors, an MIT initiator).
func NewTestContext(key types.EncryptionKey, ourSeq, peerSeq uint64) (*Context, error) {
	return newContext(key, ourSeq, peerSeq)
}

// trailer is how many bytes of the encrypted token move to its front:
// one cipher block plus the checksum (RRC; EC is 0).
func (c *Context) trailer() int { return c.et.GetConfounderByteSize() + c.et.GetHMACBitLength()/8 }

func tokenHeader(flags byte, rrc uint16, seq uint64) [16]byte {
	var h [16]byte
	h[0], h[1], h[2], h[3] = 5, 4, flags, 0xff
	binary.BigEndian.PutUint16(h[6:8], rrc)
	binary.BigEndian.PutUint64(h[8:16], seq)
	return h
}

// WrapIOV seals msg as gss_wrap_iov(HEADER, DATA, PADDING) does for WinRM
// and returns the HEADER buffer (the MS-WSMV signature) and DATA.
func (c *Context) WrapIOV(msg []byte) (header, data []byte, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed {
		return nil, nil, fmt.Errorf("context failed earlier: %w", ErrVerify)
	}
	fl := byte(sentByAcceptor | sealed | acceptorSubkey)
	inner := tokenHeader(fl, 0, c.sendSeq)
	_, enc, err := c.et.EncryptMessage(c.key.KeyValue, append(append([]byte(nil), msg...), inner[:]...), usageAcceptorSeal)
	if err != nil {
		return nil, nil, err
	}
	rrc := c.trailer()
	outer := tokenHeader(fl, uint16(rrc), c.sendSeq)
	c.sendSeq++
	// Rotated right by RRC: the trailer first, then the confounder and
	// the data, of which the last len(msg) bytes are DATA.
	header = append(append(outer[:], enc[len(enc)-rrc:]...), enc[:len(enc)-rrc-len(msg)]...)
	return header, enc[len(enc)-rrc-len(msg) : len(enc)-rrc], nil
}

// UnwrapIOV verifies and decrypts the client's next token given as the
// MS-WSMV signature (HEADER) and DATA.
func (c *Context) UnwrapIOV(header, data []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed {
		return nil, fmt.Errorf("context failed earlier: %w", ErrVerify)
	}
	msg, err := c.unwrap(append(append([]byte(nil), header...), data...))
	if err != nil {
		c.failed = true
		return nil, fmt.Errorf("%w: %v", ErrVerify, err)
	}
	c.recvSeq++
	return msg, nil
}

func (c *Context) unwrap(tok []byte) ([]byte, error) {
	if len(tok) < 16+c.trailer()+c.et.GetConfounderByteSize() || tok[0] != 5 || tok[1] != 4 || tok[3] != 0xff {
		return nil, errors.New("not a Wrap token")
	}
	fl := tok[2]
	switch {
	case fl&sealed == 0:
		return nil, errors.New("token not sealed: the host requires encryption")
	case fl&sentByAcceptor != 0:
		return nil, errors.New("token sent by an acceptor: reflected")
	case fl&acceptorSubkey == 0:
		return nil, errors.New("token does not use the acceptor subkey")
	}
	ec := int(binary.BigEndian.Uint16(tok[4:6]))
	rrc := int(binary.BigEndian.Uint16(tok[6:8]))
	if seq := binary.BigEndian.Uint64(tok[8:16]); seq != c.recvSeq {
		return nil, fmt.Errorf("sequence number %d, expected %d", seq, c.recvSeq)
	}
	enc := tok[16:]
	r := rrc % len(enc)
	unrotated := append(append([]byte(nil), enc[r:]...), enc[:r]...)
	plain, err := c.et.DecryptMessage(c.key.KeyValue, unrotated, usageInitiatorSeal)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %v", err)
	}
	if len(plain) < 16+ec {
		return nil, errors.New("token too short for its filler")
	}
	want := tokenHeader(fl, 0, c.recvSeq)
	binary.BigEndian.PutUint16(want[4:6], uint16(ec))
	if !hmac.Equal(plain[len(plain)-16:], want[:]) {
		return nil, errors.New("encrypted header copy differs")
	}
	return plain[:len(plain)-16-ec], nil
}

// Unseal decodes an MS-WSMV encrypted request body.
func (c *Context) Unseal(contentType string, body []byte) ([]byte, error) {
	return sealedbody.Decode(contentType, body, c.UnwrapIOV)
}

// Seal encodes a reply as an MS-WSMV encrypted body.
func (c *Context) Seal(soap []byte) (contentType string, body []byte, err error) {
	sig, data, err := c.WrapIOV(soap)
	if err != nil {
		return "", nil, err
	}
	ct, b := sealedbody.Encode(len(soap), sig, data)
	return ct, b, nil
}
