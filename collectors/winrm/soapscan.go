package winrm

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"unicode/utf8"
)

// scanXML reads body as one XML 1.0 document and reports its elements and
// text to e. It replaces encoding/xml, which read WS-Management answers at
// about 30 MB/s, mostly byte by byte through their base64 output streams,
// with one pass that hands e slices of body wherever no reference or CR
// needs rewriting.
//
// It accepts the part of XML that WS-Management answers use — elements,
// attributes, namespaces, character and the five predefined entity
// references, CDATA sections, comments, processing instructions — and
// nothing else: no DTD (so no other entities), names in ASCII, no text
// outside the root element but whitespace and a leading byte-order mark.
// Within that it checks what encoding/xml in Strict mode checks (UTF-8,
// characters XML allows, matched tags, quoted attributes, references), and
// resolves names as encoding/xml does: FuzzScanXML holds every document it
// accepts to encoding/xml's reading of it.
func scanXML(body []byte, e *envelopeReader) error {
	if err := checkChars(body); err != nil {
		return err
	}
	s := xmlScanner{b: body, e: e}
	if bytes.HasPrefix(body, []byte("\xef\xbb\xbf")) {
		s.i = 3
	}
	return s.run()
}

// xmlURL is the namespace of the xml prefix (XML Namespaces §3).
const xmlURL = "http://www.w3.org/XML/1998/namespace"

type xmlScanner struct {
	b     []byte
	i     int
	e     *envelopeReader
	ns    []nsBinding // in scope, innermost last
	open  []openTag
	attrs []xattr // the start tag being read, reused
	raw   [][]byte
}

type nsBinding struct{ prefix, uri []byte }

type openTag struct {
	raw []byte // the qualified name as written, for the end tag
	ns  int    // len(ns) before the element's declarations
}

var (
	errDTD      = errors.New("DTDs are not allowed")
	errEncoding = errors.New("response not in UTF-8")
)

// fail is a syntax error at the scanner's position, naming the line and
// never the document's content.
func (s *xmlScanner) fail(what string) error {
	line := 1 + bytes.Count(s.b[:min(s.i, len(s.b))], []byte("\n"))
	return fmt.Errorf("malformed XML: %s on line %d", what, line)
}

func (s *xmlScanner) run() error {
	for s.i < len(s.b) {
		if s.b[s.i] != '<' {
			if err := s.text(); err != nil {
				return err
			}
			continue
		}
		rest := s.b[s.i:]
		var err error
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			err = s.procInst()
		case bytes.HasPrefix(rest, []byte("<!--")):
			err = s.comment()
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			err = s.cdata()
		case bytes.HasPrefix(rest, []byte("<!")):
			return errDTD
		case bytes.HasPrefix(rest, []byte("</")):
			err = s.endTag()
		default:
			err = s.startTag()
		}
		if err != nil {
			return err
		}
	}
	if len(s.open) > 0 {
		return s.fail("unexpected end of document")
	}
	return nil
}

// text reads character data up to the next '<'.
func (s *xmlScanner) text() error {
	j := bytes.IndexByte(s.b[s.i:], '<')
	if j < 0 {
		j = len(s.b) - s.i
	}
	raw := s.b[s.i : s.i+j]
	if bytes.Contains(raw, []byte("]]>")) {
		return s.fail("]]> outside CDATA")
	}
	data, err := s.unescape(raw)
	if err != nil {
		return err
	}
	s.i += j
	if len(s.open) == 0 {
		if len(bytes.TrimLeft(data, " \t\r\n")) > 0 {
			return s.fail("text outside the root element")
		}
		return nil
	}
	return s.e.chardata(data)
}

func (s *xmlScanner) cdata() error {
	start := s.i + len("<![CDATA[")
	j := bytes.Index(s.b[start:], []byte("]]>"))
	if j < 0 {
		return s.fail("unterminated CDATA section")
	}
	s.i = start + j + 3
	if len(s.open) == 0 {
		return s.fail("CDATA outside the root element")
	}
	return s.e.chardata(normalizeCR(s.b[start : start+j]))
}

func (s *xmlScanner) comment() error {
	start := s.i + len("<!--")
	j := bytes.Index(s.b[start:], []byte("--"))
	if j < 0 || start+j+2 >= len(s.b) || s.b[start+j+2] != '>' {
		return s.fail(`unterminated comment or "--" in a comment`)
	}
	s.i = start + j + 3
	return nil
}

// xmlDecl is the XML declaration's content that encoding/xml reads as
// version 1.0 and UTF-8 whatever its lax parsing finds.
var xmlDecl = regexp.MustCompile(`^[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*("1\.0"|'1\.0')` +
	`([ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*("(?i:utf-8)"|'(?i:utf-8)'))?` +
	`([ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*("(yes|no)"|'(yes|no)'))?[ \t\r\n]*$`)

