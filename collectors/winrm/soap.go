package winrm

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Namespaces of WS-Management responses (winrm.md §1.2).
const (
	nsSOAP                    = "http://www.w3.org/2003/05/soap-envelope"
	nsShell                   = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
	nsWSMan                   = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
	nsFault                   = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
	stateDone                 = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
	faultCodeOperationTimeout = "2150858793"
)

// response is what the transport learned from one SOAP envelope: what
// masterzen/winrm would read from it (response.go), found where its XPaths
// look. Parsing once here costs a fraction of masterzen's XPath DOM
// (goxpath), queried afresh for every value.
type response struct {
	fault    *soapFault
	shellID  string // Create: //w:Selector[@Name='ShellId']
	cmdID    string // Command: //rsp:CommandId
	streamed int64  // decoded bytes in rsp:Stream elements
	// stdout and stderr are the decoded //rsp:Stream[@Name='stdout'] and
	// [@Name='stderr'] texts, in document order.
	stdout, stderr []byte
	done           bool   // an element has State=…/CommandState/Done
	exitCode       string // the first //rsp:ExitCode's text
	sawExitCode    bool
}

// soapFault is a SOAP 1.2 fault with its WS-Management detail.
type soapFault struct {
	code, subcode, reason, wsmanCode, message string
}

// String renders the fault as Windows reports it, e.g.
// "w:TimedOut (2150858793): The WS-Management service cannot …".
func (f *soapFault) String() string {
	var b strings.Builder
	b.WriteString(f.subcode)
	if b.Len() == 0 {
		b.WriteString(f.code)
	}
	if f.wsmanCode != "" {
		fmt.Fprintf(&b, " (%s)", f.wsmanCode)
	}
	text := f.reason
	if text == "" {
		text = f.message
	}
	if text != "" {
		b.WriteString(": ")
		b.WriteString(text)
	}
	return b.String()
}

// parseResponse checks that body is one well-formed SOAP 1.2 envelope with
// a Body, in UTF-8, without DTDs, with every rsp:Stream valid base64 — the
// conditions under which masterzen/winrm would parse it without panicking or
// silently dropping output (winrm.md M2b, M8) — and extracts what the
// transport needs. It reads the whole document, wherever masterzen's
// //-XPaths would look.
func parseResponse(body []byte) (*response, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("empty response body")
	}
	var e envelopeReader
	if err := scanXML(body, &e); err != nil {
		return nil, err
	}
	return e.finish()
}

// An xname is a namespace-resolved XML name, as encoding/xml resolves it:
// space is the namespace URI (an undeclared prefix stays as it is), local
// the part after the prefix.
type xname struct{ space, local []byte }

func (n xname) is(space, local string) bool {
	return string(n.space) == space && string(n.local) == local
}

type xattr struct {
	name  xname
	value []byte
}

// An envelopeReader builds a response from the elements and text of one
// document, as [scanXML] reports them.
type envelopeReader struct {
	r     response
	stack []xname
	// The text of the element open: seg while it came in one piece (not
	// copied), else gathered in text.
	seg      []byte
	text     []byte
	pieces   int
	sawRoot  bool
	sawBody  bool
	inFault  bool
	selector bool
	stream   string // Name of the rsp:Stream open, if one is
	inStream bool
}

func (e *envelopeReader) start(n xname, attrs []xattr) error {
	if len(e.stack) == 0 {
		if e.sawRoot {
			return errors.New("more than one root element")
		}
		if !n.is(nsSOAP, "Envelope") {
			return errors.New("not a SOAP 1.2 envelope")
		}
		e.sawRoot = true
	}
	if len(e.stack) == 1 && n.is(nsSOAP, "Body") {
		e.sawBody = true
	}
	if n.is(nsSOAP, "Fault") {
		e.inFault = true
		e.r.fault = &soapFault{}
	}
	if e.inStream {
		// masterzen would read the text of every descendant;
		// Windows never nests elements in a stream.
		return errors.New("garbled output stream (element inside rsp:Stream)")
	}
	stream := n.is(nsShell, "Stream")
	if stream {
		e.inStream, e.stream = true, ""
	}
	e.selector = false
	for _, a := range attrs {
		switch {
		case string(a.name.local) == "State" && string(a.value) == stateDone:
			e.r.done = true
		case e.inFault && n.is(nsFault, "WSManFault") && string(a.name.local) == "Code":
			e.r.fault.wsmanCode = string(a.value)
		case n.is(nsWSMan, "Selector") && string(a.name.local) == "Name" && string(a.value) == "ShellId":
			e.selector = true
		case stream && len(a.name.space) == 0 && string(a.name.local) == "Name":
			e.stream = string(a.value)
		}
	}
	e.stack = append(e.stack, n)
	e.resetText()
	return nil
}

