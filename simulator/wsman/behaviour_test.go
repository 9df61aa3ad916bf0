package wsman_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/simulator/wsman"
)

// faultOf returns the WSManFault code and message of a fault envelope.
func faultOf(t *testing.T, e *elem) (string, string) {
	t.Helper()
	f := e.find("WSManFault")
	if f == nil {
		t.Fatal("no WSManFault in response")
	}
	if e.find("Text").Text != f.find("Message").Text {
		t.Errorf("s:Reason %q differs from f:Message %q", e.find("Text").Text, f.find("Message").Text)
	}
	return f.Attrs[" Code"], f.find("Message").Text
}

func TestLongPollTimesOutOncePerPeriod(t *testing.T) {
	release := make(chan struct{})
	cfg := testConfig()
	cfg.Runner = wsman.RunnerFunc(func(ctx context.Context, inv wsman.Invocation) wsman.Output {
		<-release
		return wsman.Output{Stdout: []byte("late\r\n"), ExitCode: 7}
	})
	s := startHost(t, cfg, false)
	go func() { // let three OperationTimeout periods pass, then finish
		for s.host.Stats().ReceiveTimeouts < 3 {
			runtime_Gosched()
		}
		close(release)
	}()
	stdout, _, code, err := s.client(t, clientOptions{timeout: "PT0.1S"}).RunWithString("slow", "")
	if err != nil || stdout != "late\r\n" || code != 7 {
		t.Fatalf("RunWithString = %q, %d, %v", stdout, code, err)
	}
	st := s.host.Stats()
	// Every Receive but the last waited a whole period: no hot loop.
	if st.ReceiveTimeouts < 3 || st.Receives != st.ReceiveTimeouts+1 {
		t.Errorf("%d Receives, %d timed out: want exactly one Receive more than timeouts", st.Receives, st.ReceiveTimeouts)
	}
}

// sizeRecorder records the largest response body written.
type sizeRecorder struct {
	http.ResponseWriter
	n int
}

func (r *sizeRecorder) Write(b []byte) (int, error) {
	r.n += len(b)
	return r.ResponseWriter.Write(b)
}

func TestBigOutputFitsEnvelopes(t *testing.T) {
	for _, tc := range []struct {
		size, envelope int
	}{
		{20 << 20, 153600},
		{1 << 20, 8192},
		{300000, 60000},
	} {
		big := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz\r\n"), tc.size/38+1)[:tc.size]
		cfg := testConfig()
		cfg.Runner = wsman.RunnerFunc(func(ctx context.Context, inv wsman.Invocation) wsman.Output {
			return wsman.Output{Stdout: big, Stderr: []byte("warning\r\n"), ExitCode: 3}
		})
		h, err := wsman.NewHost(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		largest, receives := 0, 0
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &sizeRecorder{ResponseWriter: w}
			h.ServeHTTP(rec, r)
			mu.Lock()
			largest = max(largest, rec.n)
			receives++
			mu.Unlock()
		}))
		addr := ts.Listener.Addr().(*net.TCPAddr)
		c := (&server{addr: addr}).client(t, clientOptions{envelope: tc.envelope})
		stdout, stderr, code, err := c.RunWithString("big", "")
		ts.Close()
		h.Close()
		if err != nil || stdout != string(big) || stderr != "warning\r\n" || code != 3 {
			t.Fatalf("size %d: got %d bytes, stderr %q, code %d, err %v", tc.size, len(stdout), stderr, code, err)
		}
		if largest > tc.envelope {
			t.Errorf("size %d: a response of %d bytes exceeds MaxEnvelopeSize %d", tc.size, largest, tc.envelope)
		}
		if min := tc.size/(tc.envelope/4*3) + 1; receives < min {
			t.Errorf("size %d: %d requests, expected at least %d Receives", tc.size, receives, min)
		}
	}
}

