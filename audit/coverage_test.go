package audit

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bitaudit/bitaudit/model"
)

func n(i int) *int { return &i }

func TestCoverage(t *testing.T) {
	comp := func(name, account string) model.Computer {
		return model.Computer{Name: name, FQDN: strings.ToLower(name) + ".corp.test", ADDN: "CN=" + name + ",OU=PCs,DC=corp,DC=test", Account: account}
	}
	d := &Directory{
		Sources: []string{"ad", "entra"},
		Computers: []model.Computer{
			comp("PC-1", model.ComputerEnabled),  // target by DNS name, audited
			comp("PC-2", model.ComputerEnabled),  // target by ad_dn, unreachable, no key
			comp("PC-3", model.ComputerEnabled),  // not in the targets, key in AD
			comp("PC-4", model.ComputerEnabled),  // not in the targets, no key
			comp("PC-5", model.ComputerDisabled), // disabled, not targeted
			comp("PC-6", model.ComputerStale),    // stale, but targeted and audited: not listed
			comp("PC-7", model.ComputerEnabled),  // an IP target whose host says it is PC-7
			{Name: "CLOUD-1", EntraDeviceID: "d1d1d1d1-0000-4000-8000-0000000000d1", Account: model.ComputerEnabled}, // Entra only, by device ID
		},
		Census: []model.Census{{ADKeys: n(1)}, {ADKeys: n(0)}, {ADKeys: n(2)}, {ADKeys: n(0)}, {ADKeys: n(1)}, {ADKeys: n(0)}, {ADKeys: n(1)}, {EntraKeys: n(0)}},
	}
	hosts := []model.HostResult{
		{Target: "pc-1.corp.test", Status: model.StatusCompliant},
		{Target: "10.0.0.2", Identity: &model.Identity{ADDN: "cn=pc-2,ou=pcs,dc=corp,dc=test"}, Status: model.StatusUnreachable},
		{Target: "pc-6.corp.test:5986", Status: model.StatusNoncompliant},
		{Target: "10.0.0.7", Status: model.StatusCompliant, Facts: &model.HostFacts{Hostname: "PC-7"}},
		{Target: "10.0.0.8", Identity: &model.Identity{EntraDeviceID: "{D1D1D1D1-0000-4000-8000-0000000000D1}"}, Status: model.StatusTimeout},
		{Target: "workgroup-box", Status: model.StatusCompliant},
	}
	c := coverageOf(t, d, hosts)
	got := fmt.Sprintf("in %d scope %d audited %d not %v disabled %d stale %d notindir %d claim %d none %d exists %d",
		c.InDirectory, c.InScope, c.Audited, c.NotAudited, c.Disabled, c.Stale, c.NotInDirectory, c.MatchedByClaim, c.EscrowNone, c.EscrowExists)
	want := "in 8 scope 6 audited 2 not map[not_in_targets:2 timeout:1 unreachable:1] disabled 1 stale 1 notindir 1 claim 1 none 3 exists 1"
	if got != want {
		t.Errorf("counts:\n%s\nwant\n%s", got, want)
	}
	var entries []string
	for _, e := range c.Computers {
		entries = append(entries, e.Name+" "+e.Reason+" "+e.Escrow+" "+e.Target)
	}
	wantEntries := []string{
		"CLOUD-1 timeout none 10.0.0.8",
		"PC-2 unreachable none 10.0.0.2",
		"PC-3 not_in_targets keys_exist ",
		"PC-4 not_in_targets none ",
		"PC-5 disabled keys_exist ",
	}
	if !slices.Equal(entries, wantEntries) {
		t.Errorf("entries:\n%s\nwant\n%s", strings.Join(entries, "\n"), strings.Join(wantEntries, "\n"))
	}

	// A source that failed makes its census unknown: no "none" from half a census.
	d.Errors = []string{"entra census: HTTP 403"}
	d.Census[7] = model.Census{}
	for _, e := range coverageOf(t, d, hosts).Computers {
		if e.Name == "CLOUD-1" && e.Escrow != model.EscrowUnknown {
			t.Errorf("CLOUD-1 escrow %s with the Entra census unread, want unknown", e.Escrow)
		}
	}
}

func TestCoverageAmbiguousNames(t *testing.T) {
	// Two objects share a name: a host known only by that name matches neither.
	d := &Directory{Computers: []model.Computer{
		{Name: "DUP", ADDN: "CN=DUP,OU=A,DC=corp,DC=test", Account: model.ComputerEnabled},
		{Name: "DUP", ADDN: "CN=DUP,OU=B,DC=corp,DC=test", Account: model.ComputerEnabled},
	}}
	c := coverageOf(t, d, []model.HostResult{{Target: "dup", Status: model.StatusCompliant}})
	if c.Audited != 0 || c.NotInDirectory != 1 || len(c.Computers) != 2 {
		t.Errorf("ambiguous name matched: audited %d, not in directory %d, %d listed", c.Audited, c.NotInDirectory, len(c.Computers))
	}
}

// coverageOf runs Coverage over hosts in memory, stale after 90 days.
func coverageOf(t *testing.T, d *Directory, hosts []model.HostResult) *model.Coverage {
	t.Helper()
	c, err := Coverage(d, model.HostSlice(hosts), 90)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
