package wsman

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"
)

// inject applies the host's transport-level fault to the first output
// Receive reply of a command and reports whether it took over the answer.
func (h *Host) inject(w http.ResponseWriter, r *http.Request, rep reply) bool {
	select {
	case <-rep.cmd.finished:
		if rep.cmd.out.Drop {
			reset(w)
			return true
		}
	default:
	}
	switch h.cfg.Fault {
	case FaultReset, FaultStall, FaultTruncated:
	default:
		return false
	}
	c := rep.cmd
	c.mu.Lock()
	first := !c.injected
	c.injected = true
	c.mu.Unlock()
	if !first {
		return false
	}
	writeDeadline(w)
	switch h.cfg.Fault {
	case FaultReset:
		reset(w)
	case FaultStall:
		h.stall(w, r, rep.body)
	case FaultTruncated:
		cut := rep.body[:len(rep.body)/2]
		w.Header().Set("Content-Type", contentTypeSOAP)
		w.Header().Set("Content-Length", fmt.Sprint(len(cut)))
		w.WriteHeader(rep.status)
		_, _ = w.Write(cut)
	}
	return true
}

// reset aborts the connection with a TCP RST: the client reads
// "connection reset by peer".
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

// stall sends the headers and part of the body, then holds the response
// until the client goes away, the host closes, or stallLimit passes.
func (h *Host) stall(w http.ResponseWriter, r *http.Request, body []byte) {
	w.Header().Set("Content-Type", contentTypeSOAP)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:len(body)/2])
	_ = http.NewResponseController(w).Flush()
	t := time.NewTimer(stallLimit)
	defer t.Stop()
	select {
	case <-r.Context().Done():
	case <-h.closed:
	case <-t.C:
	}
	// Returning with the body short of Content-Length makes net/http close
	// the connection, so the client sees an unexpected EOF.
}
