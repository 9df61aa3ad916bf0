package main

import (
	"errors"
	"fmt"
)

// Exit statuses, documented under EXIT STATUS in --help (design.md, CLI contract).
const (
	exitOK          = 0   // every target audited, nothing at or above --fail-on
	exitFindings    = 1   // findings at or above --fail-on
	exitUsage       = 2   // usage or input error; no host contacted
	exitIncomplete  = 3   // some targets not audited, no findings at or above --fail-on
	exitFatal       = 4   // fatal runtime error
	exitInterrupted = 130 // interrupted by SIGINT/SIGTERM (partial results written)
)

const exitStatusHelp = `EXIT STATUS
  0    every target audited and no finding at or above --fail-on
  1    findings at or above --fail-on (default high)
  2    usage or input error (bad flags, targets file, policy, an --out that cannot be
       written or holds another run without --force); no host contacted
  3    incomplete: some targets could not be audited, no findings at or above --fail-on
  4    fatal runtime error (e.g. the results could not be written at the end: result.json
       is then saved to a fallback file, whose name is printed)
  130  interrupted (SIGINT/SIGTERM); partial results were written
`

const reportExitStatusHelp = `EXIT STATUS
  0    the reports were written
  2    usage or input error (bad flags, an unreadable or invalid --in, an --out that
       cannot be written or holds another run without --force)
  4    the reports could not be written (result.json is then saved to a fallback file)
`

// An exitError carries an exit status to run; its message, if any, is printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageErrorf reports bad input: exit status 2.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

// exitCode maps an error returned by a command to the process exit status.
// This is the one place exit statuses are chosen.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	if e, ok := errors.AsType[*exitError](err); ok {
		return e.code
	}
	return exitFatal
}
