package wsman

import (
	"bytes"
	"encoding/xml"
	"strings"
)

// scanXML is parseXML's fast path for the requests WS-Management clients
// send: elements with ASCII names, quoted attributes, ASCII text and CDATA
// with the five predefined entities, an XML declaration. It builds the tree
// encoding/xml's Strict decoder would (namespaces resolved the same way,
// every text segment appended to its element) and reports false for
// anything else, valid or not (comments, DOCTYPE, character references,
// non-ASCII or CR in text, malformed input): parseXML then leaves the
// document, and the verdict on it, to encoding/xml. FuzzScanXML holds the
// two to the same tree.
func scanXML(b []byte) (*node, bool) {
	s := xmlScanner{b: b}
	return s.document()
}

type xmlScanner struct {
	b     []byte
	i     int
	ns    []nsBinding // in scope, innermost last
	stack []scanFrame
}

// knownStrings are the names, prefixes and namespace URIs of WS-Management
// requests, so that scanning one does not allocate a copy of each.
var knownStrings = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{
		nsSOAP, nsAddressing, nsWSMan, nsShell, nsTransfer, "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
		"http://www.w3.org/2001/XMLSchema", "http://www.w3.org/2001/XMLSchema-instance",
		"http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd", "http://schemas.xmlsoap.org/ws/2004/09/enumeration",
		"http://schemas.microsoft.com/wbem/wsman/1/config", resourceCmd, "true", "false", "en-US",
		"env", "s", "a", "w", "p", "rsp", "x", "b", "n", "xsd", "xsi", "cfg", "xmlns", "xml", "lang",
		"Envelope", "Header", "Body", "To", "ReplyTo", "Address", "MaxEnvelopeSize", "OperationTimeout", "MessageID",
		"Locale", "DataLocale", "Action", "ResourceURI", "SelectorSet", "Selector", "OptionSet", "Option",
		"mustUnderstand", "Name", "MustComply", "Shell", "InputStreams", "OutputStreams", "CommandLine", "Command",
		"Arguments", "Send", "Stream", "Receive", "DesiredStream", "Signal", "Code", "CommandId", "End",
		"ShellId", "WINRS_NOPROFILE", "WINRS_CODEPAGE", "WINRS_CONSOLEMODE_STDIN", "WINRS_SKIP_CMD_SHELL",
	} {
		m[s] = s
	}
	return m
}()

// str returns b as a string, without a copy for the known ones.
func str(b []byte) string {
	if s, ok := knownStrings[string(b)]; ok {
		return s
	}
	return string(b)
}

type nsBinding struct{ prefix, uri string }

// A scanFrame is an open element: its node, its name as written (for the
// end tag) and where its namespace bindings start in xmlScanner.ns.
type scanFrame struct {
	n       *node
	raw     []byte
	nsStart int
}

const xmlNamespaceURI = "http://www.w3.org/XML/1998/namespace"

// knownDeclaration holds the XML declarations masterzen/winrm and pywinrm
// send; encoding/xml accepts both (TestScanXMLAgreesWithDecoder).
var knownDeclaration = map[string]bool{
	`<?xml version="1.0" encoding="utf-8" ?>`: true,
	`<?xml version="1.0" encoding="utf-8"?>`:  true,
	`<?xml version="1.0" encoding="UTF-8"?>`:  true,
}

