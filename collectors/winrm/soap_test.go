package winrm

import (
	"io"
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
		{"receive done", envelope("a/ReceiveResponse", receiveBody([]byte("hello"), []byte("e"), true, 0)), func(r *response) bool { return r.done && r.streamed == 6 }, ""},
		{"fault", string(timeout), func(r *response) bool {
			return r.fault != nil && r.fault.wsmanCode == faultCodeOperationTimeout && r.fault.subcode == "w:TimedOut" && strings.HasPrefix(r.fault.reason, "The WS-Management service")
		}, ""},
		{"empty", "  \r\n", nil, "empty"},
		{"not xml", "hello", nil, "not a SOAP 1.2 envelope"},
		{"html", "<html/>", nil, "not a SOAP 1.2 envelope"},
		{"no body", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/></s:Envelope>`, nil, "with a Body"},
		{"two roots", envelope("a", "") + "<x/>", nil, "more than one root"},
		{"truncated", envelope("a", commandBody)[:300], nil, "malformed XML"},
		{"dtd", `<!DOCTYPE x [<!ENTITY a "b">]>` + envelope("a", ""), nil, "DTD"},
		{"latin1", `<?xml version="1.0" encoding="iso-8859-1"?>` + envelope("a", ""), nil, "malformed XML"},
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

// FuzzParseResponse checks the property the transport relies on: whatever
// parseResponse accepts, masterzen/winrm parses without panicking (M2b).
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(envelope("a/CreateResponse", createBody)))
	f.Add([]byte(envelope("a/CommandResponse", commandBody)))
	f.Add([]byte(envelope("a/ReceiveResponse", receiveBody([]byte("out"), []byte("err"), true, 3))))
	f.Add([]byte(envelope("a/ReceiveResponse", receiveBody([]byte("out"), nil, false, 0))))
	if b, err := os.ReadFile(filepath.Join("testdata", "fault_operation_timeout.xml")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := parseResponse(body); err != nil {
			return
		}
		s := string(body)
		mwinrm.ParseOpenShellResponse(s)
		mwinrm.ParseExecuteCommandResponse(s)
		mwinrm.ParseSlurpOutputErrResponse(s, io.Discard, io.Discard)
	})
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
