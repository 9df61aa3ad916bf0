package wsman_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bitaudit/bitaudit/simulator/wsman"
)

// soapOp is one request as masterzen/winrm writes it (docs/winrm.md §1.2).
type soapOp struct {
	action    string // full action URI
	shellID   string
	timeout   string // OperationTimeout, default PT60S
	envelope  int    // MaxEnvelopeSize, default 153600
	options   string // OptionSet XML
	body      string
	messageID string
}

const (
	nsShell    = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
	nsTransfer = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
)

func (o soapOp) xml() string {
	if o.timeout == "" {
		o.timeout = "PT60S"
	}
	if o.envelope == 0 {
		o.envelope = 153600
	}
	if o.messageID == "" {
		o.messageID = "uuid:d00059e8-57d6-4035-ad8d-3edc495da163"
	}
	sel := ""
	if o.shellID != "" {
		sel = `<w:SelectorSet><w:Selector Name="ShellId">` + o.shellID + `</w:Selector></w:SelectorSet>`
	}
	return `<?xml version="1.0" encoding="utf-8" ?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:rsp="` + nsShell + `" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">` +
		`<env:Header><a:To>http://127.0.0.1:5985/wsman</a:To><a:ReplyTo><a:Address mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>` +
		fmt.Sprintf(`<w:MaxEnvelopeSize mustUnderstand="true">%d</w:MaxEnvelopeSize><w:OperationTimeout>%s</w:OperationTimeout>`, o.envelope, o.timeout) +
		`<a:MessageID>` + o.messageID + `</a:MessageID><w:Locale mustUnderstand="false" xml:lang="en-US"/><p:DataLocale mustUnderstand="false" xml:lang="en-US"/>` +
		`<a:Action mustUnderstand="true">` + o.action + `</a:Action>` + sel +
		`<w:ResourceURI mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>` + o.options +
		`</env:Header><env:Body>` + o.body + `</env:Body></env:Envelope>`
}

func createOp() soapOp {
	return soapOp{action: nsTransfer + "/Create",
		options: `<w:OptionSet><w:Option Name="WINRS_NOPROFILE">FALSE</w:Option><w:Option Name="WINRS_CODEPAGE">65001</w:Option></w:OptionSet>`,
		body:    `<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>`}
}

func commandOp(shell, cmd string) soapOp {
	return soapOp{action: nsShell + "/Command", shellID: shell,
		options: `<w:OptionSet><w:Option Name="WINRS_CONSOLEMODE_STDIN">TRUE</w:Option><w:Option Name="WINRS_SKIP_CMD_SHELL">FALSE</w:Option></w:OptionSet>`,
		body:    `<rsp:CommandLine><rsp:Command><![CDATA[` + cmd + `]]></rsp:Command></rsp:CommandLine>`}
}

func receiveOp(shell, cmd string) soapOp {
	return soapOp{action: nsShell + "/Receive", shellID: shell,
		body: `<rsp:Receive><rsp:DesiredStream CommandId="` + cmd + `">stdout stderr</rsp:DesiredStream></rsp:Receive>`}
}

func signalOp(shell, cmd string) soapOp {
	return soapOp{action: nsShell + "/Signal", shellID: shell,
		body: `<rsp:Signal CommandId="` + cmd + `"><rsp:Code>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate</rsp:Code></rsp:Signal>`}
}

func deleteOp(shell string) soapOp {
	return soapOp{action: nsTransfer + "/Delete", shellID: shell}
}

// post sends a raw request with Basic credentials.
func (s *server) post(t testing.TB, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", s.url(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	req.SetBasicAuth(testUser, testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/soap+xml;charset=UTF-8" {
		t.Fatalf("Content-Type = %q (status %d)", ct, resp.StatusCode)
	}
	return resp.StatusCode, b
}

// do posts op and fails unless the status is want.
func (s *server) do(t testing.TB, op soapOp, want int) *elem {
	t.Helper()
	status, b := s.post(t, op.xml())
	if status != want {
		t.Fatalf("%s: status %d, want %d: %s", op.action, status, want, b)
	}
	return parse(t, b)
}

// elem is a parsed XML element for comparisons.
type elem struct {
	Name     string
	Attrs    map[string]string
	Text     string
	Children []*elem
}

func parse(t testing.TB, b []byte) *elem {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var stack []*elem
	var root *elem
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("parse %s: %v", b, err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			e := &elem{Name: tk.Name.Space + " " + tk.Name.Local, Attrs: map[string]string{}}
			for _, a := range tk.Attr {
				if a.Name.Space != "xmlns" && a.Name.Local != "xmlns" {
					e.Attrs[a.Name.Space+" "+a.Name.Local] = a.Value
				}
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, e)
			} else {
				root = e
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(tk)
			}
		}
	}
	return root
}

// find returns the first descendant with the given local name.
func (e *elem) find(local string) *elem {
	if e == nil {
		return nil
	}
	if strings.HasSuffix(e.Name, " "+local) {
		return e
	}
	for _, c := range e.Children {
		if f := c.find(local); f != nil {
			return f
		}
	}
	return nil
}

// findAll returns every descendant with the given local name.
func (e *elem) findAll(local string) []*elem {
	var out []*elem
	if strings.HasSuffix(e.Name, " "+local) {
		out = append(out, e)
	}
	for _, c := range e.Children {
		out = append(out, c.findAll(local)...)
	}
	return out
}

