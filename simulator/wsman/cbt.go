package wsman

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
)

// CBT is the WinRM service's Service/Auth/CbtHardeningLevel: how it treats
// the channel-binding token of a login (NTLM or Kerberos) over HTTPS ("Sets the policy for
// channel-binding token requirements in authentication requests": Strict,
// Relaxed or None; Microsoft Learn, "Installation and configuration for
// Windows Remote Management", WinRM service default settings; MS-NLMP
// 3.2.5.1.2 for the check itself). Over plain HTTP there is no channel.
type CBT string

// CbtHardeningLevel values. Windows' default is Relaxed.
const (
	// CBTNone ignores channel bindings.
	CBTNone CBT = "none"
	// CBTRelaxed refuses a login whose bindings do not match the TLS
	// channel, and accepts one without bindings (older clients).
	CBTRelaxed CBT = "relaxed"
	// CBTStrict also refuses a login without bindings: a login relayed
	// from another TLS connection never matches.
	CBTStrict CBT = "strict"
)

const (
	avChannelBindings = 10
	// blobPairs is where AV pairs start in an NTLMv2 client blob: RespType,
	// HiRespType, 6 reserved, timestamp (8), challenge (8), 4 reserved.
	blobPairs = 28
)

// errCBT marks a login refused for its channel bindings.
var errCBT = errors.New("channel binding token refused")

// serverEndPointHash is this host's expected MsvAvChannelBindings: the MD5
// of the gss_channel_bindings_struct whose application data is
// "tls-server-end-point:" and the hash of its certificate (RFC 5929 §4.1:
// the certificate's signature hash, SHA-256 for MD5 and SHA-1).
func serverEndPointHash(der []byte) ([16]byte, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return [16]byte{}, err
	}
	var sum []byte
	switch cert.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		s := sha512.Sum384(der)
		sum = s[:]
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		s := sha512.Sum512(der)
		sum = s[:]
	default:
		s := sha256.Sum256(der)
		sum = s[:]
	}
	app := append([]byte("tls-server-end-point:"), sum...)
	st := make([]byte, 16, 20+len(app)) // two empty addresses: type and length zero
	st = binary.LittleEndian.AppendUint32(st, uint32(len(app)))
	return md5.Sum(append(st, app...)), nil
}

// checkCBT applies level to an NTLMv2 response received over TLS: the
// client blob's MsvAvChannelBindings must equal want (Relaxed: when
// present; Strict: always; an all-zero value counts as absent, MS-NLMP
// 3.2.5.1.2).
func checkCBT(level CBT, ntResponse []byte, want [16]byte) error {
	if level == CBTNone || level == "" {
		return nil
	}
	got, _ := blobChannelBindings(ntResponse)
	return checkBindings(level, got, want)
}

// checkBindings applies level to the channel-binding hash a client sent
// (zero: none), as checkCBT does for NTLM.
func checkBindings(level CBT, got, want [16]byte) error {
	if level == CBTNone || level == "" {
		return nil
	}
	if got != ([16]byte{}) {
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return fmt.Errorf("%w: bindings of another TLS channel", errCBT)
		}
		return nil
	}
	if level == CBTStrict {
		return fmt.Errorf("%w: none sent, CbtHardeningLevel=Strict", errCBT)
	}
	return nil
}

// blobChannelBindings finds MsvAvChannelBindings in the AV pairs of an
// NTLMv2 response (16-byte proof, then the client blob).
func blobChannelBindings(nt []byte) ([16]byte, bool) {
	var out [16]byte
	if len(nt) < 16+blobPairs {
		return out, false
	}
	for rest := nt[16+blobPairs:]; len(rest) >= 4; {
		id, n := binary.LittleEndian.Uint16(rest), int(binary.LittleEndian.Uint16(rest[2:]))
		if id == avEOL || len(rest)-4 < n {
			return out, false
		}
		if id == avChannelBindings && n == 16 {
			copy(out[:], rest[4:20])
			return out, true
		}
		rest = rest[4+n:]
	}
	return out, false
}
