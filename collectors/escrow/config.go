package escrow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/bitaudit/bitaudit/model"
)

// Config names the escrow sources to check. A nil or empty Config checks none:
// only host evidence (backup events) is used.
type Config struct {
	AD       *ADConfig       `yaml:"ad,omitempty"`
	Entra    *EntraConfig    `yaml:"entra,omitempty"`
	External *ExternalConfig `yaml:"external,omitempty"`
}

// ADConfig is how to reach Active Directory over LDAP.
type ADConfig struct {
	// URL is ldaps://dc:636, or ldap://dc:389 with StartTLS (or AllowPlaintext).
	URL      string `yaml:"url,omitempty"`
	StartTLS bool   `yaml:"start_tls,omitempty"`
	// BaseDN is where computer objects are searched (subtree).
	BaseDN string `yaml:"base_dn,omitempty"`
	// BindDN is the account for the simple bind.
	BindDN string `yaml:"bind_dn,omitempty"`
	// PasswordEnv names an environment variable, PasswordFile a file, holding
	// the bind password. Exactly one is required; passwords are never inline.
	PasswordEnv  string `yaml:"password_env,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty"`
	// CACertFile is a PEM bundle of CAs trusted for the directory's certificate
	// (default: the system roots).
	CACertFile         string `yaml:"ca_cert_file,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty"`
	// AllowPlaintext permits ldap:// without StartTLS: the password and all
	// results cross the network in clear.
	AllowPlaintext bool `yaml:"allow_plaintext,omitempty"`
	// MaxConns bounds the bound connections kept open (default 4).
	MaxConns int `yaml:"max_conns,omitempty"`
	// PageSize is the LDAP paged-results page size (default 500).
	PageSize int `yaml:"page_size,omitempty"`
}

// EntraConfig is how to reach Entra ID over Microsoft Graph with an
// application's client credentials (BitlockerKey.ReadBasic.All suffices).
type EntraConfig struct {
	TenantID string `yaml:"tenant_id,omitempty"`
	ClientID string `yaml:"client_id,omitempty"`
	// Exactly one of ClientSecretEnv, ClientSecretFile (the secret) or
	// CertificateFile (PEM certificate and unencrypted private key).
	ClientSecretEnv  string `yaml:"client_secret_env,omitempty"`
	ClientSecretFile string `yaml:"client_secret_file,omitempty"`
	CertificateFile  string `yaml:"certificate_file,omitempty"`
	// AuthorityHost defaults to https://login.microsoftonline.com/.
	AuthorityHost string `yaml:"authority_host,omitempty"`
	// GraphEndpoint defaults to https://graph.microsoft.com.
	GraphEndpoint string `yaml:"graph_endpoint,omitempty"`
	// CACertFile is a PEM bundle of extra CAs (for the simulator or a proxy).
	CACertFile string `yaml:"ca_cert_file,omitempty"`
}

// ExternalConfig is an external key store: a directory (a mounted share)
// holding "BitLocker Recovery Key <ID>.TXT" files.
type ExternalConfig struct {
	Dir string `yaml:"dir,omitempty"`
}

// Sources lists the locations c checks at the source, in report order;
// none for a nil or empty config.
func (c *Config) Sources() []model.Location {
	var out []model.Location
	if c == nil {
		return out
	}
	if c.AD != nil {
		out = append(out, model.LocationAD)
	}
	if c.Entra != nil {
		out = append(out, model.LocationEntra)
	}
	if c.External != nil {
		out = append(out, model.LocationExternal)
	}
	return out
}

// Insecure lists the settings of c that weaken a source connection, as
// "key: what it means", for warnings at start and the run options.
func (c *Config) Insecure() []string {
	var out []string
	if c == nil || c.AD == nil {
		return out
	}
	if c.AD.InsecureSkipVerify {
		out = append(out, "ad.insecure_skip_verify: the directory's TLS certificate is not verified, so any machine can pose as it and answer every escrow check")
	}
	if c.AD.AllowPlaintext {
		out = append(out, "ad.allow_plaintext: the bind password and every directory answer cross the network in clear, open to reading and forging")
	}
	return out
}