func TestShellQuota(t *testing.T) {
	cfg := testConfig()
	cfg.MaxShellsPerUser = 2
	s := startHost(t, cfg, false)
	a := s.do(t, createOp(), 200).find("Selector").Text
	s.do(t, createOp(), 200)
	code, msg := faultOf(t, s.do(t, createOp(), 500))
	want := "The WS-Management service cannot process the request. This user is allowed a maximum number of 2 concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user. "
	if code != "2150859173" || msg != want {
		t.Errorf("fault %s %q", code, msg)
	}
	s.do(t, deleteOp(a), 200)
	s.do(t, createOp(), 200)
}

func TestOperationQuota(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConcurrentOperationsPerUser = 3
	s := startHost(t, cfg, false)
	shell := s.do(t, createOp(), 200).find("Selector").Text
	cmd := s.do(t, commandOp(shell, "hostname"), 200).find("CommandId").Text // 1
	s.do(t, receiveOp(shell, cmd), 200)                                      // 2
	s.do(t, signalOp(shell, cmd), 200)                                       // 3: Signal does not give it back
	code, msg := faultOf(t, s.do(t, commandOp(shell, "hostname"), 500))
	want := "The WS-Management service cannot process the request. This user is allowed a maximum number of 3 concurrent operations, which has been exceeded. Close existing operations for this user, or raise the quota for this user. "
	if code != "2150859174" || msg != want {
		t.Errorf("fault %s %q", code, msg)
	}
	s.do(t, deleteOp(shell), 200) // deleting the shell releases its operations
	shell = s.do(t, createOp(), 200).find("Selector").Text
	s.do(t, commandOp(shell, "hostname"), 200)
}

func TestRequestFaults(t *testing.T) {
	s := startHost(t, testConfig(), false)
	missing := "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"
	for _, tc := range []struct {
		name, body, code, subcode, message string
	}{
		{"unknown shell", receiveOp(missing, "X").xml(), "2150858843", "w:InvalidSelectors",
			"The request for the Windows Remote Shell with ShellId " + missing + " failed because the shell was not found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the server. Provide the correct ShellId or create a new shell and retry the operation. "},
		{"no ShellId selector", receiveOp("", "X").xml(), "2150858842", "w:InvalidSelectors",
			"The Windows Remote Shell cannot process the request because it requires the following selector: ShellId. Retry with the correct selector. "},
		{"unknown action", soapOp{action: "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate"}.xml(), "2150858771", "a:ActionNotSupported",
			"The WS-Management service does not support the action specified in the request. "},
		{"PSRP resource", strings.Replace(createOp().xml(), "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd", "http://schemas.microsoft.com/powershell/Microsoft.PowerShell", 1),
			"2150858770", "a:DestinationUnreachable",
			"The client cannot connect to the destination specified in the request. Verify that the service on the destination is running and is accepting requests. Consult the logs and documentation for the WS-Management service running on the destination, most commonly IIS or WinRM. If the destination is the WinRM service, run the following command on the destination to analyze and configure the WinRM service: \"winrm quickconfig\". "},
		{"not SOAP", "hello", "2150858819", "w:SchemaValidationError",
			"The WS-Management service cannot process the request because the XML is invalid. "},
		{"not an envelope", "<a><b/></a>", "2150858819", "w:SchemaValidationError",
			"The WS-Management service cannot process the request because the XML is invalid. "},
		{"codepage 1252", strings.Replace(createOp().xml(), ">65001<", ">1252<", 1), "2150859072", "w:InternalError",
			"The WinRS client cannot process the request. The server cannot set Code Page. You may want to use the CHCP command to change the client Code Page to 437 and receive the results in English. "},
		{"envelope above MaxEnvelopeSize", soapOp{action: nsTransfer + "/Create", envelope: 600000}.xml(), "2150858823", "w:EncodingLimit",
			"The maximum envelope size in the request is too large. Change the maximum envelope size and try the request again. "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, b := s.post(t, tc.body)
			if status != 500 {
				t.Fatalf("status %d, want 500", status)
			}
			e := parse(t, b)
			code, msg := faultOf(t, e)
			if code != tc.code || msg != tc.message {
				t.Errorf("fault %s %q, want %s %q", code, msg, tc.code, tc.message)
			}
			if sub := e.find("Subcode").find("Value").Text; sub != tc.subcode {
				t.Errorf("subcode %q, want %q", sub, tc.subcode)
			}
			if m := e.find("WSManFault").Attrs[" Machine"]; m != "WKS-0042" {
				t.Errorf("Machine = %q", m)
			}
		})
	}
}

