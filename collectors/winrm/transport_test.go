package winrm

import (
	"regexp"
	"strings"
	"testing"

	mwinrm "github.com/masterzen/winrm"
)

// TestCommandEnvelope checks that the Command request with the command put
// in masterzen's envelope is the one masterzen writes itself, for the
// collection command and for commands with characters XML would escape
// (masterzen puts them in CDATA).
func TestCommandEnvelope(t *testing.T) {
	collect, err := encodedCommand(collectScript)
	if err != nil {
		t.Fatal(err)
	}
	params := mwinrm.NewParameters("PT60S", "en-US", envelopeSize)
	tr := &transport{to: "https://ws-1.corp.example.test:5986/wsman", params: params}
	messageID := regexp.MustCompile(`<a:MessageID>uuid:[0-9a-f-]{36}</a:MessageID>`)
	for _, command := range []string{collect, `echo "a & b" <x> 'y'`, ""} {
		got := tr.commandEnvelope("67A74734-DD32-4F10-89DE-49A060483810", command)
		want := requestBody(mwinrm.NewExecuteCommandRequest(tr.to, "67A74734-DD32-4F10-89DE-49A060483810", command, nil, params))
		if n := len(messageID.FindAllString(got, -1)); n != 1 {
			t.Fatalf("%d MessageIDs in %.200q", n, got)
		}
		got = messageID.ReplaceAllString(got, "<a:MessageID/>")
		want = messageID.ReplaceAllString(want, "<a:MessageID/>")
		if got != want {
			t.Errorf("command %.40q:\n got %.300q\nwant %.300q", command, got, want)
		}
		if !strings.Contains(got, "<![CDATA["+command+"]]>") {
			t.Errorf("command %.40q not in CDATA: %.300q", command, got)
		}
	}
}
