// Package krbseal authenticates WinRM requests with Kerberos and, over
// plain HTTP, seals them as Windows requires by default
// (AllowUnencrypted=false).
//
// # Protocol
//
// Per TCP connection the client establishes one GSS-API Kerberos context
// (RFC 4121) inside SPNEGO (RFC 4559, MS-WSMV 2.2.9.1): it sends an AP-REQ
// with mutual authentication required, verifies the host's AP-REP (which
// proves the host holds the service key) and adopts the host's subkey and
// initial sequence number. Over HTTP every SOAP request is then sealed as
// an RFC 4121 Wrap token (EC=0, RRC 16+checksum, per-direction sequence
// numbers, kerberos.md §2.5) in the MS-WSMV encrypted framing of package
// wsmvenc, and every response verified and unsealed. Over HTTPS the same
// login authenticates the connection and TLS protects the messages.
//
// gokrb5 provides the login, tickets and RFC 3961 cryptography; it has no
// AP-REP handling and no sealing, which are written here. Only the AES
// encryption types are supported.
package krbseal

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bitaudit/bitaudit/collectors/winrm/tlsbind"
	"github.com/bitaudit/bitaudit/collectors/winrm/wsmvenc"
	"github.com/bitaudit/bitaudit/model"
)

// NewRoundTripper returns a RoundTripper that authenticates to the host
// whose service principal is spn (e.g. "HTTP/win1.corp.example.test") with
// login's credentials. With seal it seals every request body and unseals
// every response (plain HTTP); without, it authenticates the connection
// and leaves protection to TLS. Any Authorization header of the request
// (masterzen/winrm sets Basic) is dropped, never sent.
//
// A context belongs to one TCP connection: requests are serialised, and
// base should keep one persistent connection to the host. A nil base gets a
// dedicated [http.Transport] with MaxConnsPerHost 1. If the connection is
// replaced and the host answers 401, the client re-authenticates once and
// resends.
func NewRoundTripper(base http.RoundTripper, login *Login, spn string, seal bool) http.RoundTripper {
	if base == nil {
		base = &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, IdleConnTimeout: 90 * time.Second}
	}
	return &roundTripper{base: base, login: login, spn: spn, seal: seal}
}

type roundTripper struct {
	base  http.RoundTripper
	login *Login
	spn   string
	seal  bool

	mu     sync.Mutex // serialises requests: one context, one connection
	sess   *Session   // nil until authenticated (sealing)
	authed bool       // the connection is authenticated (TLS, no sealing)
}

// RoundTrip implements [http.RoundTripper].
func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	var soap []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
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
		resp, err := t.once(ctx, req, soap)
		if err != nil {
			t.sess, t.authed = nil, false
			return nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized {
			wsmvenc.Drain(resp)
			t.sess, t.authed = nil, false
			if attempt == 0 {
				// The context is gone (new connection, the host timed the
				// session out): authenticate again and resend once.
				continue
			}
			return nil, fmt.Errorf("host refused the message after re-authentication: %w", model.ErrAuth)
		}
		if !t.seal {
			return resp, nil
		}
		resp, err = wsmvenc.UnsealResponse(resp, t.sess)
		if err != nil {
			t.sess = nil
		}
		return resp, err
	}
}

