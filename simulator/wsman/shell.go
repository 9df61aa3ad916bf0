package wsman

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"
)

// A shell is one remote shell (rsp:Shell) and its commands.
type shell struct {
	id, owner, clientIP string
	codepage            int

	// Guarded by Host.mu.
	lastUsed time.Time
	inFlight int // requests being served; an active shell never expires
	ops      int // operations counted against MaxConcurrentOperationsPerUser
	commands map[string]*command
}

// cancelAll stops every command of the shell. Host.mu must be held.
func (s *shell) cancelAll() {
	for _, c := range s.commands {
		c.cancel()
	}
}

// A command is one rsp:Command running in a shell.
type command struct {
	id       string
	cancel   context.CancelFunc
	finished chan struct{} // closed when the Runner returned; out is then set
	out      Output

	mu        sync.Mutex // guards what Receive has delivered
	stdoutOff int
	stderrOff int
	doneSent  bool
	injected  bool // the fault profile has been applied
}

// A peer is the authenticated client of a request.
type peer struct {
	user    string // user name, without a DOMAIN\ prefix
	ip      string // client address
	address string // the URL the client addressed
}

// handle dispatches one authenticated SOAP request on a:Action.
func (h *Host) handle(ctx context.Context, body []byte, p peer) reply {
	user := p.user
	req, err := parseRequest(body)
	if err != nil {
		return h.faultReply(faultInvalidXML(), "")
	}
	if req.MaxEnvelopeSize > h.cfg.MaxEnvelopeSize {
		return h.faultReply(faultEnvelopeTooLarge(), req.MessageID)
	}
	if req.ResourceURI != "" && req.ResourceURI != resourceCmd {
		return h.faultReply(faultDestinationUnreachable(), req.MessageID)
	}
	switch req.Action {
	case actionCreate:
		return h.create(req, p)
	case actionCommand, actionSend, actionReceive, actionSignal, actionDelete:
	default:
		return h.faultReply(faultActionNotSupported(), req.MessageID)
	}
	id, ok := req.Selectors["ShellId"]
	if !ok {
		return h.faultReply(faultMissingShellID(), req.MessageID)
	}
	h.mu.Lock()
	s := h.shells[id]
	if s == nil || !strings.EqualFold(s.owner, user) {
		h.mu.Unlock()
		return h.faultReply(faultShellNotFound(id), req.MessageID)
	}
	// MS-WSMV <118>: Command, Receive and Signal count against
	// MaxConcurrentOperationsPerUser and are only released when the shell
	// is deleted (Signal terminate does not decrement).
	if req.Action != actionDelete && req.Action != actionSend {
		if h.userOps(user) >= h.cfg.MaxConcurrentOperationsPerUser {
			h.mu.Unlock()
			return h.faultReply(faultMaxOperations(h.cfg.MaxConcurrentOperationsPerUser), req.MessageID)
		}
		s.ops++
	}
	s.inFlight++
	s.lastUsed = time.Now()
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		s.inFlight--
		s.lastUsed = time.Now()
		h.mu.Unlock()
	}()

	switch req.Action {
	case actionCommand:
		return h.command(req, s, user)
	case actionSend:
		return h.send(req, s)
	case actionReceive:
		return h.receive(ctx, req, s)
	case actionSignal:
		return h.signal(req, s)
	default:
		return h.delete(req, s)
	}
}

// userOps returns the operations counted for user. Host.mu must be held.
func (h *Host) userOps(user string) int {
	n := 0
	for _, s := range h.shells {
		if strings.EqualFold(s.owner, user) {
			n += s.ops
		}
	}
	return n
}

func (h *Host) faultReply(f fault, relatesTo string) reply {
	h.stats.faults.Add(1)
	return reply{status: http.StatusInternalServerError, body: f.render(h.cfg.ComputerName, relatesTo)}
}

