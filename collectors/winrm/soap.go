package winrm

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
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

// response is what the transport learned from one SOAP envelope: all that
// masterzen/winrm reads from it (response.go), found where its XPaths look.
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
// conditions under which masterzen/winrm parses it without panicking or
// silently dropping output (winrm.md M2b, M8) — and extracts what the
// transport needs. It reads the whole document, wherever masterzen's
// //-XPaths would look.
func parseResponse(body []byte) (*response, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("empty response body")
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = true
	var (
		r        response
		stack    []xml.Name
		text     []byte // the current element's own text, reused
		sawRoot  bool
		sawBody  bool
		inFault  bool
		selector bool
		stream   string // Name of the rsp:Stream open, if one is
		inStream bool
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("malformed XML: %s", xmlErr(err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				if sawRoot {
					return nil, errors.New("more than one root element")
				}
				if t.Name.Space != nsSOAP || t.Name.Local != "Envelope" {
					return nil, errors.New("not a SOAP 1.2 envelope")
				}
				sawRoot = true
			}
			if len(stack) == 1 && t.Name.Space == nsSOAP && t.Name.Local == "Body" {
				sawBody = true
			}
			if t.Name.Space == nsSOAP && t.Name.Local == "Fault" {
				inFault = true
				r.fault = &soapFault{}
			}
			if inStream {
				// masterzen would read the text of every descendant;
				// Windows never nests elements in a stream.
				return nil, errors.New("garbled output stream (element inside rsp:Stream)")
			}
			if t.Name.Space == nsShell && t.Name.Local == "Stream" {
				inStream, stream = true, ""
			}
			selector = false
			for _, a := range t.Attr {
				switch {
				case a.Name.Local == "State" && a.Value == stateDone:
					r.done = true
				case inFault && t.Name.Space == nsFault && t.Name.Local == "WSManFault" && a.Name.Local == "Code":
					r.fault.wsmanCode = a.Value
				case t.Name.Space == nsWSMan && t.Name.Local == "Selector" && a.Name.Local == "Name" && a.Value == "ShellId":
					selector = true
				case inStream && a.Name.Space == "" && a.Name.Local == "Name":
					stream = a.Value
				}
			}
			stack = append(stack, t.Name)
			text = text[:0]
		case xml.CharData:
			if len(text)+len(t) > 1<<20 {
				return nil, errors.New("element text too large")
			}
			text = append(text, t...)
		case xml.EndElement:
			name := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			switch {
			case name.Space == nsShell && name.Local == "Stream":
				if err := r.addStream(stream, text); err != nil {
					return nil, err
				}
				inStream = false
			case name.Space == nsShell && name.Local == "CommandId":
				r.cmdID = strings.TrimSpace(string(text))
			case name.Space == nsShell && name.Local == "ExitCode" && !r.sawExitCode:
				r.exitCode, r.sawExitCode = string(text), true
			case name.Space == nsWSMan && name.Local == "Selector" && selector:
				r.shellID = strings.TrimSpace(string(text))
			case inFault:
				r.fault.set(stack, name, string(text))
			}
			if name.Space == nsSOAP && name.Local == "Fault" {
				inFault = false
			}
			selector = false
			text = text[:0]
		case xml.Directive:
			return nil, errors.New("DTDs are not allowed")
		case xml.ProcInst:
			if t.Target == "xml" && bytes.Contains(bytes.ToLower(t.Inst), []byte("encoding")) &&
				!bytes.Contains(bytes.ToLower(t.Inst), []byte("utf-8")) {
				return nil, errors.New("response not in UTF-8")
			}
		}
	}
	if !sawRoot || !sawBody {
		return nil, errors.New("not a SOAP 1.2 envelope with a Body")
	}
	return &r, nil
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

// masterzen/winrm parses every answer into an XPath DOM (goxpath) and
// queries it afresh for each value it needs, which cost the client more
// per host than its TLS handshake. The transport parses and validates each
// answer once (parseResponse), keeps the output streams itself, and hands
// masterzen a minimal envelope carrying only the values masterzen reads
// (response.go): the ShellId, the CommandId, the Done state and the exit
// code. masterzen reads nothing from other answers (Signal, Delete, Send).
const (
	replyOpen  = `<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:w="` + nsWSMan + `" xmlns:rsp="` + nsShell + `"><s:Body>`
	replyClose = `</s:Body></s:Envelope>`
)

// reply is the envelope masterzen gets in place of r, the answer to op.
func (r *response) reply(op string) string {
	var b strings.Builder
	b.WriteString(replyOpen)
	switch op {
	case "Create":
		b.WriteString(`<w:Selector Name="ShellId">`)
		xmlEscape(&b, r.shellID)
		b.WriteString(`</w:Selector>`)
	case "Command":
		b.WriteString(`<rsp:CommandId>`)
		xmlEscape(&b, r.cmdID)
		b.WriteString(`</rsp:CommandId>`)
	case "Receive":
		if r.done {
			b.WriteString(`<rsp:CommandState State="` + stateDone + `">`)
			if r.sawExitCode {
				b.WriteString(`<rsp:ExitCode>` + strconv.Itoa(r.exit()) + `</rsp:ExitCode>`)
			}
			b.WriteString(`</rsp:CommandState>`)
		}
	}
	b.WriteString(replyClose)
	return b.String()
}

func xmlEscape(b *strings.Builder, s string) {
	_ = xml.EscapeText(b, []byte(s)) // a strings.Builder never fails
}

// exit is the exit code masterzen reads from the response: the first
// rsp:ExitCode as a number, 0 when it has none or no number
// (ParseSlurpOutputErrResponse).
func (r *response) exit() int {
	n, err := strconv.Atoi(r.exitCode)
	if err != nil {
		return 0
	}
	return n
}

// set records fault text by element name (s:Code/s:Value,
// s:Subcode/s:Value, s:Reason/s:Text, f:Message).
func (f *soapFault) set(parents []xml.Name, name xml.Name, s string) {
	s = strings.TrimSpace(s)
	parent := ""
	if len(parents) > 0 {
		parent = parents[len(parents)-1].Local
	}
	switch {
	case name.Local == "Value" && parent == "Subcode" && f.subcode == "":
		f.subcode = s
	case name.Local == "Value" && parent == "Code" && f.code == "":
		f.code = s
	case name.Local == "Text" && parent == "Reason" && f.reason == "":
		f.reason = s
	case name.Local == "Message" && name.Space == nsFault && f.message == "":
		f.message = s
	}
}

// xmlErr describes an XML error without echoing document content.
func xmlErr(err error) string {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error on line %d", se.Line)
	}
	return "unreadable document"
}
