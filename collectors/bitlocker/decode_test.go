package bitlocker

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bitaudit/bitaudit/model"
)

var update = flag.Bool("update", false, "update golden files")

var passwordShape = regexp.MustCompile(`\d{6}(-\d{6}){7}`)

// payload strips a sample's "# " header up to and including "# ---".
func payload(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.Index(data, []byte("# ---\n")); i >= 0 && bytes.HasPrefix(data, []byte("# ")) {
		data = data[i+len("# ---\n"):]
	}
	return data
}

func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if passwordShape.Match(b) {
		t.Fatalf("decoded output contains a recovery-password-shaped string:\n%s", b)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(want, b) {
		t.Errorf("%s differs from golden (run go test -update to accept):\n%s", name, b)
	}
}

func decodeAll(b []byte) (any, error) {
	f, v, err := DecodeCollection(b)
	return map[string]any{"facts": f, "volumes": v}, err
}

func TestDecodeGolden(t *testing.T) {
	tests := []struct {
		file   string
		decode func([]byte) (any, error)
	}{
		{"collection_domain.txt", func(b []byte) (any, error) {
			f, v, err := DecodeCollection(b)
			return map[string]any{"facts": f, "volumes": v}, err
		}},
		{"collection_entra.txt", func(b []byte) (any, error) {
			f, v, err := DecodeCollection(b)
			return map[string]any{"facts": f, "volumes": v}, err
		}},
		{"sim_collect_domain.txt", decodeAll},
		{"sim_collect_v2_clm_edrive_winre.txt", decodeAll},
		{"sim_collect_v2_no_feature.txt", decodeAll},
		{"sim_collect_entra.txt", decodeAll},
		{"sim_collect_hybrid_decrypted.txt", decodeAll},
		{"sim_collect_locked_workgroup.txt", decodeAll},
		{"sim_collect_no_volumes.txt", decodeAll},
		{"Get-BitLockerVolume_ConvertTo-Json_ps51_WIN-VM.json.txt", func(b []byte) (any, error) { return DecodeBitLockerVolumes(b) }},
		{"dsregcmd-status_hybrid-joined_fragment.txt", func(b []byte) (any, error) { return DecodeDsregcmd(b) }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := tt.decode(payload(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(tt.file, ".txt"), got)
		})
	}
}