func (s *xmlScanner) document() (*node, bool) {
	s.skipSpace()
	if bytes.HasPrefix(s.b[s.i:], []byte("<?xml")) {
		end := bytes.Index(s.b[s.i:], []byte("?>"))
		if end < 0 {
			return nil, false
		}
		end += s.i + 2
		if !knownDeclaration[string(s.b[s.i:end])] {
			// The declaration alone, through encoding/xml: it accepts
			// version 1.0 and UTF-8 only, as it would in the whole document.
			d := xml.NewDecoder(bytes.NewReader(s.b[s.i:end]))
			d.Strict = true
			if tok, err := d.Token(); err != nil {
				return nil, false
			} else if pi, ok := tok.(xml.ProcInst); !ok || pi.Target != "xml" {
				return nil, false
			}
		}
		s.i = end
		s.skipSpace()
	}
	var root *node
	for s.i < len(s.b) {
		if len(s.stack) == 0 {
			if root != nil {
				return nil, false // something after the root element
			}
			if s.b[s.i] != '<' {
				return nil, false
			}
		}
		switch {
		case s.b[s.i] != '<':
			if !s.text() {
				return nil, false
			}
		case bytes.HasPrefix(s.b[s.i:], []byte("<![CDATA[")):
			if len(s.stack) == 0 || !s.cdata() {
				return nil, false
			}
		case s.i+1 < len(s.b) && s.b[s.i+1] == '/':
			if !s.endTag() {
				return nil, false
			}
		default:
			n, ok := s.startTag()
			if !ok {
				return nil, false
			}
			if root == nil {
				root = n
			}
		}
		if len(s.stack) == 0 && root != nil {
			s.skipSpace()
		}
	}
	if root == nil || len(s.stack) != 0 {
		return nil, false
	}
	return root, true
}

func (s *xmlScanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// name reads an element or attribute name: ASCII letters, digits, _ . -,
// starting with a letter or _, with at most one colon between a prefix and
// a local part. It returns the name as written, split.
func (s *xmlScanner) name() (raw []byte, prefix, local string, ok bool) {
	start := s.i
	if s.i >= len(s.b) || !(isASCIILetter(s.b[s.i]) || s.b[s.i] == '_') {
		return nil, "", "", false
	}
	colon := -1
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case isASCIILetter(c) || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-':
		case c == ':' && colon < 0:
			colon = s.i
		case c >= 0x80 || c == ':':
			return nil, "", "", false // non-ASCII names, several colons: encoding/xml decides
		default:
			raw = s.b[start:s.i]
			if colon < 0 {
				return raw, "", str(raw), true
			}
			if colon == s.i-1 {
				return nil, "", "", false
			}
			return raw, str(s.b[start:colon]), str(s.b[colon+1 : s.i]), true
		}
		s.i++
	}
	return nil, "", "", false
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func (s *xmlScanner) startTag() (*node, bool) {
	if len(s.stack) >= maxDepth {
		return nil, false
	}
	s.i++ // '<'
	raw, prefix, local, ok := s.name()
	if !ok {
		return nil, false
	}
	n := &node{attrs: []xml.Attr{}}
	nsStart := len(s.ns)
	empty := false
	for {
		spaced := s.i
		s.skipSpace()
		if s.i >= len(s.b) {
			return nil, false
		}
		if c := s.b[s.i]; c == '>' || c == '/' {
			if c == '/' {
				if s.i+1 >= len(s.b) || s.b[s.i+1] != '>' {
					return nil, false
				}
				empty = true
				s.i++
			}
			s.i++
			break
		}
		if s.i == spaced {
			return nil, false // attributes not separated by blanks
		}
		_, ap, al, ok := s.name()
		if !ok {
			return nil, false
		}
		s.skipSpace()
		if s.i >= len(s.b) || s.b[s.i] != '=' {
			return nil, false
		}
		s.i++
		s.skipSpace()
		v, ok := s.attrValue()
		if !ok {
			return nil, false
		}
		n.attrs = append(n.attrs, xml.Attr{Name: xml.Name{Space: ap, Local: al}, Value: v})
		switch {
		case ap == "xmlns":
			s.ns = append(s.ns, nsBinding{al, v})
		case ap == "" && al == "xmlns":
			s.ns = append(s.ns, nsBinding{"", v})
		}
	}
	// Bindings apply to the element's own name and attributes, as in
	// encoding/xml's Decoder.translate.
	n.name = xml.Name{Space: s.resolve(prefix, local, true), Local: local}
	for i := range n.attrs {
		a := &n.attrs[i].Name
		a.Space = s.resolve(a.Space, a.Local, false)
	}
	if len(s.stack) > 0 {
		p := s.stack[len(s.stack)-1].n
		p.children = append(p.children, n)
	}
	if empty {
		s.ns = s.ns[:nsStart]
		return n, true
	}
	s.stack = append(s.stack, scanFrame{n: n, raw: raw, nsStart: nsStart})
	return n, true
}

