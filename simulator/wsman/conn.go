package wsman

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// connKey keys a connection's *connState in request contexts.
type connKey struct{}

// connState is what Windows keeps per TCP connection: the NTLM handshake in
// progress, then the authenticated session. It dies with the connection.
//
// Every request body is decoded by readBody and every SOAP reply encoded by
// encodeBody, both with the NTLM session at hand: sealing.go unseals and
// seals there (MS-WSMV 2.2.9.1 message encryption).
type connState struct {
	conn net.Conn

	mu        sync.Mutex
	challenge *[8]byte     // server challenge sent, AUTHENTICATE awaited
	session   *ntlmSession // set once NTLM succeeded on this connection
	krb       *krbSession  // set once Kerberos succeeded on this connection (kerberos.go)
}

var (
	errTooLarge    = errors.New("request body exceeds MaxEnvelopeSize")
	errUnencrypted = errors.New("request body is not encrypted")
)

// readBody returns the SOAP request of r. It reports errUnencrypted along
// with the body for a plain (unsealed) request, and errTooLarge beyond limit.
func (c *connState) readBody(r *http.Request, limit int) ([]byte, error) {
	// One read into a buffer of the announced size (bounded by limit), not
	// io.ReadAll's doublings: the collection's Command request is ~8 KB.
	buf := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0), int64(limit))+1))
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, int64(limit)+1)); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if len(b) > limit {
		drain(r)
		return nil, errTooLarge
	}
	return c.unseal(r, b) // sealing.go
}

// authenticate checks the request's credentials. When it returns false it
// has already answered (401, possibly with an NTLM challenge).
func (h *Host) authenticate(w http.ResponseWriter, r *http.Request, c *connState) (string, bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	switch {
	case scheme == "":
		c.mu.Lock()
		s := c.session
		c.mu.Unlock()
		if s != nil { // connection-based NTLM authentication, as Windows keeps it
			return s.User, true
		}
		if u, ok := c.kerberosUser(); ok {
			return u, true
		}
	case h.cfg.Kerberos != nil && isKerberosToken(scheme, token):
		return h.kerberosStep(w, r, c, scheme, token)
	case strings.EqualFold(scheme, "Basic") && h.cfg.AllowBasic:
		if u, ok := h.checkBasic(token); ok {
			return u, true
		}
	case (strings.EqualFold(scheme, "Negotiate") || strings.EqualFold(scheme, "NTLM")) && h.cfg.AllowNTLM:
		return h.ntlmStep(w, r, c, scheme, token)
	}
	h.unauthorized(w, r)
	return "", false
}

// checkBasic verifies a Basic token in constant time.
func (h *Host) checkBasic(token string) (string, bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return "", false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", false
	}
	name := user
	if _, u, ok := strings.Cut(name, `\`); ok {
		name = u
	}
	userOK := subtle.ConstantTimeCompare([]byte(strings.ToLower(name)), []byte(strings.ToLower(h.user)))
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(h.cfg.Password))
	if userOK&passOK != 1 {
		return "", false
	}
	return name, true
}

// ntlmStep runs one leg of the connection's NTLM handshake (docs/winrm.md
// §2.3): NEGOTIATE gets a 401 with a CHALLENGE; a valid AUTHENTICATE
// authenticates the connection and the request is served.
func (h *Host) ntlmStep(w http.ResponseWriter, r *http.Request, c *connState, scheme, token string) (string, bool) {
	msg, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		h.unauthorized(w, r)
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	typ, err := ntlmType(msg)
	if err != nil {
		c.challenge, c.session = nil, nil
		h.unauthorized(w, r)
		return "", false
	}
	switch typ {
	case 1:
		flags, err := parseNegotiate(msg)
		if err != nil {
			break
		}
		var sc [8]byte
		_, _ = rand.Read(sc[:]) // crypto/rand.Read never fails
		c.challenge, c.session = &sc, nil
		target := ntlmTarget{Computer: h.cfg.ComputerName, NetBIOSDomain: h.cfg.NetBIOSDomain, DNSDomain: h.cfg.DNSDomain}
		ch := buildChallenge(target, challengeFlags(flags, h.cfg.NetBIOSDomain != ""), sc, time.Now())
		drain(r)
		w.Header().Set("WWW-Authenticate", scheme+" "+base64.StdEncoding.EncodeToString(ch))
		h.stats.unauthorized.Add(1)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusUnauthorized)
		return "", false
	case 3:
		sc := c.challenge
		c.challenge = nil
		if sc == nil {
			break
		}
		m, err := parseAuthenticate(msg)
		if err != nil {
			break
		}
		s, err := verifyAuthenticate(m, h.user, h.cfg.Password, *sc)
		if err != nil {
			break
		}
		if r.TLS != nil && h.cfg.CBT != "" && h.cfg.CBT != CBTNone {
			want, _ := serverEndPointHash(h.cfg.TLSCertificate) // checked in NewHost
			if checkCBT(h.cfg.CBT, m.NTResponse, want) != nil {
				break
			}
		}
		s.sealer = newSealer(m, s) // sealing.go
		c.session, c.krb = s, nil
		return s.User, true
	}
	c.challenge, c.session = nil, nil
	h.unauthorized(w, r)
	return "", false
}

// unauthorized answers a bare 401 offering the host's schemes, as Windows
// does for missing or bad credentials.
func (h *Host) unauthorized(w http.ResponseWriter, r *http.Request) {
	drain(r)
	h.stats.unauthorized.Add(1)
	if h.cfg.AllowNTLM || h.cfg.Kerberos != nil {
		w.Header().Add("WWW-Authenticate", "Negotiate")
	}
	if h.cfg.Kerberos != nil {
		w.Header().Add("WWW-Authenticate", "Kerberos")
	}
	if h.cfg.AllowBasic {
		w.Header().Add("WWW-Authenticate", `Basic realm="WSMAN"`)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusUnauthorized)
}

// drain reads what is left of a request body (bounded), so the connection
// can carry the client's next request.
func drain(r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 4<<20))
}

var discardLog = log.New(io.Discard, "", 0)
