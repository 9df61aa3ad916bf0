package escrow

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/simulator/entra"
	"github.com/bitaudit/bitaudit/simulator/windows"
)

// inventoryMachines are the test machines plus a server, a disabled and a
// stale account, with the directories' account records.
func inventoryMachines() []*windows.Machine {
	ms := testMachines()
	day := 24 * time.Hour
	ms[0].Record = windows.DirectoryRecord{ObjectGUID: dev1, LogonAge: 2 * day, CreatedAge: 300 * day} // hybrid: deviceId = objectGUID
	ms[1].Record = windows.DirectoryRecord{ObjectGUID: "a2a2a2a2-0000-4000-8000-0000000000a2", LogonAge: 3 * day, CreatedAge: 300 * day}
	ms[2].Record = windows.DirectoryRecord{LogonAge: 4 * day}
	srv := &windows.Machine{ComputerName: "SRV-01", DNSDomain: "corp.example.test", Join: windows.JoinState{DomainJoined: true},
		OS: windows.OSVersion{Caption: "Microsoft Windows Server 2022 Standard", Version: "10.0.20348", BuildNumber: "20348"}}
	off := &windows.Machine{ComputerName: "OLD-01", DNSDomain: "corp.example.test", Join: windows.JoinState{DomainJoined: true},
		OS:     windows.OSVersion{Caption: "Microsoft Windows 10 Enterprise"},
		Record: windows.DirectoryRecord{Disabled: true, LogonAge: 400 * day, CreatedAge: 900 * day},
		Escrow: windows.EscrowTruth{AD: []windows.EscrowedKey{{ProtectorID: idS, Created: t0}}}}
	stale := &windows.Machine{ComputerName: "STALE-01", DNSDomain: "corp.example.test", Join: windows.JoinState{DomainJoined: true},
		OS:     windows.OSVersion{Caption: "Microsoft Windows 11 Enterprise"},
		Record: windows.DirectoryRecord{LogonAge: 200 * day, CreatedAge: 500 * day}}
	fresh := &windows.Machine{ComputerName: "NEW-01", DNSDomain: "corp.example.test", Join: windows.JoinState{DomainJoined: true},
		OS:     windows.OSVersion{Caption: "Microsoft Windows 11 Enterprise"},
		Record: windows.DirectoryRecord{CreatedAge: 2 * day}} // never logged on, created this week
	return append(ms, srv, off, stale, fresh)
}

func describe(d *Directory) string {
	var lines []string
	for i, c := range d.Computers {
		s := fmt.Sprintf("%s %s", c.Name, c.Account)
		if c.FQDN != "" {
			s += " fqdn=" + c.FQDN
		}
		if c.ADDN != "" {
			s += " ou=" + strings.SplitN(c.OU, ",", 2)[0]
		}
		if c.EntraDeviceID != "" {
			s += " device=" + c.EntraDeviceID[:8] + " " + c.TrustType
		}
		if len(d.Census) > 0 {
			n := func(p *int) string {
				if p == nil {
					return "-"
				}
				return fmt.Sprint(*p)
			}
			s += " keys=" + n(d.Census[i].ADKeys) + "/" + n(d.Census[i].EntraKeys)
		}
		lines = append(lines, s)
	}
	return strings.Join(lines, "\n")
}

