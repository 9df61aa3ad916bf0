package ntlmseal

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// Magic constants of MS-NLMP 3.4.5.2 (SIGNKEY) and 3.4.5.3 (SEALKEY); the
// terminating NUL is part of the hashed input.
const (
	clientSignMagic = "session key to client-to-server signing key magic constant\x00"
	serverSignMagic = "session key to server-to-client signing key magic constant\x00"
	clientSealMagic = "session key to client-to-server sealing key magic constant\x00"
	serverSealMagic = "session key to server-to-client sealing key magic constant\x00"
)

// signatureSize is the size of an NTLMSSP_MESSAGE_SIGNATURE with extended
// session security: Version(4) | Checksum(8) | SeqNum(4) (MS-NLMP 2.2.2.9.2).
const signatureSize = 16

// ErrIntegrity reports a sealed message whose signature or sequence number
// does not verify: it was tampered with, replayed or reordered. The security
// context is unusable afterwards.
var ErrIntegrity = errors.New("ntlm message integrity check failed")

// security holds one side's NTLM session security state with extended session
// security (MS-NLMP 3.4.3, 3.4.4.2): a signing key and a running RC4 handle
// per direction, and a sequence number per direction.
type security struct {
	keyExch            bool
	sendSign, recvSign []byte
	sendSeal, recvSeal *rc4.Cipher
	sendSeq, recvSeq   uint32
	broken             bool
}

// newClientSecurity derives the client's keys from the exported session key
// and the negotiated flags. Only extended session security is supported; it is
// what the client negotiates and what Windows grants.
func newClientSecurity(flags uint32, exportedKey []byte) (*security, error) {
	if flags&flagESS == 0 {
		return nil, errors.New("ntlm session security without extended session security is not supported")
	}
	if len(exportedKey) != 16 {
		return nil, fmt.Errorf("ntlm exported session key is %d bytes, want 16", len(exportedKey))
	}
	sendSeal, err := rc4.NewCipher(sealKey(flags, exportedKey, clientSealMagic))
	if err != nil {
		return nil, fmt.Errorf("client sealing key: %w", err)
	}
	recvSeal, err := rc4.NewCipher(sealKey(flags, exportedKey, serverSealMagic))
	if err != nil {
		return nil, fmt.Errorf("server sealing key: %w", err)
	}
	return &security{
		keyExch:  flags&flagKeyExch != 0,
		sendSign: md5Concat(exportedKey, clientSignMagic),
		recvSign: md5Concat(exportedKey, serverSignMagic),
		sendSeal: sendSeal,
		recvSeal: recvSeal,
	}, nil
}

// sealKey implements SEALKEY for extended session security (MS-NLMP
// 3.4.5.3): the exported key is weakened to 56 or 40 bits unless 128-bit
// strength was negotiated, then hashed with the direction's constant.
func sealKey(flags uint32, exportedKey []byte, magic string) []byte {
	k := exportedKey
	switch {
	case flags&flag128 != 0:
	case flags&flag56 != 0:
		k = k[:7]
	default:
		k = k[:5]
	}
	return md5Concat(k, magic)
}

func md5Concat(key []byte, magic string) []byte {
	h := md5.New()
	h.Write(key)
	h.Write([]byte(magic))
	return h.Sum(nil)
}

// Seal encrypts msg for the server and returns the sealed bytes and the
// 16-byte signature (MS-NLMP 3.4.3 SEAL, 3.4.4.2 MAC with ESS). The message is
// encrypted before the checksum, both with the same running RC4 handle.
func (s *security) Seal(msg []byte) (signature, sealed []byte, err error) {
	sealed = make([]byte, len(msg))
	s.sendSeal.XORKeyStream(sealed, msg)
	signature = s.mac(s.sendSign, s.sendSeal, s.sendSeq, msg)
	s.sendSeq++
	return signature, sealed, nil
}

// Unseal decrypts a message from the server and verifies its signature,
// including that it carries the next expected sequence number.
func (s *security) Unseal(signature, sealed []byte) ([]byte, error) {
	if s.broken {
		return nil, fmt.Errorf("security context already failed: %w", ErrIntegrity)
	}
	if len(signature) != signatureSize {
		s.broken = true
		return nil, fmt.Errorf("signature is %d bytes, want %d: %w", len(signature), signatureSize, ErrIntegrity)
	}
	msg := make([]byte, len(sealed))
	s.recvSeal.XORKeyStream(msg, sealed)
	want := s.mac(s.recvSign, s.recvSeal, s.recvSeq, msg)
	if subtle.ConstantTimeCompare(want, signature) != 1 {
		s.broken = true
		if got := binary.LittleEndian.Uint32(signature[12:]); got != s.recvSeq {
			return nil, fmt.Errorf("sequence number %d, want %d: %w", got, s.recvSeq, ErrIntegrity)
		}
		return nil, fmt.Errorf("bad signature: %w", ErrIntegrity)
	}
	s.recvSeq++
	return msg, nil
}

// mac computes the NTLMSSP_MESSAGE_SIGNATURE with extended session security:
// HMAC_MD5(signKey, seq || msg)[:8], RC4-encrypted with the sealing handle
// when key exchange was negotiated.
func (s *security) mac(signKey []byte, handle *rc4.Cipher, seq uint32, msg []byte) []byte {
	var seqBytes [4]byte
	binary.LittleEndian.PutUint32(seqBytes[:], seq)
	h := hmac.New(md5.New, signKey)
	h.Write(seqBytes[:])
	h.Write(msg)
	checksum := h.Sum(nil)[:8]
	if s.keyExch {
		handle.XORKeyStream(checksum, checksum)
	}
	sig := make([]byte, signatureSize)
	binary.LittleEndian.PutUint32(sig[0:], 1)
	copy(sig[4:12], checksum)
	copy(sig[12:], seqBytes[:])
	return sig
}
