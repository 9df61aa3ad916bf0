// Package sealedbody reads and writes the MS-WSMV 2.2.9.1 encrypted message
// bodies of a simulated WinRM host, whatever mechanism sealed them (NTLM
// session security or a Kerberos Wrap token): the mechanism supplies the
// wrap and unwrap of one message.
package sealedbody

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
)

// MS-WSMV 2.2.9.1.1: an encrypted message is a MIME-like multipart body whose
// first part names the protocol and the original content with its length and
// whose second part holds a 4-byte little-endian signature length, the
// signature, and the sealed data. Large messages may come as
// multipart/x-multi-encrypted, a sequence of such pairs.
const (
	// SPNEGOProtocol is the protocol parameter of Negotiate-sealed bodies.
	SPNEGOProtocol = "application/HTTP-SPNEGO-session-encrypted"
	boundary       = "Encrypted Boundary"
	dashBoundary   = "--" + boundary
	soapType       = "application/soap+xml;charset=UTF-8"
)

// ErrNotEncrypted reports a body that is not an MS-WSMV encrypted message.
var ErrNotEncrypted = errors.New("not an MS-WSMV encrypted message")

// IsEncrypted reports whether a Content-Type header announces an encrypted
// message sealed by Negotiate.
func IsEncrypted(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return (mt == "multipart/encrypted" || mt == "multipart/x-multi-encrypted") &&
		strings.EqualFold(params["protocol"], SPNEGOProtocol)
}

// Unwrap verifies and decrypts one sealed message given its signature.
type Unwrap func(signature, sealed []byte) ([]byte, error)

// Decode returns the SOAP message of a request body sent with contentType,
// unwrapping every part in order. A malformed body wraps [ErrNotEncrypted];
// unwrap's errors are returned as they are.
func Decode(contentType string, body []byte, unwrap Unwrap) ([]byte, error) {
	if !IsEncrypted(contentType) {
		return nil, fmt.Errorf("content type %q: %w", contentType, ErrNotEncrypted)
	}
	var soap []byte
	rest := body
	for n := 0; ; n++ {
		rest = bytes.TrimLeft(rest, "\r\n")
		if len(rest) == 0 || bytes.HasPrefix(rest, []byte(dashBoundary+"--")) {
			if n == 0 {
				return nil, fmt.Errorf("empty body: %w", ErrNotEncrypted)
			}
			return soap, nil
		}
		plain, next, err := decodePart(rest, unwrap)
		if err != nil {
			return nil, fmt.Errorf("encrypted part %d: %w", n+1, err)
		}
		if soap == nil {
			soap = plain // one part, the usual case: no copy
		} else {
			soap = append(soap, plain...)
		}
		rest = next
	}
}

// unsealPart reads one header part and one data part from b.
func decodePart(b []byte, unwrap Unwrap) (plain, rest []byte, err error) {
	b, ok := bytes.CutPrefix(b, []byte(dashBoundary+"\r\n"))
	if !ok {
		return nil, nil, fmt.Errorf("missing boundary: %w", ErrNotEncrypted)
	}
	// The header part is text and ends at the next boundary line.
	end := bytes.Index(b, []byte(dashBoundary+"\r\n"))
	if end < 0 {
		return nil, nil, fmt.Errorf("missing data part: %w", ErrNotEncrypted)
	}
	length, err := originalLength(string(b[:end]))
	if err != nil {
		return nil, nil, err
	}
	b = b[end+len(dashBoundary)+2:]
	// One header line announces the binary data.
	eol := bytes.Index(b, []byte("\r\n"))
	if eol < 0 || !strings.Contains(strings.ToLower(string(b[:eol])), "application/octet-stream") {
		return nil, nil, fmt.Errorf("data part is not application/octet-stream: %w", ErrNotEncrypted)
	}
	b = b[eol+2:]
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("truncated data part: %w", ErrNotEncrypted)
	}
	sigLen := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(sigLen)+uint64(length) > uint64(len(b)) {
		return nil, nil, fmt.Errorf("data part shorter than signature and declared length: %w", ErrNotEncrypted)
	}
	sig, sealed := b[:sigLen], b[sigLen:uint64(sigLen)+uint64(length)]
	plain, err = unwrap(sig, sealed)
	if err != nil {
		return nil, nil, err
	}
	return plain, b[uint64(sigLen)+uint64(length):], nil
}

// originalLength checks the header part and returns the Length parameter of
// its OriginalContent header.
func originalLength(headers string) (int, error) {
	var protocolOK bool
	length := -1
	for _, l := range strings.Split(headers, "\r\n") {
		name, value, found := strings.Cut(strings.TrimSpace(l), ":")
		if !found {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "content-type":
			protocolOK = strings.EqualFold(value, SPNEGOProtocol)
		case "originalcontent":
			for _, p := range strings.Split(value, ";") {
				if k, v, _ := strings.Cut(strings.TrimSpace(p), "="); strings.EqualFold(k, "Length") {
					n, err := strconv.ParseUint(v, 10, 31)
					if err != nil {
						return 0, fmt.Errorf("OriginalContent length %q: %w", v, ErrNotEncrypted)
					}
					length = int(n)
				}
			}
		}
	}
	if !protocolOK {
		return 0, fmt.Errorf("header part does not name %s: %w", SPNEGOProtocol, ErrNotEncrypted)
	}
	if length < 0 {
		return 0, fmt.Errorf("header part has no OriginalContent length: %w", ErrNotEncrypted)
	}
	return length, nil
}

// Encode returns the Content-Type and body of a reply sealed as signature
// and sealed data, as one part whatever its size: the chunked
// multipart/x-multi-encrypted form is specified for CredSSP (MS-WSMV
// 2.2.9.1.3), not for Negotiate.
func Encode(plainLen int, signature, sealed []byte) (contentType string, body []byte) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\r\n\tContent-Type: %s\r\n\tOriginalContent: type=%s;Length=%d\r\n", dashBoundary, SPNEGOProtocol, soapType, plainLen)
	fmt.Fprintf(&b, "%s\r\n\tContent-Type: application/octet-stream\r\n", dashBoundary)
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(signature))))
	b.Write(signature)
	b.Write(sealed)
	b.WriteString(dashBoundary + "--\r\n")
	ct := fmt.Sprintf("multipart/encrypted;protocol=%q;boundary=%q", SPNEGOProtocol, boundary)
	return ct, b.Bytes()
}
