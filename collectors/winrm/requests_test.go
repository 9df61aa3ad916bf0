package winrm

import (
	"regexp"
	"strings"
	"testing"

	mwinrm "github.com/masterzen/winrm"
	"github.com/masterzen/winrm/soap"
)

// TestRequestTemplates checks that each request filled in from the
// templates is the one masterzen writes itself for the same values,
// MessageID aside, for the collection command and for a command with
// characters XML would escape (masterzen puts commands in CDATA).
func TestRequestTemplates(t *testing.T) {
	collect, err := encodedCommand(collectScript)
	if err != nil {
		t.Fatal(err)
	}
	params := mwinrm.NewParameters("PT60S", "en-US", envelopeSize)
	req := newRequestTemplates(params)
	const (
		to      = "https://ws-1.corp.example.test:5986/wsman"
		shellID = "67A74734-DD32-4F10-89DE-49A060483810"
		cmdID   = "1A6DEE6B-EC68-4DD6-87E9-030C0048ECC4"
	)
	messageID := regexp.MustCompile(`<a:MessageID>uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}</a:MessageID>`)
	for _, command := range []string{collect, `echo "a & b" <x> 'y'`} {
		tr := &transport{req: &req}
		tr.vals = [slotCount]string{slotTo: to, slotShellID: shellID, slotCommandID: cmdID, slotCommand: command}
		for _, tt := range []struct {
			name string
			rt   *requestTemplate
			want *soap.SoapMessage
		}{
			{"Create", &req.create, mwinrm.NewOpenShellRequest(to, params)},
			{"Command", &req.command, mwinrm.NewExecuteCommandRequest(to, shellID, command, nil, params)},
			{"Receive", &req.receive, mwinrm.NewGetOutputRequest(to, shellID, cmdID, "stdout stderr", params)},
			{"Signal", &req.signal, mwinrm.NewSignalRequest(to, shellID, cmdID, params)},
			{"Delete", &req.delete, mwinrm.NewDeleteShellRequest(to, shellID, params)},
		} {
			got := tr.request(tt.rt)
			want := tt.want.String()
			tt.want.Free()
			if n := len(messageID.FindAllString(got, -1)); n != 1 {
				t.Fatalf("%s: %d random UUID MessageIDs in %.300q", tt.name, n, got)
			}
			got = messageID.ReplaceAllString(got, "<a:MessageID/>")
			want = messageID.ReplaceAllString(want, "<a:MessageID/>")
			if got != want {
				t.Errorf("%s, command %.40q:\n got %.400q\nwant %.400q", tt.name, command, got, want)
			}
			if strings.Contains(got, "bitaudit-slot") {
				t.Errorf("%s: a slot mark left in %.400q", tt.name, got)
			}
		}
	}
	tr := &transport{req: &req}
	if a, b := tr.request(&req.receive), tr.request(&req.receive); messageID.FindString(a) == messageID.FindString(b) {
		t.Errorf("two requests with one MessageID: %q", messageID.FindString(a))
	}
}

// TestCheckID checks which ShellIds and CommandIds go into later requests.
func TestCheckID(t *testing.T) {
	for id, ok := range map[string]bool{
		"67A74734-DD32-4F10-89DE-49A060483810":   true,
		"{67a74734-dd32-4f10-89de-49a060483810}": true,
		"":                                       false,
		"</w:Selector><evil/>":                   false,
		"67A74734 DD32":                          false,
		`a"b`:                                    false,
		strings.Repeat("A", maxIDLength+1):       false,
	} {
		if err := checkID("ShellId", id); (err == nil) != ok {
			t.Errorf("checkID(%q) = %v, want ok %v", id, err, ok)
		}
	}
}