func (s *xmlScanner) procInst() error {
	start := s.i + 2
	n := nameLen(s.b[start:])
	if n == 0 || bytes.IndexByte(s.b[start:start+n], ':') >= 0 {
		return s.fail("processing instruction without a target")
	}
	j := bytes.Index(s.b[start+n:], []byte("?>"))
	if j < 0 {
		return s.fail("unterminated processing instruction")
	}
	target, content := s.b[start:start+n], s.b[start+n:start+n+j]
	if string(target) == "xml" && !xmlDecl.Match(content) {
		if bytes.Contains(bytes.ToLower(content), []byte("encoding")) && !bytes.Contains(bytes.ToLower(content), []byte("utf-8")) {
			return errEncoding
		}
		return s.fail("unsupported XML declaration")
	}
	if len(content) > 0 && !isSpace(content[0]) {
		return s.fail("processing instruction target not followed by a space")
	}
	s.i = start + n + j + 2
	return nil
}

func (s *xmlScanner) startTag() error {
	s.i++ // '<'
	raw, err := s.qname()
	if err != nil {
		return err
	}
	s.attrs, s.raw = s.attrs[:0], s.raw[:0]
	nsBase := len(s.ns)
	empty := false
	for {
		s.skipSpace()
		if s.i >= len(s.b) {
			return s.fail("unterminated start tag")
		}
		if c := s.b[s.i]; c == '>' || c == '/' {
			if c == '/' {
				if s.i+1 >= len(s.b) || s.b[s.i+1] != '>' {
					return s.fail("expected /> in a start tag")
				}
				s.i++
				empty = true
			}
			s.i++
			break
		}
		name, err := s.qname()
		if err != nil {
			return err
		}
		s.skipSpace()
		if s.i >= len(s.b) || s.b[s.i] != '=' {
			return s.fail("attribute without a value")
		}
		s.i++
		s.skipSpace()
		value, err := s.attrValue()
		if err != nil {
			return err
		}
		// Declarations apply to the element's own name and attributes.
		if string(name) == "xmlns" {
			s.ns = append(s.ns, nsBinding{uri: value})
		} else if p, local, _ := bytes.Cut(name, []byte(":")); string(p) == "xmlns" && len(local) > 0 {
			s.ns = append(s.ns, nsBinding{prefix: local, uri: value})
		}
		s.raw = append(s.raw, name)
		s.attrs = append(s.attrs, xattr{value: value})
	}
	for k, name := range s.raw {
		s.attrs[k].name = s.resolve(name, false)
	}
	s.open = append(s.open, openTag{raw: raw, ns: nsBase})
	if err := s.e.start(s.resolve(raw, true), s.attrs); err != nil {
		return err
	}
	if empty {
		return s.closeTag()
	}
	return nil
}

func (s *xmlScanner) endTag() error {
	s.i += 2 // "</"
	raw, err := s.qname()
	if err != nil {
		return err
	}
	s.skipSpace()
	if s.i >= len(s.b) || s.b[s.i] != '>' {
		return s.fail("malformed end tag")
	}
	s.i++
	if len(s.open) == 0 || !bytes.Equal(s.open[len(s.open)-1].raw, raw) {
		return s.fail("end tag does not match the element open")
	}
	return s.closeTag()
}

func (s *xmlScanner) closeTag() error {
	top := s.open[len(s.open)-1]
	s.open = s.open[:len(s.open)-1]
	s.ns = s.ns[:top.ns]
	return s.e.end()
}

// resolve turns a qualified name into an xname with encoding/xml's rules:
// unprefixed elements take the default namespace, unprefixed attributes
// none; xml is the XML namespace, xmlns stays itself, and an undeclared
// prefix stands for itself.
func (s *xmlScanner) resolve(raw []byte, element bool) xname {
	prefix, local, ok := bytes.Cut(raw, []byte(":"))
	if !ok {
		if !element || string(raw) == "xmlns" {
			return xname{local: raw}
		}
		return xname{space: s.lookup(nil), local: raw}
	}
	switch string(prefix) {
	case "xmlns":
		return xname{space: prefix, local: local}
	case "xml":
		return xname{space: []byte(xmlURL), local: local}
	}
	if uri := s.lookup(prefix); uri != nil {
		return xname{space: uri, local: local}
	}
	return xname{space: prefix, local: local}
}

// lookup returns the namespace bound to prefix ("" for the default), nil
// when none is (an empty URI is returned as empty, not nil).
func (s *xmlScanner) lookup(prefix []byte) []byte {
	for k := len(s.ns) - 1; k >= 0; k-- {
		if bytes.Equal(s.ns[k].prefix, prefix) {
			return s.ns[k].uri // never nil: attrValue
		}
	}
	return nil
}

