// Package tlsbind computes TLS channel bindings: the RFC 5929
// tls-server-end-point binding of a server certificate, in the RFC 2744
// gss_channel_bindings_struct that NTLM (MS-NLMP 2.2.2.1
// MsvAvChannelBindings) and Kerberos (RFC 4121 §4.1.1.2) hash into their
// authentication messages. A host set to CbtHardeningLevel=Strict accepts a
// login only if the binding matches the certificate it presented, so a
// login relayed through another TLS server fails.
package tlsbind

import (
	"crypto"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"hash"
)

// ServerEndPoint returns the application data of the tls-server-end-point
// binding of cert: "tls-server-end-point:" followed by the hash of the DER
// certificate, with the hash of its signature algorithm, SHA-256 when that
// is MD5 or SHA-1 (RFC 5929 §4.1).
func ServerEndPoint(cert *x509.Certificate) ([]byte, error) {
	if cert == nil {
		return nil, errors.New("tlsbind: no server certificate")
	}
	var h hash.Hash
	switch hashOf(cert.SignatureAlgorithm) {
	case crypto.SHA384:
		h = sha512.New384()
	case crypto.SHA512:
		h = sha512.New()
	default: // MD5, SHA-1, SHA-256, and Ed25519 (no hash: SHA-256 as MS does)
		h = sha256.New()
	}
	h.Write(cert.Raw)
	return append([]byte("tls-server-end-point:"), h.Sum(nil)...), nil
}

func hashOf(a x509.SignatureAlgorithm) crypto.Hash {
	switch a {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		return crypto.SHA384
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		return crypto.SHA512
	}
	return crypto.SHA256
}

// Struct returns the gss_channel_bindings_struct carrying appData: no
// initiator or acceptor address, each field's length little-endian
// (RFC 4121 §4.1.1.2, RFC 2744 §3.11; MS-NLMP 2.2.2.1 hashes the same).
func Struct(appData []byte) []byte {
	b := make([]byte, 0, 20+len(appData))
	b = binary.LittleEndian.AppendUint32(b, 0) // initiator address type
	b = binary.LittleEndian.AppendUint32(b, 0) // initiator address length
	b = binary.LittleEndian.AppendUint32(b, 0) // acceptor address type
	b = binary.LittleEndian.AppendUint32(b, 0) // acceptor address length
	b = binary.LittleEndian.AppendUint32(b, uint32(len(appData)))
	return append(b, appData...)
}

// Hash is the 16-byte MD5 of the bindings struct for cert's
// tls-server-end-point: MsvAvChannelBindings, or the Bnd field of a
// Kerberos authenticator checksum.
func Hash(cert *x509.Certificate) ([]byte, error) {
	app, err := ServerEndPoint(cert)
	if err != nil {
		return nil, err
	}
	sum := md5.Sum(Struct(app))
	return sum[:], nil
}
