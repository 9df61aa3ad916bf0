package winrm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bitaudit/bitaudit/collectors/bitlocker"
	"github.com/bitaudit/bitaudit/model"
)

// maxResponse bounds one response body. We ask for MaxEnvelopeSize 153600
// bytes; anything far larger is not a WinRM answer.
const maxResponse = 1 << 20

// envelopeSize is the w:MaxEnvelopeSize we request (masterzen's default).
const envelopeSize = 153600

// minFaultInterval paces OperationTimeout faults that come back faster than
// a real long-poll would: masterzen re-polls immediately, so an instant
// fault would otherwise become a hot loop (winrm.md §1.5).
const minFaultInterval = time.Second

// transport runs one Collect attempt's WS-Management exchanges: each
// request is one of masterzen's (requestTemplates), every request carries
// ctx, and every response is checked and parsed here. run guards the state Collect reads
// while the exchanges go on.
type transport struct {
	ctx    context.Context
	client *http.Client
	url    string
	// req are the requests masterzen built for the Collector; vals are
	// the values that fill them in for this attempt: the a:To address (as
	// masterzen's Client would give it), then the shell and command.
	req  *requestTemplates
	vals [slotCount]string
	// basic says the host's scheme is Basic: only then do requests carry
	// the password (the other schemes' round trippers authenticate the
	// connection themselves).
	basic    bool
	user     string
	password model.Secret
	hint401  string
	maxOut   int64
	log      *slog.Logger
	run      *runState
}

// runState is what one attempt learned, shared by masterzen's goroutines.
type runState struct {
	mu          sync.Mutex
	connected   bool  // the host answered at least one request
	commandSent bool  // a Command was sent: the script may be running
	receives    int   // Receive requests sent
	out         int64 // output bytes received so far
	firstErr    error // first failure of Create, Command or Receive
	// stdout and stderr are the command's output streams as received.
	stdout, stderr []byte
}

// addOutput appends one Receive's streams.
func (r *runState) addOutput(resp *response) {
	r.stdout = appendOwned(r.stdout, resp.stdout)
	r.stderr = appendOwned(r.stderr, resp.stderr)
}

// appendOwned appends b to dst, taking b itself when dst is empty (b is
// the caller's to keep): most commands answer in one Receive.
func appendOwned(dst, b []byte) []byte {
	if len(dst) == 0 {
		return b
	}
	return append(dst, b...)
}

func (r *runState) fail(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	return err
}

// send sends one request, op naming it (Create, Command, Receive, Signal,
// Delete), and returns the host's validated answer. Failures of the
// exchanges the result depends on (Create, Command, Receive) are recorded
// as the run's error; after ctx ended, Signal and Delete are still sent
// (cleanup) and their answers ignored.
func (t *transport) send(op, body string) (*response, error) {
	critical := op == "Create" || op == "Command" || op == "Receive"
	if t.ctx.Err() != nil {
		err := ctxError(t.ctx, op)
		if critical {
			return nil, t.run.fail(err)
		}
		if op == "Signal" || op == "Delete" {
			t.cleanup(op, body)
		}
		return nil, err
	}
	t.run.mu.Lock()
	switch op {
	case "Command":
		t.run.commandSent = true
	case "Receive":
		t.run.receives++
	}
	t.run.mu.Unlock()
	resp, err := t.post(op, body)
	if err == nil {
		return resp, nil
	}
	var oe *opError
	if errors.As(err, &oe) && oe.pollAgain {
		return nil, err // no output yet: runShell polls again
	}
	if critical {
		t.run.fail(err)
	}
	t.log.Debug("winrm request failed", "op", op, "err", err)
	return nil, err
}

// keepRedirect is the WinRM HTTP client's CheckRedirect: a redirect is
// never followed (credentials and the script would go to whatever host it
// names); the 3xx answer comes back to check, which refuses it by name.
func keepRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// redirectTarget names where a 3xx answer points, for the error.
func redirectTarget(resp *http.Response) string {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "(no Location header)"
	}
	if resp.Request != nil && resp.Request.URL != nil {
		if u, err := resp.Request.URL.Parse(loc); err == nil {
			return u.Redacted()
		}
	}
	return strconv.Quote(loc)
}

// cleanupTimeout bounds a Signal or Delete sent after the run's context
// ended.
const cleanupTimeout = 5 * time.Second

// cleanup still sends Signal (terminate) and Delete after the run's context
// ended, so a hung command is stopped and its shell freed on the host rather
// than held until the idle timeout (2 hours by default) against the user's
// MaxShellsPerUser quota. It runs in masterzen's goroutines after Collect
// has returned, each request bounded by cleanupTimeout; the answer is
// ignored.
func (t *transport) cleanup(op, body string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), cleanupTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, strings.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	t.setBasicAuth(req)
	resp, err := t.client.Do(req)
	if err != nil {
		t.log.Debug("winrm cleanup failed", "op", op, "err", cleanNetErr(err))
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
}