// qname reads a name: ASCII, with at most one colon, between two names.
func (s *xmlScanner) qname() ([]byte, error) {
	n := nameLen(s.b[s.i:])
	name := s.b[s.i : s.i+n]
	if prefix, local, ok := bytes.Cut(name, []byte(":")); n == 0 || ok && (nameLen(prefix) != len(prefix) || nameLen(local) != len(local) || bytes.IndexByte(local, ':') >= 0) {
		return nil, s.fail("invalid name")
	}
	s.i += n
	return name, nil
}

// nameLen is the length of the ASCII name b starts with: a letter or '_',
// then letters, digits, '_', ':', '.' and '-'.
func nameLen(b []byte) int {
	if len(b) == 0 || !(isLetter(b[0]) || b[0] == '_') {
		return 0
	}
	n := 1
	for n < len(b) && (isLetter(b[n]) || isDigit(b[n]) || b[n] == '_' || b[n] == ':' || b[n] == '.' || b[n] == '-') {
		n++
	}
	if n < len(b) && b[n] >= utf8.RuneSelf {
		return 0 // a name going on in non-ASCII: not ours to read
	}
	return n
}

func (s *xmlScanner) attrValue() ([]byte, error) {
	if s.i >= len(s.b) || (s.b[s.i] != '"' && s.b[s.i] != '\'') {
		return nil, s.fail("unquoted attribute value")
	}
	q := s.b[s.i]
	j := bytes.IndexByte(s.b[s.i+1:], q)
	if j < 0 {
		return nil, s.fail("unterminated attribute value")
	}
	raw := s.b[s.i+1 : s.i+1+j]
	if bytes.IndexByte(raw, '<') >= 0 {
		return nil, s.fail("< in an attribute value")
	}
	v, err := s.unescape(raw)
	if err != nil {
		return nil, err
	}
	s.i += j + 2
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (s *xmlScanner) skipSpace() {
	for s.i < len(s.b) && isSpace(s.b[s.i]) {
		s.i++
	}
}

// unescape returns raw with its references replaced and CR and CRLF made
// LF, as XML 1.0 §2.11 and §4.6 read text: raw itself when it has neither.
func (s *xmlScanner) unescape(raw []byte) ([]byte, error) {
	amp := bytes.IndexByte(raw, '&')
	if amp < 0 {
		return normalizeCR(raw), nil
	}
	out := make([]byte, 0, len(raw))
	for len(raw) > 0 {
		amp := bytes.IndexByte(raw, '&')
		if amp < 0 {
			out = appendCR(out, raw)
			break
		}
		out = appendCR(out, raw[:amp])
		raw = raw[amp:]
		semi := bytes.IndexByte(raw, ';')
		if semi < 0 || semi > 12 {
			return nil, s.fail("invalid character reference")
		}
		r, ok := reference(raw[1:semi])
		if !ok {
			return nil, s.fail("invalid character reference")
		}
		out = utf8.AppendRune(out, r)
		raw = raw[semi+1:]
	}
	return out, nil
}

// reference decodes the inside of a reference (lt, #65, #x41).
func reference(ref []byte) (rune, bool) {
	switch string(ref) {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "apos":
		return '\'', true
	case "quot":
		return '"', true
	}
	if len(ref) < 2 || ref[0] != '#' {
		return 0, false
	}
	digits, base := ref[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 || digits[0] == '+' || digits[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(digits), base, 32)
	if err != nil || !xmlChar(rune(n)) {
		return 0, false
	}
	return rune(n), true
}

func normalizeCR(b []byte) []byte {
	if bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	return appendCR(make([]byte, 0, len(b)), b)
}

// appendCR appends b with CRLF and lone CR made LF.
func appendCR(out, b []byte) []byte {
	for len(b) > 0 {
		cr := bytes.IndexByte(b, '\r')
		if cr < 0 {
			return append(out, b...)
		}
		out = append(append(out, b[:cr]...), '\n')
		b = b[cr+1:]
		if len(b) > 0 && b[0] == '\n' {
			b = b[1:]
		}
	}
	return out
}

// checkChars checks that body is UTF-8 holding only characters XML allows
// (XML 1.0 §2.2).
func checkChars(body []byte) error {
	for i := 0; i < len(body); {
		c := body[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return fmt.Errorf("malformed XML: control character on line %d", 1+bytes.Count(body[:i], []byte("\n")))
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && n == 1 {
			return fmt.Errorf("malformed XML: invalid UTF-8 on line %d", 1+bytes.Count(body[:i], []byte("\n")))
		}
		if !xmlChar(r) {
			return fmt.Errorf("malformed XML: character XML does not allow on line %d", 1+bytes.Count(body[:i], []byte("\n")))
		}
		i += n
	}
	return nil
}

func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

func isSpace(c byte) bool  { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
