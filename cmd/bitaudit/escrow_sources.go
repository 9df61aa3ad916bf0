package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/bitaudit/bitaudit/collectors/escrow"
	"github.com/bitaudit/bitaudit/simulator"
)

// startDemoSources starts the fleet's simulated Active Directory and Entra ID
// and writes, into dir, the escrow config that points at them (secrets in
// 0600 files beside it, never inline). It returns the config file's path.
func startDemoSources(ctx context.Context, fleet *simulator.Fleet, dir string) (string, error) {
	src, err := fleet.StartSources(ctx, simulator.SourcesOptions{})
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "escrow.yaml")
	return p, writeEscrowConfigTo(src, p)
}

// writeEscrowConfigTo writes the escrow config for src to path, and the
// files it names (CA, bind password, client secret; secrets 0600) beside
// it, named after it: escrow.yaml, escrow.yaml.ad-bind.password, ...
func writeEscrowConfigTo(src *simulator.Sources, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	write := func(suffix string, b []byte, mode os.FileMode) (string, error) {
		p := abs + suffix
		return p, writeFileWith(p, mode, writeBytes(b))
	}
	ca, err := write(".sources-ca.pem", src.CAPEM, 0o644)
	if err != nil {
		return err
	}
	bindPW, err := write(".ad-bind.password", []byte(src.BindPassword+"\n"), 0o600)
	if err != nil {
		return err
	}
	secret, err := write(".entra-client.secret", []byte(src.ClientSecret+"\n"), 0o600)
	if err != nil {
		return err
	}
	cfg := escrow.Config{
		AD: &escrow.ADConfig{URL: src.ADURL, BaseDN: src.BaseDN, BindDN: src.BindDN, PasswordFile: bindPW, CACertFile: ca},
		Entra: &escrow.EntraConfig{TenantID: src.TenantID, ClientID: src.ClientID, ClientSecretFile: secret,
			AuthorityHost: src.AuthorityHost, GraphEndpoint: src.GraphEndpoint, CACertFile: ca},
		External: &escrow.ExternalConfig{Dir: src.ExternalDir},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("escrow config: %w", err)
	}
	return writeFileWith(abs, 0o600, writeBytes(b))
}

func writeBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(b); return err }
}

// writeFileWith writes path through write, atomically: into a temporary
// file beside it, renamed into place once complete, so a reader polling
// for path never sees half a file.
func writeFileWith(path string, perm os.FileMode, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