func TestDecodeCollectionFacts(t *testing.T) {
	facts, vols, err := DecodeCollection(payload(t, "collection_domain.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if facts.Hostname != "WS-0001" || facts.FQDN != "ws-0001.corp.example.test" || facts.Join.State != model.JoinDomain || facts.Join.DomainName != "CORP" {
		t.Errorf("facts: %+v", facts)
	}
	if len(vols) != 3 {
		t.Fatalf("volumes: %d", len(vols))
	}
	c, locked, removable := vols[0], vols[1], vols[2]
	if c.MountPoint != "C:" || !c.UsedSpaceOnly || c.Method != model.MethodXTSAES256 || len(c.RecoveryPasswords()) != 1 || c.RecoveryPasswords()[0].ID != "{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}" {
		t.Errorf("C: %+v", c)
	}
	if !locked.Locked || locked.Conversion != model.ConversionUnknown || locked.MountPoint != locked.DeviceID || locked.Method != model.MethodUnknown {
		t.Errorf("locked: %+v", locked)
	}
	if removable.Type != model.VolumeRemovable || removable.Protectors == nil || len(removable.Protectors) != 0 {
		t.Errorf("removable: %+v", removable)
	}
	if _, ok := facts.Policy["OSEncryptionType"]; ok || facts.Policy["OSActiveDirectoryBackup"] != 1 || facts.Policy["Big"] != -1 {
		t.Errorf("policy: %v", facts.Policy)
	}
	if len(facts.Events) != 4 || facts.Events[1].ErrorCode != "-2147012889" || facts.Events[0].MountPoint != "C:" {
		t.Errorf("events: %+v", facts.Events)
	}
}

// collection builds framed output from section bodies, in script order.
func collection(os, comp, vols, events, fve, dsreg string) string {
	return strings.Join([]string{"##BITAUDIT BEGIN 1",
		"##SECTION os", os, "##SECTION computer", comp, "##SECTION volumes", vols,
		"##SECTION events", events, "##SECTION fve", fve, "##SECTION dsregcmd", dsreg,
		"##BITAUDIT END 6", ""}, "\r\n")
}

const (
	okOS    = `{"Caption":"Windows","Version":"10.0.1","BuildNumber":"1"}`
	okComp  = `{"Name":"H1","DNSHostName":"h1","Domain":"WORKGROUP","PartOfDomain":false}`
	okVol   = `{"DeviceID":"\\\\?\\Volume{95b548ac-9d1a-4f36-96fc-2c67e06caefb}\\","DriveLetter":"C:","VolumeType":0,"Protection":1,"ConversionRet":0,"Conversion":1,"Percent":100,"Flags":0,"Method":6,"Lock":0,"Suspend":0,"Protectors":[{"Id":"{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}","Type":3}]}`
	okDsreg = "AzureAdJoined : NO\r\nDomainJoined : NO\r\nEnterpriseJoined : NO"
)

func vol(replace ...string) string {
	return "[" + strings.NewReplacer(replace...).Replace(okVol) + "]"
}

func TestDecodeCollectionMalformed(t *testing.T) {
	ok := collection(okOS, okComp, "["+okVol+"]", "[]", "", okDsreg)
	if _, _, err := DecodeCollection([]byte(ok)); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	tests := []struct {
		name string
		in   string
		want error  // errors.Is target
		msg  string // substring of the error
	}{
		{"empty", "", model.ErrProtocol, "no BEGIN"},
		{"html", "<html><body>IIS</body></html>", model.ErrProtocol, "no BEGIN"},
		{"truncated no END", ok[:strings.Index(ok, "##SECTION fve")], model.ErrProtocol, "no END"},
		{"truncated mid JSON", ok[:strings.Index(ok, `"Percent"`)], model.ErrProtocol, "no END"},
		{"END count wrong", strings.Replace(ok, "END 6", "END 7", 1), model.ErrProtocol, "truncated"},
		{"section missing", strings.Replace(ok, "##SECTION fve\r\n", "", 1), model.ErrProtocol, "truncated"},
		{"section repeated", strings.Replace(ok, "##SECTION fve", "##SECTION os", 1), model.ErrProtocol, "repeated"},
		{"unknown section", strings.Replace(ok, "##SECTION fve", "##SECTION fvx", 1), model.ErrProtocol, "unknown section"},
		{"version", strings.Replace(ok, "BEGIN 1", "BEGIN 3", 1), model.ErrProtocol, "version"},
		{"v1 END count with v2 BEGIN", strings.Replace(ok, "BEGIN 1", "BEGIN 2", 1), model.ErrProtocol, "truncated"},
		{"two BEGIN", "##BITAUDIT BEGIN 1\n" + ok, model.ErrProtocol, "second BEGIN"},
		{"trailing output", ok + "extra\n", model.ErrProtocol, "after the END"},
		{"garbled marker", strings.Replace(ok, "##BITAUDIT END 6", "##BITAUDIT ENF 6", 1), model.ErrProtocol, "garbled"},
		{"garbage JSON", collection(okOS, okComp, "[{\"DeviceID\":", "[]", "", okDsreg), model.ErrProtocol, "volumes"},
		{"volumes not JSON", collection(okOS, okComp, "hello", "[]", "", okDsreg), model.ErrProtocol, "volumes"},
		{"volumes empty", collection(okOS, okComp, "", "[]", "", okDsreg), model.ErrProtocol, "volumes"},
		{"null volume", collection(okOS, okComp, "[null]", "[]", "", okDsreg), model.ErrProtocol, "DeviceID"},
		{"bad device id", collection(okOS, okComp, vol(`Volume{95b5`, `Volume{zzzz`), "[]", "", okDsreg), model.ErrProtocol, "DeviceID"},
		{"bad drive letter", collection(okOS, okComp, vol(`"C:"`, `"C:\\; rm"`), "[]", "", okDsreg), model.ErrProtocol, "DriveLetter"},
		{"conversion as string", collection(okOS, okComp, vol(`"Conversion":1,`, `"Conversion":"FullyEncrypted",`), "[]", "", okDsreg), model.ErrProtocol, "invalid JSON value"},
		{"volumes host error", collection(okOS, okComp, "##ERROR HRESULT 0x80041013,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand Provider load failure ", "[]", "", okDsreg), model.ErrNoData, "Provider load failure"},
		{"volumes access denied", collection(okOS, okComp, "##ERROR HRESULT 0x80041003,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand Access denied ", "[]", "", okDsreg), model.ErrAuth, "Access denied"},
		{"computer host error", collection(okOS, "##ERROR X,Y boom", "["+okVol+"]", "[]", "", okDsreg), model.ErrNoData, "boom"},
		{"computer name injection", collection(okOS, `{"Name":"H1<script>"}`, "["+okVol+"]", "[]", "", okDsreg), model.ErrProtocol, "host name"},
		{"fve not object", collection(okOS, okComp, "["+okVol+"]", "[]", "[1]", okDsreg), model.ErrProtocol, "fve"},
		{"password in error record", collection(okOS, okComp, "##ERROR Id leaked 111111-222222-333333-444444-555555-666666-000000-111111", "[]", "", okDsreg), model.ErrNoData, "[redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			facts, vols, err := DecodeCollection([]byte(tt.in))
			if err == nil {
				t.Fatalf("no error; volumes %+v", vols)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v is not %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			if vols != nil {
				t.Errorf("volumes returned with an error: %+v", vols)
			}
			if passwordShape.MatchString(err.Error()) || passwordShape.MatchString(facts.Hostname) {
				t.Errorf("password-shaped text leaked: %v", err)
			}
		})
	}
}

func TestDecodeVolumesEnums(t *testing.T) {
	tests := []struct {
		repl []string
		want func(model.Volume) bool
	}{
		{[]string{`"VolumeType":0`, `"VolumeType":1`}, func(v model.Volume) bool { return v.Type == model.VolumeFixed }},
		{[]string{`"VolumeType":0`, `"VolumeType":2`}, func(v model.Volume) bool { return v.Type == model.VolumeRemovable }},
		{[]string{`"Conversion":1`, `"Conversion":4`}, func(v model.Volume) bool { return v.Conversion == model.EncryptionPaused }},
		{[]string{`"Conversion":1`, `"Conversion":5`}, func(v model.Volume) bool { return v.Conversion == model.DecryptionPaused }},
		{[]string{`"Protection":1`, `"Protection":0`}, func(v model.Volume) bool { return v.Suspended() }},
		{[]string{`"Method":6`, `"Method":-1`}, func(v model.Volume) bool { return v.Method == model.MethodUnknown }},
		{[]string{`"Method":6`, `"Method":5`}, func(v model.Volume) bool { return v.Method == model.MethodHardware }},
		{[]string{`"Flags":0`, `"Flags":65537`}, func(v model.Volume) bool { return v.UsedSpaceOnly }},
		{[]string{`"DriveLetter":"C:"`, `"DriveLetter":null`}, func(v model.Volume) bool { return v.MountPoint == v.DeviceID }},
		{[]string{`"Suspend":0`, `"Suspend":2`}, func(v model.Volume) bool { return v.SuspendCount != nil && *v.SuspendCount == 2 }},
		{[]string{`"Type":3`, `"Type":10`}, func(v model.Volume) bool { return v.Protectors[0].Type == model.ProtectorADAccount }},
		{[]string{`"ConversionRet":0`, `"ConversionRet":-2144272384`}, func(v model.Volume) bool {
			return v.Locked && v.Conversion == model.ConversionUnknown && !v.Unreadable()
		}},
		{[]string{`"ConversionRet":0`, `"ConversionRet":2150694912`}, func(v model.Volume) bool {
			return v.Locked && v.Conversion == model.ConversionUnknown && !v.Unreadable()
		}},
	}
	for _, tt := range tests {
		vols, err := DecodeVolumes([]byte(strings.NewReplacer(tt.repl...).Replace(okVol)))
		if err != nil {
			t.Errorf("%v: %v", tt.repl, err)
			continue
		}
		if !tt.want(vols[0]) {
			t.Errorf("%v: got %+v", tt.repl, vols[0])
		}
	}
}

func TestDecodeDsregcmdStates(t *testing.T) {
	tests := []struct {
		in   string
		want model.JoinState
	}{
		{"AzureAdJoined : YES\nEnterpriseJoined : NO\nDomainJoined : NO", model.JoinEntra},
		{"   AzureAdJoined : NO\n   EnterpriseJoined : NO\n    DomainJoined : YES\n  DomainName : CORP", model.JoinDomain},
		{"AzureAdJoined : YES\nDomainJoined : YES", model.JoinHybrid},
		{"AzureAdJoined : NO\nEnterpriseJoined : YES\nDomainJoined : YES", model.JoinDomain},
		{"AzureAdJoined : NO\nEnterpriseJoined : NO\nDomainJoined : NO", model.JoinWorkgroup},
		{"'dsregcmd' is not recognized", model.JoinUnknown},
		{"AzureAdJoined : MAYBE\nDomainJoined : NO", model.JoinUnknown},
	}
	for _, tt := range tests {
		got, err := DecodeDsregcmd([]byte(tt.in))
		if err != nil || got.State != tt.want {
			t.Errorf("%q: got %v, %v; want %v", tt.in, got.State, err, tt.want)
		}
	}
	j, _ := DecodeDsregcmd([]byte("AzureAdJoined : YES\nDomainJoined : NO\nDeviceId : x') or 1 eq 1 or ('"))
	if j.EntraDeviceID != "" {
		t.Errorf("non-GUID device ID kept: %q", j.EntraDeviceID)
	}
}

func TestDecodeEventXML(t *testing.T) {
	const head = `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><EventID>`
	tests := []struct {
		in     string
		ok     bool
		errMsg string
	}{
		{head + `784</EventID><TimeCreated SystemTime='2024-01-02T03:04:05.1234567Z'/></System><EventData><Data Name='ProtectorGUID'>{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}</Data></EventData></Event>`, true, ""},
		{head + `768</EventID><TimeCreated SystemTime='2024-01-02T03:04:05Z'/></System></Event>`, false, ""},
		{head + `784</EventID><TimeCreated SystemTime='yesterday'/></System></Event>`, false, "TimeCreated"},
		{head + `784</EventID><TimeCreated SystemTime='2024-01-02T03:04:05Z'/></System><EventData><Data Name='ProtectorGUID'>111111-222222-333333-444444-555555-666666-000000-111111</Data></EventData></Event>`, false, "ProtectorGUID"},
		{head + `846</EventID><TimeCreated SystemTime='2024-01-02T03:04:05Z'/></System><EventData><Data Name='ErrorCode'>; drop</Data></EventData></Event>`, false, "ErrorCode"},
		{head + `78x</EventID></System></Event>`, false, "EventID"},
		{`<Event><System>`, false, "not event XML"},
		{`<!DOCTYPE x [<!ENTITY a "b">]><Event/>`, false, ""},
	}
	for _, tt := range tests {
		ev, ok, err := DecodeEventXML([]byte(tt.in))
		if tt.errMsg != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errMsg) || !errors.Is(err, model.ErrProtocol) {
				t.Errorf("%.60q: error %v, want %q", tt.in, err, tt.errMsg)
			}
			continue
		}
		if ok != tt.ok {
			t.Errorf("%.60q: ok=%v err=%v", tt.in, ok, err)
		}
		if ok && (ev.ID != 784 || ev.ProtectorID == "" || ev.Time.Nanosecond() != 123456700) {
			t.Errorf("decoded %+v", ev)
		}
	}
}

