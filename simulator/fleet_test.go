package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/masterzen/winrm"
)

// testPassword is what test fleets accept; not a recovery password.
const testPassword = "S1mulated-Passw0rd"

// nextBase hands each test fleet its own /24 so parallel tests never
// share an address.
var nextBase atomic.Uint32

func testBase() netip.Addr {
	n := nextBase.Add(1)
	return netip.AddrFrom4([4]byte{127, 0, byte(200 + n%50), 1})
}

// freePort returns a port free on base, so fleets do not collide with
// anything else listening on the machine.
func freePort(t testing.TB, base netip.Addr) int {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(base, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startFleet(t testing.TB, spec *Spec, opts Options) *Fleet {
	t.Helper()
	if !opts.ListenBase.IsValid() {
		opts.ListenBase = testBase()
	}
	if opts.Port == 0 {
		opts.Port = freePort(t, opts.ListenBase)
	}
	if opts.Password == "" {
		opts.Password = testPassword
	}
	f, err := Start(context.Background(), spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

type clientConfig struct {
	tls      bool
	ntlm     bool
	ca       []byte
	password string
	// deadline bounds every connection, for faults that would otherwise
	// hold masterzen forever (it has no context in this version).
	deadline time.Duration
	envelope int
}

func newClient(t testing.TB, address string, c clientConfig) *winrm.Client {
	t.Helper()
	ap := netip.MustParseAddrPort(address)
	ep := winrm.NewEndpoint(ap.Addr().String(), int(ap.Port()), c.tls, false, c.ca, nil, nil, 30*time.Second)
	params := winrm.NewParameters("PT60S", "en-US", 153600)
	if c.envelope != 0 {
		params.EnvelopeSize = c.envelope
	}
	dial := (&net.Dialer{Timeout: 5 * time.Second}).Dial
	if c.deadline > 0 {
		dial = func(network, addr string) (net.Conn, error) {
			conn, err := net.DialTimeout(network, addr, 5*time.Second)
			if err == nil {
				conn.SetDeadline(time.Now().Add(c.deadline))
			}
			return conn, err
		}
	}
	params.Dial = dial
	if c.ntlm {
		params.TransportDecorator = func() winrm.Transporter { return winrm.NewClientNTLMWithDial(dial) }
	}
	password := c.password
	if password == "" {
		password = testPassword
	}
	cl, err := winrm.NewClientWithParameters(ep, DefaultUser, password, params)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func count(n int) *int { return &n }

func TestFleetHostname(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		auth      string
		tls, ntlm bool
	}{
		{"basic-http", "basic", false, false},
		{"ntlm-http", "ntlm", false, true},
		{"basic-https", "basic", true, false},
		{"ntlm-https", "ntlm", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := &Spec{Seed: 11, Profiles: []ProfileMix{
				{Name: "domain-laptop", Count: count(2)},
				{Name: "domain-server", Count: count(1)},
				{Name: "entra-laptop", Count: count(1)},
			}}
			f := startFleet(t, spec, Options{Auth: tc.auth, TLS: tc.tls})
			if tc.tls != (f.CAPEM() != nil) {
				t.Fatalf("CAPEM() = %q with TLS %v", f.CAPEM(), tc.tls)
			}
			for _, h := range f.Hosts() {
				c := newClient(t, h.Address, clientConfig{tls: tc.tls, ntlm: tc.ntlm, ca: f.CAPEM()})
				stdout, stderr, code, err := c.RunWithString("hostname", "")
				if err != nil || code != 0 || stderr != "" {
					t.Fatalf("%s: hostname: code %d, err %v, stderr %q", h.Address, code, err, stderr)
				}
				if want := h.Machine.ComputerName + "\r\n"; stdout != want {
					t.Errorf("%s: hostname = %q, want %q", h.Address, stdout, want)
				}
			}
			// The wrong password is refused with a bare 401.
			c := newClient(t, f.Hosts()[0].Address, clientConfig{tls: tc.tls, ntlm: tc.ntlm, ca: f.CAPEM(), password: "not-" + testPassword})
			if _, _, _, err := c.RunWithString("hostname", ""); err == nil || !strings.Contains(err.Error(), "401") {
				t.Errorf("wrong password: err = %v, want a 401", err)
			}
		})
	}
}

func TestFleetTargets(t *testing.T) {
	t.Parallel()
	spec := &Spec{Seed: 1, Profiles: []ProfileMix{{Name: "workgroup", Count: count(300)}}, Faults: []FaultMix{{Kind: FaultRefused, Count: count(2)}}}
	base := netip.MustParseAddr("127.0.150.250")
	f := startFleet(t, spec, Options{ListenBase: base})
	targets := f.Targets()
	if len(targets) != 300 {
		t.Fatalf("%d targets, want 300", len(targets))
	}
	// .250 .. .254, then .1 of the next /24: .255 and .0 are skipped.
	for i, want := range []string{"127.0.150.250", "127.0.150.254", "127.0.151.1", "127.0.151.254", "127.0.152.1"} {
		idx := []int{0, 4, 5, 258, 259}[i]
		if got := netip.MustParseAddrPort(targets[idx]).Addr().String(); got != want {
			t.Errorf("target %d = %s, want %s", idx, got, want)
		}
	}
	var buf bytes.Buffer
	if err := f.WriteTargets(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(targets)+1 || lines[0] != "host,fqdn,ad_dn,entra_device_id" {
		t.Fatalf("WriteTargets wrote %d lines, header %q", len(lines), lines[0])
	}
	// Workgroup hosts: a DNS name in the fleet's domain, no AD DN, no device ID.
	if got, want := lines[1], targets[0]+",ws-0001.corp.example.test,,"; got != want {
		t.Errorf("first row %q, want %q", got, want)
	}
}

// TestFleetFaults drives each fault profile with masterzen/winrm and checks
// the client sees what winrm.md §6.4 says it sees from Windows.
func TestFleetFaults(t *testing.T) {
	t.Parallel()
	var faults []FaultMix
	for _, k := range FaultKinds {
		fm := FaultMix{Kind: k, Count: count(1)}
		switch k {
		case FaultSlow:
			fm.Delay = Duration(50 * time.Millisecond)
		case FaultHuge:
			fm.SizeMiB = 24
		}
		faults = append(faults, fm)
	}
	spec := &Spec{Seed: 5, Profiles: []ProfileMix{{Name: "domain-laptop", Count: count(len(faults) + 1)}}, Faults: faults}
	f := startFleet(t, spec, Options{Auth: "basic"})
	byFault := map[string]*Host{}
	for _, h := range f.Hosts() {
		if len(h.Faults) == 1 {
			byFault[h.Faults[0]] = h
		}
	}
	for _, tc := range []struct {
		kind   string
		status string
		// check judges masterzen's result.
		check func(h *Host, stdout string, code int, err error) error
	}{
		{FaultSlow, StatusCompliant, wantHostname},
		{FaultHuge, StatusProtocolError, func(h *Host, stdout string, code int, err error) error {
			if err != nil || len(stdout) < 24<<20 || !strings.HasSuffix(stdout, "\r\n"+h.Machine.ComputerName+"\r\n") {
				return fmt.Errorf("want 24 MiB then the hostname: %d bytes, err %v", len(stdout), err)
			}
			return nil
		}},
		{FaultRefused, StatusUnreachable, wantErr("connection refused")},
		{FaultWrongPassword, StatusAuthFailed, wantErr("401 - invalid content type")},
		{FaultReset, StatusUnreachable, wantErr("connection reset by peer")},
		{FaultTruncated, StatusProtocolError, wantErr("XML syntax error")},
		{FaultNonSOAP, StatusProtocolError, wantErr("invalid content type")},
		// masterzen loses the quota fault text (winrm.md §6.4).
		{FaultQuota, StatusProtocolError, wantErr("Command has already been closed")},
		{FaultGarbled, StatusProtocolError, func(h *Host, stdout string, code int, err error) error {
			// masterzen silently drops the undecodable stream (winrm.md §6.4).
			if stdout == h.Machine.ComputerName+"\r\n" {
				return fmt.Errorf("garbled host returned clean output")
			}
			return nil
		}},
		{FaultStall, StatusTimeout, wantErr("timeout")},
		{FaultHung, StatusTimeout, wantErr("timeout")},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			h := byFault[tc.kind]
			if h == nil {
				t.Fatalf("no host with fault %s", tc.kind)
			}
			if h.Expect.Status != tc.status {
				t.Errorf("Expect.Status = %q, want %q", h.Expect.Status, tc.status)
			}
			// The deadline ends stall and hung, which hold masterzen forever;
			// huge output needs longer, especially under -race.
			deadline := 3 * time.Second
			if tc.kind == FaultHuge {
				deadline = 2 * time.Minute
			}
			c := newClient(t, h.Address, clientConfig{deadline: deadline})
			stdout, _, code, err := c.RunWithString("hostname", "")
			t.Logf("masterzen: %d bytes of stdout, code %d, err %v", len(stdout), code, err)
			if cerr := tc.check(h, stdout, code, err); cerr != nil {
				t.Error(cerr)
			}
		})
	}
}

func wantHostname(h *Host, stdout string, code int, err error) error {
	if err != nil || code != 0 || stdout != h.Machine.ComputerName+"\r\n" {
		return fmt.Errorf("want hostname: stdout %q, code %d, err %v", stdout, code, err)
	}
	return nil
}

func wantErr(sub string) func(*Host, string, int, error) error {
	return func(_ *Host, stdout string, code int, err error) error {
		if err == nil || !strings.Contains(err.Error(), sub) {
			return fmt.Errorf("err = %v, want one containing %q", err, sub)
		}
		return nil
	}
}

func TestStartOptions(t *testing.T) {
	spec := &Spec{Profiles: []ProfileMix{{Name: "tpm-only", Count: count(1)}}}
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"no password", Options{}},
		{"bad auth", Options{Password: "x", Auth: "kerberos"}},
		{"not loopback", Options{Password: "x", ListenBase: netip.MustParseAddr("10.0.0.1")}},
		{"past 127/8", Options{Password: "x", ListenBase: netip.MustParseAddr("127.255.255.254")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := *spec
			if tc.name == "past 127/8" {
				s.Profiles = []ProfileMix{{Name: "tpm-only", Count: count(3)}}
			}
			if f, err := Start(context.Background(), &s, tc.opts); err == nil {
				f.Close()
				t.Fatal("Start accepted bad options")
			}
		})
	}
}

