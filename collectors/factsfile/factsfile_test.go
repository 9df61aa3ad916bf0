package factsfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bitaudit/bitaudit/model"
)

var at = time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)

func sample() (model.HostFacts, []model.Volume) {
	four := 4
	f := model.HostFacts{
		Hostname: "WS-0001", FQDN: "ws-0001.corp.example.test",
		OS:     model.OSInfo{Caption: "Microsoft Windows 11 Enterprise", Version: "10.0.22631", Build: "22631"},
		Join:   model.JoinInfo{State: model.JoinHybrid, DomainName: "CORP", EntraDeviceID: "0c6a3f52-4a2e-4f6b-9d35-5a1c0e1f2b3c", TenantID: "11111111-2222-4333-8444-555555555555"},
		Policy: map[string]int64{"OSRequireActiveDirectoryBackup": 1},
		Events: []model.BackupEvent{{ID: 784, Time: at.Add(-time.Hour), ProtectorID: "{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}"}},
	}
	f.Source.EventsSkipped = 2
	f.Source.SectionErrors = []model.SectionError{{Section: "partitions", ID: "HRESULT 0x80041010", Message: "Invalid class"}}
	f.SystemVolumes = []model.Volume{{
		MountPoint: `\\?\Volume{928db253-5f1e-4d3a-9b2c-00000000e5f1}\`, DeviceID: `\\?\Volume{928db253-5f1e-4d3a-9b2c-00000000e5f1}\`,
		Type: model.VolumeFixed, Conversion: model.FullyDecrypted, Protection: model.ProtectionOff, Method: model.MethodNone,
		Protectors: []model.Protector{}, Role: "recovery",
	}}
	v := []model.Volume{{
		MountPoint: "C:", DeviceID: `\\?\Volume{1b2c3d4e-0000-4000-8000-000000000001}\`, Type: model.VolumeOS,
		Conversion: model.FullyEncrypted, EncryptionPercent: 100, Protection: model.ProtectionOn,
		Method: model.MethodXTSAES256, SuspendCount: &four,
		Protectors: []model.Protector{{ID: "{3B3E091C-ECB9-4B46-9FDD-A9E699EC3C8C}", Type: model.ProtectorTPM}, {ID: "{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}", Type: model.ProtectorRecoveryPassword}},
	}, {
		MountPoint: "D:", DeviceID: `\\?\Volume{1b2c3d4e-0000-4000-8000-000000000002}\`, Type: model.VolumeFixed,
		Conversion: model.FullyEncrypted, EncryptionPercent: 100, Protection: model.ProtectionOn, Method: model.MethodHardware,
		Protectors: []model.Protector{}, ReadErrors: []string{"protectors[0]: ID is not a {GUID}"},
	}}
	return f, v
}

func TestWriteReadRoundTrip(t *testing.T) {
	f, v := sample()
	path := filepath.Join(t.TempDir(), "WS-0001.json")
	if err := Write(path, New(f, v, "S-1-5-21-1-2-3", "bitaudit test", at)); err != nil {
		t.Fatal(err)
	}
	d, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	gotF, gotV := d.Host("WS-0001.json")
	f.Source = model.Collection{Collector: "wmi", FactsFile: "WS-0001.json", CollectedAt: at,
		EventsSkipped: f.Source.EventsSkipped, SectionErrors: f.Source.SectionErrors}
	if diff := cmp.Diff(f, gotF); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(v, gotV); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}
	if d.Identity.MachineSID != "S-1-5-21-1-2-3" {
		t.Errorf("machine SID %q", d.Identity.MachineSID)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("Write left %d files, want only the document", len(ents))
	}
}

// doc returns a valid document as a JSON map the tests can break.
func doc(t *testing.T) map[string]any {
	t.Helper()
	f, v := sample()
	b, err := json.Marshal(New(f, v, "", "bitaudit test", at))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDecodeRejects(t *testing.T) {
	vol := func(m map[string]any) map[string]any { return m["volumes"].([]any)[0].(map[string]any) }
	tests := []struct {
		name   string
		break_ func(m map[string]any)
		raw    string
		want   string
	}{
		{name: "not JSON", raw: `{"schema": 99, "garbage": [`, want: "not a facts document"},
		{name: "another schema", break_: func(m map[string]any) { m["schema"] = "bitaudit.facts/v9" }, want: `schema "bitaudit.facts/v9"`},
		{name: "unknown field", break_: func(m map[string]any) { m["escrow"] = "verified" }, want: "unknown field"},
		{name: "backups smuggled into a protector", break_: func(m map[string]any) {
			vol(m)["protectors"].([]any)[1].(map[string]any)["backups"] = []any{map[string]any{"location": "ad", "state": "verified"}}
		}, want: "unknown field"},
		{name: "wrong type", break_: func(m map[string]any) { vol(m)["locked"] = "no" }, want: "field volumes.locked"},
		{name: "hostile computer name", break_: func(m map[string]any) { m["identity"].(map[string]any)["computer_name"] = "WS-1'; rm -rf /" }, want: "identity.computer_name"},
		{name: "protector ID not a GUID", break_: func(m map[string]any) {
			vol(m)["protectors"].([]any)[0].(map[string]any)["id"] = "$(Remove-Item C:\\)"
		}, want: "protectors[0].id"},
		{name: "unknown volume state", break_: func(m map[string]any) { vol(m)["conversion_status"] = "mostly_fine" }, want: "conversion_status"},
		{name: "recovery password in the OS caption", break_: func(m map[string]any) {
			m["os"].(map[string]any)["caption"] = "111111-222222-333333-444444-555555-666666-777777-888888"
		}, want: "os.caption"},
		{name: "not a backup event", break_: func(m map[string]any) { m["backup_events"].([]any)[0].(map[string]any)["id"] = 768 }, want: "backup_events[0].id"},
		{name: "too many protectors", break_: func(m map[string]any) {
			var ps []any
			for range 33 {
				ps = append(ps, map[string]any{"id": "{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}", "type": "recovery_password"})
			}
			vol(m)["protectors"] = ps
		}, want: "more than 32"},
		{name: "no collection time", break_: func(m map[string]any) { delete(m, "collected_at") }, want: "collected_at"},
		{name: "volumes on a host without BitLocker", break_: func(m map[string]any) { m["bitlocker_not_installed"] = true }, want: "without the BitLocker feature"},
		{name: "an audited volume with a role", break_: func(m map[string]any) { vol(m)["role"] = "recovery" }, want: "volumes[0].role"},
		{name: "a section error of no section", break_: func(m map[string]any) {
			m["collection"].(map[string]any)["section_errors"].([]any)[0].(map[string]any)["section"] = "escrow"
		}, want: "section_errors[0].section"},
		{name: "trailing data", raw: "TRAILING", want: "after the document"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b []byte
			switch {
			case tc.raw == "TRAILING":
				b, _ = json.Marshal(doc(t))
				b = append(b, []byte(` {"schema":"x"}`)...)
			case tc.raw != "":
				b = []byte(tc.raw)
			default:
				m := doc(t)
				tc.break_(m)
				b, _ = json.Marshal(m)
			}
			_, err := Decode(b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode: %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "111111-222222") || strings.Contains(err.Error(), "rm -rf") {
				t.Errorf("error quotes hostile content: %v", err)
			}
		})
	}
}

func write(t *testing.T, dir, name string, f model.HostFacts, v []model.Volume, when time.Time) {
	t.Helper()
	if err := Write(filepath.Join(dir, name), New(f, v, "", "bitaudit test", when)); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	f, v := sample()
	write(t, dir, "WS-0001.json", f, v, at)
	write(t, dir, "WS-0001-old.json", f, v, at.Add(-48*time.Hour))
	g := f
	g.Hostname, g.FQDN = "WS-0002", "ws-0002.corp.example.test"
	write(t, dir, "WS-0002.json", g, v, at.Add(3*time.Hour)) // in the future of now below
	os.WriteFile(filepath.Join(dir, "zz-broken.json"), []byte(`{"schema": 99, "garbage": [`), 0o600)
	os.WriteFile(filepath.Join(dir, "big.json"), make([]byte, MaxSize+1), 0o600)
	os.WriteFile(filepath.Join(dir, ".facts-123.tmp"), []byte("half"), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o600)
	os.Symlink(filepath.Join(dir, "WS-0001.json"), filepath.Join(dir, "link.json"))
	wantRejected := 7
	if err := mkfifo(filepath.Join(dir, "fifo.json")); err != nil {
		t.Logf("no FIFO: %v", err)
		wantRejected--
	}

	set, err := LoadDir(dir, at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Loaded) != 0 || len(set.Conflicts) != 1 {
		t.Fatalf("loaded %v, conflicts %v; want only the conflict of the two WS-0001 files", set.Loaded, set.Conflicts)
	}
	if c := set.Conflicts[0]; c.ComputerName != "WS-0001" || c.FQDN != "ws-0001.corp.example.test" || strings.Join(c.Files, ",") != "WS-0001-old.json,WS-0001.json" {
		t.Errorf("conflict %+v", c)
	}
	rejected := set.Rejected
	reasons := map[string]string{}
	for _, r := range rejected {
		reasons[r.File] = r.Reason
	}
	for file, want := range map[string]string{
		"WS-0001-old.json": "claims the computer WS-0001, as WS-0001.json also does: none is used",
		"WS-0001.json":     "claims the computer WS-0001, as WS-0001-old.json also does",
		"WS-0002.json":     "in the future",
		"zz-broken.json":   "not a facts document",
		"big.json":         "larger than",
		"link.json":        "not a regular file",
		"fifo.json":        "not a regular file",
	} {
		if _, err := os.Lstat(filepath.Join(dir, file)); err != nil {
			continue
		}
		if !strings.Contains(reasons[file], want) {
			t.Errorf("%s: rejected with %q, want %q", file, reasons[file], want)
		}
	}
	if len(rejected) != wantRejected {
		t.Errorf("rejected %d files, want %d: %v", len(rejected), wantRejected, rejected)
	}
	if _, err := LoadDir(filepath.Join(dir, "missing"), at); err == nil {
		t.Error("LoadDir of a missing directory: no error")
	}
}

type fakeLive struct{ err error }

func (l fakeLive) Collect(context.Context, model.Target) (model.HostFacts, []model.Volume, error) {
	if l.err != nil {
		return model.HostFacts{}, nil, l.err
	}
	return model.HostFacts{Hostname: "WS-0001", Source: model.Collection{Collector: "winrm"}}, []model.Volume{}, nil
}

func TestCollector(t *testing.T) {
	dir := t.TempDir()
	f, v := sample()
	write(t, dir, "WS-0001.json", f, v, at)
	loaded, err := LoadDir(dir, at)
	if err != nil || len(loaded.Loaded) != 1 {
		t.Fatal(loaded, err)
	}
	target := model.Target{Host: "WS-0001.corp.example.TEST"}
	tests := []struct {
		name      string
		live      LiveCollector
		collector string
		note      string
		wantErr   error
	}{
		{name: "facts only", collector: "wmi"},
		{name: "live succeeds and is newer", live: fakeLive{}, collector: "winrm", note: "collected live; the facts file WS-0001.json (collected 2026-11-20T08:30:00Z) is older and was not used"},
		{name: "live fails: the facts file is used", live: fakeLive{err: errors.New("dial tcp: connection refused: " + model.ErrUnreachable.Error())}, collector: "wmi", note: "live collection failed (dial tcp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := NewCollector(loaded, tc.live).Collect(context.Background(), target)
			if err != nil {
				t.Fatal(err)
			}
			if got.Source.Collector != tc.collector || !strings.HasPrefix(got.Source.Note, tc.note) {
				t.Errorf("source %+v, want collector %s and a note starting %q", got.Source, tc.collector, tc.note)
			}
		})
	}
	if _, _, err := NewCollector(loaded, nil).Collect(context.Background(), model.Target{Host: "ws-0009"}); !errors.Is(err, model.ErrNoData) {
		t.Errorf("target without a facts file: %v", err)
	}
	if got := Targets(loaded); len(got) != 1 || got[0].Host != "ws-0001.corp.example.test" {
		t.Errorf("Targets = %v", got)
	}
	un := Unmatched(loaded, []model.Target{{Host: "ws-0002"}})
	if len(un) != 1 || !strings.Contains(un[0].Reason, "not among the targets") {
		t.Errorf("Unmatched = %v", un)
	}
	if un := Unmatched(loaded, []model.Target{{Host: "WS-0001"}}); len(un) != 0 {
		t.Errorf("a target named by computer name: Unmatched = %v", un)
	}
}

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	f, v := sample()
	write(t, dir, "WS-0001.json", f, v, at)
	g := f
	g.Hostname, g.FQDN, g.Join = "KIOSK-7", "", model.JoinInfo{State: model.JoinWorkgroup}
	write(t, dir, "KIOSK-7.json", g, v, at)
	loaded, err := LoadDir(dir, at)
	if err != nil || len(loaded.Loaded) != 2 {
		t.Fatal(loaded, err)
	}
	x := newIndex(loaded)
	tests := []struct {
		target model.Target
		want   string
	}{
		{model.Target{Host: "ws-0001.corp.example.test"}, "WS-0001.json"},
		{model.Target{Host: "10.1.2.3", FQDN: "WS-0001.corp.example.test"}, "WS-0001.json"},
		{model.Target{Host: "10.1.2.3", ADDN: "CN=WS-0001,OU=Laptops,DC=corp,DC=example,DC=test"}, "WS-0001.json"},
		{model.Target{Host: "WS-0001"}, "WS-0001.json"},
		{model.Target{Host: "ws-0001.other.example"}, ""}, // a namesake in another domain
		{model.Target{Host: "10.1.2.3"}, ""},              // an IP names no computer
		{model.Target{Host: "kiosk-7.branch.example"}, "KIOSK-7.json"},
		{model.Target{Host: "kiosk-8"}, ""},
	}
	for _, tc := range tests {
		got := ""
		if e, ok := x.lookup(tc.target); ok {
			got = e.loaded.File
		}
		if got != tc.want {
			t.Errorf("lookup(%+v) = %q, want %q", tc.target, got, tc.want)
		}
	}
}

// TestConflict: two files that claim one computer are both rejected, the
// computer is still a target of a facts-only audit, and it is not audited
// from either file; a live collection of it is used, and when that fails
// the result says why the files were not.
func TestConflict(t *testing.T) {
	dir := t.TempDir()
	f, v := sample()
	write(t, dir, "WS-0001.json", f, v, at)
	write(t, dir, "impostor.json", f, v, at.Add(time.Minute))
	set, err := LoadDir(dir, at.Add(time.Hour))
	if err != nil || len(set.Conflicts) != 1 || len(set.Rejected) != 2 {
		t.Fatalf("set %+v, %v", set, err)
	}
	ts := Targets(set)
	if len(ts) != 1 || ts[0].Host != "ws-0001.corp.example.test" {
		t.Fatalf("Targets = %v, want the conflicting computer once", ts)
	}
	if _, _, err := NewCollector(set, nil).Collect(context.Background(), ts[0]); !errors.Is(err, model.ErrProtocol) ||
		!strings.Contains(err.Error(), "WS-0001.json, impostor.json claim this computer") {
		t.Errorf("facts only: %v", err)
	}
	got, _, err := NewCollector(set, fakeLive{}).Collect(context.Background(), ts[0])
	if err != nil || got.Source.Collector != "winrm" || !strings.Contains(got.Source.Note, "were not used") {
		t.Errorf("live succeeds: %+v, %v", got.Source, err)
	}
	_, _, err = NewCollector(set, fakeLive{err: fmt.Errorf("refused: %w", model.ErrUnreachable)}).Collect(context.Background(), ts[0])
	if !errors.Is(err, model.ErrUnreachable) || !strings.Contains(err.Error(), "conflict, so none was used") {
		t.Errorf("live fails: %v", err)
	}
	if un := Unmatched(set, nil); len(un) != 0 {
		t.Errorf("Unmatched lists conflicting files again: %v", un)
	}
}

// TestCollectorRereadsTheFile: a loaded set keeps headers only; the facts
// come from reading the file again, which must hold the bytes whose
// identity was checked: a file swapped after loading (another computer's
// volumes under this name) is refused, and so is one removed.
func TestCollectorRereadsTheFile(t *testing.T) {
	dir := t.TempDir()
	f, v := sample()
	write(t, dir, "WS-0001.json", f, v, at)
	loaded, err := LoadDir(dir, at)
	if err != nil || len(loaded.Loaded) != 1 {
		t.Fatal(loaded, err)
	}
	if d := loaded.Loaded[0].Doc; d.Volumes != nil || d.FVEPolicy != nil || d.Identity.ComputerName != "WS-0001" {
		t.Errorf("loaded header holds %d volumes, policy %v, computer %q; want the identity alone", len(d.Volumes), d.FVEPolicy, d.Identity.ComputerName)
	}
	c := NewCollector(loaded, nil)
	target := model.Target{Host: "ws-0001.corp.example.test"}
	if _, vols, err := c.Collect(context.Background(), target); err != nil || len(vols) != 2 {
		t.Fatalf("unchanged file: %d volumes, %v", len(vols), err)
	}
	v[0].MountPoint = "E:"
	write(t, dir, "WS-0001.json", f, v, at)
	if _, _, err := c.Collect(context.Background(), target); !errors.Is(err, model.ErrNoData) || !strings.Contains(err.Error(), "changed while the run read it") {
		t.Errorf("swapped file: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "WS-0001.json")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Collect(context.Background(), target); !errors.Is(err, model.ErrNoData) || !strings.Contains(err.Error(), "could not be read again") {
		t.Errorf("removed file: %v", err)
	}
}
