package simulator

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestBuildDirectory(t *testing.T) {
	spec := DefaultSpec(50, 4)
	extra, err := BuildDirectory(spec)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	noKey, hybrid := 0, 0
	for i, h := range extra {
		kinds[h.Directory]++
		m := h.Machine
		if want := fmt.Sprintf("-%04d", 51+i); !strings.HasSuffix(m.ComputerName, want) {
			t.Errorf("extra %d named %s, want numbering after the hosts", i, m.ComputerName)
		}
		if !m.Join.DomainJoined || m.Record.ObjectGUID == "" {
			t.Errorf("%s: not in AD (joined %v, objectGUID %q)", m.ComputerName, m.Join.DomainJoined, m.Record.ObjectGUID)
		}
		if m.Join.AzureAdJoined {
			hybrid++
			if m.Record.ObjectGUID != m.Join.DeviceID {
				t.Errorf("%s: hybrid objectGUID %s differs from deviceId %s", m.ComputerName, m.Record.ObjectGUID, m.Join.DeviceID)
			}
		}
		if len(m.Escrow.AD) == 0 {
			noKey++
		}
		switch h.Directory {
		case DirectoryUnlisted:
			if len(h.Faults) != 0 || h.Expect.Status == StatusUnreachable {
				t.Errorf("%s: unlisted but faults %v, expect %s", m.ComputerName, h.Faults, h.Expect.Status)
			}
		default:
			if h.Expect.Status != StatusUnreachable {
				t.Errorf("%s (%s): expect %s, want unreachable", m.ComputerName, h.Directory, h.Expect.Status)
			}
		}
		if h.Directory == DirectoryDisabled != m.Record.Disabled {
			t.Errorf("%s (%s): disabled %v", m.ComputerName, h.Directory, m.Record.Disabled)
		}
		if stale := m.Record.LogonAge >= 120*24*3600e9; stale != (h.Directory == DirectoryStale) {
			t.Errorf("%s (%s): logon age %v", m.ComputerName, h.Directory, m.Record.LogonAge)
		}
	}
	if kinds[DirectoryUnlisted] != 9 || kinds[DirectoryOffline] != 3 || kinds[DirectoryDisabled] != 2 || kinds[DirectoryStale] != 2 || noKey == 0 || hybrid == 0 {
		t.Errorf("kinds %v, %d without an AD key, %d hybrid", kinds, noKey, hybrid)
	}
	again, _ := BuildDirectory(spec)
	for i := range extra {
		if again[i].Machine.ComputerName != extra[i].Machine.ComputerName || again[i].Machine.Record != extra[i].Machine.Record {
			t.Fatalf("BuildDirectory is not deterministic at %d", i)
		}
	}
	spec.Directory = DirectoryMix{}
	if none, _ := BuildDirectory(spec); len(none) != 0 {
		t.Errorf("an empty directory mix built %d computers", len(none))
	}
}

func TestWriteHostsFile(t *testing.T) {
	spec := DefaultSpec(10, 2)
	f, err := Start(t.Context(), spec, Options{Password: "pw-hosts-file", ListenBase: netip.MustParseAddr("127.0.68.1")})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b bytes.Buffer
	if err := f.WriteHostsFile(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 1+len(f.Hosts())+len(f.Directory()) {
		t.Fatalf("%d lines for %d hosts and %d directory computers:\n%s", len(lines), len(f.Hosts()), len(f.Directory()), b.String())
	}
	for i, h := range append(f.Hosts(), f.Directory()...) {
		fields := strings.Fields(lines[i+1])
		ap := netip.MustParseAddrPort(h.Address)
		name := strings.ToLower(h.Machine.Identity().ComputerName)
		if fields[0] != ap.Addr().String() || fields[len(fields)-1] != name {
			t.Errorf("line %q for %s at %s", lines[i+1], name, h.Address)
		}
	}
}
