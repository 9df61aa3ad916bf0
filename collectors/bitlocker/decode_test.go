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
		{"version", strings.Replace(ok, "BEGIN 1", "BEGIN 2", 1), model.ErrProtocol, "version"},
		{"two BEGIN", "##BITAUDIT BEGIN 1\n" + ok, model.ErrProtocol, "second BEGIN"},
		{"trailing output", ok + "extra\n", model.ErrProtocol, "after the END"},
		{"garbled marker", strings.Replace(ok, "##BITAUDIT END 6", "##BITAUDIT ENF 6", 1), model.ErrProtocol, "garbled"},
		{"garbage JSON", collection(okOS, okComp, "[{\"DeviceID\":", "[]", "", okDsreg), model.ErrProtocol, "volumes"},
		{"volumes not JSON", collection(okOS, okComp, "hello", "[]", "", okDsreg), model.ErrProtocol, "volumes"},
		{"volumes empty", collection(okOS, okComp, "", "[]", "", okDsreg), model.ErrProtocol, "volumes"},
		{"null volume", collection(okOS, okComp, "[null]", "[]", "", okDsreg), model.ErrProtocol, "DeviceID"},
		{"bad device id", collection(okOS, okComp, vol(`Volume{95b5`, `Volume{zzzz`), "[]", "", okDsreg), model.ErrProtocol, "DeviceID"},
		{"bad drive letter", collection(okOS, okComp, vol(`"C:"`, `"C:\\; rm"`), "[]", "", okDsreg), model.ErrProtocol, "DriveLetter"},
		{"missing protection", collection(okOS, okComp, vol(`"Protection":1,`, ``), "[]", "", okDsreg), model.ErrProtocol, "ProtectionStatus: missing"},
		{"missing conversion", collection(okOS, okComp, vol(`"Conversion":1,`, ``), "[]", "", okDsreg), model.ErrProtocol, "ConversionStatus: missing"},
		{"conversion out of range", collection(okOS, okComp, vol(`"Conversion":1,`, `"Conversion":9,`), "[]", "", okDsreg), model.ErrProtocol, "ConversionStatus"},
		{"conversion as string", collection(okOS, okComp, vol(`"Conversion":1,`, `"Conversion":"FullyEncrypted",`), "[]", "", okDsreg), model.ErrProtocol, "invalid JSON value"},
		{"percent over 100", collection(okOS, okComp, vol(`"Percent":100`, `"Percent":101`), "[]", "", okDsreg), model.ErrProtocol, "EncryptionPercentage"},
		{"method unknown value", collection(okOS, okComp, vol(`"Method":6`, `"Method":8`), "[]", "", okDsreg), model.ErrProtocol, "EncryptionMethod"},
		{"protectors missing", collection(okOS, okComp, vol(`,"Protectors":[{"Id":"{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}","Type":3}]`, ``), "[]", "", okDsreg), model.ErrProtocol, "protectors: missing"},
		{"protector id not guid", collection(okOS, okComp, vol(`{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}`, `BitLocker`), "[]", "", okDsreg), model.ErrProtocol, "not a {GUID}"},
		{"protector id unbraced", collection(okOS, okComp, vol(`{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}`, `8A696888-99A7-4FAC-92C7-6CC497EA7BDF`), "[]", "", okDsreg), model.ErrProtocol, "not a {GUID}"},
		{"protector type 11", collection(okOS, okComp, vol(`"Type":3`, `"Type":11`), "[]", "", okDsreg), model.ErrProtocol, "unknown type"},
		{"duplicate protector", collection(okOS, okComp, vol(`"Type":3}]`, `"Type":3},{"Id":"{8a696888-99a7-4fac-92c7-6cc497ea7bdf}","Type":1}]`), "[]", "", okDsreg), model.ErrProtocol, "duplicate"},
		{"volumes host error", collection(okOS, okComp, "##ERROR CimException,Get-CimInstance Invalid namespace", "[]", "", okDsreg), model.ErrNoData, "Invalid namespace"},
		{"volumes access denied", collection(okOS, okComp, "##ERROR HRESULT 0x80041003,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand Access denied ", "[]", "", okDsreg), model.ErrAuth, "Access denied"},
		{"computer host error", collection(okOS, "##ERROR X,Y boom", "["+okVol+"]", "[]", "", okDsreg), model.ErrNoData, "boom"},
		{"computer name injection", collection(okOS, `{"Name":"H1<script>"}`, "["+okVol+"]", "[]", "", okDsreg), model.ErrProtocol, "host name"},
		{"events not xml", collection(okOS, okComp, "["+okVol+"]", `["hello"]`, "", okDsreg), model.ErrProtocol, "not event XML"},
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
		{[]string{`"ConversionRet":0`, `"ConversionRet":-2144272343`}, func(v model.Volume) bool { return v.Locked && v.Conversion == model.ConversionUnknown }},
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
	for _, name := range []string{"collection_domain.txt", "collection_entra.txt", "sim_collect_locked_workgroup.txt", "sim_collect_hybrid_decrypted.txt"} {
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
	_, _, err := DecodeCollection([]byte(collection(okOS, okComp, "##ERROR CimException,Get-CimInstance Invalid namespace", "[]", "", okDsreg)))
	if !errors.Is(err, model.ErrNoData) || errors.Is(err, model.ErrAuth) || model.StatusForError(err) != model.StatusProtocolError {
		t.Errorf("invalid namespace: %v", err)
	}
	_, _, err = DecodeCollection([]byte(collection(okOS, okComp, "##ERROR UnauthorizedAccess,X Access is denied.", "[]", "", okDsreg)))
	if model.StatusForError(err) != model.StatusAuthFailed {
		t.Errorf("access denied: %v is %s", err, model.StatusForError(err))
	}
}
