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

// captureSections splits a recorded collect.ps1 output into section bodies
// and error records.
func captureSections(t *testing.T, path string) (raw []byte, secs map[string]string, errs map[string]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, out, ok := strings.Cut(string(b), "# ---\n")
	if !ok {
		t.Fatalf("%s: no header separator", path)
	}
	secs, errs = map[string]string{}, map[string]string{}
	var cur string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSuffix(line, "\r")
		switch {
		case strings.HasPrefix(line, "##SECTION "):
			cur = strings.TrimPrefix(line, "##SECTION ")
		case strings.HasPrefix(line, "##BITAUDIT"):
			cur = ""
		case strings.HasPrefix(line, "##ERROR "):
			errs[cur] = strings.TrimPrefix(line, "##ERROR ")
		case cur != "":
			secs[cur] += line + "\n"
		}
	}
	return []byte(out), secs, errs
}

// captureVolume is one volume of the script's JSON, as recorded.
type captureVolume struct {
	DeviceID                                                     string
	DriveLetter                                                  *string
	VolumeType, Protection, Conversion, Percent, Flags, Method   *uint32
	Lock, Suspend                                                *uint32
	ProtectionRet, ConversionRet, MethodRet, LockRet, SuspendRet uint32
	ProtectorsRet                                                uint32
	Protectors                                                   []struct {
		ID   string `json:"Id"`
		Type *uint32
		Ret  uint32
	}
}

// snapshotOf holds the WMI values behind a recorded collect.ps1 output:
// what a local read of that machine returns. Each recorded value is put
// where the WMI reader puts it (Win32_EncryptableVolume properties and
// method results, MSFT_Partition, wevtutil's text, the FVE key, dsregcmd).
func snapshotOf(t *testing.T, secs, errs map[string]string) *Snapshot {
	t.Helper()
	s := &Snapshot{}
	unmarshal := func(section string, v any) {
		if err := json.Unmarshal([]byte(secs[section]), v); err != nil {
			t.Fatalf("section %s: %v", section, err)
		}
	}
	unmarshal("os", &s.OS)
	unmarshal("computer", &s.Computer)
	if e, failed := errs["volumes"]; failed {
		s.VolumesErr = recordedError(e)
	} else {
		var vols []captureVolume
		unmarshal("volumes", &vols)
		for _, v := range vols {
			ev := EncryptableVolume{
				DeviceID: v.DeviceID, DriveLetter: v.DriveLetter, VolumeType: v.VolumeType,
				ProtectionRet: v.ProtectionRet, ProtectionStatus: v.Protection,
				ConversionRet: v.ConversionRet, ConversionStatus: v.Conversion, EncryptionPercentage: v.Percent, EncryptionFlags: v.Flags,
				MethodRet: v.MethodRet, EncryptionMethod: v.Method, LockRet: v.LockRet, LockStatus: v.Lock,
				SuspendRet: v.SuspendRet, SuspendCount: v.Suspend, ProtectorsRet: v.ProtectorsRet,
			}
			for _, p := range v.Protectors {
				ev.Protectors = append(ev.Protectors, KeyProtector{ID: p.ID, TypeRet: p.Ret, Type: p.Type})
			}
			s.Volumes = append(s.Volumes, ev)
		}
	}
	unmarshal("partitions", &s.Partitions)
	if e, failed := errs["events"]; failed {
		s.EventsErr = recordedError(e)
	} else {
		s.Events = []byte(secs["events"])
	}
	unmarshal("fve", &s.FVEPolicy)
	s.Dsregcmd = []byte(secs["dsregcmd"])
	return s
}

// recordedError is a recorded ##ERROR line as the error a WMI call gives:
// with the HRESULT it names, if any.
func recordedError(line string) error {
	if i := strings.Index(strings.ToLower(line), "0x8004100e"); i >= 0 {
		return oleError{code: 0x80020009, msg: "Invalid namespace", sub: excepInfo{0x8004100e}}
	}
	return errors.New(line)
}

// oleError stands in for go-ole's OleError: an HRESULT, and for
// DISP_E_EXCEPTION the EXCEPINFO with WMI's own status.
type oleError struct {
	code uintptr
	msg  string
	sub  error
}

func (e oleError) Error() string   { return e.msg }
func (e oleError) Code() uintptr   { return e.code }
func (e oleError) SubError() error { return e.sub }

type excepInfo struct{ scode uint32 }

func (e excepInfo) Error() string { return "exception" }
func (e excepInfo) SCODE() uint32 { return e.scode }