func (h *Host) create(req *request, p peer) reply {
	user := p.user
	cp := 65001
	if v, ok := req.Options["WINRS_CODEPAGE"]; ok {
		switch strings.TrimSpace(v) {
		case "65001":
		case "437":
			cp = 437
		default:
			return h.faultReply(faultCodePage(), req.MessageID)
		}
	}
	// WINRS_NOPROFILE is accepted either way: there is no profile to load.
	if h.cfg.Fault == FaultQuota {
		return h.faultReply(faultMaxShells(h.cfg.MaxShellsPerUser), req.MessageID)
	}
	now := time.Now()
	s := &shell{id: newGUID(), owner: user, clientIP: p.ip, codepage: cp, lastUsed: now, commands: map[string]*command{}}
	h.mu.Lock()
	n := 0
	for _, o := range h.shells {
		if strings.EqualFold(o.owner, user) {
			n++
		}
	}
	if n >= h.cfg.MaxShellsPerUser {
		h.mu.Unlock()
		return h.faultReply(faultMaxShells(h.cfg.MaxShellsPerUser), req.MessageID)
	}
	h.shells[s.id] = s
	if !h.sweeping {
		h.sweeping = true
		go h.sweep()
	}
	h.mu.Unlock()
	h.stats.shells.Add(1)

	var b bytes.Buffer
	b.WriteString("<x:ResourceCreated><a:Address>")
	escape(&b, p.address)
	b.WriteString("</a:Address><a:ReferenceParameters><w:ResourceURI>" + resourceCmd +
		"</w:ResourceURI><w:SelectorSet><w:Selector Name=\"ShellId\">" + s.id +
		"</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>")
	b.WriteString(`<rsp:Shell xmlns:rsp="` + nsShell + `"><rsp:ShellId>` + s.id + "</rsp:ShellId><rsp:ResourceUri>" +
		resourceCmd + "</rsp:ResourceUri><rsp:Owner>")
	escape(&b, user)
	b.WriteString("</rsp:Owner><rsp:ClientIP>")
	escape(&b, p.ip)
	b.WriteString("</rsp:ClientIP><rsp:IdleTimeOut>")
	b.WriteString(formatSeconds(h.cfg.IdleTimeout))
	b.WriteString("</rsp:IdleTimeOut><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>")
	b.WriteString("<rsp:ShellRunTime>" + formatDuration(0) + "</rsp:ShellRunTime><rsp:ShellInactivity>" +
		formatDuration(0) + "</rsp:ShellInactivity></rsp:Shell>")
	return okReply(nsTransfer+"/CreateResponse", req.MessageID, b.Bytes())
}

// formatSeconds renders d as Windows renders IdleTimeOut: PT7200.000S.
func formatSeconds(d time.Duration) string {
	ms := d.Milliseconds()
	return "PT" + itoa(ms/1000) + "." + pad3(ms%1000) + "S"
}

func (h *Host) command(req *request, s *shell, user string) reply {
	cl := req.Body.child(nsShell, "CommandLine")
	line := cl.child(nsShell, "Command").value()
	for _, a := range cl.all(nsShell, "Arguments") {
		line += " " + a.value()
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &command{id: newGUID(), cancel: cancel, finished: make(chan struct{})}
	h.mu.Lock()
	s.commands[c.id] = c
	h.mu.Unlock()
	h.stats.commands.Add(1)
	inv := Invocation{CommandLine: line, Codepage: s.codepage, User: user}
	go func() {
		defer close(c.finished)
		c.out = h.cfg.Runner.Run(ctx, inv)
	}()
	return okReply(nsShell+"/CommandResponse", req.MessageID,
		[]byte("<rsp:CommandResponse><rsp:CommandId>"+c.id+"</rsp:CommandId></rsp:CommandResponse>"))
}

// lookup finds the command a Send, Receive or Signal names.
func (h *Host) lookup(s *shell, id string) *command {
	h.mu.Lock()
	defer h.mu.Unlock()
	return s.commands[id]
}

// send accepts stdin. The Runner does not read stdin, so the data is
// decoded (to refuse malformed base64 like Windows) and dropped.
func (h *Host) send(req *request, s *shell) reply {
	for _, st := range req.Body.child(nsShell, "Send").all(nsShell, "Stream") {
		id := st.attr("CommandId")
		if h.lookup(s, id) == nil {
			return h.faultReply(faultCommandNotFound(id), req.MessageID)
		}
		if _, err := base64.StdEncoding.DecodeString(st.value()); err != nil {
			return h.faultReply(faultInvalidXML(), req.MessageID)
		}
	}
	return okReply(nsShell+"/SendResponse", req.MessageID, []byte("<rsp:SendResponse/>"))
}

func (h *Host) signal(req *request, s *shell) reply {
	sig := req.Body.child(nsShell, "Signal")
	id := sig.attr("CommandId")
	c := h.lookup(s, id)
	if c == nil {
		return h.faultReply(faultCommandNotFound(id), req.MessageID)
	}
	if code := sig.child(nsShell, "Code").value(); code == signalTerminate {
		c.cancel()
	}
	return okReply(nsShell+"/SignalResponse", req.MessageID, []byte("<rsp:SignalResponse/>"))
}

func (h *Host) delete(req *request, s *shell) reply {
	h.mu.Lock()
	delete(h.shells, s.id)
	s.cancelAll()
	h.mu.Unlock()
	return okReply(nsTransfer+"/DeleteResponse", req.MessageID, nil)
}

// sweep deletes shells idle for longer than IdleTimeout, as WinRM does;
// later requests for them get the shell-not-found fault. It runs only while
// the host has shells, so an idle host costs no goroutine beyond Serve.
func (h *Host) sweep() {
	tick := min(max(h.cfg.IdleTimeout/4, 10*time.Millisecond), time.Minute)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-h.closed:
			return
		case now := <-t.C:
			h.mu.Lock()
			for id, s := range h.shells {
				if s.inFlight == 0 && now.Sub(s.lastUsed) > h.cfg.IdleTimeout {
					s.cancelAll()
					delete(h.shells, id)
				}
			}
			if len(h.shells) == 0 {
				h.sweeping = false
				h.mu.Unlock()
				return
			}
			h.mu.Unlock()
		}
	}
}
