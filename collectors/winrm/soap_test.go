package winrm

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mwinrm "github.com/masterzen/winrm"
)

func TestParseResponse(t *testing.T) {
	timeout, err := os.ReadFile(filepath.Join("testdata", "fault_operation_timeout.xml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, body string
		check      func(*response) bool
		wantErr    string
	}{
		{"create", envelope("a/CreateResponse", createBody), func(r *response) bool { return r.shellID == "67A74734-DD32-4F10-89DE-49A060483810" }, ""},
		{"command", envelope("a/CommandResponse", commandBody), func(r *response) bool { return r.cmdID == cmdID }, ""},
		{"receive done", envelope("a/ReceiveResponse", receiveBody([]byte("hello"), []byte("e"), true, 0)), func(r *response) bool {
			return r.done && r.streamed == 6 && string(r.stdout) == "hello" && string(r.stderr) == "e" && r.sawExitCode && r.exit() == 0
		}, ""},
		{"receive running", envelope("a/ReceiveResponse", receiveBody([]byte("part"), nil, false, 0)), func(r *response) bool {
			return !r.done && string(r.stdout) == "part" && r.stderr == nil && !r.sawExitCode
		}, ""},
		{"streams in document order, other streams counted not kept", envelope("a/ReceiveResponse", `<rsp:ReceiveResponse>`+
			`<rsp:Stream Name="stdout">b25l</rsp:Stream><rsp:Stream Name="pr">eHh4</rsp:Stream><rsp:Stream Name="stdout" End="true"></rsp:Stream>`+
			`<rsp:Stream Name="stdout">dHdv</rsp:Stream><rsp:CommandState State="`+stateDone+`"><rsp:ExitCode>7</rsp:ExitCode></rsp:CommandState>`+
			`<rsp:ExitCode>9</rsp:ExitCode></rsp:ReceiveResponse>`), func(r *response) bool {
			return string(r.stdout) == "onetwo" && r.streamed == 9 && r.done && r.exit() == 7
		}, ""},
		{"exit code not a number", envelope("a/ReceiveResponse", `<rsp:CommandState State="`+stateDone+`"><rsp:ExitCode>x</rsp:ExitCode></rsp:CommandState>`),
			func(r *response) bool { return r.done && r.sawExitCode && r.exit() == 0 }, ""},
		{"element inside a stream", envelope("a", `<rsp:Stream Name="stdout">b25l<x>dHdv</x></rsp:Stream>`), nil, "element inside"},
		{"fault", string(timeout), func(r *response) bool {
			return r.fault != nil && r.fault.wsmanCode == faultCodeOperationTimeout && r.fault.subcode == "w:TimedOut" && strings.HasPrefix(r.fault.reason, "The WS-Management service")
		}, ""},
		{"empty", "  \r\n", nil, "empty"},
		{"not xml", "hello", nil, "text outside the root"},
		{"html", "<html/>", nil, "not a SOAP 1.2 envelope"},
		{"no body", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/></s:Envelope>`, nil, "with a Body"},
		{"two roots", envelope("a", "") + "<x/>", nil, "more than one root"},
		{"truncated", envelope("a", commandBody)[:300], nil, "malformed XML"},
		{"dtd", `<!DOCTYPE x [<!ENTITY a "b">]>` + envelope("a", ""), nil, "DTD"},
		{"latin1", `<?xml version="1.0" encoding="iso-8859-1"?>` + envelope("a", ""), nil, "not in UTF-8"},
		{"bad base64", envelope("a", `<rsp:Stream Name="stdout">@@@</rsp:Stream>`), nil, "garbled"},
	}
	for _, tt := range tests {
		r, err := parseResponse([]byte(tt.body))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !tt.check(r) {
			t.Errorf("%s: %+v, %v", tt.name, r, err)
		}
	}
}

// FuzzParseResponse checks the properties the transport relies on: whatever
// parseResponse accepts, masterzen/winrm parses without panicking (M2b), and
// the envelope masterzen gets instead (reply) gives it the values it would
// have read from the host's answer.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(envelope("a/CreateResponse", createBody)))
	f.Add([]byte(envelope("a/CommandResponse", commandBody)))
	f.Add([]byte(envelope("a/ReceiveResponse", receiveBody([]byte("out"), []byte("err"), true, 3))))
	f.Add([]byte(envelope("a/ReceiveResponse", receiveBody([]byte("out"), nil, false, 0))))
	if b, err := os.ReadFile(filepath.Join("testdata", "fault_operation_timeout.xml")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseResponse(body)
		if err != nil {
			return
		}
		s := string(body)
		mwinrm.ParseOpenShellResponse(s)
		mwinrm.ParseExecuteCommandResponse(s)
		var stdout, stderr bytes.Buffer
		done, exit, _ := mwinrm.ParseSlurpOutputErrResponse(s, &stdout, &stderr)
		if !bytes.Equal(stdout.Bytes(), r.stdout) || !bytes.Equal(stderr.Bytes(), r.stderr) {
			t.Errorf("streams %q %q, masterzen read %q %q", r.stdout, r.stderr, stdout.Bytes(), stderr.Bytes())
		}
		checkReply(t, r, done, exit)
	})
}

// checkReply checks that masterzen reads from r's replies what r holds, and
// that the Receive reply says done with exit as the host's answer did.
func checkReply(t *testing.T, r *response, done bool, exit int) {
	t.Helper()
	if id, err := mwinrm.ParseOpenShellResponse(r.reply("Create")); err != nil || id != r.shellID {
		t.Errorf("Create reply gives ShellId %q, %v; want %q", id, err, r.shellID)
	}
	if id, err := mwinrm.ParseExecuteCommandResponse(r.reply("Command")); err != nil || id != r.cmdID {
		t.Errorf("Command reply gives CommandId %q, %v; want %q", id, err, r.cmdID)
	}
	var stdout, stderr bytes.Buffer
	gotDone, gotExit, err := mwinrm.ParseSlurpOutputErrResponse(r.reply("Receive"), &stdout, &stderr)
	if err != nil || gotDone != done || gotExit != exit || stdout.Len()+stderr.Len() != 0 {
		t.Errorf("Receive reply gives done %v, exit %d, %d output bytes, %v; want done %v, exit %d, no output", gotDone, gotExit, stdout.Len()+stderr.Len(), err, done, exit)
	}
}

// TestReply checks what masterzen reads from the envelopes that replace a
// host's answers, with values that need escaping.
func TestReply(t *testing.T) {
	for _, r := range []*response{
		{shellID: "67A74734-DD32-4F10-89DE-49A060483810", cmdID: cmdID, done: true, sawExitCode: true, exitCode: "3"},
		{shellID: `a&b<c>"d'`, cmdID: "]]>\t\r\n", done: true},
		{shellID: "", cmdID: "", done: false, sawExitCode: true, exitCode: "1"},
		{done: true, sawExitCode: true, exitCode: "-2147024891"},
	} {
		exit := 0
		if r.done {
			exit = r.exit()
		}
		checkReply(t, r, r.done, exit)
	}
}

func TestSoapAction(t *testing.T) {
	for in, want := range map[string]string{
		`<a:Action mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action>`:               "Create",
		`<a:Action mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive</a:Action><x/>`: "Receive",
		`<a:Action>/</a:Action>`: "request",
		`no action`:              "request",
	} {
		if got := soapAction(in); got != want {
			t.Errorf("soapAction(%.40q) = %q, want %q", in, got, want)
		}
	}
}
