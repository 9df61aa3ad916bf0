package wsman

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/bitaudit/bitaudit/simulator/krbsession"
)

// Kerberos on a simulated domain member (kerberos.md §2.1): the client
// sends "Authorization: Negotiate <SPNEGO with a krb5 AP-REQ>" (or the
// Kerberos scheme with a raw krb5 token); the host verifies it with its
// service keys and answers the same request, 200 or whatever the SOAP
// reply is, with "WWW-Authenticate: Negotiate <AP-REP>". The context then
// belongs to the TCP connection, like NTLM's: later requests carry no
// Authorization and, over HTTP, are sealed with it.

// krbSession is a connection's established Kerberos context.
type krbSession struct {
	user string
	ctx  *krbsession.Context
}

func (c *connState) kerberosUser() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.krb == nil {
		return "", false
	}
	return c.krb.user, true
}

// isKerberosToken reports whether an Authorization header carries a
// Kerberos token: the Kerberos scheme, or Negotiate with a GSS-API
// initial token ([APPLICATION 0], 0x60) rather than raw NTLMSSP.
func isKerberosToken(scheme, token string) bool {
	if strings.EqualFold(scheme, "Kerberos") {
		return true
	}
	if !strings.EqualFold(scheme, "Negotiate") {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	return err == nil && len(b) > 0 && b[0] == 0x60 // raw NTLMSSP starts "NTLMSSP\0"
}

// kerberosStep verifies the AP-REQ and, on success, binds the context to
// the connection and sets the AP-REP on the reply. A refused AP-REQ gets a
// 401, with the KRB-ERROR when there is one (RFC 4121 §4.1: the acceptor
// may answer a failed context with a KRB-ERROR token).
func (h *Host) kerberosStep(w http.ResponseWriter, r *http.Request, c *connState, scheme, token string) (string, bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		h.unauthorized(w, r)
		return "", false
	}
	acc, errTok, err := h.cfg.Kerberos.Accept(raw)
	if err == nil && !strings.EqualFold(acc.User, h.user) {
		// Authenticated, but not the account this host lets in.
		err = errors.New("principal is not the host's administrator")
	}
	if err == nil && r.TLS != nil && h.cfg.CBT != "" && h.cfg.CBT != CBTNone {
		want, _ := serverEndPointHash(h.cfg.TLSCertificate) // checked in NewHost
		err = checkBindings(h.cfg.CBT, acc.Bindings, want)
	}
	if err != nil {
		c.mu.Lock()
		c.krb = nil
		c.mu.Unlock()
		if errTok != nil {
			w.Header().Set("WWW-Authenticate", scheme+" "+base64.StdEncoding.EncodeToString(errTok))
			drain(r)
			h.stats.unauthorized.Add(1)
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusUnauthorized)
			return "", false
		}
		h.unauthorized(w, r)
		return "", false
	}
	c.mu.Lock()
	c.krb = &krbSession{user: acc.User, ctx: acc.Context}
	c.challenge, c.session = nil, nil
	c.mu.Unlock()
	if acc.Reply != nil {
		w.Header().Set("WWW-Authenticate", scheme+" "+base64.StdEncoding.EncodeToString(acc.Reply))
	}
	return acc.User, true
}