func TestHTTPErrors(t *testing.T) {
	s := startHost(t, testConfig(), false)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/wsman", 405},
		{"POST", "/other", 404},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+s.addr.String()+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
}

// TestTolerantParsing sends pywinrm-style requests: other prefixes and
// element order, s:mustUnderstand, escaped text, several arguments.
func TestTolerantParsing(t *testing.T) {
	got := make(chan wsman.Invocation, 1)
	cfg := testConfig()
	cfg.Runner = wsman.RunnerFunc(func(ctx context.Context, inv wsman.Invocation) wsman.Output {
		got <- inv
		return wsman.Output{}
	})
	s := startHost(t, cfg, false)
	envelope := func(action, selectors, options, body string) string {
		return `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:sh="` + nsShell + `">` +
			`<soap:Header><wsa:To>http://windows-host:5985/wsman</wsa:To><wsman:MaxEnvelopeSize soap:mustUnderstand="true">153600</wsman:MaxEnvelopeSize><wsa:MessageID>uuid:11111111-2222-3333-4444-555555555555</wsa:MessageID>` +
			`<wsman:OperationTimeout>PT20S</wsman:OperationTimeout><wsman:ResourceURI soap:mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</wsman:ResourceURI>` +
			`<wsa:Action soap:mustUnderstand="true">` + action + `</wsa:Action>` + selectors + options + `</soap:Header><soap:Body>` + body + `</soap:Body></soap:Envelope>`
	}
	create := parse(t, mustPost(t, s, envelope(nsTransfer+"/Create", "",
		`<wsman:OptionSet><wsman:Option Name="WINRS_CODEPAGE">437</wsman:Option></wsman:OptionSet>`,
		`<sh:Shell><sh:InputStreams>stdin</sh:InputStreams><sh:OutputStreams>stdout stderr</sh:OutputStreams></sh:Shell>`)))
	if create.find("RelatesTo").Text != "uuid:11111111-2222-3333-4444-555555555555" {
		t.Errorf("RelatesTo not echoed")
	}
	sel := `<wsman:SelectorSet><wsman:Selector Name="ShellId">` + create.find("Selector").Text + `</wsman:Selector></wsman:SelectorSet>`
	mustPost(t, s, envelope(nsShell+"/Command", sel, "",
		`<sh:CommandLine><sh:Command>echo</sh:Command><sh:Arguments>a&amp;b</sh:Arguments><sh:Arguments><![CDATA["c d"]]></sh:Arguments></sh:CommandLine>`))
	inv := <-got
	if inv.CommandLine != `echo a&b "c d"` || inv.Codepage != 437 || inv.User != testUser {
		t.Errorf("invocation = %+v", inv)
	}
}

func mustPost(t *testing.T, s *server, body string) []byte {
	t.Helper()
	status, b := s.post(t, body)
	if status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	return b
}

