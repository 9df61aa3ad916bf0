package winrm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"syscall"

	"github.com/bitaudit/bitaudit/collectors/bitlocker"
	"github.com/bitaudit/bitaudit/collectors/winrm/krbseal"
	"github.com/bitaudit/bitaudit/model"
)

// An opError is one failed WS-Management exchange. Its text names the
// operation and keeps the SOAP fault text; it wraps a model sentinel (Kind)
// so callers classify it with errors.Is.
type opError struct {
	op        string // Create, Command, Receive, Signal, Delete, Send
	kind      error  // model.ErrUnreachable, ErrAuth, ErrTimeout, ErrProtocol, ErrInterrupted
	msg       string // cleaned: no secrets, no raw host output
	transient bool   // worth a retry if no command ran yet
	// pollAgain marks the OperationTimeout fault of a Receive: no output
	// yet, poll again (runShell).
	pollAgain bool
}

func (e *opError) Error() string { return "winrm " + e.op + ": " + e.msg }
func (e *opError) Unwrap() error { return e.kind }

// classifyNetErr maps an error from http.Client.Do. connected says whether
// this host answered an earlier request in the same run.
func classifyNetErr(ctx context.Context, op string, err error, connected bool) *opError {
	e := &opError{op: op}
	var (
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalid    x509.CertificateInvalidError
		verifyErr  *tls.CertificateVerificationError
		recordErr  tls.RecordHeaderError
		dnsErr     *net.DNSError
		netOpErr   *net.OpError
		timeoutErr interface{ Timeout() bool }
		krbErr     *krbseal.Failure
	)
	switch {
	case ctx.Err() != nil:
		return ctxError(ctx, op)
	case errors.As(err, &krbErr):
		// Explained already: reason and what to do.
		e.kind, e.msg = krbErr.Kind, bitlocker.Clean(krbErr.Error(), 400)
	case errors.Is(err, model.ErrAuth):
		// The sealing round tripper finished a handshake the host refused.
		e.kind, e.msg = model.ErrAuth, roundTripErr(err)+" (check the user and password)"
	case errors.Is(err, model.ErrProtocol):
		e.kind, e.msg = model.ErrProtocol, "message protection failed: "+roundTripErr(err)
	case errors.As(err, &hostErr):
		e.kind, e.msg = model.ErrProtocol, "certificate not trusted: it does not match the host name (use the name in the certificate)"
	case errors.As(err, &unknownCA), errors.As(err, &invalid), errors.As(err, &verifyErr):
		e.kind, e.msg = model.ErrProtocol, "certificate not trusted: use --ca-cert with the CA that issued the host's WinRM certificate (or --insecure-skip-verify)"
	case errors.As(err, &recordErr):
		e.kind, e.msg = model.ErrProtocol, "TLS handshake failed: the port does not speak HTTPS (try --transport http or the right --port)"
	case errors.As(err, &dnsErr):
		e.kind, e.msg = model.ErrUnreachable, "cannot resolve host name"
	case errors.Is(err, syscall.ECONNREFUSED):
		e.kind, e.msg = model.ErrUnreachable, "connection refused (is WinRM listening on this port?)"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		e.kind, e.msg = model.ErrUnreachable, "no route to host"
	case errors.As(err, &netOpErr) && netOpErr.Op == "dial":
		e.kind, e.msg = model.ErrUnreachable, "cannot connect: "+cleanNetErr(netOpErr.Err)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		// The connection dropped before an answer: a network or host
		// failure, not a garbled answer (the simulator's "reset" profile
		// expects unreachable too). A body cut off after the headers is
		// classified by the caller as a protocol error.
		e.kind, e.msg, e.transient = model.ErrUnreachable, "connection reset or closed by the host", true
	case errors.As(err, &timeoutErr) && timeoutErr.Timeout():
		e.kind, e.msg = model.ErrTimeout, "no response from the host in time"
	default:
		e.kind, e.msg = model.ErrProtocol, "request failed: "+cleanNetErr(err)
		if !connected {
			e.kind = model.ErrUnreachable
		}
	}
	return e
}

// ctxError reports the end of the caller's context: its deadline
// (ErrTimeout) or cancellation (ErrInterrupted).
func ctxError(ctx context.Context, op string) *opError {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &opError{op: op, kind: model.ErrTimeout, msg: "host deadline reached"}
	}
	return &opError{op: op, kind: model.ErrInterrupted, msg: "cancelled"}
}

// cleanNetErr keeps the innermost description of a network error, short.
func cleanNetErr(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// roundTripErr is the round tripper's own message, without the
// `Post "url":` prefix net/http adds, cleaned and short.
func roundTripErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return bitlocker.Clean(err.Error(), 200)
}