func TestClean(t *testing.T) {
	got := Clean("a\x00b\r\n\tc 111111-222222-333333-444444-555555-666666-000000-111111 \xff", 100)
	if got != "a b c [redacted]" {
		t.Errorf("Clean = %q", got)
	}
	if got := Clean(strings.Repeat("é", 10), 5); got != "éé…" {
		t.Errorf("truncate = %q", got)
	}
}

func FuzzDecodeCollection(f *testing.F) {
	for _, name := range []string{"collection_domain.txt", "collection_entra.txt", "sim_collect_locked_workgroup.txt", "sim_collect_hybrid_decrypted.txt", "sim_collect_v2_clm_edrive_winre.txt", "sim_collect_v2_no_feature.txt"} {
		f.Add(payload(f, name))
	}
	f.Add([]byte(collection(okOS, okComp, "["+okVol+"]", "[]", "", okDsreg)))
	f.Fuzz(func(t *testing.T, data []byte) {
		facts, vols, err := DecodeCollection(data)
		if err != nil {
			if vols != nil {
				t.Fatal("volumes with an error")
			}
			if passwordShape.MatchString(err.Error()) {
				t.Fatalf("password-shaped error: %v", err)
			}
			return
		}
		b, _ := json.Marshal(struct {
			F model.HostFacts
			V []model.Volume
		}{facts, vols})
		if passwordShape.Match(b) {
			t.Fatalf("password-shaped output: %s", b)
		}
		for _, v := range vols {
			if v.Protectors == nil || v.Type == "" || v.Conversion == "" || v.Protection == "" || v.Method == "" || v.MountPoint == "" {
				t.Fatalf("half-decoded volume: %+v", v)
			}
			for _, p := range v.Protectors {
				if !braceGUIDRE.MatchString(p.ID) {
					t.Fatalf("bad protector ID %q", p.ID)
				}
			}
		}
	})
}