func TestCommandCancellation(t *testing.T) {
	cancelled := make(chan string, 3)
	cfg := testConfig()
	cfg.IdleTimeout = 20 * time.Millisecond // the sweeper expires the third shell
	cfg.Runner = wsman.RunnerFunc(func(ctx context.Context, inv wsman.Invocation) wsman.Output {
		<-ctx.Done()
		cancelled <- inv.CommandLine
		return wsman.Output{}
	})
	s := startHost(t, cfg, false)
	for _, how := range []string{"signal", "delete", "idle"} {
		shell := s.do(t, createOp(), 200).find("Selector").Text
		cmd := s.do(t, commandOp(shell, how), 200).find("CommandId").Text
		switch how {
		case "signal":
			s.do(t, signalOp(shell, cmd), 200)
		case "delete":
			s.do(t, deleteOp(shell), 200)
		}
		if got := <-cancelled; got != how {
			t.Errorf("cancelled %q, want %q", got, how)
		}
		if how == "idle" {
			code, _ := faultOf(t, s.do(t, receiveOp(shell, cmd), 500))
			if code != "2150858843" {
				t.Errorf("expired shell: fault %s, want 2150858843", code)
			}
		}
	}
}

// TestFaultProfiles checks what masterzen/winrm makes of each injected
// fault (docs/winrm.md §6.4).
func TestFaultProfiles(t *testing.T) {
	for _, tc := range []struct {
		fault    wsman.Fault
		opts     clientOptions
		code     int
		errWant  string // substring of the error; "" for none
		checkOut func(string) bool
	}{
		{fault: wsman.FaultReset, code: 0, errWant: "connection reset by peer"},
		{fault: wsman.FaultStall, opts: clientOptions{deadline: 2 * time.Second}, code: 0, errWant: "i/o timeout"},
		{fault: wsman.FaultTruncated, code: 0, errWant: "XML syntax error"},
		{fault: wsman.FaultGarbled, code: 0, checkOut: func(s string) bool {
			return s != "WKS-0042\r\n" && strings.HasPrefix("WKS-0042\r\n", s)
		}},
		{fault: wsman.FaultQuota, code: 0, errWant: "Command has already been closed"},
		{fault: wsman.FaultNonSOAP, code: 1, errWant: "http response error: 500 - invalid content type"},
	} {
		for _, withTLS := range []bool{false, true} {
			name := string(tc.fault) + "/http"
			if withTLS {
				name += "s"
			}
			t.Run(name, func(t *testing.T) {
				cfg := testConfig()
				cfg.Fault = tc.fault
				s := startHost(t, cfg, withTLS)
				stdout, _, code, err := s.client(t, tc.opts).RunWithString("hostname", "")
				switch {
				case tc.errWant == "" && err != nil:
					t.Errorf("err = %v, want none", err)
				case tc.errWant != "" && (err == nil || !strings.Contains(err.Error(), tc.errWant)):
					t.Errorf("err = %v, want %q", err, tc.errWant)
				}
				if code != tc.code {
					t.Errorf("exit code %d, want %d", code, tc.code)
				}
				if tc.checkOut != nil && !tc.checkOut(stdout) {
					t.Errorf("stdout %q", stdout)
				}
			})
		}
	}
}

// TestStallReleasedWhenClientLeaves checks a stalled response does not pin
// the server once the client gives up.
func TestStallReleasedWhenClientLeaves(t *testing.T) {
	cfg := testConfig()
	cfg.Fault = wsman.FaultStall
	var served atomic.Int64
	h, err := wsman.NewHost(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	done := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if served.Add(1) == 3 { // Create, Command, stalled Receive
			close(done)
		}
	}))
	defer ts.Close()
	s := &server{addr: ts.Listener.Addr().(*net.TCPAddr)}
	shell := s.do(t, createOp(), 200).find("Selector").Text
	cmd := s.do(t, commandOp(shell, "hostname"), 200).find("CommandId").Text
	req, _ := http.NewRequest("POST", s.url(), strings.NewReader(receiveOp(shell, cmd).xml()))
	req.SetBasicAuth(testUser, testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 100)
	if _, err := resp.Body.Read(part); err != nil || resp.StatusCode != 200 {
		t.Fatalf("partial body: status %d, %v", resp.StatusCode, err)
	}
	resp.Body.Close() // the client goes away mid-body
	<-done
}
