package simulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/bitaudit/bitaudit/simulator/directory"
	"github.com/bitaudit/bitaudit/simulator/entra"
	"github.com/bitaudit/bitaudit/simulator/windows"
	"github.com/bitaudit/bitaudit/simulator/wsman"
)

// SourcesOptions configure the fleet's escrow sources. Every field is optional.
type SourcesOptions struct {
	// BindDN and BindPassword are the directory's one account (default
	// CN=svc-bitaudit,OU=Service Accounts,<base DN> and a random password).
	BindDN, BindPassword string
	// TenantID defaults to the hosts' tenant; ClientID to a fixed
	// application ID; ClientSecret to a random secret.
	TenantID, ClientID, ClientSecret string
	// GraphPageSize is the Graph page size (default 2, to exercise paging).
	GraphPageSize int
	// ThrottleEvery answers every Nth Graph request 429 (default 50; -1
	// never), with Retry-After RetryAfter seconds (default 1; negative: 0).
	ThrottleEvery, RetryAfter int
	// ExternalDir is the external key store; default a new temporary
	// directory, removed by Close.
	ExternalDir string
}

// Sources are the running escrow sources of a fleet: what an escrow
// configuration needs to point at them.
type Sources struct {
	// ADURL is the directory's ldaps:// URL.
	ADURL, BaseDN, BindDN, BindPassword string
	// CAPEM is the CA both servers' certificates chain to.
	CAPEM []byte
	// AuthorityHost and GraphEndpoint are the same https:// server.
	AuthorityHost, GraphEndpoint     string
	TenantID, ClientID, ClientSecret string
	// ExternalDir holds a "BitLocker Recovery Key <ID>.TXT" marker file
	// (placeholder content, no key) per key in the hosts' ExternalFiles,
	// in one folder per computer: <ExternalDir>/<COMPUTERNAME>/.
	ExternalDir string

	dir    *directory.Server
	entra  *entra.Server
	tmpDir string
}

// defaultClientID is the simulated app registration's application ID.
const defaultClientID = "b17a0d17-5e1f-4c0d-9e57-0000000000b1"

// StartSources serves the fleet's escrow truth on loopback: an LDAP
// directory (LDAPS) built from each machine's Escrow.AD, an Entra ID token
// endpoint and Graph built from Escrow.Entra, and an external key store
// directory from Escrow.ExternalFiles. The servers read the machines on
// every request, so a backup made by remediation is seen at once. They stop
// when ctx ends or Close is called.
func (f *Fleet) StartSources(ctx context.Context, o SourcesOptions) (*Sources, error) {
	ms := make([]*windows.Machine, len(f.all))
	for i, h := range f.all {
		ms[i] = h.Machine
	}
	ca := f.ca
	if ca == nil {
		var err error
		if ca, err = wsman.NewCA(); err != nil {
			return nil, fmt.Errorf("escrow sources: %w", err)
		}
	}
	tc, err := ca.ServerTLSConfig([]string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("escrow sources: %w", err)
	}
	s := &Sources{CAPEM: ca.PEM(), ClientID: o.ClientID, ClientSecret: o.ClientSecret, TenantID: o.TenantID}
	if s.ClientID == "" {
		s.ClientID = defaultClientID
	}
	if s.ClientSecret == "" {
		s.ClientSecret = randomHex()
	}
	if s.TenantID == "" {
		s.TenantID = tenantOf(ms)
	}
	s.BindPassword = o.BindPassword
	if s.BindPassword == "" {
		s.BindPassword = randomHex()
	}
	s.BaseDN = baseDNOf(ms)
	s.BindDN = o.BindDN
	if s.BindDN == "" {
		s.BindDN = "CN=svc-bitaudit,OU=Service Accounts," + s.BaseDN
	}
	s.dir, err = directory.Start(ctx, directory.Options{TLS: tc, BaseDN: s.BaseDN, BindDN: s.BindDN, BindPassword: s.BindPassword, Machines: ms})
	if err != nil {
		return nil, fmt.Errorf("escrow sources: %w", err)
	}
	s.ADURL = s.dir.URL

	throttle, retry := o.ThrottleEvery, o.RetryAfter
	if throttle == 0 {
		throttle = 50
	}
	if throttle < 0 {
		throttle = 0
	}
	if retry == 0 {
		retry = 1
	}
	s.entra, err = entra.Start(ctx, entra.Options{TLS: tc, TenantID: s.TenantID, ClientID: s.ClientID, ClientSecret: s.ClientSecret,
		Machines: ms, PageSize: o.GraphPageSize, ThrottleEvery: throttle, RetryAfter: max(retry, 0)})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("escrow sources: %w", err)
	}
	s.AuthorityHost, s.GraphEndpoint = s.entra.URL+"/", s.entra.URL

	s.ExternalDir = o.ExternalDir
	if s.ExternalDir == "" {
		if s.tmpDir, err = os.MkdirTemp("", "bitaudit-keystore-"); err != nil {
			s.Close()
			return nil, fmt.Errorf("escrow sources: %w", err)
		}
		s.ExternalDir = s.tmpDir
	}
	if err := writeKeyFiles(s.ExternalDir, ms); err != nil {
		s.Close()
		return nil, fmt.Errorf("escrow sources: %w", err)
	}
	return s, nil
}