func (t *transport) setBasicAuth(req *http.Request) {
	if t.basic {
		req.SetBasicAuth(t.user, t.password.Reveal())
	}
}

func (t *transport) pause(d time.Duration) {
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-t.ctx.Done():
	}
}

func (t *transport) post(op, body string) (*response, error) {
	req, err := http.NewRequestWithContext(t.ctx, http.MethodPost, t.url, strings.NewReader(body))
	if err != nil {
		return nil, &opError{op: op, kind: model.ErrProtocol, msg: "bad request URL"}
	}
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	t.setBasicAuth(req)

	t.run.mu.Lock()
	connected := t.run.connected
	t.run.mu.Unlock()
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, classifyNetErr(t.ctx, op, err, connected)
	}
	defer resp.Body.Close()
	data, err := readBody(resp, maxResponse)
	if err != nil {
		if t.ctx.Err() != nil {
			return nil, ctxError(t.ctx, op)
		}
		return nil, &opError{op: op, kind: model.ErrProtocol, msg: "response cut off: " + cleanNetErr(err)}
	}
	t.run.mu.Lock()
	t.run.connected = true
	t.run.mu.Unlock()
	if len(data) > maxResponse {
		return nil, &opError{op: op, kind: model.ErrProtocol, msg: fmt.Sprintf("response larger than %d bytes", maxResponse)}
	}
	return t.check(op, resp, data)
}

// check turns an HTTP response into the host's answer to op, or an error.
func (t *transport) check(op string, resp *http.Response, data []byte) (*response, error) {
	e := &opError{op: op, kind: model.ErrProtocol}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		e.kind, e.msg = model.ErrAuth, "HTTP 401 Unauthorized: "+t.hint401
		return nil, e
	case http.StatusServiceUnavailable:
		e.kind, e.msg, e.transient = model.ErrUnreachable, "HTTP 503 Service Unavailable (WinRM busy or stopping)", true
		return nil, e
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		e.msg = fmt.Sprintf("HTTP %d redirect to %s refused: a WinRM listener never redirects, and bitaudit never sends credentials or commands elsewhere",
			resp.StatusCode, redirectTarget(resp))
		return nil, e
	}
	soapType := strings.Contains(resp.Header.Get("Content-Type"), "application/soap+xml")
	var r *response
	var perr error
	if soapType {
		r, perr = parseResponse(data)
	}
	if r != nil && r.fault != nil {
		f := r.fault
		if f.wsmanCode == faultCodeOperationTimeout && op == "Receive" {
			// No output within OperationTimeout: poll again.
			e.msg, e.pollAgain = "OperationTimeout fault ("+faultCodeOperationTimeout+"), polling again", true
			return nil, e
		}
		e.msg = fmt.Sprintf("HTTP %d SOAP fault %s", resp.StatusCode, faultText(f))
		if f.wsmanCode == "2147942405" { // E_ACCESSDENIED: the account lacks rights
			e.kind = model.ErrAuth
		}
		return nil, e
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		e.msg = "HTTP " + strconv.Itoa(resp.StatusCode)
		if !soapType {
			e.msg += " with a non-SOAP body (" + bitlocker.Clean(resp.Header.Get("Content-Type"), 60) + "): the WinRM service, or a proxy in front of it, failed"
		}
		return nil, e
	case !soapType:
		e.msg = "HTTP 200 without a SOAP body (" + bitlocker.Clean(resp.Header.Get("Content-Type"), 60) + ")"
		return nil, e
	case perr != nil:
		e.msg = "invalid SOAP response: " + perr.Error()
		return nil, e
	}
	switch op {
	case "Create":
		if r.shellID == "" {
			e.msg = "Create response without a ShellId"
			return nil, e
		}
		if err := checkID("ShellId", r.shellID); err != nil {
			e.msg = "Create response with a " + err.Error()
			return nil, e
		}
	case "Command":
		if r.cmdID == "" {
			e.msg = "Command response without a CommandId"
			return nil, e
		}
		if err := checkID("CommandId", r.cmdID); err != nil {
			e.msg = "Command response with a " + err.Error()
			return nil, e
		}
	case "Receive":
		t.run.mu.Lock()
		t.run.out += r.streamed
		over := t.run.out > t.maxOut
		if !over {
			t.run.addOutput(r)
		}
		t.run.mu.Unlock()
		if over {
			e.msg = fmt.Sprintf("output larger than %d bytes", t.maxOut)
			return nil, e
		}
	}
	return r, nil
}

// faultText renders a fault for an error message: cleaned and bounded.
func faultText(f *soapFault) string {
	return bitlocker.Clean(f.String(), 400)
}
