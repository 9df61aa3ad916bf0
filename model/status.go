package model

import (
	"errors"
	"fmt"
)

// Errors returned by collectors and escrow checkers can be tested against
// these sentinels with [errors.Is]; audit classifies a host by them.
var (
	// ErrUnreachable means nothing answered: refused, reset, DNS or routing failure.
	ErrUnreachable = errors.New("host unreachable")
	// ErrAuth means the host answered but refused the credentials or the
	// authentication scheme (including unencrypted messages it will not accept).
	ErrAuth = errors.New("authentication failed")
	// ErrTimeout means the per-host deadline ended the work.
	ErrTimeout = errors.New("timed out")
	// ErrProtocol means the host answered something that is not a valid
	// WS-Management exchange or not a complete, well-formed collection output.
	ErrProtocol = errors.New("protocol error")
	// ErrNoData means the host has no BitLocker-capable volume; not a failure.
	ErrNoData = errors.New("no BitLocker data")
	// ErrInterrupted means the run was stopped before or while the host was audited.
	ErrInterrupted = errors.New("interrupted")
)

// Status is the outcome of auditing one host.
type Status string

// The host statuses. Every target in a result has exactly one.
const (
	StatusCompliant     Status = "compliant"
	StatusNoncompliant  Status = "noncompliant"
	StatusUnreachable   Status = "unreachable"
	StatusAuthFailed    Status = "auth_failed"
	StatusTimeout       Status = "timeout"
	StatusProtocolError Status = "protocol_error"
	StatusInterrupted   Status = "interrupted"
)

// Statuses lists every host status in report order.
var Statuses = []Status{
	StatusCompliant, StatusNoncompliant, StatusUnreachable, StatusAuthFailed,
	StatusTimeout, StatusProtocolError, StatusInterrupted,
}

// Audited reports whether facts were collected and evaluated for the host.
func (s Status) Audited() bool {
	return s == StatusCompliant || s == StatusNoncompliant
}

// StatusForError maps a collection error to the host status it implies.
// Errors that match no sentinel are protocol errors: the host answered
// something we could not use.
func StatusForError(err error) Status {
	switch {
	case err == nil:
		return StatusCompliant
	case errors.Is(err, ErrInterrupted):
		return StatusInterrupted
	case errors.Is(err, ErrTimeout):
		return StatusTimeout
	case errors.Is(err, ErrAuth):
		return StatusAuthFailed
	case errors.Is(err, ErrUnreachable):
		return StatusUnreachable
	default:
		return StatusProtocolError
	}
}

// ParseStatus parses a status name.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown host status %q", s)
}