// resolve maps the prefix of a name to its namespace as encoding/xml does:
// xmlns stays, xml is the XML namespace, unprefixed attributes (and an
// element called xmlns) have none, an unbound prefix stays as written.
func (s *xmlScanner) resolve(prefix, local string, element bool) string {
	switch {
	case prefix == "xmlns":
		return prefix
	case prefix == "" && !element:
		return ""
	case prefix == "xml":
		return xmlNamespaceURI
	case prefix == "" && local == "xmlns":
		return ""
	}
	for i := len(s.ns) - 1; i >= 0; i-- {
		if s.ns[i].prefix == prefix {
			return s.ns[i].uri
		}
	}
	return prefix
}

// attrValue reads a quoted attribute value.
func (s *xmlScanner) attrValue() (string, bool) {
	if s.i >= len(s.b) || (s.b[s.i] != '"' && s.b[s.i] != '\'') {
		return "", false
	}
	q := s.b[s.i]
	s.i++
	end := bytes.IndexByte(s.b[s.i:], q)
	if end < 0 {
		return "", false
	}
	v, ok := unescapeASCII(s.b[s.i : s.i+end])
	s.i += end + 1
	return v, ok
}

func (s *xmlScanner) text() bool {
	end := bytes.IndexByte(s.b[s.i:], '<')
	if end < 0 {
		end = len(s.b) - s.i
	}
	raw := s.b[s.i : s.i+end]
	s.i += end
	if len(s.stack) == 0 {
		return len(bytes.Trim(raw, " \t\r\n")) == 0
	}
	if bytes.Contains(raw, []byte("]]>")) {
		return false
	}
	t, ok := unescapeASCII(raw)
	if !ok {
		return false
	}
	s.stack[len(s.stack)-1].n.text.WriteString(t)
	return true
}

func (s *xmlScanner) cdata() bool {
	s.i += len("<![CDATA[")
	end := bytes.Index(s.b[s.i:], []byte("]]>"))
	if end < 0 {
		return false
	}
	raw := s.b[s.i : s.i+end]
	s.i += end + 3
	for _, c := range raw {
		if !plainXMLByte(c) {
			return false
		}
	}
	s.stack[len(s.stack)-1].n.text.Write(raw)
	return true
}

func (s *xmlScanner) endTag() bool {
	if len(s.stack) == 0 {
		return false
	}
	s.i += 2 // "</"
	raw, _, _, ok := s.name()
	if !ok {
		return false
	}
	s.skipSpace()
	if s.i >= len(s.b) || s.b[s.i] != '>' {
		return false
	}
	s.i++
	f := s.stack[len(s.stack)-1]
	if !bytes.Equal(raw, f.raw) {
		return false
	}
	s.stack = s.stack[:len(s.stack)-1]
	s.ns = s.ns[:f.nsStart]
	return true
}

// plainXMLByte reports whether c stands for itself in text: printable
// ASCII, tab or LF (encoding/xml rewrites CR, and other bytes need a
// character-range or UTF-8 check).
func plainXMLByte(c byte) bool { return c >= 0x20 && c < 0x7f || c == '\t' || c == '\n' }

// unescapeASCII returns text or an attribute value with the five
// predefined entities replaced, refusing '<', character references, other
// entities and bytes plainXMLByte refuses.
func unescapeASCII(raw []byte) (string, bool) {
	amp := false
	for _, c := range raw {
		if !plainXMLByte(c) || c == '<' {
			return "", false
		}
		amp = amp || c == '&'
	}
	if !amp {
		return str(raw), true
	}
	var b strings.Builder
	b.Grow(len(raw))
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '&')
		if i < 0 {
			b.Write(raw)
			break
		}
		b.Write(raw[:i])
		raw = raw[i:]
		semi := bytes.IndexByte(raw, ';')
		if semi < 0 {
			return "", false
		}
		switch string(raw[1:semi]) {
		case "lt":
			b.WriteByte('<')
		case "gt":
			b.WriteByte('>')
		case "amp":
			b.WriteByte('&')
		case "apos":
			b.WriteByte('\'')
		case "quot":
			b.WriteByte('"')
		default:
			return "", false
		}
		raw = raw[semi+1:]
	}
	return b.String(), true
}