func (e *envelopeReader) chardata(b []byte) error {
	if len(e.ownText())+len(b) > 1<<20 {
		return errors.New("element text too large")
	}
	switch e.pieces {
	case 0:
		e.seg = b
	case 1:
		e.text = append(append(e.text[:0], e.seg...), b...)
	default:
		e.text = append(e.text, b...)
	}
	e.pieces++
	return nil
}

func (e *envelopeReader) ownText() []byte {
	if e.pieces <= 1 {
		return e.seg
	}
	return e.text
}

func (e *envelopeReader) resetText() { e.seg, e.pieces = nil, 0 }

func (e *envelopeReader) end() error {
	name := e.stack[len(e.stack)-1]
	e.stack = e.stack[:len(e.stack)-1]
	text := e.ownText()
	r := &e.r
	switch {
	case name.is(nsShell, "Stream"):
		if err := r.addStream(e.stream, text); err != nil {
			return err
		}
		e.inStream = false
	case name.is(nsShell, "CommandId"):
		r.cmdID = strings.TrimSpace(string(text))
	case name.is(nsShell, "ExitCode") && !r.sawExitCode:
		r.exitCode, r.sawExitCode = string(text), true
	case name.is(nsWSMan, "Selector") && e.selector:
		r.shellID = strings.TrimSpace(string(text))
	case e.inFault:
		parent := ""
		if len(e.stack) > 0 {
			parent = string(e.stack[len(e.stack)-1].local)
		}
		r.fault.set(parent, name, string(text))
	}
	if name.is(nsSOAP, "Fault") {
		e.inFault = false
	}
	e.selector = false
	e.resetText()
	return nil
}

func (e *envelopeReader) finish() (*response, error) {
	if !e.sawRoot || !e.sawBody {
		return nil, errors.New("not a SOAP 1.2 envelope with a Body")
	}
	return &e.r, nil
}

// addStream decodes one rsp:Stream's base64 text and appends it to the
// stream it names (stdout or stderr; masterzen ignores others).
func (r *response) addStream(name string, b64 []byte) error {
	var dst *[]byte
	switch name {
	case "stdout":
		dst = &r.stdout
	case "stderr":
		dst = &r.stderr
	default:
		var scratch []byte
		dst = &scratch
	}
	n := len(*dst)
	out, err := base64.StdEncoding.AppendDecode(*dst, b64)
	if err != nil {
		return errors.New("garbled output stream (invalid base64)")
	}
	r.streamed += int64(len(out) - n)
	if name == "stdout" || name == "stderr" {
		*dst = out
	}
	return nil
}

// exit is the command's exit code as masterzen reads it from the answer
// (ParseSlurpOutputErrResponse): the first rsp:ExitCode as a number, 0
// when it has none or no number.
func (r *response) exit() int {
	n, err := strconv.Atoi(r.exitCode)
	if err != nil {
		return 0
	}
	return n
}

// set records fault text by element name and its parent's local name
// (s:Code/s:Value, s:Subcode/s:Value, s:Reason/s:Text, f:Message).
func (f *soapFault) set(parent string, name xname, s string) {
	s = strings.TrimSpace(s)
	local := string(name.local)
	switch {
	case local == "Value" && parent == "Subcode" && f.subcode == "":
		f.subcode = s
	case local == "Value" && parent == "Code" && f.code == "":
		f.code = s
	case local == "Text" && parent == "Reason" && f.reason == "":
		f.reason = s
	case local == "Message" && string(name.space) == nsFault && f.message == "":
		f.message = s
	}
}