// once sends one request on the current context, establishing it first.
func (t *roundTripper) once(ctx context.Context, orig *http.Request, soap []byte) (*http.Response, error) {
	if !t.seal {
		if t.authed {
			req, err := wsmvenc.NewRequest(ctx, orig, soap)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", wsmvenc.OriginalType)
			return t.base.RoundTrip(req)
		}
		// Over TLS the first SOAP request carries the AP-REQ, as pywinrm
		// sends it; its answer carries the AP-REP. The AP-REQ is bound to
		// the host's certificate (channel binding), learnt from a first
		// unauthenticated request on the same connection, so a host with
		// CbtHardeningLevel=Strict accepts it (kerberos.md §2.5 #7).
		bind, err := t.channelBindings(ctx, orig)
		if err != nil {
			return nil, err
		}
		resp, _, err := t.authenticate(ctx, orig, soap, bind)
		if err == nil {
			t.authed = true
		}
		return resp, err
	}
	if t.sess == nil {
		// pywinrm's setup_encryption: an empty authenticated POST before
		// the first encrypted message (kerberos.md §2.1).
		resp, sess, err := t.authenticate(ctx, orig, nil, nil)
		if err != nil {
			return nil, err
		}
		wsmvenc.Drain(resp)
		if resp.StatusCode/100 != 2 {
			return nil, fmt.Errorf("kerberos: host answered the authentication with HTTP %d: %w", resp.StatusCode, model.ErrProtocol)
		}
		t.sess = sess
	}
	req, err := wsmvenc.SealedRequest(ctx, orig, t.sess, soap)
	if err != nil {
		return nil, err
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("send sealed message: %w", err)
	}
	return resp, nil
}

// authenticate posts body with a fresh AP-REQ and verifies the AP-REP of
// the answer. A 401 is an authentication failure, explained by the
// KRB-ERROR the host may include.
func (t *roundTripper) authenticate(ctx context.Context, orig *http.Request, body, bindings []byte) (*http.Response, *Session, error) {
	tkt, key, err := t.login.ServiceTicket(ctx, t.spn)
	if err != nil {
		return nil, nil, err
	}
	cred := t.login.cl.Credentials
	in, token, err := newInitiator(cred.Domain(), cred.CName(), tkt, key, bindings)
	if err != nil {
		return nil, nil, Explain(err, t.spn)
	}
	req, err := wsmvenc.NewRequest(ctx, orig, body)
	if err != nil {
		return nil, nil, err
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", wsmvenc.OriginalType)
	}
	req.Header.Set("Authorization", "Negotiate "+base64.StdEncoding.EncodeToString(token))
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, nil, fmt.Errorf("kerberos authentication: %w", err)
	}
	answer, found, derr := authToken(resp.Header.Values("WWW-Authenticate"))
	if resp.StatusCode == http.StatusUnauthorized {
		wsmvenc.Drain(resp)
		if found && derr == nil {
			if _, err := in.verifyAPRep(answer); err != nil {
				return nil, nil, Explain(err, t.spn)
			}
		}
		return nil, nil, Explain(fmt.Errorf("host refused the Kerberos ticket for %s (HTTP 401): %w", t.spn, model.ErrAuth), t.spn)
	}
	if !found || derr != nil {
		wsmvenc.Drain(resp)
		why := "no AP-REP in the answer"
		if derr != nil {
			why = derr.Error()
		}
		return nil, nil, Explain(fmt.Errorf("%w: HTTP %d, %s", ErrMutual, resp.StatusCode, why), t.spn)
	}
	sess, err := in.verifyAPRep(answer)
	if err != nil {
		wsmvenc.Drain(resp)
		return nil, nil, Explain(err, t.spn)
	}
	return resp, sess, nil
}

// channelBindings returns the channel-binding hash of the TLS connection
// under orig (nil for plain HTTP): an empty POST without credentials,
// which the host answers 401, shows its certificate.
func (t *roundTripper) channelBindings(ctx context.Context, orig *http.Request) ([]byte, error) {
	if orig.URL.Scheme != "https" {
		return nil, nil
	}
	req, err := wsmvenc.NewRequest(ctx, orig, nil)
	if err != nil {
		return nil, err
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("kerberos: reach the host: %w", err)
	}
	wsmvenc.Drain(resp)
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return nil, nil
	}
	return tlsbind.Hash(resp.TLS.PeerCertificates[0])
}

// authToken finds the Negotiate (or Kerberos) token of WWW-Authenticate
// headers; found is false when there is none.
func authToken(values []string) (tok []byte, found bool, err error) {
	for _, v := range values {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "Negotiate") && !strings.EqualFold(scheme, "Kerberos") {
			continue
		}
		rest = strings.TrimSpace(rest)
		if rest == "" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, true, fmt.Errorf("undecodable %s token: %w", scheme, err)
		}
		return b, true, nil
	}
	return nil, false, nil
}