// TestFleetRequireEncryption checks Windows' AllowUnencrypted=false: an
// unsealed plain-HTTP client is refused, HTTPS is not.
func TestFleetRequireEncryption(t *testing.T) {
	t.Parallel()
	spec := &Spec{Seed: 2, Profiles: []ProfileMix{{Name: "hybrid-laptop", Count: count(1)}}}
	plain := startFleet(t, spec, Options{Auth: "basic", RequireEncryption: true})
	c := newClient(t, plain.Hosts()[0].Address, clientConfig{})
	if _, _, _, err := c.RunWithString("hostname", ""); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("unencrypted HTTP: err = %v, want a 401", err)
	}
	tls := startFleet(t, spec, Options{Auth: "basic", TLS: true, RequireEncryption: true})
	h := tls.Hosts()[0]
	c = newClient(t, h.Address, clientConfig{tls: true, ca: tls.CAPEM()})
	stdout, _, code, err := c.RunWithString("hostname", "")
	if err := wantHostname(h, stdout, code, err); err != nil {
		t.Errorf("HTTPS: %v", err)
	}
}

func TestStartAddressInUse(t *testing.T) {
	t.Parallel()
	spec := &Spec{Profiles: []ProfileMix{{Name: "tpm-only", Count: count(2)}}}
	f := startFleet(t, spec, Options{})
	ap := netip.MustParseAddrPort(f.Hosts()[0].Address)
	_, err := Start(context.Background(), spec, Options{Password: testPassword, ListenBase: ap.Addr(), Port: int(ap.Port())})
	if err == nil || !strings.Contains(err.Error(), "another fleet") {
		t.Fatalf("second fleet on the same addresses: err = %v", err)
	}
}

func TestWriteExpectations(t *testing.T) {
	one := 1
	hosts, err := Build(&Spec{Seed: 2, Profiles: []ProfileMix{{Name: "domain-laptop", Count: &one}, {Name: "tpm-only", Count: &one}},
		Faults: []FaultMix{{Kind: FaultRefused, Count: &one}}})
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hosts {
		h.Address = fmt.Sprintf("127.0.99.%d:5986", i+1)
	}
	var buf bytes.Buffer
	if err := (&Fleet{hosts: hosts}).WriteExpectations(&buf); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d records, want 2", len(got))
	}
	for i, r := range got {
		h := hosts[i]
		if r["target"] != h.Address || r["profile"] != h.Profile || r["status"] != h.Expect.Status {
			t.Errorf("record %v, host %s %s %+v", r, h.Address, h.Profile, h.Expect)
		}
		if _, ok := r["problems"].([]any); !ok {
			t.Errorf("record %v: problems is not an array", r)
		}
	}
}
