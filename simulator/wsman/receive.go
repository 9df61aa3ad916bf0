package wsman

import (
	"bytes"
	"context"
	"encoding/base64"
	"strconv"
	"time"
)

// minEnvelope is the smallest MaxEnvelopeSize honoured (MS-WSMV requires
// at least 8192); smaller requests are served as if they asked for it.
const minEnvelope = 8192

// receive is the long-poll of docs/winrm.md §6.2: it waits for the command
// to finish for at most min(OperationTimeout, MaxTimeout), then answers the
// TimedOut fault, so a polling client never spins.
func (h *Host) receive(ctx context.Context, req *request, s *shell) reply {
	h.stats.receives.Add(1)
	id := req.Body.child(nsShell, "Receive").child(nsShell, "DesiredStream").attr("CommandId")
	c := h.lookup(s, id)
	if c == nil {
		return h.faultReply(faultCommandNotFound(id), req.MessageID)
	}
	wait := h.cfg.MaxTimeout
	if req.OperationTimeout > 0 && req.OperationTimeout < wait {
		wait = req.OperationTimeout
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-c.finished:
	case <-t.C:
		h.stats.receiveTimeouts.Add(1)
		return h.faultReply(faultTimedOut(), req.MessageID)
	case <-ctx.Done():
		return h.faultReply(faultTimedOut(), req.MessageID) // nobody reads it
	case <-h.closed:
		return h.faultReply(faultTimedOut(), req.MessageID)
	}
	limit := req.MaxEnvelopeSize
	if limit == 0 {
		limit = h.cfg.MaxEnvelopeSize
	}
	limit = max(limit, minEnvelope)
	rep := okReply(nsShell+"/ReceiveResponse", req.MessageID, h.receiveBody(c, limit))
	rep.cmd = c
	return rep
}

// envelopeSlack covers the response envelope around the rsp:ReceiveResponse
// body (header, IDs, namespaces: about 900 bytes) with margin.
const envelopeSlack = 1500

// receiveBody delivers the next part of a finished command's output as
// Windows does (testdata/windows/receiveDoneWithStreams.xml): data streams (stdout, then stderr) as far as they fit limit
// once base64-encoded, with CommandState Running while data remains; the
// response that completes the output adds empty End="true" streams and
// CommandState Done with the exit code. Only the first Done carries the
// real exit code; later ones report 0 without streams, as Windows does
// (masterzen's doneCommandExitCode0Response fixture).
func (h *Host) receiveBody(c *command, limit int) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b bytes.Buffer
	b.Grow(base64.StdEncoding.EncodedLen(len(c.out.Stdout)-c.stdoutOff+len(c.out.Stderr)-c.stderrOff) + 1024)
	b.WriteString("<rsp:ReceiveResponse>")
	if c.doneSent {
		b.WriteString(`<rsp:CommandState CommandId="` + c.id + `" State="` + stateDone +
			`"><rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>`)
		return b.Bytes()
	}
	const (
		streamTag = `<rsp:Stream Name="stdout" CommandId="00000000-0000-0000-0000-000000000000" End="true"></rsp:Stream>`
		stateTag  = `<rsp:CommandState CommandId="00000000-0000-0000-0000-000000000000" State="` + stateRunning +
			`"><rsp:ExitCode>-2147483648</rsp:ExitCode></rsp:CommandState>`
	)
	// Room for two data streams, two End markers and the state.
	budget := limit - envelopeSlack - len("<rsp:ReceiveResponse></rsp:ReceiveResponse>") - 4*len(streamTag) - len(stateTag)
	capacity := max(budget/4*3, 3)
	stream := func(name string, data []byte, off *int) {
		rest := data[*off:]
		if len(rest) == 0 || capacity == 0 {
			return
		}
		n := min(len(rest), capacity)
		*off += n
		capacity -= n
		capacity -= capacity % 3 // each chunk's base64 stays within its share
		b.WriteString(`<rsp:Stream Name="` + name + `" CommandId="` + c.id + `">`)
		b.Grow(base64.StdEncoding.EncodedLen(n))
		enc := b.AvailableBuffer()[:base64.StdEncoding.EncodedLen(n)]
		base64.StdEncoding.Encode(enc, rest[:n])
		if h.cfg.Fault == FaultGarbled && name == "stdout" {
			enc = garble(enc)
		}
		b.Write(enc)
		b.WriteString(`</rsp:Stream>`)
	}
	stream("stdout", c.out.Stdout, &c.stdoutOff)
	stream("stderr", c.out.Stderr, &c.stderrOff)
	if c.stdoutOff < len(c.out.Stdout) || c.stderrOff < len(c.out.Stderr) {
		b.WriteString(`<rsp:CommandState CommandId="` + c.id + `" State="` + stateRunning + `"></rsp:CommandState>`)
	} else {
		c.doneSent = true
		for _, name := range []string{"stdout", "stderr"} {
			b.WriteString(`<rsp:Stream Name="` + name + `" CommandId="` + c.id + `" End="true"></rsp:Stream>`)
		}
		b.WriteString(`<rsp:CommandState CommandId="` + c.id + `" State="` + stateDone + `"><rsp:ExitCode>` +
			strconv.Itoa(c.out.ExitCode) + `</rsp:ExitCode></rsp:CommandState>`)
	}
	b.WriteString("</rsp:ReceiveResponse>")
	return b.Bytes()
}

// garble corrupts base64 in the middle, where a decoder must fail: the
// client then sees the output cut short (docs/winrm.md §6.4).
// It changes enc in place.
func garble(enc []byte) []byte {
	if len(enc) < 4 {
		return append(enc[:0], '*')
	}
	enc[len(enc)/2] = '*'
	return enc
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func pad3(n int64) string {
	s := strconv.FormatInt(n, 10)
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}