func FuzzDecodeDsregcmd(f *testing.F) {
	f.Add(payload(f, "dsregcmd-status_hybrid-joined_fragment.txt"))
	f.Add([]byte(okDsreg))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := DecodeDsregcmd(data)
		if err != nil {
			return
		}
		if j.State == "" || (j.EntraDeviceID != "" && !guidRE.MatchString(j.EntraDeviceID)) || passwordShape.MatchString(j.DomainName) {
			t.Fatalf("bad join info %+v", j)
		}
	})
}

func FuzzDecodeEventXML(f *testing.F) {
	var evs []string
	if err := json.Unmarshal(bytes.Split(bytes.Split(payload(f, "collection_domain.txt"), []byte("##SECTION events\r\n"))[1], []byte("\r\n"))[0], &evs); err != nil {
		f.Fatal(err)
	}
	for _, e := range evs {
		f.Add([]byte(e))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, ok, err := DecodeEventXML(data)
		if err != nil || !ok {
			return
		}
		if !backupEventIDs[ev.ID] || ev.Time.IsZero() || (ev.ProtectorID != "" && !braceGUIDRE.MatchString(ev.ProtectorID)) {
			t.Fatalf("bad event %+v", ev)
		}
	})
}

func TestSectionErrorClass(t *testing.T) {
	facts, vols, err := DecodeCollection([]byte(collection(okOS, okComp, "##ERROR HRESULT 0x8004100e,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand Invalid namespace ", "[]", "", okDsreg)))
	if err != nil || !facts.BitLockerNotInstalled || len(vols) != 0 || vols == nil || facts.OS.Caption != "Windows" || facts.Hostname != "H1" {
		t.Errorf("invalid namespace: %v, %+v, %v", err, facts, vols)
	}
	_, _, err = DecodeCollection([]byte(collection(okOS, okComp, "##ERROR UnauthorizedAccess,X Access is denied.", "[]", "", okDsreg)))
	if model.StatusForError(err) != model.StatusAuthFailed {
		t.Errorf("access denied: %v is %s", err, model.StatusForError(err))
	}
}