// TestDecodeAgreesWithWinRM holds the local collector to the WinRM one: the
// WMI values behind recorded collect.ps1 outputs (format 2) decode to the
// same facts and volumes as those outputs, but for what only PowerShell
// has (its language mode) and the IDs of failed sections.
func TestDecodeAgreesWithWinRM(t *testing.T) {
	for _, capture := range []string{
		"../bitlocker/testdata/sim_collect_v2_clm_edrive_winre.txt", // eDrive, Windows RE, odd events
		"../bitlocker/testdata/sim_collect_v2_no_feature.txt",       // no BitLocker feature
	} {
		t.Run(capture, func(t *testing.T) {
			raw, secs, errs := captureSections(t, capture)
			wantFacts, wantVols, err := bitlocker.DecodeCollection(raw)
			if err != nil {
				t.Fatalf("decoding the capture: %v", err)
			}
			facts, vols, err := Decode(snapshotOf(t, secs, errs))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			wantFacts.Source = model.Collection{Collector: "wmi", EventsSkipped: wantFacts.Source.EventsSkipped, SectionErrors: wantFacts.Source.SectionErrors}
			opt := cmp.Transformer("section", func(e model.SectionError) string { return e.Section })
			if d := cmp.Diff(wantFacts, facts, opt); d != "" {
				t.Errorf("facts differ from the WinRM decoding (-winrm +wmi):\n%s", d)
			}
			if d := cmp.Diff(wantVols, vols); d != "" {
				t.Errorf("volumes differ from the WinRM decoding (-winrm +wmi):\n%s", d)
			}
		})
	}
	// The cases the captures hold, so the comparison above cannot pass on empty data.
	_, secs, errs := captureSections(t, "../bitlocker/testdata/sim_collect_v2_clm_edrive_winre.txt")
	facts, vols, err := Decode(snapshotOf(t, secs, errs))
	if err != nil {
		t.Fatal(err)
	}
	unreadable := 0
	for _, v := range vols {
		if v.Unreadable() {
			unreadable++
		}
	}
	if len(vols) == 0 || unreadable != 1 || len(facts.SystemVolumes) != 1 || len(facts.Events) != 4 {
		t.Errorf("eDrive/WinRE capture: %d volumes (%d unreadable), %d system volumes, %d events; want 2 (1), 1, 4",
			len(vols), unreadable, len(facts.SystemVolumes), len(facts.Events))
	}
	_, secs, errs = captureSections(t, "../bitlocker/testdata/sim_collect_v2_no_feature.txt")
	if facts, _, err = Decode(snapshotOf(t, secs, errs)); err != nil || !facts.BitLockerNotInstalled {
		t.Errorf("no BitLocker feature: BitLockerNotInstalled %v, %v", facts.BitLockerNotInstalled, err)
	}
}

func TestDecodeFailures(t *testing.T) {
	_, secs, errs := captureSections(t, "../bitlocker/testdata/sim_collect_v2_clm_edrive_winre.txt")
	tests := []struct {
		name   string
		modify func(*Snapshot)
		want   []error // errors.Is targets; nil: success
		check  func(*testing.T, model.HostFacts, []model.Volume)
	}{
		{
			name:   "access denied to the BitLocker namespace",
			modify: func(s *Snapshot) { s.VolumesErr = oleError{code: 0x80041003, msg: "Access denied"} },
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
			name: "a failed method makes the volume unreadable, never a default value",
			modify: func(s *Snapshot) {
				s.Volumes[0].MethodRet = 0x80070005
			},
			check: func(t *testing.T, _ model.HostFacts, v []model.Volume) {
				if !v[0].Unreadable() {
					t.Errorf("volume with a failed GetEncryptionMethod: %+v, want a read error", v[0])
				}
			},
		},
		{
			name:   "events unreadable: the rest is kept and the gap recorded",
			modify: func(s *Snapshot) { s.Events, s.EventsErr = nil, errors.New("wevtutil.exe: exit status 15007") },
			check: func(t *testing.T, f model.HostFacts, v []model.Volume) {
				if len(v) == 0 || f.Hostname != "WS-0001" || len(f.Source.SectionErrors) != 1 || f.Source.SectionErrors[0].Section != "events" {
					t.Errorf("got %d volumes, host %q, section errors %+v", len(v), f.Hostname, f.Source.SectionErrors)
				}
			},
		},
		{
			name:   "FVE policy key absent",
			modify: func(s *Snapshot) { s.FVEPolicy = nil },
			check: func(t *testing.T, f model.HostFacts, _ []model.Volume) {
				if len(f.Policy) != 0 || len(f.Source.SectionErrors) != 0 {
					t.Errorf("policy %v, section errors %v; want empty, none", f.Policy, f.Source.SectionErrors)
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
			s := snapshotOf(t, secs, errs)
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

func TestSectionErrorIDs(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{oleError{code: 0x80041003, msg: "Access denied"}, "HRESULT 0x80041003"},
		{oleError{code: 0x80020009, msg: "Exception occurred.", sub: excepInfo{0x8004100e}}, "HRESULT 0x8004100e"},
		{errors.New("exit status 1"), "LocalCollectionFailed"},
	}
	for _, tc := range tests {
		if got := sectionError("volumes", tc.err); got.ID != tc.want {
			t.Errorf("sectionError(%v).ID = %q, want %q", tc.err, got.ID, tc.want)
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
