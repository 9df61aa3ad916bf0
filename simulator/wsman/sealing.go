package wsman

import (
	"errors"
	"fmt"
	"net/http"

	"strings"

	"github.com/bitaudit/bitaudit/simulator/ntlmsession"
)

// Message encryption (MS-WSMV 2.2.9.1) for NTLM-authenticated connections:
// Windows with AllowUnencrypted=false only serves plain-HTTP requests whose
// bodies are sealed with the connection's NTLM session security, and answers
// them sealed. The cryptography is package ntlmsession's.

var (
	// errBadSeal marks a sealed request that does not verify (tampered,
	// replayed, out of sequence) or arrives without a sealing context.
	errBadSeal = errors.New("sealed request rejected")
	// errHandshakeOnly marks the empty-bodied request that completes the
	// NTLM handshake before encrypted messages flow, as pywinrm and our
	// collector send it (pywinrm 0.3.0 transport.py setup_encryption:
	// "sending blank message to initialise context", then
	// raise_for_status); Windows answers it 200 with no body.
	errHandshakeOnly = errors.New("empty request completing the NTLM handshake")
)

// newSealer derives the server's sealing context from a verified
// AUTHENTICATE message. It is nil when the client negotiated no sealing.
func newSealer(m *authenticateMessage, s *ntlmSession) *ntlmsession.Session {
	key, err := ntlmsession.ExportedSessionKey(s.Flags, s.SessionBaseKey[:], m.EncryptedSessionKey)
	if err != nil {
		return nil
	}
	sealer, err := ntlmsession.NewServerSession(s.Flags, key)
	if err != nil {
		return nil
	}
	return sealer
}

// unseal returns the SOAP request carried by body: decrypted when sealed,
// else as it came with errUnencrypted (or errHandshakeOnly for the empty
// handshake request).
func (c *connState) unseal(r *http.Request, body []byte) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	if !ntlmsession.IsEncrypted(ct) {
		if len(body) == 0 && isNTLMHandshake(r) {
			return nil, errHandshakeOnly
		}
		return body, errUnencrypted
	}
	sealer := c.sealer()
	if sealer == nil {
		return nil, fmt.Errorf("%w: no sealing context on this connection", errBadSeal)
	}
	plain, err := sealer.Unseal(ct, body)
	if err != nil {
		c.mu.Lock()
		c.session, c.krb = nil, nil // the context is out of step; the client must authenticate again
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", errBadSeal, err)
	}
	return plain, nil
}

func isNTLMHandshake(r *http.Request) bool {
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, "Negotiate") || strings.EqualFold(scheme, "NTLM") || strings.EqualFold(scheme, "Kerberos")
}

// A messageSealer protects a connection's messages: NTLM session security
// or a Kerberos context.
type messageSealer interface {
	Unseal(contentType string, body []byte) ([]byte, error)
	Seal(soap []byte) (contentType string, body []byte, err error)
}

// sealer returns the connection's sealing context, nil if none.
func (c *connState) sealer() messageSealer {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.krb != nil:
		return c.krb.ctx
	case c.session != nil && c.session.sealer != nil:
		return c.session.sealer
	}
	return nil
}

// encodeBody returns the Content-Type and bytes of a SOAP reply: sealed when
// the request was.
func (c *connState) encodeBody(r *http.Request, b []byte) (string, []byte) {
	if !ntlmsession.IsEncrypted(r.Header.Get("Content-Type")) {
		return contentTypeSOAP, b
	}
	sealer := c.sealer()
	if sealer == nil {
		return contentTypeSOAP, b
	}
	ct, sealed, err := sealer.Seal(b)
	if err != nil {
		return contentTypeSOAP, b
	}
	return ct, sealed
}

// answerSealing answers the requests readBody classified as a bare handshake
// (200, empty) or a rejected sealed message (400, and the connection's NTLM
// context is dropped). It reports whether it answered.
func (h *Host) answerSealing(w http.ResponseWriter, err error) bool {
	switch {
	case errors.Is(err, errHandshakeOnly):
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return true
	case errors.Is(err, errBadSeal):
		httpError(w, http.StatusBadRequest, "Bad Request", "The request could not be understood by the server due to malformed syntax.")
		return true
	}
	return false
}