// TestDecodeVolumeReadErrors: what cannot be read about one volume is
// recorded on that volume (which keeps what was read), never a failed host.
func TestDecodeVolumeReadErrors(t *testing.T) {
	const eDriveProtectors = `"Protectors":[{"Id":"{3B3E091C-ECB9-4B46-9FDD-A9E699EC3C8C}","Type":1,"Ret":0},{"Id":"BitLocker","Type":3,"Ret":0}]`
	tests := []struct {
		name string
		repl []string
		want string // substring of a read error
		keep func(model.Volume) bool
	}{
		{"missing protection", []string{`"Protection":1,`, ``}, "ProtectionStatus: missing",
			func(v model.Volume) bool {
				return v.Protection == model.ProtectionUnknown && v.Conversion == model.FullyEncrypted
			}},
		{"protection failed", []string{`"Protection":1,`, `"Protection":null,"ProtectionRet":2147942487,`}, "GetProtectionStatus failed: 0x80070057",
			func(v model.Volume) bool { return v.Protection == model.ProtectionUnknown }},
		{"missing conversion", []string{`"Conversion":1,`, ``}, "ConversionStatus: missing",
			func(v model.Volume) bool {
				return v.Conversion == model.ConversionUnknown && v.Protection == model.ProtectionOn
			}},
		{"conversion other error", []string{`"ConversionRet":0`, `"ConversionRet":2150694953`}, "GetConversionStatus failed: 0x80310029",
			func(v model.Volume) bool { return !v.Locked && v.Conversion == model.ConversionUnknown }},
		{"conversion out of range", []string{`"Conversion":1,`, `"Conversion":9,`}, "ConversionStatus: unknown value 9", nil},
		{"percent over 100", []string{`"Percent":100`, `"Percent":101`}, "EncryptionPercentage", nil},
		{"null VolumeType", []string{`"VolumeType":0`, `"VolumeType":null`}, "VolumeType: missing",
			func(v model.Volume) bool { return v.Type == model.VolumeUnknown && v.Method == model.MethodXTSAES128 }},
		{"null method on unlocked volume", []string{`"Method":6`, `"Method":null`}, "EncryptionMethod: missing",
			func(v model.Volume) bool { return v.Method == model.MethodUnknown }},
		{"method unknown value", []string{`"Method":6`, `"Method":8`}, "EncryptionMethod: unknown value 8", nil},
		{"method failed", []string{`"Method":6`, `"Method":null,"MethodRet":2147942405`}, "GetEncryptionMethod failed: 0x80070005", nil},
		{"lock failed", []string{`"Lock":0`, `"Lock":null,"LockRet":1`}, "GetLockStatus failed: 0x00000001", nil},
		{"GetKeyProtectors failed", []string{`"Protectors":[{"Id":"{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}","Type":3}]`, `"ProtectorsRet":2147942487,"Protectors":[]`}, "GetKeyProtectors failed: 0x80070057",
			func(v model.Volume) bool { return len(v.Protectors) == 0 && v.Conversion == model.FullyEncrypted }},
		{"GetKeyProtectorType failed", []string{`"Type":3}`, `"Type":null,"Ret":2147942487}`}, "protectors[0] GetKeyProtectorType failed: 0x80070057",
			func(v model.Volume) bool { return len(v.Protectors) == 0 }},
		{"protectors missing", []string{`,"Protectors":[{"Id":"{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}","Type":3}]`, ``}, "protectors: missing", nil},
		{"eDrive protector ID", []string{`"Method":6`, `"Method":5`, `"Protectors":[{"Id":"{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}","Type":3}]`, eDriveProtectors}, "protectors[1]: ID is not a {GUID}",
			func(v model.Volume) bool {
				return v.Method == model.MethodHardware && len(v.Protectors) == 1 && v.Protectors[0].Type == model.ProtectorTPM
			}},
		{"protector id unbraced", []string{`{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}`, `8A696888-99A7-4FAC-92C7-6CC497EA7BDF`}, "not a {GUID}", nil},
		{"protector type 11", []string{`"Type":3`, `"Type":11`}, "protectors[0]: unknown type 11", nil},
		{"duplicate protector", []string{`"Type":3}]`, `"Type":3},{"Id":"{8a696888-99a7-4fac-92c7-6cc497ea7bdf}","Type":1}]`}, "protectors[1]: duplicate ID",
			func(v model.Volume) bool { return len(v.Protectors) == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			facts, vols, err := DecodeCollection([]byte(collection(okOS, okComp, vol(tt.repl...), "[]", "", okDsreg)))
			if err != nil {
				t.Fatalf("host failed: %v", err)
			}
			if facts.Hostname != "H1" || len(vols) != 1 {
				t.Fatalf("facts %+v volumes %+v", facts, vols)
			}
			v := vols[0]
			if !v.Unreadable() || !strings.Contains(strings.Join(v.ReadErrors, "; "), tt.want) {
				t.Errorf("read errors %q, want one with %q", v.ReadErrors, tt.want)
			}
			if v.MountPoint != "C:" || (tt.keep != nil && !tt.keep(v)) {
				t.Errorf("volume lost what was read: %+v", v)
			}
			for _, e := range v.ReadErrors {
				if strings.Contains(e, "BitLocker") {
					t.Errorf("host text in a read error: %q", e)
				}
			}
		})
	}
}

