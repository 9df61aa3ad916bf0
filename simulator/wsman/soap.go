package wsman

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Namespace URIs (docs/winrm.md §1.2). Requests are matched by URI, never by
// prefix.
const (
	nsSOAP       = "http://www.w3.org/2003/05/soap-envelope"
	nsAddressing = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsWSMan      = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
	nsShell      = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
	nsTransfer   = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
	nsFault      = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
)

// Actions.
const (
	actionCreate  = nsTransfer + "/Create"
	actionDelete  = nsTransfer + "/Delete"
	actionCommand = nsShell + "/Command"
	actionSend    = nsShell + "/Send"
	actionReceive = nsShell + "/Receive"
	actionSignal  = nsShell + "/Signal"

	signalTerminate = nsShell + "/signal/terminate"
	stateDone       = nsShell + "/CommandState/Done"
	stateRunning    = nsShell + "/CommandState/Running"
	resourceCmd     = nsShell + "/cmd"
)

// maxDepth bounds element nesting; real requests are 6 levels deep.
const maxDepth = 64

// errNotSOAP marks a body that is not a SOAP 1.2 envelope.
var errNotSOAP = errors.New("not a SOAP 1.2 envelope")

// node is one parsed XML element.
type node struct {
	name     xml.Name
	attrs    []xml.Attr
	text     strings.Builder
	children []*node
}

// child returns the first child element with the given namespace and local
// name, or nil.
func (n *node) child(space, local string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.name.Space == space && c.name.Local == local {
			return c
		}
	}
	return nil
}

// all returns every child element with the given name.
func (n *node) all(space, local string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, c := range n.children {
		if c.name.Space == space && c.name.Local == local {
			out = append(out, c)
		}
	}
	return out
}

// attr returns an attribute by local name, ignoring its namespace (clients
// send mustUnderstand, Name and CommandId both qualified and unqualified).
func (n *node) attr(local string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func (n *node) value() string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.text.String())
}

// parseXML reads one XML document into a tree: the requests clients send
// take scanXML's fast path, anything else encoding/xml's decoder.
func parseXML(b []byte) (*node, error) {
	if n, ok := scanXML(b); ok {
		return n, nil
	}
	return decodeXML(bytes.NewReader(b))
}

// decodeXML reads one XML document into a tree with encoding/xml's strict
// decoder, without recursion.
func decodeXML(r io.Reader) (*node, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	var root *node
	var stack []*node
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("elements nested deeper than %d", maxDepth)
			}
			n := &node{name: t.Name, attrs: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// request is a parsed WS-Management request: the headers every operation
// uses, and the body for the operation to read.
type request struct {
	Action           string
	MessageID        string
	ResourceURI      string
	MaxEnvelopeSize  int           // 0 if absent
	OperationTimeout time.Duration // 0 if absent
	Selectors        map[string]string
	Options          map[string]string
	Body             *node
}

// parseRequest parses a SOAP 1.2 WS-Management request. Prefixes, element
// order and the form of mustUnderstand do not matter.
func parseRequest(body []byte) (*request, error) {
	root, err := parseXML(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotSOAP, err)
	}
	if root.name.Space != nsSOAP || root.name.Local != "Envelope" {
		return nil, fmt.Errorf("%w: root is {%s}%s", errNotSOAP, root.name.Space, root.name.Local)
	}
	hdr := root.child(nsSOAP, "Header")
	b := root.child(nsSOAP, "Body")
	if hdr == nil || b == nil {
		return nil, fmt.Errorf("%w: missing Header or Body", errNotSOAP)
	}
	req := &request{
		Action:      hdr.child(nsAddressing, "Action").value(),
		MessageID:   hdr.child(nsAddressing, "MessageID").value(),
		ResourceURI: hdr.child(nsWSMan, "ResourceURI").value(),
		Selectors:   map[string]string{},
		Options:     map[string]string{},
		Body:        b,
	}
	if v := hdr.child(nsWSMan, "MaxEnvelopeSize").value(); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%w: bad MaxEnvelopeSize %q", errNotSOAP, v)
		}
		req.MaxEnvelopeSize = n
	}
	if v := hdr.child(nsWSMan, "OperationTimeout").value(); v != "" {
		d, err := parseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("%w: bad OperationTimeout: %v", errNotSOAP, err)
		}
		req.OperationTimeout = d
	}
	for _, s := range hdr.child(nsWSMan, "SelectorSet").all(nsWSMan, "Selector") {
		req.Selectors[s.attr("Name")] = s.value()
	}
	for _, o := range hdr.child(nsWSMan, "OptionSet").all(nsWSMan, "Option") {
		req.Options[o.attr("Name")] = o.value()
	}
	return req, nil
}

// parseDuration parses the xs:duration forms WS-Management clients send
// (PT60S, PT60.000S, PT2H, P0DT0H1M0S). Years and months are refused.
func parseDuration(s string) (time.Duration, error) {
	rest, ok := strings.CutPrefix(s, "P")
	if !ok || rest == "" {
		return 0, fmt.Errorf("duration %q: want P…", s)
	}
	var total float64
	inTime := false
	for rest != "" {
		if rest[0] == 'T' {
			inTime = true
			rest = rest[1:]
			continue
		}
		i := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i <= 0 {
			return 0, fmt.Errorf("duration %q: bad number", s)
		}
		v, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		var unit float64
		switch u := rest[i]; {
		case u == 'D' && !inTime:
			unit = 86400
		case u == 'H' && inTime:
			unit = 3600
		case u == 'M' && inTime:
			unit = 60
		case u == 'S' && inTime:
			unit = 1
		default:
			return 0, fmt.Errorf("duration %q: unsupported unit %q", s, u)
		}
		total += v * unit
		if total > 1e9 {
			return 0, fmt.Errorf("duration %q: too long", s)
		}
		rest = rest[i+1:]
	}
	return time.Duration(total * float64(time.Second)), nil
}

// formatDuration renders d the way Windows writes ShellRunTime
// (P0DT0H0M1S).
func formatDuration(d time.Duration) string {
	s := int64(d / time.Second)
	return fmt.Sprintf("P%dDT%dH%dM%dS", s/86400, s%86400/3600, s%3600/60, s%60)
}