// Defaults.
const (
	DefaultAuthorityHost = "https://login.microsoftonline.com/"
	DefaultGraphEndpoint = "https://graph.microsoft.com"
	defaultMaxConns      = 4
	defaultPageSize      = 500
)

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// LoadConfig reads an escrow configuration (YAML with top-level keys ad,
// entra and external). Unknown keys are errors. Errors name the file (name)
// and line. Secrets are referenced by environment variable name or file path
// and are not read here.
func LoadConfig(r io.Reader, name string) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(name, err)
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root) // decoded above, cannot fail
	if err := cfg.validate(); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("%s:%d: %w", name, keyLine(&root, fe.path), err)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &cfg, nil
}

// yamlError rewrites yaml.v3's "line N: msg" errors as "name:N: msg".
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			if m := yamlLine.FindStringSubmatch(e); m != nil {
				e = name + ":" + m[1] + ": " + m[2]
			} else {
				e = name + ": " + e
			}
			msgs = append(msgs, e)
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s:%s: %s", name, m[1], m[2])
	}
	return fmt.Errorf("%s: %w", name, err)
}

// A fieldError is a validation error about the key at path.
type fieldError struct {
	path []string
	msg  string
}

func (e *fieldError) Error() string { return strings.Join(e.path, ".") + ": " + e.msg }

func ferr(msg string, path ...string) error { return &fieldError{path: path, msg: msg} }

// keyLine returns the line of the key at path in a YAML document, or of the
// deepest key of path that exists.
func keyLine(doc *yaml.Node, path []string) int {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		if n.Kind != yaml.MappingNode {
			break
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				line = n.Content[i].Line
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			break
		}
	}
	return line
}

func (c *Config) validate() error {
	if c.AD != nil {
		if err := c.AD.validate(); err != nil {
			return err
		}
	}
	if c.Entra != nil {
		if err := c.Entra.validate(); err != nil {
			return err
		}
	}
	if c.External != nil && c.External.Dir == "" {
		return ferr("dir is required", "external", "dir")
	}
	return nil
}

func (c *ADConfig) validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		return ferr(fmt.Sprintf("url %q: want ldaps://host[:port] or ldap://host[:port]", c.URL), "ad", "url")
	}
	switch u.Scheme {
	case "ldaps":
		if c.StartTLS {
			return ferr("start_tls applies to ldap:// only", "ad", "start_tls")
		}
	case "ldap":
		if !c.StartTLS && !c.AllowPlaintext {
			return ferr("ldap:// needs start_tls: true (or allow_plaintext: true to send the password in clear)", "ad", "url")
		}
	default:
		return ferr(fmt.Sprintf("url scheme %q: want ldaps or ldap", u.Scheme), "ad", "url")
	}
	if c.BaseDN == "" {
		return ferr("base_dn is required", "ad", "base_dn")
	}
	if c.BindDN == "" {
		return ferr("bind_dn is required", "ad", "bind_dn")
	}
	if (c.PasswordEnv == "") == (c.PasswordFile == "") {
		return ferr("exactly one of password_env and password_file is required", "ad")
	}
	if c.MaxConns < 0 || c.PageSize < 0 {
		return ferr("must not be negative", "ad", "max_conns")
	}
	return nil
}

func (c *EntraConfig) validate() error {
	if c.TenantID == "" {
		return ferr("tenant_id is required", "entra", "tenant_id")
	}
	if c.ClientID == "" {
		return ferr("client_id is required", "entra", "client_id")
	}
	n := 0
	for _, s := range []string{c.ClientSecretEnv, c.ClientSecretFile, c.CertificateFile} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return ferr("exactly one of client_secret_env, client_secret_file and certificate_file is required", "entra")
	}
	for _, kv := range [][2]string{{"authority_host", c.AuthorityHost}, {"graph_endpoint", c.GraphEndpoint}} {
		key, v := kv[0], kv[1]
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" {
			return ferr(fmt.Sprintf("%q: want an https:// URL", v), "entra", key)
		}
	}
	return nil
}

// readSecret returns the secret in environment variable env or file path,
// whichever is set, trimmed of surrounding white space. what names it in errors.
func readSecret(what, env, path string) (model.Secret, error) {
	if env != "" {
		v, ok := os.LookupEnv(env)
		if !ok || strings.TrimSpace(v) == "" {
			return model.Secret{}, fmt.Errorf("%s: environment variable %s is not set", what, env)
		}
		return model.NewSecret(strings.TrimSpace(v)), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return model.Secret{}, fmt.Errorf("%s: %w", what, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return model.Secret{}, fmt.Errorf("%s: %s is empty", what, strconv.Quote(path))
	}
	return model.NewSecret(v), nil
}
