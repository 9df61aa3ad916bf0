// Package wsmvenc frames sealed WinRM messages as MS-WSMV 2.2.9.1 encrypted
// bodies (multipart/encrypted, protocol
// application/HTTP-SPNEGO-session-encrypted), whatever sealed them: NTLM
// session security or a Kerberos RFC 4121 Wrap token. A part carries a
// little-endian signature length, the signature and the sealed data, which
// is exactly as long as the plaintext for both mechanisms (RC4 is a stream
// cipher; Kerberos with EC=0 puts all overhead in the signature,
// kerberos.md §2.5), so parts are delimited by lengths, never by searching
// binary data for the boundary.
package wsmvenc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MS-WSMV 2.2.9.1.1 (Negotiate/SPNEGO encrypted messages). The layout, with
// tab-indented part headers and no blank line before the binary part, is what
// Windows and pywinrm exchange (pywinrm winrm/encryption.py).
const (
	protocolSPNEGO  = "application/HTTP-SPNEGO-session-encrypted"
	boundaryLine    = "--Encrypted Boundary\r\n"
	boundaryEnd     = "--Encrypted Boundary--\r\n"
	octetStreamLine = "\tContent-Type: application/octet-stream\r\n"

	// ContentType is the HTTP Content-Type of an encrypted body.
	ContentType = `multipart/encrypted;protocol="` + protocolSPNEGO + `";boundary="Encrypted Boundary"`
	// OriginalType is the Content-Type of the SOAP inside.
	OriginalType = "application/soap+xml;charset=UTF-8"
)

// A Sealer protects one message for the peer and returns the signature
// (security trailer) and the sealed data, as long as msg.
type Sealer interface {
	Seal(msg []byte) (signature, sealed []byte, err error)
}

// An Unsealer verifies and decrypts one message from the peer.
type Unsealer interface {
	Unseal(signature, sealed []byte) ([]byte, error)
}

// Frame seals soap as one encrypted part and returns the HTTP body. Sealed
// messages of any size travel as a single part; the 16 KiB
// multipart/x-multi-encrypted chunking belongs to CredSSP (MS-WSMV
// 2.2.9.1.3, https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/ab809f2f-2b9f-4b66-a866-04dbc2bc5693;
// pywinrm prepare_encrypted_request chunks only for credssp), so the client
// never chunks, but Unframe accepts several parts.
func Frame(s Sealer, soap []byte) ([]byte, error) {
	sig, sealed, err := s.Seal(soap)
	if err != nil {
		return nil, err
	}
	if len(sealed) != len(soap) {
		return nil, fmt.Errorf("sealer returned %d bytes of data for %d of plaintext: %w", len(sealed), len(soap), ErrFraming)
	}
	var b bytes.Buffer
	b.Grow(len(soap) + 256)
	b.WriteString(boundaryLine)
	b.WriteString("\tContent-Type: " + protocolSPNEGO + "\r\n")
	b.WriteString("\tOriginalContent: type=" + OriginalType + ";Length=" + strconv.Itoa(len(soap)) + "\r\n")
	b.WriteString(boundaryLine)
	b.WriteString(octetStreamLine)
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(sig))))
	b.Write(sig)
	b.Write(sealed)
	b.WriteString(boundaryEnd)
	return b.Bytes(), nil
}

// IsEncrypted reports whether an HTTP Content-Type announces an MS-WSMV
// encrypted body sealed by Negotiate.
func IsEncrypted(contentType string) bool {
	ct := strings.ToLower(contentType)
	return (strings.HasPrefix(ct, "multipart/encrypted") || strings.HasPrefix(ct, "multipart/x-multi-encrypted")) &&
		strings.Contains(ct, strings.ToLower(protocolSPNEGO))
}

// ErrFraming marks a body that is not a well-formed encrypted message.
var ErrFraming = errors.New("malformed encrypted message")

// Unframe unseals every encrypted part of body in order and returns the
// concatenated plaintext.
func Unframe(s Unsealer, body []byte) ([]byte, error) {
	var out []byte
	rest := body
	for part := 0; ; part++ {
		if len(rest) == 0 || bytes.HasPrefix(rest, []byte(boundaryEnd)) {
			if part == 0 {
				return nil, fmt.Errorf("no encrypted part: %w", ErrFraming)
			}
			return out, nil
		}
		var err error
		var n int
		if rest, err = expect(rest, boundaryLine); err != nil {
			return nil, err
		}
		if rest, n, err = partHeaders(rest); err != nil {
			return nil, err
		}
		if rest, err = expect(rest, boundaryLine); err != nil {
			return nil, err
		}
		if rest, err = expectHeader(rest, "content-type: application/octet-stream"); err != nil {
			return nil, err
		}
		if len(rest) < 4 {
			return nil, fmt.Errorf("part %d: missing signature length: %w", part, ErrFraming)
		}
		sigLen := int(binary.LittleEndian.Uint32(rest))
		rest = rest[4:]
		if sigLen > len(rest) || n > len(rest)-sigLen {
			return nil, fmt.Errorf("part %d: signature and data run past the body: %w", part, ErrFraming)
		}
		plain, err := s.Unseal(rest[:sigLen], rest[sigLen:sigLen+n])
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", part, err)
		}
		if out == nil {
			out = plain // one part, as Windows sends: no copy
		} else {
			out = append(out[:len(out):len(out)], plain...)
		}
		rest = rest[sigLen+n:]
	}
}

func expect(b []byte, prefix string) ([]byte, error) {
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return nil, fmt.Errorf("want %q: %w", strings.TrimSpace(prefix), ErrFraming)
	}
	return b[len(prefix):], nil
}

// line splits off one CRLF-terminated header line, without its indentation.
func line(b []byte) (string, []byte, error) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return "", nil, fmt.Errorf("unterminated header line: %w", ErrFraming)
	}
	return strings.TrimSpace(string(b[:i])), b[i+2:], nil
}

func expectHeader(b []byte, want string) ([]byte, error) {
	l, rest, err := line(b)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(strings.ReplaceAll(l, " ", ""), strings.ReplaceAll(want, " ", "")) {
		return nil, fmt.Errorf("header %q, want %q: %w", l, want, ErrFraming)
	}
	return rest, nil
}

// partHeaders reads the first part's headers up to the next boundary and
// returns the original content length.
func partHeaders(b []byte) ([]byte, int, error) {
	length := -1
	for !bytes.HasPrefix(b, []byte(boundaryLine)) {
		l, rest, err := line(b)
		if err != nil {
			return nil, 0, err
		}
		b = rest
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, 0, fmt.Errorf("header %q: %w", l, ErrFraming)
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-type":
			if !strings.EqualFold(strings.TrimSpace(value), protocolSPNEGO) {
				return nil, 0, fmt.Errorf("part protocol %q: %w", strings.TrimSpace(value), ErrFraming)
			}
		case "originalcontent":
			for param := range strings.SplitSeq(value, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
				if strings.EqualFold(k, "length") {
					n, err := strconv.Atoi(v)
					if err != nil || n < 0 {
						return nil, 0, fmt.Errorf("original length %q: %w", v, ErrFraming)
					}
					length = n
				}
			}
		}
	}
	if length < 0 {
		return nil, 0, fmt.Errorf("no original content length: %w", ErrFraming)
	}
	return b, length, nil
}
