package directory

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/bitaudit/bitaudit/simulator/windows"
)

const (
	bindDN   = "CN=svc,OU=Service,DC=corp,DC=example,DC=test"
	bindPass = "pw"
	pwValue  = "111111-222222-333333-444444-555555-666666-777777-888888"
	keyA     = "{0A0A0A0A-0000-4000-8000-00000000000A}"
	keyB     = "{0B0B0B0B-0000-4000-8000-00000000000B}"
	keyOld   = "{0C0C0C0C-0000-4000-8000-00000000000C}"
)

func machines() []*windows.Machine {
	t0 := time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)
	return []*windows.Machine{
		{
			ComputerName: "WS-0001", DNSDomain: "corp.example.test", Join: windows.JoinState{DomainJoined: true},
			OS:      windows.OSVersion{Caption: "Microsoft Windows 11 Enterprise"},
			Volumes: []*windows.Volume{{Protectors: []*windows.Protector{{ID: keyA, Type: 3, RecoveryPassword: pwValue}}}},
			Escrow: windows.EscrowTruth{AD: []windows.EscrowedKey{
				{ProtectorID: keyA, Created: t0}, {ProtectorID: keyB, Created: t0.Add(time.Hour)},
				{ProtectorID: keyOld, Created: t0, DeviceObject: "WS-0001-OLD"},
			}},
		},
		{ComputerName: "LT-0002", DNSDomain: "corp.example.test", Join: windows.JoinState{DomainJoined: true},
			OS: windows.OSVersion{Caption: "Microsoft Windows 10 Pro"}},
		{ComputerName: "HOME-PC", Join: windows.JoinState{}},
	}
}

func start(t *testing.T, o Options) *Server {
	t.Helper()
	o.BindDN, o.BindPassword = bindDN, bindPass
	if o.Machines == nil {
		o.Machines = machines()
	}
	s, err := Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dial(t *testing.T, s *Server, tc *tls.Config) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(s.URL, ldap.DialWithTLSConfig(tc))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func search(t *testing.T, c *ldap.Conn, base string, scope int, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil), 1)
	if err != nil {
		t.Fatalf("search %s %s: %v", base, filter, err)
	}
	return res.Entries
}

func dns(es []*ldap.Entry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.DN)
	}
	return strings.Join(out, "|")
}

func TestBindIsRequired(t *testing.T) {
	s := start(t, Options{})
	c := dial(t, s, nil)
	_, err := c.Search(ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=*)", nil, nil))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultOperationsError) {
		t.Errorf("unbound search: %v, want operationsError", err)
	}
	if err := c.Bind(bindDN, "wrong"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Errorf("wrong password: %v, want invalidCredentials", err)
	}
	if err := c.Bind(bindDN, bindPass); err != nil {
		t.Fatal(err)
	}
}

func TestSearches(t *testing.T) {
	s := start(t, Options{})
	c := dial(t, s, nil)
	if err := c.Bind(bindDN, bindPass); err != nil {
		t.Fatal(err)
	}
	ou := "OU=Workstations,DC=corp,DC=example,DC=test"
	ws1 := "CN=WS-0001," + ou
	tests := []struct {
		name, base string
		scope      int
		filter     string
		want       string
	}{
		{"by dNSHostName", s.BaseDN, ldap.ScopeWholeSubtree, "(&(objectClass=computer)(dNSHostName=WS-0001.corp.example.test))", ws1},
		{"by sAMAccountName", s.BaseDN, ldap.ScopeWholeSubtree, "(&(objectClass=computer)(sAMAccountName=LT-0002$))", "CN=LT-0002," + ou},
		{"enabled Windows 1x", ou, ldap.ScopeSingleLevel, "(&(objectClass=computer)(!(userAccountControl:1.2.840.113556.1.4.803:=2))(operatingSystem=*Windows 1*))",
			"CN=LT-0002," + ou + "|" + ws1},
		{"old object is disabled", ou, ldap.ScopeSingleLevel, "(&(objectClass=computer)(userAccountControl:1.2.840.113556.1.4.803:=2))", "CN=WS-0001-OLD," + ou},
		{"recovery children, paged", ws1, ldap.ScopeSingleLevel, "(objectClass=msFVE-RecoveryInformation)",
			"CN=2025-03-01T09:30:00-00:00{0A0A0A0A-0000-4000-8000-00000000000A}," + ws1 + "|CN=2025-03-01T10:30:00-00:00{0B0B0B0B-0000-4000-8000-00000000000B}," + ws1},
		{"by binary GUID", s.BaseDN, ldap.ScopeWholeSubtree, `(&(objectClass=msFVE-RecoveryInformation)(msFVE-RecoveryGuid=\0c\0c\0c\0c\00\00\00\40\80\00\00\00\00\00\00\0c))`,
			"CN=2025-03-01T09:30:00-00:00{0C0C0C0C-0000-4000-8000-00000000000C},CN=WS-0001-OLD," + ou},
		{"base scope", ws1, ldap.ScopeBaseObject, "(objectClass=*)", ws1},
		{"no workgroup machine", s.BaseDN, ldap.ScopeWholeSubtree, "(cn=HOME-PC)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dns(search(t, c, tt.base, tt.scope, tt.filter, "cn")); got != tt.want {
				t.Errorf("got  %s\nwant %s", strings.ReplaceAll(got, "|", "\n     "), strings.ReplaceAll(tt.want, "|", "\n     "))
			}
		})
	}
	_, err := c.Search(ldap.NewSearchRequest("CN=NOPE,"+ou, ldap.ScopeSingleLevel, 0, 0, 0, false, "(objectClass=*)", nil, nil))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		t.Errorf("missing base: %v, want noSuchObject", err)
	}
}

