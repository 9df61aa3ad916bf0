package wmi

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bitaudit/bitaudit/collectors/bitlocker"
	"github.com/bitaudit/bitaudit/model"
)

// captureSections splits a recorded collect.ps1 output into section bodies.
func captureSections(t *testing.T, path string) (raw []byte, secs map[string]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, out, ok := strings.Cut(string(b), "# ---\n")
	if !ok {
		t.Fatalf("%s: no header separator", path)
	}
	secs = map[string]string{}
	var cur string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSuffix(line, "\r")
		switch {
		case strings.HasPrefix(line, "##SECTION "):
			cur = strings.TrimPrefix(line, "##SECTION ")
		case strings.HasPrefix(line, "##BITAUDIT"):
			cur = ""
		case cur != "":
			secs[cur] += line + "\n"
		}
	}
	return []byte(out), secs
}

func u32(n uint32) *uint32 { return &n }
func str(s string) *string { return &s }

// domainSnapshot holds the WMI values behind the simulator capture
// sim_collect_domain.txt: what a local read of that machine returns.
func domainSnapshot(t *testing.T, secs map[string]string) *Snapshot {
	t.Helper()
	s := &Snapshot{MachineSID: "S-1-5-21-1004336348-1177238915-682003330-1000"}
	if err := json.Unmarshal([]byte(secs["os"]), &s.OS); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(secs["computer"]), &s.Computer); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(secs["events"]), &s.Events); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(secs["fve"]), &s.FVEPolicy); err != nil {
		t.Fatal(err)
	}
	s.Dsregcmd = []byte(secs["dsregcmd"])
	s.Volumes = []EncryptableVolume{
		{
			DeviceID: `\\?\Volume{1b2c3d4e-0000-4000-8000-000000000001}\`, DriveLetter: str("C:"), VolumeType: u32(0),
			ProtectionStatus: u32(1), ConversionStatus: u32(1), EncryptionPercentage: u32(100), EncryptionFlags: u32(1),
			EncryptionMethod: u32(7), LockStatus: u32(0), SuspendCount: u32(0),
			Protectors: []KeyProtector{
				{ID: "{3B3E091C-ECB9-4B46-9FDD-A9E699EC3C8C}", Type: u32(1)},
				{ID: "{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}", Type: u32(3)},
			},
		},
		{
			DeviceID: `\\?\Volume{1b2c3d4e-0000-4000-8000-000000000002}\`, DriveLetter: str("D:"), VolumeType: u32(1),
			ProtectionStatus: u32(0), ConversionStatus: u32(2), EncryptionPercentage: u32(42), EncryptionFlags: u32(0),
			EncryptionMethod: u32(6), LockStatus: u32(0), SuspendCount: u32(0),
			Protectors: []KeyProtector{
				{ID: "{C0FFEE00-1111-4222-8333-444455556666}", Type: u32(2)},
				{ID: "{D00D0000-1111-4222-8333-444455556666}", Type: u32(3)},
			},
		},
		{
			DeviceID: `\\?\Volume{1b2c3d4e-0000-4000-8000-000000000003}\`, VolumeType: u32(2),
			ProtectionStatus: u32(0), ConversionStatus: u32(0), EncryptionPercentage: u32(0), EncryptionFlags: u32(0),
			EncryptionMethod: u32(0), LockStatus: u32(0), SuspendCount: u32(0),
		},
	}
	return s
}

// TestDecodeAgreesWithWinRM holds the local collector to the WinRM one: the
// WMI values behind a recorded collect.ps1 output decode to the same facts
// and volumes as that output.
func TestDecodeAgreesWithWinRM(t *testing.T) {
	const capture = "../bitlocker/testdata/sim_collect_domain.txt"
	raw, secs := captureSections(t, capture)
	wantFacts, wantVols, err := bitlocker.DecodeCollection(raw)
	if err != nil {
		t.Fatalf("decoding the capture: %v", err)
	}
	wantFacts.Source = model.Collection{Collector: "wmi"}

	facts, vols, err := Decode(domainSnapshot(t, secs))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if d := cmp.Diff(wantFacts, facts); d != "" {
		t.Errorf("facts differ from the WinRM decoding (-winrm +wmi):\n%s", d)
	}
	if d := cmp.Diff(wantVols, vols); d != "" {
		t.Errorf("volumes differ from the WinRM decoding (-winrm +wmi):\n%s", d)
	}
	if len(vols) != 3 || len(facts.Events) == 0 || len(facts.Policy) == 0 || facts.Join.State != model.JoinDomain {
		t.Fatalf("decoded too little: %d volumes, %d events, %d policy values, join %q", len(vols), len(facts.Events), len(facts.Policy), facts.Join.State)
	}
}

// oleError stands in for go-ole's OleError: an error with an HRESULT.
type oleError struct {
	code uintptr
	msg  string
}

func (e oleError) Error() string { return e.msg }
func (e oleError) Code() uintptr { return e.code }

func TestDecodeFailures(t *testing.T) {
	_, secs := captureSections(t, "../bitlocker/testdata/sim_collect_domain.txt")
	tests := []struct {
		name   string
		modify func(*Snapshot)
		want   []error // errors.Is targets; nil: success
		check  func(*testing.T, model.HostFacts, []model.Volume)
	}{
		{
			name:   "access denied to the BitLocker namespace",
			modify: func(s *Snapshot) { s.VolumesErr = oleError{0x80041003, "Access denied"} },
			want:   []error{model.ErrAuth, model.ErrNoData},
		},
		{
			name:   "computer system unreadable",
			modify: func(s *Snapshot) { s.ComputerErr = errors.New("RPC server unavailable") },
			want:   []error{model.ErrNoData},
		},
		{
			name:   "hostile computer name",
			modify: func(s *Snapshot) { s.Computer.Name = "WS-01'; Remove-Item C:\\" },
			want:   []error{model.ErrProtocol},
		},
		{
			name: "failed method leaves its value unknown, never a default",
			modify: func(s *Snapshot) {
				s.Volumes[0].MethodRet, s.Volumes[0].EncryptionMethod = 0x80310000, u32(0)
				s.Volumes[0].LockStatus = u32(1)
			},
			check: func(t *testing.T, _ model.HostFacts, v []model.Volume) {
				if v[0].Method != model.MethodUnknown {
					t.Errorf("method of a failed GetEncryptionMethod = %q, want unknown", v[0].Method)
				}
			},
		},
		{
			name:   "events unreadable: the rest is kept",
			modify: func(s *Snapshot) { s.EventsErr = errors.New("wevtutil.exe: exit status 15007") },
			check: func(t *testing.T, f model.HostFacts, v []model.Volume) {
				if len(v) != 3 || f.Hostname != "WS-0001" {
					t.Errorf("got %d volumes, host %q", len(v), f.Hostname)
				}
			},
		},
		{
			name:   "FVE policy key absent",
			modify: func(s *Snapshot) { s.FVEPolicy = nil },
			check: func(t *testing.T, f model.HostFacts, _ []model.Volume) {
				if len(f.Policy) != 0 {
					t.Errorf("policy %v, want empty", f.Policy)
				}
			},
		},
		{
			name: "recovery-password-shaped text is never passed on",
			modify: func(s *Snapshot) {
				s.VolumesErr = errors.New("boom 123456-123456-123456-123456-123456-123456-123456-123456")
			},
			want: []error{model.ErrNoData},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := domainSnapshot(t, secs)
			tc.modify(s)
			f, v, err := Decode(s)
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("error %v, want one matching %v", err, w)
				}
			}
			if err != nil && strings.Contains(err.Error(), "123456-123456") {
				t.Errorf("error carries a recovery-password-shaped value: %v", err)
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				tc.check(t, f, v)
			}
		})
	}
}

func TestSplitEvents(t *testing.T) {
	_, secs := captureSections(t, "../bitlocker/testdata/sim_collect_domain.txt")
	var events []string
	if err := json.Unmarshal([]byte(secs["events"]), &events); err != nil {
		t.Fatal(err)
	}
	// wevtutil /f:xml prints the events one after another, each on its own line.
	out := "\xef\xbb\xbf" + strings.Join(events, "\r\n") + "\r\n"
	got, err := SplitEvents([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(events, got); d != "" {
		t.Errorf("SplitEvents (-want +got):\n%s", d)
	}
	if got, err := SplitEvents(nil); err != nil || len(got) != 0 {
		t.Errorf("no events: %v, %v", got, err)
	}
	for _, bad := range []string{
		events[0][:len(events[0])-5], // truncated
		"<Other/>",                   // not an event
		events[0] + " stray text",    // text outside
		"<Event><System></Event>",    // malformed
	} {
		if _, err := SplitEvents([]byte(bad)); err == nil {
			t.Errorf("SplitEvents(%.40q) accepted malformed output", bad)
		}
	}
}

func TestCollectOffWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("reads the real machine on Windows")
	}
	_, err := New().Collect(context.Background())
	if !errors.Is(err, ErrNotWindows) || !strings.Contains(err.Error(), "Windows") {
		t.Fatalf("Collect off Windows: %v, want ErrNotWindows", err)
	}
}