// collectionV2 builds version-2 output: the partitions section after volumes.
func collectionV2(os, comp, vols, parts, events, fve, dsreg string) string {
	return strings.Join([]string{"##BITAUDIT BEGIN 2",
		"##SECTION os", os, "##SECTION computer", comp, "##SECTION volumes", vols, "##SECTION partitions", parts,
		"##SECTION events", events, "##SECTION fve", fve, "##SECTION dsregcmd", dsreg,
		"##BITAUDIT END 7", ""}, "\r\n")
}

const (
	evHead = `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-BitLocker-API' Guid='{5d674230-ca9f-11da-a94d-0800200c9a66}'/><EventID>`
	evTime = `</EventID><TimeCreated SystemTime='2024-01-02T03:04:05.1234567Z'/></System><EventData>`
)

func event(id string, data ...string) string {
	var b strings.Builder
	b.WriteString(evHead + id + evTime)
	for i := 0; i+1 < len(data); i += 2 {
		b.WriteString("<Data Name='" + data[i] + "'>" + data[i+1] + "</Data>")
	}
	return b.String() + "</EventData></Event>"
}

// TestDecodeEventsSkipsOdd: real logs' forms are accepted, malformed events
// are skipped and counted, and the host is never lost over one.
func TestDecodeEventsSkipsOdd(t *testing.T) {
	const g = "8A696888-99A7-4FAC-92C7-6CC497EA7BDF"
	stream := strings.Join([]string{
		event("784", "ProtectorGUID", "{"+g+"}", "IdentificationGUID", "{1B2C3D4E-0000-4000-8000-000000000001}"),
		event("845", "VolumeMountPoint", `\\?\Volume{95b548ac-9d1a-4f36-96fc-2c67e06caefb}`, "ProtectorGUID", strings.ToLower(g)),
		event("845", "VolumeMountPoint", `C:\mnt\data\`, "ProtectorGUID", "{"+g+"}"),
		event("846", "VolumeMountPoint", `\\?\Volume{95b548ac-9d1a-4f36-96fc-2c67e06caefb}\`, "ProtectorGUID", "{"+g+"}", "ErrorCode", ""),
		event("768", "VolumeName", `\\?\Volume{95b548ac-9d1a-4f36-96fc-2c67e06caefb}`, "VolumeMountPoint", "C:"),
		event("785", "ProtectorGUID", "not-a-guid"),
		event("846", "VolumeMountPoint", "D:", "ErrorCode", "; drop"),
		event("784", "VolumeMountPoint", `C:\a<b`),
		evHead + "784</EventID><TimeCreated SystemTime='soon'/></System></Event>",
		evHead + "784</EventID><System>",
	}, "\r\n")
	facts, vols, err := DecodeCollection([]byte(collectionV2(okOS, okComp, "["+okVol+"]", "", stream, "", okDsreg)))
	if err != nil {
		t.Fatal(err)
	}
	if len(vols) != 1 {
		t.Fatalf("volumes %+v", vols)
	}
	if len(facts.Events) != 4 || facts.Source.EventsSkipped != 5 {
		t.Fatalf("events %+v, skipped %d; want 4 decoded, 5 skipped", facts.Events, facts.Source.EventsSkipped)
	}
	if facts.Events[1].ProtectorID != "{"+strings.ToLower(g)+"}" || facts.Events[2].MountPoint != `C:\mnt\data\` || facts.Events[3].ErrorCode != "" {
		t.Errorf("events %+v", facts.Events)
	}
	// Version 1, a JSON array of ToXml() strings: the same leniency.
	arr, _ := json.Marshal([]string{event("784", "ProtectorGUID", "{"+g+"}"), "hello"})
	facts, _, err = DecodeCollection([]byte(collection(okOS, okComp, "["+okVol+"]", string(arr), "", okDsreg)))
	if err != nil || len(facts.Events) != 1 || facts.Source.EventsSkipped != 1 {
		t.Errorf("v1: %v, %+v, skipped %d", err, facts.Events, facts.Source.EventsSkipped)
	}
	// Garbage before the first event counts as one skipped event.
	events, skipped, err := DecodeEvents([]byte("junk\r\n" + event("784", "ProtectorGUID", "{"+g+"}")))
	if err != nil || len(events) != 1 || skipped != 1 {
		t.Errorf("garbage first: %v %+v %d", err, events, skipped)
	}
}

// TestSectionErrorsRecorded: a failed optional section leaves its facts
// empty and is listed, so a reader sees what was not collected.
func TestSectionErrorsRecorded(t *testing.T) {
	in := collectionV2("##ERROR HRESULT 0x80041013,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand Provider load failure ",
		okComp, "["+okVol+"]", "##ERROR HRESULT 0x80041003,Get-CimInstance Access denied ",
		"##ERROR MethodInvocationNotSupportedInConstrainedLanguage Cannot invoke method. Method invocation is supported only on core types in this language mode.",
		"##ERROR PathNotFound,X nope", "##ERROR NativeCommandError Failed 111111-222222-333333-444444-555555-666666-000000-111111")
	facts, vols, err := DecodeCollection([]byte(in))
	if err != nil || len(vols) != 1 {
		t.Fatalf("%v %+v", err, vols)
	}
	var got []string
	for _, e := range facts.Source.SectionErrors {
		got = append(got, e.Section+" "+e.ID)
		if passwordShape.MatchString(e.Message) {
			t.Errorf("password-shaped text in %+v", e)
		}
	}
	want := []string{"partitions HRESULT 0x80041003,Get-CimInstance", "os HRESULT 0x80041013,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand",
		"dsregcmd NativeCommandError", "events MethodInvocationNotSupportedInConstrainedLanguage", "fve PathNotFound,X"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("section errors\n got %q\nwant %q", got, want)
	}
	if facts.Join.State != model.JoinUnknown || len(facts.Events) != 0 || facts.Events == nil || len(facts.Policy) != 0 {
		t.Errorf("facts of failed sections: %+v", facts)
	}
}

// TestSystemVolumes: letterless volumes on recovery or system partitions are
// kept apart; letterless data volumes and lettered ones are audited.
func TestSystemVolumes(t *testing.T) {
	re := `{"DeviceID":"\\\\?\\Volume{00000000-0000-4000-8000-00000000000a}\\","DriveLetter":null,"VolumeType":1,"Protection":0,"Conversion":0,"Percent":0,"Flags":0,"ConversionRet":0,"Method":0,"Lock":0,"Suspend":0,"Protectors":[]}`
	data := strings.Replace(re, "0000000a", "0000000b", 1)
	lettered := strings.Replace(strings.Replace(re, "0000000a", "0000000c", 1), `"DriveLetter":null`, `"DriveLetter":"R:"`, 1)
	parts := `[{"AccessPaths":["\\\\?\\Volume{00000000-0000-4000-8000-00000000000A}\\"],"GptType":"{DE94BBA4-06D1-4D40-A16A-BFD50179D6AC}","MbrType":null},` +
		`{"AccessPaths":["\\\\?\\Volume{00000000-0000-4000-8000-00000000000b}\\"],"GptType":"{ebd0a0a2-b9e5-4433-87c0-68b6b72699c7}","MbrType":null},` +
		`{"AccessPaths":["R:\\","\\\\?\\Volume{00000000-0000-4000-8000-00000000000c}\\"],"GptType":null,"MbrType":39},` +
		`{"AccessPaths":null,"GptType":"{e3c9e316-0b5c-4db8-817d-f92df00215ae}","MbrType":null}]`
	facts, vols, err := DecodeCollection([]byte(collectionV2(okOS, okComp, "["+okVol+","+re+","+data+","+lettered+"]", parts, "", "", okDsreg)))
	if err != nil {
		t.Fatal(err)
	}
	var audited []string
	for _, v := range vols {
		audited = append(audited, v.MountPoint)
	}
	if len(vols) != 3 || vols[0].MountPoint != "C:" || !strings.Contains(vols[1].DeviceID, "0000000b") || vols[2].MountPoint != "R:" {
		t.Errorf("audited %q", audited)
	}
	if len(facts.SystemVolumes) != 1 || facts.SystemVolumes[0].Role != "recovery" || !strings.Contains(facts.SystemVolumes[0].DeviceID, "0000000a") {
		t.Errorf("system volumes %+v", facts.SystemVolumes)
	}
	// A failed partitions section keeps every volume audited.
	_, vols, err = DecodeCollection([]byte(collectionV2(okOS, okComp, "["+okVol+","+re+"]", "##ERROR X,Y no", "", "", okDsreg)))
	if err != nil || len(vols) != 2 {
		t.Errorf("partitions failed: %v %d volumes", err, len(vols))
	}
	if _, _, err := DecodeCollection([]byte(collectionV2(okOS, okComp, "["+okVol+"]", `[{"GptType":"x') or ('"}]`, "", "", okDsreg))); !errors.Is(err, model.ErrProtocol) {
		t.Errorf("bad GptType: %v", err)
	}
}