// volatile elements and attributes differ per message and host.
var volatile = map[string]bool{
	"MessageID": true, "RelatesTo": true, "Selector": true, "ShellId": true, "CommandId": true,
	"Address": true, "Owner": true, "ClientIP": true, "ShellRunTime": true, "ShellInactivity": true,
	"Machine": true,
}

type normOptions struct {
	anyData      bool // stream payloads are not compared
	dropEndEmpty bool // drop empty End="true" streams (fixtures captured without them)
}

// normalise makes e comparable: IDs replaced, whitespace between elements
// dropped, stream payloads decoded and consecutive chunks merged.
func normalise(t testing.TB, e *elem, o normOptions) *elem {
	local := e.Name[strings.LastIndex(e.Name, " ")+1:]
	n := &elem{Name: e.Name, Attrs: map[string]string{}}
	for k, v := range e.Attrs {
		if volatile[k[strings.LastIndex(k, " ")+1:]] {
			v = "*"
		}
		n.Attrs[k] = v
	}
	switch {
	case len(e.Children) > 0:
	case volatile[local]:
		n.Text = "*"
	case local == "OutputStreams":
		n.Text = strings.Join(strings.Fields(e.Text), " ")
	case local == "Stream":
		data, err := base64.StdEncoding.DecodeString(e.Text)
		if err != nil {
			t.Fatalf("stream %q: %v", e.Text, err)
		}
		n.Text = string(data)
		if o.anyData && n.Text != "" {
			n.Text = "*"
		}
	default:
		n.Text = e.Text
	}
	for _, c := range e.Children {
		nc := normalise(t, c, o)
		if strings.HasSuffix(nc.Name, " Stream") {
			if o.dropEndEmpty && nc.Attrs[" End"] == "true" && nc.Text == "" {
				continue
			}
			if k := len(n.Children); k > 0 {
				prev := n.Children[k-1]
				if prev.Name == nc.Name && prev.Attrs[" Name"] == nc.Attrs[" Name"] && prev.Attrs[" End"] == "" && nc.Attrs[" End"] == "" {
					if !o.anyData {
						prev.Text += nc.Text
					}
					continue
				}
			}
		}
		n.Children = append(n.Children, nc)
	}
	return n
}

func compareWithWindows(t *testing.T, fixture string, got *elem, o normOptions) {
	t.Helper()
	raw, err := os.ReadFile("testdata/windows/" + fixture)
	if err != nil {
		t.Fatal(err)
	}
	want := normalise(t, parse(t, raw), o)
	if d := cmp.Diff(want, normalise(t, got, o)); d != "" {
		t.Errorf("%s: response differs from Windows' (-windows +simulator):\n%s", fixture, d)
	}
}

func TestEnvelopesMatchWindows(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	outputs := map[string]wsman.Output{
		"folks":  {Stdout: []byte("That's all folks!!!"), Stderr: bytes.Repeat([]byte("e"), 300000)},
		"big":    {Stdout: bytes.Repeat([]byte("o"), 300000)},
		"whoami": {Stderr: []byte("ERROR: Invalid argument/option - '[/user]'.\r\nType \"WHOAMI /?\" for usage.\r\n"), ExitCode: 1},
		"exit":   {ExitCode: 123},
	}
	cfg := testConfig()
	cfg.Runner = wsman.RunnerFunc(func(ctx context.Context, inv wsman.Invocation) wsman.Output {
		if out, ok := outputs[inv.CommandLine]; ok {
			return out
		}
		select {
		case <-ctx.Done():
		case <-block:
		}
		return wsman.Output{}
	})
	s := startHost(t, cfg, false)

	created := s.do(t, createOp(), 200)
	compareWithWindows(t, "createShellResponse.xml", created, normOptions{})
	shell := created.find("Selector").Text
	if got := created.find("ShellId").Text; got != shell || shell != strings.ToUpper(shell) {
		t.Errorf("ShellId %q, selector %q: want the same uppercase GUID", got, shell)
	}
	if addr, ip := created.find("Address").Text, created.find("ClientIP").Text; addr != s.url() || ip != "127.0.0.1" {
		t.Errorf("Address %q, ClientIP %q; want %q, 127.0.0.1", addr, ip, s.url())
	}
	if got := created.find("RelatesTo").Text; got != "uuid:d00059e8-57d6-4035-ad8d-3edc495da163" {
		t.Errorf("RelatesTo = %q, want the request's MessageID", got)
	}

	run := func(cmd string) string {
		r := s.do(t, commandOp(shell, cmd), 200)
		compareWithWindows(t, "executeCommandResponse.xml", r, normOptions{})
		return r.find("CommandId").Text
	}
	folks := run("folks")
	compareWithWindows(t, "outputResponse.xml", s.do(t, receiveOp(shell, folks), 200), normOptions{anyData: true})
	big := run("big")
	compareWithWindows(t, "singleOutputResponse.xml", s.do(t, receiveOp(shell, big), 200), normOptions{anyData: true})
	whoami := run("whoami")
	compareWithWindows(t, "receiveDoneWithStreams.xml", s.do(t, receiveOp(shell, whoami), 200), normOptions{})
	compareWithWindows(t, "doneCommandExitCode0Response.xml", s.do(t, receiveOp(shell, whoami), 200), normOptions{})
	exit := run("exit")
	compareWithWindows(t, "doneCommandResponse.xml", s.do(t, receiveOp(shell, exit), 200), normOptions{dropEndEmpty: true})

	hung := run("hang")
	op := receiveOp(shell, hung)
	op.timeout = "PT0.050S"
	compareWithWindows(t, "operationTimeoutResponse.xml", s.do(t, op, 500), normOptions{})
}
