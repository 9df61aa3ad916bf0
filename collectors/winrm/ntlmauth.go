package winrm

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/bitaudit/bitaudit/collectors/winrm/ntlmseal"
	"github.com/bitaudit/bitaudit/collectors/winrm/tlsbind"
	"github.com/bitaudit/bitaudit/model"
)

// handshakeAttempts is how often a handshake is started on a fresh
// connection when the connection is lost between its legs.
const handshakeAttempts = 3

// ntlmAuth authenticates the requests of one host connection with NTLM
// (MS-NLMP), without sealing: over HTTPS, where TLS protects the messages,
// and over plain HTTP only when the user allowed unencrypted transport.
// ntlmseal builds the messages; over HTTPS the AUTHENTICATE carries the
// channel binding of the host's certificate (MsvAvChannelBindings, RFC 5929
// tls-server-end-point) and the target name (MsvAvTargetName), so a host
// with CbtHardeningLevel=Strict accepts it and a login relayed to another
// TLS server fails there (go-ntlmssp v0.1.1 sends neither).
//
// Windows authenticates the connection (docs/winrm.md §2.3): the handshake
// runs once, NEGOTIATE on an empty-bodied POST, then AUTHENTICATE carrying
// the first request; later requests on that connection go without
// Authorization. When the connection is lost between the legs the handshake
// starts again on a new one, so a dropped connection is never reported as
// refused credentials; a 401 to a complete AUTHENTICATE is the host's answer
// and is returned as it came.
type ntlmAuth struct {
	conn           http.RoundTripper // one connection to one host: a *hostConn
	user, password string
	spn            string // MsvAvTargetName, "HTTP/<host>"

	mu     sync.Mutex // serialises requests: one context, one connection
	authed bool       // the connection carries an authenticated context
}

// lostLeg is a handshake leg that never got its answer: the connection
// ended, so the context in progress is gone.
type lostLeg struct{ err error }

func (e *lostLeg) Error() string { return e.err.Error() }
func (e *lostLeg) Unwrap() error { return e.err }

// RoundTrip implements [http.RoundTripper].
func (a *ntlmAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readRequestBody(req)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.authed {
		resp, err := a.conn.RoundTrip(cloneRequest(req, body, true, ""))
		if err != nil {
			a.authed = false
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized {
			a.authed = !resp.Close
			return resp, nil
		}
		// The host no longer knows the context (its session ended):
		// authenticate again, with this request.
		drainBody(resp)
		a.authed = false
	}
	var lost *lostLeg
	for range handshakeAttempts {
		resp, err := a.handshake(req, body)
		if !errors.As(err, &lost) {
			return resp, err
		}
	}
	return nil, fmt.Errorf("NTLM handshake: connection lost %d times between the legs: %w", handshakeAttempts, lost.err)
}

// handshake runs NEGOTIATE → CHALLENGE → AUTHENTICATE on a fresh context
// and returns the answer to the request the AUTHENTICATE carried.
func (a *ntlmAuth) handshake(req *http.Request, body []byte) (*http.Response, error) {
	negotiate := ntlmseal.NegotiateMessage()
	resp, err := a.conn.RoundTrip(cloneRequest(req, nil, false, "Negotiate "+base64.StdEncoding.EncodeToString(negotiate)))
	if err != nil {
		return nil, &lostLeg{err}
	}
	drainBody(resp)
	if resp.StatusCode != http.StatusUnauthorized {
		return nil, fmt.Errorf("host answered %d to an NTLM NEGOTIATE, want 401 with a challenge%s: %w", resp.StatusCode, ntlmseal.StatusHint(resp.StatusCode, req.URL.Scheme), model.ErrProtocol)
	}
	scheme, challenge, ok := ntlmChallenge(resp.Header.Values("WWW-Authenticate"))
	if !ok {
		// A bare 401: the host does not offer NTLM to this account, or
		// refuses this transport; the caller explains the 401.
		return resp, nil
	}
	if resp.Close {
		return nil, &lostLeg{errors.New("host closed the connection after its NTLM challenge")}
	}
	bind := ntlmseal.Binding{TargetName: a.spn}
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		if bind.ChannelBindings, err = tlsbind.Hash(resp.TLS.PeerCertificates[0]); err != nil {
			return nil, fmt.Errorf("channel binding: %w", err)
		}
	}
	auth, err := ntlmseal.AuthenticateMessage(a.user, a.password, negotiate, challenge, bind)
	if err != nil {
		return nil, fmt.Errorf("NTLM challenge from the host rejected: %v: %w", err, model.ErrProtocol)
	}
	resp, err = a.conn.RoundTrip(cloneRequest(req, body, true, scheme+" "+base64.StdEncoding.EncodeToString(auth)))
	if err != nil {
		return nil, &lostLeg{err}
	}
	a.authed = resp.StatusCode != http.StatusUnauthorized && !resp.Close
	return resp, nil
}

// ntlmChallenge finds an NTLM CHALLENGE in a 401's WWW-Authenticate
// values, under Negotiate or NTLM.
func ntlmChallenge(values []string) (scheme string, token []byte, ok bool) {
	for _, v := range values {
		s, tok, found := strings.Cut(strings.TrimSpace(v), " ")
		if !found || (!strings.EqualFold(s, "Negotiate") && !strings.EqualFold(s, "NTLM")) {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(tok))
		if err != nil || len(b) == 0 {
			continue
		}
		return s, b, true
	}
	return "", nil, false
}

// maxRequest bounds a request body kept for a handshake: we send at most
// MaxEnvelopeSize.
const maxRequest = 2 * envelopeSize

// readRequestBody reads and closes req's body: a handshake may send it
// again. A request that can replay its body (GetBody, as for masterzen's
// strings) is not copied: nil, nil, and cloneRequest takes fresh bodies.
func readRequestBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.GetBody != nil {
		return nil, req.Body.Close()
	}
	defer req.Body.Close()
	b, err := readBounded(req.Body, req.ContentLength, maxRequest)
	if err == nil && len(b) > maxRequest {
		err = fmt.Errorf("larger than %d bytes", maxRequest)
	}
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return b, nil
}

// cloneRequest copies req, with its body when withBody (from body, or
// req.GetBody when body is nil) and, if authorization is not empty, that
// Authorization header; any other Authorization (masterzen's Basic) is
// dropped, never sent.
func cloneRequest(req *http.Request, body []byte, withBody bool, authorization string) *http.Request {
	r := req.Clone(req.Context())
	r.Header.Del("Authorization")
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	r.ContentLength, r.Body, r.GetBody = 0, http.NoBody, nil
	switch {
	case !withBody:
	case body == nil && req.GetBody != nil:
		if b, err := req.GetBody(); err == nil {
			r.ContentLength, r.Body = req.ContentLength, b
		}
	case len(body) > 0:
		r.ContentLength, r.Body = int64(len(body)), io.NopCloser(bytes.NewReader(body))
	}
	return r
}

func drainBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
