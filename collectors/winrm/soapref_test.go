package winrm

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// parseResponseXML is parseResponse reading the document with encoding/xml
// in Strict mode, as the transport did before scanXML: the reference the
// scanner is held to.
func parseResponseXML(body []byte) (*response, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("empty response body")
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = true
	var e envelopeReader
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return e.finish()
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			var attrs []xattr
			for _, a := range t.Attr {
				attrs = append(attrs, xattr{name: xname{[]byte(a.Name.Space), []byte(a.Name.Local)}, value: []byte(a.Value)})
			}
			err = e.start(xname{[]byte(t.Name.Space), []byte(t.Name.Local)}, attrs)
		case xml.CharData:
			err = e.chardata(bytes.Clone(t)) // the decoder reuses its buffer
		case xml.EndElement:
			err = e.end()
		case xml.Directive:
			err = errDTD
		case xml.ProcInst:
			if t.Target == "xml" && bytes.Contains(bytes.ToLower(t.Inst), []byte("encoding")) && !bytes.Contains(bytes.ToLower(t.Inst), []byte("utf-8")) {
				err = errEncoding
			}
		}
		if err != nil {
			return nil, err
		}
	}
}

// scanSeeds are documents in the forms WS-Management answers take, and in
// forms the scanner must read as encoding/xml does.
func scanSeeds(t testing.TB) [][]byte {
	seeds := []string{
		envelope("a/CreateResponse", createBody),
		envelope("a/CommandResponse", commandBody),
		envelope("a/ReceiveResponse", receiveBody([]byte("out\r\nput"), []byte("err"), true, 3)),
		envelope("a/ReceiveResponse", receiveBody([]byte("out"), nil, false, 0)),
		`<?xml version="1.0" encoding="utf-8"?>` + "\r\n" + envelope("a/CommandResponse", `<rsp:CommandResponse><rsp:CommandId>&#x31;&amp;&lt;2&gt;&quot;&apos;</rsp:CommandId></rsp:CommandResponse>`),
		`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><!-- a comment --><?pi data?>` +
			`<Stream xmlns="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" Name='stdout'><![CDATA[aGVs]]>bG8=</Stream>` +
			`<q:CommandState xmlns:q="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" q:State="` + stateDone + `"><q:ExitCode>-1</q:ExitCode></q:CommandState>` +
			`</env:Body></env:Envelope>`,
		"\xef\xbb\xbf" + envelope("a", `<w:SelectorSet><w:Selector Name = "ShellId" >  id-1 </w:Selector ></w:SelectorSet>`),
		envelope("a", `<x xmlns:rsp="urn:other"><rsp:Stream Name="stdout">@@</rsp:Stream></x><rsp:Stream Name="stdout">b2s=</rsp:Stream>`),
		envelope("a", `<rsp:Stream Name="stdout">aGVs`+"\r\n"+`bG8=</rsp:Stream><rsp:Stream Name="stderr"/>`),
	}
	for _, name := range []string{"fault_access_denied.xml", "fault_max_shells.xml", "fault_operation_timeout.xml", "fault_shell_not_found.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, string(b))
	}
	out := make([][]byte, len(seeds))
	for i, s := range seeds {
		out[i] = []byte(s)
	}
	return out
}

// TestScanMatchesEncodingXML checks that the scanner reads every seed, as
// encoding/xml does.
func TestScanMatchesEncodingXML(t *testing.T) {
	for i, body := range scanSeeds(t) {
		want, err := parseResponseXML(body)
		if err != nil {
			t.Fatalf("seed %d: encoding/xml: %v", i, err)
		}
		got, err := parseResponse(body)
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("seed %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	// The seeds do reach what they are for.
	r, _ := parseResponse(scanSeeds(t)[5])
	if string(r.stdout) != "hello" || !r.done || r.exit() != -1 {
		t.Errorf("default namespace, CDATA, prefixed State: %+v", r)
	}
	r, _ = parseResponse(scanSeeds(t)[4])
	if r.cmdID != `1&<2>"'` {
		t.Errorf("references: CommandId %q", r.cmdID)
	}
}

// FuzzScanXML holds the scanner to encoding/xml: whatever parseResponse
// accepts, encoding/xml in Strict mode accepts too and reads the same.
func FuzzScanXML(f *testing.F) {
	for _, s := range scanSeeds(f) {
		f.Add(s)
	}
	for _, s := range []string{"<a>&#0;</a>", "<a b='&#xD800;'/>", "<a:b:c/>", "<a>]]></a>", "<!--a--b-->", "<?xml version='1.1'?><a/>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := parseResponse(body)
		if err != nil {
			if strings.Contains(err.Error(), string(body)) && len(body) > 8 {
				t.Errorf("error echoes the document: %v", err)
			}
			return
		}
		want, err := parseResponseXML(body)
		if err != nil {
			t.Fatalf("scanner accepted what encoding/xml refuses (%v): %q", err, body)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("scanner read\n%+v\nencoding/xml read\n%+v\nfrom %q", got, want, body)
		}
	})
}
