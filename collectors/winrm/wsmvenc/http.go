package wsmvenc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/bitaudit/bitaudit/model"
)

// MaxBody bounds a sealed response body read into memory (WinRM's default
// MaxEnvelopeSizekb is 500; this leaves room for large outputs).
const MaxBody = 64 << 20

// SealedRequest returns a copy of orig (method, URL, headers minus
// credentials) whose body is soap sealed by s and framed.
func SealedRequest(ctx context.Context, orig *http.Request, s Sealer, soap []byte) (*http.Request, error) {
	body, err := Frame(s, soap)
	if err != nil {
		return nil, fmt.Errorf("seal message: %w", err)
	}
	req, err := NewRequest(ctx, orig, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ContentType)
	return req, nil
}

// NewRequest copies orig's method, URL and headers, minus credentials and
// body headers, with body.
func NewRequest(ctx context.Context, orig *http.Request, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, orig.Method, orig.URL.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header = orig.Header.Clone()
	req.Header.Del("Authorization")
	req.Header.Del("Content-Type")
	req.Header.Del("Content-Length")
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body = http.NoBody
	}
	return req, nil
}

// UnsealResponse verifies and decrypts an encrypted response and returns it
// with the plain SOAP body. A SOAP body that arrives unsealed on a sealed
// session is refused: accepting it would let anyone on the path answer for
// the host. Other unsealed bodies (an HTTP.sys error page) are returned as
// they came, for the caller to report. On error the body is closed.
func UnsealResponse(resp *http.Response, u Unsealer) (*http.Response, error) {
	ct := resp.Header.Get("Content-Type")
	if !IsEncrypted(ct) {
		if strings.Contains(strings.ToLower(ct), "soap+xml") {
			Drain(resp)
			return nil, fmt.Errorf("host answered %d with an unsealed SOAP body: %w", resp.StatusCode, model.ErrProtocol)
		}
		return resp, nil
	}
	body, err := readAll(resp.Body, resp.ContentLength)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read sealed response: %w", err)
	}
	plain, err := Unframe(u, body)
	if err != nil {
		return nil, fmt.Errorf("unseal response: %w: %w", model.ErrProtocol, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(plain))
	resp.ContentLength = int64(len(plain))
	resp.Header = resp.Header.Clone()
	resp.Header.Set("Content-Type", OriginalType)
	resp.Header.Set("Content-Length", strconv.Itoa(len(plain)))
	resp.Header.Del("Content-Encoding")
	return resp, nil
}

// readAll reads r, at most MaxBody bytes, into a buffer of the announced
// size (-1: unknown) rather than one grown as it goes.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size < 0 || size > MaxBody {
		return io.ReadAll(io.LimitReader(r, MaxBody))
	}
	b := bytes.NewBuffer(make([]byte, 0, size+1)) // +1: ReadFrom sees EOF without growing
	_, err := b.ReadFrom(io.LimitReader(r, MaxBody))
	return b.Bytes(), err
}

// Drain reads and closes a body so the connection, and with it the
// security context, can be reused.
func Drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
	resp.Body.Close()
}