func TestRecoveryObjectAttributes(t *testing.T) {
	s := start(t, Options{})
	c := dial(t, s, nil)
	if err := c.Bind(bindDN, bindPass); err != nil {
		t.Fatal(err)
	}
	ws1 := "CN=WS-0001,OU=Workstations," + s.BaseDN
	f := "(cn=*{0A0A0A0A*)"
	for _, attrs := range [][]string{nil, {"*"}, {"cn", "msFVE-RecoveryGuid", "whenCreated"}} {
		es := search(t, c, ws1, ldap.ScopeSingleLevel, f, attrs...)
		if len(es) != 1 {
			t.Fatalf("attrs %v: %d entries", attrs, len(es))
		}
		e := es[0]
		if e.GetAttributeValue("msFVE-RecoveryPassword") != "" {
			t.Errorf("attrs %v: the recovery password was returned without being asked for", attrs)
		}
		if g := e.GetRawAttributeValue("msFVE-RecoveryGuid"); len(g) != 16 || g[0] != 0x0a || g[6] != 0x00 || g[7] != 0x40 {
			t.Errorf("attrs %v: msFVE-RecoveryGuid % x", attrs, g)
		}
		if e.GetAttributeValue("whenCreated") != "20250301093000.0Z" {
			t.Errorf("whenCreated %q", e.GetAttributeValue("whenCreated"))
		}
	}
	es := search(t, c, ws1, ldap.ScopeSingleLevel, f, "msFVE-RecoveryPassword")
	if len(es) != 1 || es[0].GetAttributeValue("msFVE-RecoveryPassword") != pwValue {
		t.Errorf("asked by name: the directory does not hold the password")
	}
}

func TestLiveEscrowTruth(t *testing.T) {
	ms := machines()
	s := start(t, Options{Machines: ms})
	c := dial(t, s, nil)
	if err := c.Bind(bindDN, bindPass); err != nil {
		t.Fatal(err)
	}
	base := "CN=LT-0002,OU=Workstations," + s.BaseDN
	// keyB ({0B0B0B0B-0000-4000-8000-00000000000B}) as the directory
	// stores a GUID: the first three groups little-endian.
	byKey := `(&(objectClass=msFVE-RecoveryInformation)(msFVE-RecoveryGuid=\0b\0b\0b\0b\00\00\00\40\80\00\00\00\00\00\00\0b))`
	if n := len(search(t, c, base, ldap.ScopeSingleLevel, "(objectClass=msFVE-RecoveryInformation)")); n != 0 {
		t.Fatalf("%d recovery objects before the backup", n)
	}
	before := len(search(t, c, s.BaseDN, ldap.ScopeWholeSubtree, byKey))
	ms[1].Mu.Lock()
	ms[1].Escrow.AD = append(ms[1].Escrow.AD, windows.EscrowedKey{ProtectorID: keyB, Created: time.Now()})
	ms[1].Mu.Unlock()
	windows.EscrowChanged()
	if n := len(search(t, c, base, ldap.ScopeSingleLevel, "(objectClass=msFVE-RecoveryInformation)")); n != 1 {
		t.Fatalf("%d recovery objects after the backup, want 1", n)
	}
	// A search by the key's GUID, served from an index, sees it too.
	if n := len(search(t, c, s.BaseDN, ldap.ScopeWholeSubtree, byKey)); n != before+1 {
		t.Errorf("by the key's GUID: %d recovery objects after the backup, %d before", n, before)
	}
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, startTLS := range []bool{false, true} {
		s := start(t, Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, StartTLS: startTLS})
		tc := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
		c := dial(t, s, tc)
		if startTLS {
			if !strings.HasPrefix(s.URL, "ldap://") {
				t.Fatalf("StartTLS URL %s", s.URL)
			}
			if err := c.StartTLS(tc); err != nil {
				t.Fatal(err)
			}
		} else if !strings.HasPrefix(s.URL, "ldaps://") {
			t.Fatalf("LDAPS URL %s", s.URL)
		}
		if err := c.Bind(bindDN, bindPass); err != nil {
			t.Fatal(err)
		}
		if n := len(search(t, c, s.BaseDN, ldap.ScopeWholeSubtree, "(objectClass=computer)")); n != 3 {
			t.Errorf("%d computers, want 3", n)
		}
	}
}

func TestStartRefusesNonLoopback(t *testing.T) {
	if _, err := Start(t.Context(), Options{Addr: "0.0.0.0:0", BindDN: bindDN, BindPassword: bindPass}); err == nil {
		t.Error("Start listened on a non-loopback address")
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}
