package wsman

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// pywinrmCommand is a Command request as pywinrm 0.3.0 sends it: its own
// prefixes, the command XML-escaped instead of CDATA, s:mustUnderstand.
const pywinrmCommand = `<?xml version="1.0" encoding="utf-8"?>
<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:b="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd" xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" xmlns:cfg="http://schemas.microsoft.com/wbem/wsman/1/config"><env:Header><a:To>http://windows-host:5985/wsman</a:To><a:ReplyTo><a:Address mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:MaxEnvelopeSize mustUnderstand="true">153600</w:MaxEnvelopeSize><a:MessageID>uuid:6C7A0C2A-1C0B-4F6E-9E5E-2B7D8F6A1B3C</a:MessageID><w:Locale mustUnderstand="false" xml:lang="en-US"></w:Locale><p:DataLocale mustUnderstand="false" xml:lang="en-US"></p:DataLocale><w:OperationTimeout>PT20S</w:OperationTimeout><w:ResourceURI mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI><a:Action mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command</a:Action><w:SelectorSet><w:Selector Name="ShellId">11111111-2222-3333-4444-555555555555</w:Selector></w:SelectorSet><w:OptionSet><w:Option Name="WINRS_CONSOLEMODE_STDIN">TRUE</w:Option><w:Option Name="WINRS_SKIP_CMD_SHELL">FALSE</w:Option></w:OptionSet></env:Header><env:Body><rsp:CommandLine><rsp:Command>echo &quot;a &amp; b&quot; &lt;x&gt;</rsp:Command></rsp:CommandLine></env:Body></env:Envelope>`

// xmlCases are documents the fast path must agree with encoding/xml on:
// whether they parse, and the tree they give.
var xmlCases = []string{
	seedCreate, seedCommand, pywinrmCommand,
	`<a xmlns="u"><b xmlns=""/><xmlns/><c d="1"/></a>`,
	`<x:a xmlns:x="1"><x:b xmlns:x="2"/><x:c/><y:d/></x:a>`,
	`<a xml:lang="en" y:z="1" xmlns:q="" q:r="2"><q:s/></a>`,
	`<?xml version="1.1"?><a/>`, `<?xml version="1.0" encoding="latin1"?><a/>`, `<?xml version="1.0"?>`,
	`<?xml-stylesheet href="x"?><a/>`, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n<a>\n  <b>t</b>\n</a>\n",
	`<a>]]></a>`, `<a>&lt;&#65;&#x42;</a>`, `<a>&nbsp;</a>`, `<a>&amp</a>`, `<a b='1' c="2'" d = "3"/>`, `<a b="1"c="2"/>`,
	`<a/><b/>`, " <a>x</a> ", `<a>x</a>y`, `<a><b></a></b>`, `<a><b>`, `<a b="<"/>`, `<a b=c/>`, `<a b/>`,
	"<a>line\r\nbreak</a>", "<a b=\"x\ty\nz\"/>", "<a>caf\u00e9</a>", "<a>\x00</a>", "<a>\x7f</a>", "\ufeff<a/>",
	`<a><!-- c --></a>`, `<!DOCTYPE a><a/>`, `<a><![CDATA[<x>&amp;]]]></a>`, `<a><![CDATA[x`, `<a:b:c/>`, `<:a/>`, `<a:/>`,
	`<1a/>`, `<_a.b-c/>`, `<a></a >`, `<a></ a>`, `<a x:y="1" xmlns:x="u"/>`, `<xmlns:a xmlns:xmlns="z"/>`,
	strings.Repeat("<a>", maxDepth) + strings.Repeat("</a>", maxDepth),
	strings.Repeat("<a>", maxDepth+1) + strings.Repeat("</a>", maxDepth+1),
}

// TestScanXMLTakesClientRequests: what masterzen/winrm and pywinrm send
// takes the fast path.
func TestScanXMLTakesClientRequests(t *testing.T) {
	for _, doc := range []string{seedCreate, seedCommand, pywinrmCommand} {
		if _, ok := scanXML([]byte(doc)); !ok {
			t.Errorf("fast path refused %.80s…", doc)
		}
	}
}

func TestScanXMLAgreesWithDecoder(t *testing.T) {
	for _, doc := range xmlCases {
		checkScanXML(t, []byte(doc))
	}
	// The declarations the scanner takes without asking encoding/xml.
	for decl := range knownDeclaration {
		doc := []byte(decl + "\n<a/>")
		if _, err := decodeXML(bytes.NewReader(doc)); err != nil {
			t.Errorf("encoding/xml refuses %q: %v", doc, err)
		}
		checkScanXML(t, doc)
	}
}

// FuzzScanXML holds the fast path to encoding/xml: whatever it accepts,
// the decoder accepts with the same tree.
func FuzzScanXML(f *testing.F) {
	for _, doc := range xmlCases {
		f.Add([]byte(doc))
	}
	f.Fuzz(checkScanXML)
}

func checkScanXML(t *testing.T, doc []byte) {
	fast, ok := scanXML(doc)
	slow, err := decodeXML(bytes.NewReader(doc))
	if !ok {
		return
	}
	if err != nil {
		t.Fatalf("%q: fast path accepted what encoding/xml refuses: %v", doc, err)
	}
	if d := diffNodes(fast, slow, "/"); d != "" {
		t.Fatalf("%q: %s", doc, d)
	}
}

func diffNodes(a, b *node, path string) string {
	path += a.name.Local
	switch {
	case a.name != b.name:
		return fmt.Sprintf("%s: name %v, encoding/xml %v", path, a.name, b.name)
	case a.text.String() != b.text.String():
		return fmt.Sprintf("%s: text %q, encoding/xml %q", path, a.text.String(), b.text.String())
	case fmt.Sprint(a.attrs) != fmt.Sprint(b.attrs):
		return fmt.Sprintf("%s: attributes %v, encoding/xml %v", path, a.attrs, b.attrs)
	case len(a.children) != len(b.children):
		return fmt.Sprintf("%s: %d children, encoding/xml %d", path, len(a.children), len(b.children))
	}
	for i := range a.children {
		if d := diffNodes(a.children[i], b.children[i], path+"/"); d != "" {
			return d
		}
	}
	return ""
}

// BenchmarkParseRequest measures parsing the requests of a collection as
// masterzen/winrm and pywinrm send them.
func BenchmarkParseRequest(b *testing.B) {
	docs := [][]byte{[]byte(seedCreate), []byte(seedCommand), []byte(pywinrmCommand)}
	b.ReportAllocs()
	for b.Loop() {
		for _, d := range docs {
			if _, err := parseRequest(d); err != nil {
				b.Fatal(err)
			}
		}
	}
}
