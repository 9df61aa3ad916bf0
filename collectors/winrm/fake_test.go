package winrm

import (
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Response envelopes as Windows sends them (masterzen/winrm fixture_test.go).
const (
	envOpen     = `<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"><s:Header><a:Action>ACTION</a:Action><a:MessageID>uuid:195078CF-804B-41F7-A246-9CB3C1A41A9A</a:MessageID><a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To><a:RelatesTo>uuid:D00059E8-57D6-4035-AD8D-3EDC495DA163</a:RelatesTo></s:Header><s:Body>`
	envClose    = `</s:Body></s:Envelope>`
	createBody  = `<x:ResourceCreated><a:Address>http://127.0.0.1:5985/wsman</a:Address><a:ReferenceParameters><w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI><w:SelectorSet><w:Selector Name="ShellId">67A74734-DD32-4F10-89DE-49A060483810</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>`
	commandBody = `<rsp:CommandResponse><rsp:CommandId>1A6DEE6B-EC68-4DD6-87E9-030C0048ECC4</rsp:CommandId></rsp:CommandResponse>`
	cmdID       = `1A6DEE6B-EC68-4DD6-87E9-030C0048ECC4`
)

func envelope(action, body string) string {
	return strings.Replace(envOpen, "ACTION", action, 1) + body + envClose
}

func receiveBody(stdout, stderr []byte, done bool, exit int) string {
	var b strings.Builder
	b.WriteString("<rsp:ReceiveResponse>")
	if len(stdout) > 0 {
		b.WriteString(`<rsp:Stream Name="stdout" CommandId="` + cmdID + `">` + base64.StdEncoding.EncodeToString(stdout) + `</rsp:Stream>`)
	}
	if len(stderr) > 0 {
		b.WriteString(`<rsp:Stream Name="stderr" CommandId="` + cmdID + `">` + base64.StdEncoding.EncodeToString(stderr) + `</rsp:Stream>`)
	}
	if done {
		b.WriteString(`<rsp:CommandState CommandId="` + cmdID + `" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"><rsp:ExitCode>` + strconv.Itoa(exit) + `</rsp:ExitCode></rsp:CommandState>`)
	} else {
		b.WriteString(`<rsp:CommandState CommandId="` + cmdID + `" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"></rsp:CommandState>`)
	}
	b.WriteString("</rsp:ReceiveResponse>")
	return b.String()
}

var actionOp = regexp.MustCompile(`<a:Action[^>]*>[^<]*/([A-Za-z]+)</a:Action>`)

// fakeHost is a minimal WinRM endpoint: Basic auth, one shell, one command
// whose output is served in chunks. hook can take over any request.
type fakeHost struct {
	user, pass string
	stdout     []byte
	stderr     []byte
	exit       int
	chunk      int
	hook       func(op string, n int, w http.ResponseWriter, r *http.Request) bool

	mu      sync.Mutex
	counts  map[string]int
	sent    int
	command string
}

func (f *fakeHost) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

func (f *fakeHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if u, p, ok := r.BasicAuth(); f.user != "" && (!ok || u != f.user || p != f.pass) {
		w.Header().Set("WWW-Authenticate", `Basic realm="WSMAN"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	op := "unknown"
	if m := actionOp.FindSubmatch(body); m != nil {
		op = string(m[1])
	}
	f.mu.Lock()
	if f.counts == nil {
		f.counts = map[string]int{}
	}
	f.counts[op]++
	n := f.counts[op]
	if op == "Create" {
		f.sent = 0
	}
	if op == "Command" {
		if m := regexp.MustCompile(`<rsp:Command><!\[CDATA\[(.*?)\]\]></rsp:Command>`).FindSubmatch(body); m != nil {
			f.command = string(m[1])
		}
	}
	f.mu.Unlock()
	if f.hook != nil && f.hook(op, n, w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
	switch op {
	case "Create":
		io.WriteString(w, envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse", createBody))
	case "Command":
		io.WriteString(w, envelope("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse", commandBody))
	case "Receive":
		f.mu.Lock()
		chunk := f.chunk
		if chunk <= 0 {
			chunk = 64 << 10
		}
		out := f.stdout[f.sent:min(f.sent+chunk, len(f.stdout))]
		f.sent += len(out)
		var errOut []byte
		if n == 1 {
			errOut = f.stderr
		}
		done := f.sent >= len(f.stdout)
		f.mu.Unlock()
		io.WriteString(w, envelope("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse", receiveBody(out, errOut, done, f.exit)))
	case "Signal":
		io.WriteString(w, envelope("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse", "<rsp:SignalResponse/>"))
	case "Delete":
		io.WriteString(w, envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse", ""))
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

// fault serves a testdata fault envelope with HTTP 500.
func fault(t testing.TB, name string) func(http.ResponseWriter) {
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write(data)
	}
}

// collectionOutput is a valid collect.ps1 output (CRLF, as Windows prints it).
func collectionOutput(t testing.TB) []byte {
	data, err := os.ReadFile("../bitlocker/testdata/collection_domain.txt")
	if err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(string(data), "# ---\n")
	return []byte(after)
}
