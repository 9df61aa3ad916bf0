package escrow

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/bitaudit/bitaudit/model"
)

// fleetLDIF writes n computer objects under OU=Fleet, written here
// independently of the inventory code: every 50th disabled, every 40th
// with no logon for 200 days, every 100th not Windows, and a recovery
// object under every even one. It returns what the inventory must find.
func fleetLDIF(t testing.TB, n int, now time.Time) (path string, enabled, disabled, stale, keys int) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "fleet.ldif")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	const base = "DC=corp,DC=example,DC=test"
	fmt.Fprintf(w, "dn: OU=Fleet,%s\nobjectClass: organizationalUnit\nou: Fleet\n\n", base)
	// FILETIME: 100 ns intervals since 1601-01-01 ([MS-DTYP] 2.3.3).
	filetime := func(t time.Time) int64 { return t.Unix()*10_000_000 + 116444736000000000 }
	for i := range n {
		name := fmt.Sprintf("PC-%05d", i)
		uac, os, logon := 4096, "Windows 11 Enterprise", now.Add(-5*24*time.Hour)
		if i%50 == 0 {
			uac = 4098
		}
		if i%40 == 0 {
			logon = now.Add(-200 * 24 * time.Hour)
		}
		if i%100 == 0 {
			os = "Ubuntu 24.04"
		}
		guid := make([]byte, 16)
		copy(guid, fmt.Sprintf("guid%012d", i))
		fmt.Fprintf(w, "dn: CN=%s,OU=Fleet,%s\nobjectClass: computer\ncn: %s\ndNSHostName: %s.corp.example.test\nsAMAccountName: %s$\n"+
			"userAccountControl: %d\noperatingSystem: %s\nlastLogonTimestamp: %d\nobjectGUID:: %s\nwhenCreated: 20240101000000Z\n\n",
			name, base, name, name, name, uac, os, filetime(logon), base64.StdEncoding.EncodeToString(guid))
		if os == "Ubuntu 24.04" {
			continue
		}
		switch {
		case uac&2 != 0:
			disabled++
		case i%40 == 0:
			stale++
		default:
			enabled++
		}
		if i%2 == 0 {
			keys++
			id := fmt.Sprintf("%08X-0000-4000-8000-%012X", i, i)
			fmt.Fprintf(w, "dn: CN=2025-01-01T00:00:00-00:00{%s},CN=%s,OU=Fleet,%s\nobjectClass: msFVE-RecoveryInformation\ncn: 2025-01-01T00:00:00-00:00{%s}\n"+
				"msFVE-RecoveryGuid:: %s\nmsFVE-RecoveryPassword: 000000-000000-000000-000000-000000-000000-000000-000000\nwhenCreated: 20250101000000Z\n\n",
				id, name, base, id, base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("key%013d", i))))
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, enabled, disabled, stale, keys
}

// TestInventoryPagedAgainstOpenLDAP lists 3,000 computer objects from a
// real slapd that, like AD, returns at most 500 entries to a search that
// is not paged, with a page size of 250.
func TestInventoryPagedAgainstOpenLDAP(t *testing.T) {
	const n = 3000
	now := time.Now().UTC()
	ldif, enabled, disabled, stale, keys := fleetLDIF(t, n, now)
	url, pki := startSlapd(t, ldif)
	pw := filepath.Join(t.TempDir(), "pw")
	writeFile(t, pw, []byte("slapd-test-password\n"))
	cfg := &ADConfig{URL: url, StartTLS: true, BaseDN: "DC=corp,DC=example,DC=test", BindDN: "CN=svc-bitaudit,OU=Service,DC=corp,DC=example,DC=test",
		PasswordFile: pw, CACertFile: pki.caFile, PageSize: 250}

	// Without paging the server stops at its size limit.
	s, err := newADSource(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.with(t.Context(), func(c *ldap.Conn) error {
		_, err := c.Search(ldap.NewSearchRequest("OU=Fleet,DC=corp,DC=example,DC=test", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=computer)", []string{"cn"}, nil))
		return err
	})
	s.close()
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Fatalf("unpaged search: %v, want sizeLimitExceeded (the test would not show paging)", err)
	}

	var progress int
	d, err := Inventory(t.Context(), &Config{AD: cfg}, InventoryOptions{AD: true, Census: true, OUs: []string{"OU=Fleet,DC=corp,DC=example,DC=test"},
		Now: func() time.Time { return now }, Progress: func(_ string, k int) { progress = k }})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	censused := 0
	for i, c := range d.Computers {
		counts[c.Account]++
		if k := d.Census[i].ADKeys; k != nil {
			censused += *k
		}
		if c.FQDN == "" || c.LastLogon == nil || !strings.EqualFold(c.OU, "OU=Fleet,DC=corp,DC=example,DC=test") {
			t.Fatalf("computer %+v lacks its attributes", c)
		}
		if want := "PC-" + fmt.Sprintf("%05d", mustAtoi(t, c.Name[3:])); c.Name != want {
			t.Fatalf("name %q", c.Name)
		}
	}
	if counts[model.ComputerEnabled] != enabled || counts[model.ComputerDisabled] != disabled || counts[model.ComputerStale] != stale {
		t.Errorf("accounts %v; want %d enabled, %d disabled, %d stale", counts, enabled, disabled, stale)
	}
	if censused != keys {
		t.Errorf("census counts %d recovery objects, the directory holds %d", censused, keys)
	}
	// Computers (2,970 Windows of 3,000) and recovery objects (1,485), 250 a page.
	if min := (enabled+disabled+stale+249)/250 + (keys+249)/250; d.Pages < min {
		t.Errorf("%d pages read, want at least %d", d.Pages, min)
	}
	if progress != enabled+disabled+stale {
		t.Errorf("progress reached %d", progress)
	}
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
