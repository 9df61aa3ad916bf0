package winrm

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// maxWireBody bounds one response body as it comes off the wire: a sealed
// answer is a little larger than the SOAP inside (maxResponse), which
// [transport.check] bounds again.
const maxWireBody = 2*maxResponse + 64<<10

// A hostConn is the one connection a Collect attempt keeps to its host, as
// an [http.RoundTripper]: every request of the attempt goes over it, one at
// a time. Windows binds NTLM, Negotiate and Kerberos authentication to the
// TCP connection (HTTP.sys connection-based authentication; docs/winrm.md
// §2.3), so the security context layered on top (ntlmAuth, ntlmseal, and
// any later one) lives exactly as long as this connection and is never
// handed to another host's request, as a shared pool does once more hosts
// are in flight than it keeps idle connections.
//
// It never moves a request to a new connection silently: it dials only when
// no connection is open, which is before the first request and after one
// ended with an error or "Connection: close". A layer that runs a handshake
// sees either every leg on one connection or an error (or a response with
// Close set), and restarts the handshake.
//
// Responses come back with their body read (bounded), so the connection is
// free for the next request as soon as RoundTrip returns.
type hostConn struct {
	addr    string      // host:port
	tls     *tls.Config // nil for plain HTTP; ServerName set
	dialer  *net.Dialer
	timeout time.Duration // bound on one request's write and response

	mu    sync.Mutex // one request at a time
	conn  net.Conn
	state *tls.ConnectionState // of conn, when TLS; shared by its responses
	br    *bufio.Reader
	// dials counts connections opened, for tests and logs.
	dials int
}

// writers hold a request while it is written: one write (one TLS record)
// for a whole SOAP message, and no buffer kept by an idle connection.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

// A wireBody is a response body read off the wire, whose bytes the
// transport takes without copying them again.
type wireBody struct {
	*bytes.Reader
	b []byte
}

func (wireBody) Close() error { return nil }

func newHostConn(addr string, tlsConf *tls.Config, dialer *net.Dialer, timeout time.Duration) *hostConn {
	return &hostConn{addr: addr, tls: tlsConf, dialer: dialer, timeout: timeout}
}

// RoundTrip implements [http.RoundTripper].
func (c *hostConn) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		closeBody(req)
		return nil, err
	}
	if c.conn == nil {
		if err := c.dial(ctx); err != nil {
			closeBody(req)
			return nil, err
		}
	}
	resp, reusable, err := c.exchange(ctx, req)
	if err != nil || !reusable || resp.Close || req.Close {
		c.closeLocked()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, err
	}
	return resp, nil
}

// exchange writes req and reads the whole response, bounded by the
// request's context and c.timeout. reusable is false when the connection
// cannot carry another request.
func (c *hostConn) exchange(ctx context.Context, req *http.Request) (_ *http.Response, reusable bool, err error) {
	conn := c.conn
	if err := conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		closeBody(req)
		return nil, false, err
	}
	// The context's end (deadline or cancellation) interrupts a blocked
	// read or write at once; the caller then sees ctx's error. Once it
	// fired the connection's deadline is spent.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			reusable = false
		}
	}()

	bw := writers.Get().(*bufio.Writer)
	bw.Reset(conn)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	writers.Put(bw)
	if err != nil {
		return nil, false, err
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		return nil, false, err
	}
	body, err := readBounded(resp.Body, resp.ContentLength, maxWireBody)
	resp.Body.Close()
	if err != nil {
		// The headers came: the caller reads the body and sees it cut
		// off, as from net/http. The connection is unusable.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		return resp, false, nil
	}
	if len(body) > maxWireBody {
		return nil, false, fmt.Errorf("response body larger than %d bytes", maxWireBody)
	}
	resp.Body = wireBody{bytes.NewReader(body), body}
	resp.ContentLength = int64(len(body))
	// As net/http does: the layers above bind logins to the server's
	// certificate (channel binding).
	resp.TLS = c.state
	return resp, true, nil
}

func (c *hostConn) dial(ctx context.Context) error {
	raw, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	conn := raw
	if c.tls != nil {
		tc := tls.Client(raw, c.tls)
		hctx, cancel := context.WithTimeout(ctx, c.dialer.Timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			raw.Close()
			return err
		}
		conn = tc
		st := tc.ConnectionState()
		c.state = &st
	}
	c.conn, c.dials = conn, c.dials+1
	c.br = bufio.NewReaderSize(conn, 4<<10)
	return nil
}

// Close closes the connection, if one is open. A later request dials again.
func (c *hostConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked()
	return nil
}

func (c *hostConn) closeLocked() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn, c.state, c.br = nil, nil, nil
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// readBody reads resp's body as readBounded does, taking the bytes of a
// body hostConn read without copying them.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if wb, ok := resp.Body.(wireBody); ok && wb.Len() == len(wb.b) {
		if int64(len(wb.b)) > limit {
			return wb.b[:limit+1], nil
		}
		return wb.b, nil
	}
	return readBounded(resp.Body, resp.ContentLength, limit)
}

// readBounded reads r to its end, at most limit+1 bytes: a caller checks
// len > limit. size is the length announced (-1: unknown); a buffer of that
// size is read into at once instead of grown.
func readBounded(r io.Reader, size, limit int64) ([]byte, error) {
	if size < 0 || size > limit {
		return io.ReadAll(io.LimitReader(r, limit+1))
	}
	b := make([]byte, size)
	n, err := io.ReadFull(r, b)
	if err == nil {
		// More than announced is a broken framing the reader reports.
		var one [1]byte
		if m, _ := r.Read(one[:]); m > 0 {
			return append(b, one[0]), nil
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) && size > 0 {
		err = io.ErrUnexpectedEOF
	}
	return b[:n], err
}
