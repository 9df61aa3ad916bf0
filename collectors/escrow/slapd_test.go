package escrow

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// findTool finds an OpenLDAP program on PATH or in /usr/sbin, where Debian installs them.
func findTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// startSlapd runs a real OpenLDAP server (Debian package slapd) on a
// loopback port, loaded with testdata/slapd/entries.ldif (then extraLDIF)
// under a subset of the AD schema, and returns its ldap:// URL and the PKI
// its StartTLS uses.
func startSlapd(t testing.TB, extraLDIF ...string) (string, *testPKI) {
	t.Helper()
	slapd, slapadd, slaptest := findTool("slapd"), findTool("slapadd"), findTool("slaptest")
	if slapd == "" || slapadd == "" || slaptest == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("slapd is not installed; CI must install the Debian packages slapd and ldap-utils")
		}
		t.Skip("slapd not installed (apt-get install slapd ldap-utils); set CI=true to make this a failure")
	}
	pki := newTestPKI(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	schema, _ := filepath.Abs("testdata/slapd/ad-subset.schema")
	tmpl := template.Must(template.ParseFiles("testdata/slapd/slapd.conf.tmpl"))
	var conf bytes.Buffer
	if err := tmpl.Execute(&conf, map[string]string{"Schema": schema, "Dir": dir, "CAFile": pki.caFile, "CertFile": pki.certFile, "KeyFile": pki.keyFile}); err != nil {
		t.Fatal(err)
	}
	confFile := filepath.Join(dir, "slapd.conf")
	writeFile(t, confFile, conf.Bytes())
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.CommandContext(t.Context(), name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run(slaptest, "-f", confFile, "-u", "-Q")
	for _, ldif := range append([]string{"testdata/slapd/entries.ldif"}, extraLDIF...) {
		run(slapadd, "-f", confFile, "-l", ldif, "-q")
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	// -d keeps slapd in the foreground, so the test owns the process.
	cmd := exec.Command(slapd, "-f", confFile, "-h", "ldap://"+addr+"/", "-d", "0")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("slapd output:\n%s", logs.String())
		}
	})
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i == 200 {
			t.Fatalf("slapd did not listen on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	return "ldap://" + addr, pki
}

func TestAgainstOpenLDAP(t *testing.T) {
	url, pki := startSlapd(t)
	pw := filepath.Join(t.TempDir(), "pw")
	writeFile(t, pw, []byte("slapd-test-password\n"))
	base := ADConfig{
		URL: url, BaseDN: "DC=corp,DC=example,DC=test", BindDN: "CN=svc-bitaudit,OU=Service,DC=corp,DC=example,DC=test",
		PasswordFile: pw, CACertFile: pki.caFile, PageSize: 2, MaxConns: 2,
	}
	tests := []struct {
		name string
		edit func(*ADConfig)
	}{
		{"starttls", func(c *ADConfig) { c.StartTLS = true }},
		{"plaintext", func(c *ADConfig) { c.AllowPlaintext = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.edit(&cfg)
			c, err := New(t.Context(), &Config{AD: &cfg}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			hosts := testHosts()
			for _, h := range hosts[:2] {
				c.Verify(t.Context(), h)
			}
			checkBackups(t, hosts, []want{
				{0, idA, model.LocationAD, model.BackupVerified, 784, "CN=2025-03-01T09:30:00-00:00{0A0A0A0A-0000-4000-8000-00000000000A},CN=WS-0001,OU=Workstations,DC=corp,DC=example,DC=test", ""},
				{0, idB, model.LocationAD, model.BackupMissing, 784, "", "not held by CN=WS-0001,OU=Workstations"},
				{1, idC, model.LocationAD, model.BackupMissing, 0, "CN=WS-0002-OLD,OU=Workstations", "held by another object"},
			})
			if b := backupOf(t, hosts[0], idA, model.LocationAD); b.Time == nil || !b.Time.Equal(t0) {
				t.Errorf("whenCreated = %v, want %v", b.Time, t0)
			}
			got := staleIDs(hosts[0].Volumes[0])
			// In DN order: the CN starts with the creation time.
			want := "[ad:{06060606-0000-4000-8000-000000000006} ad:{05050505-0000-4000-8000-000000000005}]"
			if s := strings.Join(got, " "); "["+s+"]" != want {
				t.Errorf("stale keys = %v, want %s", got, want)
			}

			d, err := Inventory(t.Context(), &Config{AD: &cfg}, InventoryOptions{AD: true, OUs: []string{"OU=Workstations,DC=corp,DC=example,DC=test"}, Filter: "(operatingSystem=Windows 1*)"})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range d.Computers {
				if c.InScope() {
					names = append(names, c.FQDN)
				}
			}
			if s := strings.Join(names, " "); s != "ws-0001.corp.example.test ws-0002.corp.example.test" {
				t.Errorf("Inventory = %s", s)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		cfg := base
		cfg.StartTLS = true
		bad := filepath.Join(t.TempDir(), "bad")
		writeFile(t, bad, []byte("nope"))
		cfg.PasswordFile = bad
		c, err := New(t.Context(), &Config{AD: &cfg}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		hosts := testHosts()
		c.Verify(t.Context(), hosts[0])
		checkBackups(t, hosts, []want{{0, idA, model.LocationAD, model.BackupUnknown, 784, "", "authentication failed"}})
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		cfg := base
		cfg.StartTLS = true
		cfg.CACertFile = newTestPKI(t).caFile
		c, err := New(t.Context(), &Config{AD: &cfg}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		hosts := testHosts()
		c.Verify(t.Context(), hosts[0])
		checkBackups(t, hosts, []want{{0, idA, model.LocationAD, model.BackupUnknown, 784, "", "StartTLS"}})
	})
}
