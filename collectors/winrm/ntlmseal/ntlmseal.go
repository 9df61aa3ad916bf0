// Package ntlmseal authenticates WinRM requests over plain HTTP with NTLMv2
// and seals them with NTLM session security, so a Windows host with the
// default AllowUnencrypted=false accepts them.
//
// # Protocol
//
// Per connection the client runs the NTLM handshake (MS-NLMP 3.1.5) on
// empty-bodied POSTs, with raw NTLMSSP tokens in "Authorization: Negotiate"
// as Windows accepts, requesting signing, sealing, 128-bit keys and key
// exchange. Every SOAP request is then sealed (RC4 with HMAC-MD5 signatures
// and sequence numbers, MS-NLMP 3.4) and framed as an MS-WSMV encrypted
// message (multipart/encrypted with protocol
// application/HTTP-SPNEGO-session-encrypted); every response is verified and
// unsealed before the caller sees it.
package ntlmseal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bitaudit/bitaudit/collectors/winrm/wsmvenc"
	"github.com/bitaudit/bitaudit/model"
)

// ErrAuth is returned, wrapped, when the host refuses the credentials after a
// complete handshake. It wraps [model.ErrAuth].
var ErrAuth = fmt.Errorf("ntlm: %w", model.ErrAuth)

// NewRoundTripper returns a RoundTripper that authenticates as domain\user and
// seals every request body and unseals every response body, handing plain
// SOAP back. Any Authorization header of the request (masterzen/winrm sets
// Basic) is dropped, never sent.
//
// An NTLM security context belongs to one TCP connection: requests are
// serialised, and base should keep one persistent connection to the host. A
// nil base gets a dedicated [http.Transport] with MaxConnsPerHost 1. If the
// connection is replaced and the host answers 401, the client
// re-authenticates once and resends.
func NewRoundTripper(base http.RoundTripper, user, password, domain string) http.RoundTripper {
	if base == nil {
		base = &http.Transport{
			MaxConnsPerHost:     1,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     90 * time.Second,
		}
	}
	// "DOMAIN\user" names the domain in the user name, as Windows allows.
	if d, u, ok := strings.Cut(user, `\`); ok && domain == "" {
		domain, user = d, u
	}
	return &roundTripper{
		base:  base,
		creds: credentials{user: user, password: password, domain: domain},
		rand:  rand.Reader,
		now:   time.Now,
	}
}

type roundTripper struct {
	base  http.RoundTripper
	creds credentials
	rand  io.Reader
	now   func() time.Time

	mu  sync.Mutex // serialises requests: one context, one connection
	sec *security  // nil until authenticated
}

// RoundTrip implements [http.RoundTripper].
func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	var soap []byte
	if req.Body != nil {
		b, err := readBody(req)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		soap = b
	}
	ctx := req.Context()

	t.mu.Lock()
	defer t.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if t.sec == nil {
			if err := t.authenticateRestarting(ctx, req); err != nil {
				return nil, err
			}
		}
		resp, err := t.send(ctx, req, soap)
		if err != nil {
			t.sec = nil
			return nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			// The context is gone (new connection, host restarted the
			// session): authenticate again and resend once.
			wsmvenc.Drain(resp)
			t.sec = nil
			continue
		}
		if resp.StatusCode == http.StatusUnauthorized {
			wsmvenc.Drain(resp)
			t.sec = nil
			return nil, fmt.Errorf("host refused the sealed message after re-authentication: %w", ErrAuth)
		}
		return t.unsealResponse(resp)
	}
}

// readBody reads req's body into a buffer of its announced length rather
// than one grown as it goes.
func readBody(req *http.Request) ([]byte, error) {
	if req.ContentLength <= 0 {
		return io.ReadAll(req.Body)
	}
	b := bytes.NewBuffer(make([]byte, 0, req.ContentLength+1))
	_, err := b.ReadFrom(req.Body)
	return b.Bytes(), err
}

// send seals soap and posts it with the request's headers.
func (t *roundTripper) send(ctx context.Context, orig *http.Request, soap []byte) (*http.Response, error) {
	req, err := wsmvenc.SealedRequest(ctx, orig, t.sec, soap)
	if err != nil {
		return nil, err
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("send sealed message: %w", err)
	}
	return resp, nil
}

// unsealResponse verifies and decrypts an encrypted response; a failure
// ends the security context.
func (t *roundTripper) unsealResponse(resp *http.Response) (*http.Response, error) {
	resp, err := wsmvenc.UnsealResponse(resp, t.sec)
	if err != nil {
		t.sec = nil
	}
	return resp, err
}

// handshakeAttempts is how often the handshake starts again on a fresh
// connection when the connection is lost between its legs.
const handshakeAttempts = 3

// lostLeg is a handshake leg that never got its answer, or whose answer
// closed the connection: the context in progress is gone with it.
type lostLeg struct{ err error }

func (e *lostLeg) Error() string { return e.err.Error() }
func (e *lostLeg) Unwrap() error { return e.err }

// authenticateRestarting authenticates, starting the handshake again when
// the connection is lost between its legs: a lost connection is never
// reported as refused credentials.
func (t *roundTripper) authenticateRestarting(ctx context.Context, orig *http.Request) error {
	var lost *lostLeg
	for range handshakeAttempts {
		err := t.authenticate(ctx, orig)
		if !errors.As(err, &lost) || ctx.Err() != nil {
			return err
		}
	}
	return fmt.Errorf("ntlm handshake: connection lost %d times between the legs: %w", handshakeAttempts, lost.err)
}

// StatusHint names the likely cause of a status other than 401 to an NTLM
// NEGOTIATE: a 400 to plain HTTP is what an HTTPS listener answers to a
// request that is not TLS (Go's TLS server and HTTP.sys alike answer
// "400 Bad Request"), i.e. --transport http against port 5986.
func StatusHint(status int, scheme string) string {
	if status == http.StatusBadRequest && scheme == "http" {
		return " (a 400 to plain HTTP: the port likely expects HTTPS; use --transport https, or the HTTP port 5985)"
	}
	return ""
}

// authenticate runs NEGOTIATE → CHALLENGE → AUTHENTICATE on empty-bodied
// POSTs, as pywinrm does before its first encrypted message (pywinrm 0.3.0
// winrm/transport.py setup_encryption: "Security context doesn't exist,
// sending blank message to initialise context"; it requires a 2xx answer).
func (t *roundTripper) authenticate(ctx context.Context, orig *http.Request) error {
	negotiate := negotiateMessage()
	resp, err := t.post(ctx, orig, "Negotiate", negotiate)
	if err != nil {
		return &lostLeg{fmt.Errorf("ntlm negotiate: %w", err)}
	}
	wsmvenc.Drain(resp)
	if resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("ntlm negotiate: host answered %d, want 401 with a challenge%s: %w", resp.StatusCode, StatusHint(resp.StatusCode, orig.URL.Scheme), model.ErrProtocol)
	}
	scheme, chal, err := challengeToken(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		return fmt.Errorf("ntlm negotiate: %w: %w", err, ErrAuth)
	}
	if resp.Close {
		return &lostLeg{errors.New("ntlm negotiate: host closed the connection after its challenge")}
	}
	auth, err := authenticateMessage(t.creds, negotiate, chal, Binding{}, t.rand, t.now())
	if err != nil {
		return fmt.Errorf("ntlm challenge: %w: %w", err, model.ErrProtocol)
	}
	resp, err = t.post(ctx, orig, scheme, auth.message)
	if err != nil {
		return &lostLeg{fmt.Errorf("ntlm authenticate: %w", err)}
	}
	wsmvenc.Drain(resp)
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("host refused the credentials: %w", ErrAuth)
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("ntlm authenticate: host answered %d: %w", resp.StatusCode, model.ErrProtocol)
	}
	sec, err := newClientSecurity(auth.flags, auth.exportedKey)
	if err != nil {
		return fmt.Errorf("ntlm session: %w", err)
	}
	t.sec = sec
	return nil
}

// post sends an empty-bodied POST carrying one NTLM token.
func (t *roundTripper) post(ctx context.Context, orig *http.Request, scheme string, token []byte) (*http.Response, error) {
	req, err := wsmvenc.NewRequest(ctx, orig, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", scheme+" "+base64.StdEncoding.EncodeToString(token))
	return t.base.RoundTrip(req)
}

// challengeToken finds the NTLM CHALLENGE in a 401's WWW-Authenticate
// headers, under Negotiate or NTLM.
func challengeToken(values []string) (scheme string, token []byte, err error) {
	for _, v := range values {
		for _, s := range []string{"Negotiate", "NTLM"} {
			if len(v) > len(s)+1 && strings.EqualFold(v[:len(s)+1], s+" ") {
				tok, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v[len(s)+1:]))
				if err != nil {
					return "", nil, fmt.Errorf("decode %s challenge: %w", s, err)
				}
				return s, tok, nil
			}
		}
	}
	return "", nil, errors.New("host sent no NTLM challenge")
}
