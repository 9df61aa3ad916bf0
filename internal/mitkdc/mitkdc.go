// Package mitkdc runs a throw-away MIT Kerberos KDC (Debian krb5-kdc and
// krb5-admin-server) for integration tests: a realm in a temporary
// directory, served by "krb5kdc -n" on a free loopback port, with the
// principals a test asks for (kerberos.md §4.1).
package mitkdc

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A KDC is a running realm.
type KDC struct {
	Realm string
	Dir   string
	Port  int
	// Conf is the krb5.conf clients use (KRB5_CONFIG).
	Conf string
	env  []string
}

// Tools are the MIT programs a KDC needs.
var Tools = []string{"krb5kdc", "kdb5_util", "kadmin.local"}

// Start creates realm and serves it until the test ends. Without the MIT
// programs the test is skipped, or fails under CI=true (CI installs them).
func Start(t testing.TB, realm string) *KDC {
	t.Helper()
	for _, tool := range Tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed; CI must install the Debian packages krb5-kdc and krb5-admin-server", tool)
			}
			t.Skipf("%s not installed (apt-get install krb5-kdc krb5-admin-server krb5-user); set CI=true to make this a failure", tool)
		}
	}
	k := &KDC{Realm: realm, Dir: t.TempDir()}
	k.Port = freePort(t)
	k.Conf = filepath.Join(k.Dir, "krb5.conf")
	kdcConf := filepath.Join(k.Dir, "kdc.conf")
	enctypes := "aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 aes128-cts-hmac-sha256-128 aes256-cts-hmac-sha384-192"
	write(t, k.Conf, fmt.Sprintf(`[libdefaults]
 default_realm = %[1]s
 dns_lookup_kdc = false
 dns_lookup_realm = false
 dns_canonicalize_hostname = false
 rdns = false
 udp_preference_limit = 1
 default_tkt_enctypes = %[3]s
 default_tgs_enctypes = %[3]s
 permitted_enctypes = %[3]s
[realms]
 %[1]s = {
  kdc = 127.0.0.1:%[2]d
 }
`, realm, k.Port, enctypes))
	write(t, kdcConf, fmt.Sprintf(`[kdcdefaults]
 kdc_ports = %[2]d
 kdc_tcp_ports = %[2]d
[realms]
 %[1]s = {
  database_name = %[3]s/principal
  key_stash_file = %[3]s/stash
  acl_file = %[3]s/kadm5.acl
  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal aes128-cts-hmac-sha256-128:normal aes256-cts-hmac-sha384-192:normal
 }
[logging]
 kdc = FILE:%[3]s/kdc.log
`, realm, k.Port, k.Dir))
	k.env = append(os.Environ(), "KRB5_CONFIG="+k.Conf, "KRB5_KDC_PROFILE="+kdcConf)
	k.run(t, "kdb5_util", "create", "-s", "-r", realm, "-P", "test-master-key")
	cmd := exec.Command("krb5kdc", "-n", "-P", filepath.Join(k.Dir, "kdc.pid"))
	cmd.Env = k.env
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start krb5kdc: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(k.Dir, "kdc.log"))
			t.Logf("krb5kdc output:\n%s\nkdc.log:\n%s", logs.String(), b)
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(k.Port))
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("krb5kdc did not listen on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return k
}

// AddUser creates principal name@Realm with password, requiring
// pre-authentication as Active Directory does.
func (k *KDC) AddUser(t testing.TB, name, password string) {
	t.Helper()
	k.run(t, "kadmin.local", "-q", "addprinc +requires_preauth -pw "+password+" "+name+"@"+k.Realm)
}

// AddServices creates service principals with random keys and exports them
// all into one keytab, whose path it returns.
func (k *KDC) AddServices(t testing.TB, keytab string, principals ...string) string {
	t.Helper()
	path := filepath.Join(k.Dir, keytab)
	for _, p := range principals {
		k.run(t, "kadmin.local", "-q", "addprinc -randkey "+p+"@"+k.Realm)
		k.run(t, "kadmin.local", "-q", "ktadd -k "+path+" "+p+"@"+k.Realm)
	}
	return path
}

// AddServiceKeys creates a service principal whose only keys are of the
// given MIT enctypes (e.g. "aes128-cts-hmac-sha1-96:normal"), so its tickets'
// session keys are of that type, and exports them into keytab.
func (k *KDC) AddServiceKeys(t testing.TB, keytab, principal, enctypes string) string {
	t.Helper()
	path := filepath.Join(k.Dir, keytab)
	k.run(t, "kadmin.local", "-q", "addprinc -randkey -e "+enctypes+" "+principal+"@"+k.Realm)
	// MIT assumes every service takes aes256 session keys; this string
	// attribute makes the KDC issue sessions of the principal's type.
	session, _, _ := strings.Cut(enctypes, ":")
	k.run(t, "kadmin.local", "-q", "setstr "+principal+"@"+k.Realm+" session_enctypes "+session)
	k.run(t, "kadmin.local", "-q", "ktadd -k "+path+" -e "+enctypes+" "+principal+"@"+k.Realm)
	return path
}

// UserKeytab exports a user's current keys (without re-keying) into a
// keytab, as a client logging in with --keytab uses it.
func (k *KDC) UserKeytab(t testing.TB, name, keytab string) string {
	t.Helper()
	path := filepath.Join(k.Dir, keytab)
	k.run(t, "kadmin.local", "-q", "ktadd -k "+path+" -norandkey "+name+"@"+k.Realm)
	return path
}

// Kinit logs name in with MIT kinit into a FILE credential cache and
// returns its path.
func (k *KDC) Kinit(t testing.TB, name, password string) string {
	t.Helper()
	if _, err := exec.LookPath("kinit"); err != nil {
		t.Skip("kinit not installed (apt-get install krb5-user)")
	}
	cc := filepath.Join(k.Dir, "cc-"+name+"-"+filepath.Base(k.Conf))
	cmd := exec.Command("kinit", name+"@"+k.Realm)
	cmd.Env = append(k.env, "KRB5CCNAME=FILE:"+cc)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kinit: %v\n%s", err, out)
	}
	return cc
}

// OnlyEnctype returns a view of the realm whose clients (kinit, GSS-API)
// request and permit only the MIT enctype given: a second krb5.conf. MIT
// clients negotiate the acceptor subkey's type (RFC 4537), so this is how a
// test gets contexts of the other AES types.
func (k *KDC) OnlyEnctype(t testing.TB, enctype string) *KDC {
	t.Helper()
	b, err := os.ReadFile(k.Conf)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.HasSuffix(f[0], "_enctypes") {
			l = " " + f[0] + " = " + enctype
		}
		lines = append(lines, l)
	}
	v := *k
	v.Conf = filepath.Join(k.Dir, "krb5-"+enctype+".conf")
	write(t, v.Conf, strings.Join(lines, "\n"))
	v.env = nil
	for _, e := range k.env {
		if strings.HasPrefix(e, "KRB5_CONFIG=") {
			e = "KRB5_CONFIG=" + v.Conf
		}
		v.env = append(v.env, e)
	}
	return &v
}

// Env is the environment MIT tools need to use this realm.
func (k *KDC) Env() []string { return k.env }

func (k *KDC) run(t testing.TB, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = k.env
	out, err := cmd.CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("error")) && !bytes.Contains(out, []byte("No policy specified")) {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func write(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a TCP port free on loopback now (the KDC binds it a
// moment later; a collision only fails the start, never another test).
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