// Close stops the servers and removes a temporary key store.
func (s *Sources) Close() error {
	var errs []error
	if s.dir != nil {
		errs = append(errs, s.dir.Close())
	}
	if s.entra != nil {
		errs = append(errs, s.entra.Close())
	}
	if s.tmpDir != "" {
		errs = append(errs, os.RemoveAll(s.tmpDir))
	}
	return errors.Join(errs...)
}

// writeKeyFiles writes one marker file per external key, named as Windows
// names recovery key files ("BitLocker Recovery Key <ID>.TXT", the name
// manage-bde -protectors -add -rp and the Save dialog offer), each in the
// folder of the computer the sources know it by: <dir>/<COMPUTERNAME>/
// (KeyFolder), or the folder a key's DeviceObject names. The content is a
// placeholder, never a password.
func writeKeyFiles(dir string, ms []*windows.Machine) error {
	for _, m := range ms {
		m.Mu.Lock()
		keys := append([]windows.EscrowedKey(nil), m.Escrow.ExternalFiles...)
		name := m.Identity().ComputerName
		m.Mu.Unlock()
		for _, k := range keys {
			folder := name
			if k.DeviceObject != "" {
				folder = k.DeviceObject
			}
			if err := WriteKeyFile(dir, folder, k.ProtectorID); err != nil {
				return err
			}
		}
	}
	return nil
}

// KeyFolder returns the folder of computer (its NetBIOS name) in the
// external key store dir: <dir>/<COMPUTERNAME>.
func KeyFolder(dir, computer string) string {
	return filepath.Join(dir, strings.ToUpper(computer))
}

// WriteKeyFile writes the marker file of protector id into computer's
// folder of the external key store dir (0700 folder, 0600 file).
func WriteKeyFile(dir, computer, id string) error {
	folder := KeyFolder(dir, computer)
	if err := os.MkdirAll(folder, 0o700); err != nil {
		return err
	}
	id = strings.ToUpper(strings.Trim(id, "{}"))
	body := fmt.Sprintf("Simulated BitLocker recovery key backup for %s, protector %s. No key material.\n", strings.ToUpper(computer), id)
	return os.WriteFile(filepath.Join(folder, "BitLocker Recovery Key "+id+".TXT"), []byte(body), 0o600)
}

func tenantOf(ms []*windows.Machine) string {
	for _, m := range ms {
		m.Mu.Lock()
		t := m.Join.TenantID
		m.Mu.Unlock()
		if t != "" {
			return t
		}
	}
	return "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
}

func baseDNOf(ms []*windows.Machine) string {
	domain := "corp.example.test"
	for _, m := range ms {
		m.Mu.Lock()
		d := m.Identity().DNSDomain
		m.Mu.Unlock()
		if d != "" {
			domain = d
			break
		}
	}
	return domainDN(domain)
}

// domainDN is the DN of an AD DNS domain: DC=corp,DC=example,DC=test.
func domainDN(domain string) string {
	parts := strings.Split(domain, ".")
	for i, p := range parts {
		parts[i] = "DC=" + p
	}
	return strings.Join(parts, ",")
}

func randomHex() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
