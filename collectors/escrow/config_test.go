package escrow

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestLoadConfig(t *testing.T) {
	good := `ad:
  url: ldaps://dc1.corp.example.test:636
  base_dn: DC=corp,DC=example,DC=test
  bind_dn: CN=svc-bitaudit,OU=Service,DC=corp,DC=example,DC=test
  password_env: BITAUDIT_LDAP_PASSWORD
  max_conns: 8
entra:
  tenant_id: 11111111-2222-3333-4444-555555555555
  client_id: 66666666-7777-8888-9999-000000000000
  client_secret_file: /etc/bitaudit/graph.secret
external:
  dir: /mnt/keys
`
	cfg, err := LoadConfig(strings.NewReader(good), "escrow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AD.MaxConns != 8 || cfg.Entra.ClientSecretFile != "/etc/bitaudit/graph.secret" || cfg.External.Dir != "/mnt/keys" {
		t.Errorf("decoded %+v", cfg)
	}

	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "ad:\n  url: ldaps://dc\n  pasword: x\n", "escrow.yaml:3: field pasword not found"},
		{"inline password", "ad:\n  url: ldaps://dc\n  password: hunter2\n", "escrow.yaml:3: field password not found"},
		{"plain ldap", "ad:\n  url: ldap://dc\n  base_dn: DC=x\n  bind_dn: CN=y\n  password_env: P\n", "escrow.yaml:2: ad.url: ldap:// needs start_tls"},
		{"no password source", "ad:\n  url: ldaps://dc\n  base_dn: DC=x\n  bind_dn: CN=y\n", "escrow.yaml:1: ad: exactly one of password_env and password_file"},
		{"bad scheme", "ad:\n  url: http://dc\n", "escrow.yaml:2: ad.url: url scheme \"http\""},
		{"two entra secrets", "entra:\n  tenant_id: t\n  client_id: c\n  client_secret_env: A\n  certificate_file: b.pem\n", "escrow.yaml:1: entra: exactly one of"},
		{"entra http", "entra:\n  tenant_id: t\n  client_id: c\n  client_secret_env: A\n  graph_endpoint: http://graph\n", "escrow.yaml:5: entra.graph_endpoint"},
		{"external without dir", "external: {}\n", "escrow.yaml:1: external.dir: dir is required"},
		{"bad type", "ad:\n  max_conns: many\n", "escrow.yaml:2: cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(strings.NewReader(tt.yaml), "escrow.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadConfig error = %v, want containing %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error repeats the inline secret: %v", err)
			}
		})
	}
}

func TestLoadConfigEmpty(t *testing.T) {
	cfg, err := LoadConfig(strings.NewReader(""), "empty.yaml")
	if err != nil || cfg.AD != nil || cfg.Entra != nil || cfg.External != nil {
		t.Fatalf("LoadConfig(empty) = %+v, %v", cfg, err)
	}
}

func TestReadSecret(t *testing.T) {
	t.Setenv("BITAUDIT_TEST_SECRET", "  s3cret\n")
	s, err := readSecret("x", "BITAUDIT_TEST_SECRET", "")
	if err != nil || s.Reveal() != "s3cret" {
		t.Fatalf("readSecret(env) = %v, %v", s, err)
	}
	if _, err := readSecret("x", "BITAUDIT_TEST_UNSET_VAR", ""); err == nil || !strings.Contains(err.Error(), "not set") {
		t.Errorf("readSecret(unset) = %v", err)
	}
	if _, err := readSecret("x", "", t.TempDir()+"/missing"); err == nil {
		t.Error("readSecret(missing file) succeeded")
	}
}

func TestLoadConfigExample(t *testing.T) {
	f, err := os.Open("testdata/escrow-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := LoadConfig(f, f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AD == nil || cfg.Entra == nil || cfg.External == nil || cfg.Entra.CertificateFile == "" || cfg.AD.PageSize != 500 {
		t.Errorf("example decoded as %+v", cfg)
	}
}

// A Config marshalled by a program (the demo writes one) loads back as is.
func TestConfigRoundTrip(t *testing.T) {
	in := &Config{
		AD:       &ADConfig{URL: "ldaps://127.0.0.1:6360", BaseDN: "DC=corp,DC=example,DC=test", BindDN: "CN=svc", PasswordFile: "/tmp/pw", CACertFile: "/tmp/ca.pem"},
		Entra:    &EntraConfig{TenantID: "t", ClientID: "c", ClientSecretFile: "/tmp/s", AuthorityHost: "https://127.0.0.1:8443/", GraphEndpoint: "https://127.0.0.1:8443"},
		External: &ExternalConfig{Dir: "/tmp/keys"},
	}
	b, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "max_conns") || strings.Contains(string(b), "''") {
		t.Errorf("zero values written:\n%s", b)
	}
	out, err := LoadConfig(strings.NewReader(string(b)), "generated.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if *out.AD != *in.AD || *out.Entra != *in.Entra || *out.External != *in.External {
		t.Errorf("round trip changed the config:\n%s", b)
	}
}

func FuzzLoadConfig(f *testing.F) {
	f.Add("ad:\n  url: ldaps://dc\n  base_dn: DC=x\n  bind_dn: CN=y\n  password_env: P\n")
	f.Add("entra:\n  tenant_id: t\n  client_id: c\n  client_secret_env: S\n")
	f.Add("external: {dir: /k}\n")
	f.Add("ad: [\n")
	f.Fuzz(func(t *testing.T, doc string) {
		cfg, err := LoadConfig(strings.NewReader(doc), "f.yaml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		if err := cfg.validate(); err != nil {
			t.Errorf("loaded config does not validate: %v", err)
		}
	})
}