func TestInventory(t *testing.T) {
	src := startSources(t, inventoryMachines(), entra.Options{})
	tests := []struct {
		name string
		opts InventoryOptions
		want string
	}{
		{"ad", InventoryOptions{AD: true}, `
NEW-01 enabled fqdn=new-01.corp.example.test ou=OU=Workstations
OLD-01 disabled fqdn=old-01.corp.example.test ou=OU=Workstations
SRV-01 enabled fqdn=srv-01.corp.example.test ou=OU=Workstations
STALE-01 stale fqdn=stale-01.corp.example.test ou=OU=Workstations
WS-0001 enabled fqdn=ws-0001.corp.example.test ou=OU=Workstations
WS-0002 enabled fqdn=ws-0002.corp.example.test ou=OU=Workstations`},
		{"ad and entra with census", InventoryOptions{AD: true, Entra: true, Census: true}, `
ENTRA-01 enabled device=d3d3d3d3 AzureAd keys=-/0
ENTRA-02 enabled device=d4d4d4d4 AzureAd keys=-/1
NEW-01 enabled fqdn=new-01.corp.example.test ou=OU=Workstations keys=0/-
OLD-01 disabled fqdn=old-01.corp.example.test ou=OU=Workstations keys=1/-
SRV-01 enabled fqdn=srv-01.corp.example.test ou=OU=Workstations keys=0/-
STALE-01 stale fqdn=stale-01.corp.example.test ou=OU=Workstations keys=0/-
WS-0001 enabled fqdn=ws-0001.corp.example.test ou=OU=Workstations device=d1d1d1d1 ServerAd keys=2/3
WS-0002 enabled fqdn=ws-0002.corp.example.test ou=OU=Workstations keys=0/-`},
		{"filter, all operating systems", InventoryOptions{AD: true, AllOS: true, Filter: "!(operatingSystem=Windows Server*)", StaleAfter: 300 * 24 * time.Hour}, `
NEW-01 enabled fqdn=new-01.corp.example.test ou=OU=Workstations
OLD-01 disabled fqdn=old-01.corp.example.test ou=OU=Workstations
STALE-01 enabled fqdn=stale-01.corp.example.test ou=OU=Workstations
WS-0001 enabled fqdn=ws-0001.corp.example.test ou=OU=Workstations
WS-0002 enabled fqdn=ws-0002.corp.example.test ou=OU=Workstations
WS-0002-OLD disabled ou=OU=Workstations`},
		{"entra only", InventoryOptions{Entra: true}, `
ENTRA-01 enabled device=d3d3d3d3 AzureAd
ENTRA-02 enabled device=d4d4d4d4 AzureAd
WS-0001 enabled device=d1d1d1d1 ServerAd`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Inventory(t.Context(), src.cfg, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Errors) > 0 {
				t.Errorf("errors: %v", d.Errors)
			}
			if got := describe(d); got != strings.TrimPrefix(tt.want, "\n") {
				t.Errorf("inventory:\n%s\nwant:\n%s", got, strings.TrimPrefix(tt.want, "\n"))
			}
		})
	}
}

func TestInventoryErrors(t *testing.T) {
	src := startSources(t, inventoryMachines(), entra.Options{})
	tests := []struct {
		name string
		cfg  *Config
		opts InventoryOptions
		want string
	}{
		{"no config", nil, InventoryOptions{AD: true}, "names no directory"},
		{"no ad section", &Config{Entra: src.cfg.Entra}, InventoryOptions{AD: true}, "no ad section"},
		{"no source", src.cfg, InventoryOptions{}, "no source chosen"},
		{"broken filter", src.cfg, InventoryOptions{AD: true, Filter: "(broken"}, "filter"},
		{"missing OU", src.cfg, InventoryOptions{AD: true, OUs: []string{"OU=Nowhere,DC=corp,DC=example,DC=test"}}, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Inventory(t.Context(), tt.cfg, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	// One source failing leaves the other's computers and an error.
	cfg := *src.cfg
	en := *cfg.Entra
	en.GraphEndpoint = "https://127.0.0.1:1"
	cfg.Entra = &en
	d, err := Inventory(t.Context(), &cfg, InventoryOptions{AD: true, Entra: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Errors) != 1 || !strings.Contains(d.Errors[0], "entra") || len(d.Computers) != 6 {
		t.Errorf("errors %v, %d computers; want one entra error and the 6 AD computers", d.Errors, len(d.Computers))
	}
}

func TestFileTime(t *testing.T) {
	// 132590772399937463 is the lastLogonTimestamp of a Get-ADComputer sample
	// shown as LastLogonDate 01.03.2021 14:00:39 CET (msxfaq.de).
	got, ok := fileTime("132590772399937463")
	want := time.Date(2021, 3, 1, 13, 0, 39, 993746300, time.UTC)
	if !ok || !got.Equal(want) {
		t.Errorf("fileTime = %v %v, want %v", got, ok, want)
	}
	for _, bad := range []string{"", "0", "-5", "x"} {
		if _, ok := fileTime(bad); ok {
			t.Errorf("fileTime(%q) accepted", bad)
		}
	}
}
