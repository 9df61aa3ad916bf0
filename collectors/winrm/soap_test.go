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

// FuzzParseResponse holds parseResponse to masterzen/winrm's own parsers
// (response.go), the reference for what an answer says: whatever
// parseResponse accepts, masterzen parses without panicking (M2b) and reads
// the same ShellId, CommandId, streams, Done state and exit code.
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
		checkMasterzen(t, string(body), r)
	})
}

// checkMasterzen checks that masterzen reads from body what r holds.
func checkMasterzen(t *testing.T, body string, r *response) {
	t.Helper()
	if id, err := mwinrm.ParseOpenShellResponse(body); err == nil && id != r.shellID {
		t.Errorf("ShellId %q, masterzen read %q", r.shellID, id)
	}
	if id, err := mwinrm.ParseExecuteCommandResponse(body); err == nil && id != r.cmdID {
		t.Errorf("CommandId %q, masterzen read %q", r.cmdID, id)
	}
	var stdout, stderr bytes.Buffer
	done, exit, err := mwinrm.ParseSlurpOutputErrResponse(body, &stdout, &stderr)
	if !bytes.Equal(stdout.Bytes(), r.stdout) || !bytes.Equal(stderr.Bytes(), r.stderr) {
		t.Errorf("streams %q %q, masterzen read %q %q", r.stdout, r.stderr, stdout.Bytes(), stderr.Bytes())
	}
	if err == nil && (done != r.done || done && exit != r.exit()) {
		t.Errorf("done %v exit %d, masterzen read done %v exit %d", r.done, r.exit(), done, exit)
	}
}
