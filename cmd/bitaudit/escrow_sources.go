package main

import (
	"context"
	"fmt"
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
	return writeEscrowConfig(src, dir)
}

// writeEscrowConfig writes escrow.yaml for src into dir.
func writeEscrowConfig(src *simulator.Sources, dir string) (string, error) {
	write := func(name string, b []byte, mode os.FileMode) (string, error) {
		p := filepath.Join(dir, name)
		return p, os.WriteFile(p, b, mode)
	}
	ca, err := write("sources-ca.pem", src.CAPEM, 0o644)
	if err != nil {
		return "", err
	}
	bindPW, err := write("ad-bind.password", []byte(src.BindPassword+"\n"), 0o600)
	if err != nil {
		return "", err
	}
	secret, err := write("entra-client.secret", []byte(src.ClientSecret+"\n"), 0o600)
	if err != nil {
		return "", err
	}
	cfg := escrow.Config{
		AD: &escrow.ADConfig{URL: src.ADURL, BaseDN: src.BaseDN, BindDN: src.BindDN, PasswordFile: bindPW, CACertFile: ca},
		Entra: &escrow.EntraConfig{TenantID: src.TenantID, ClientID: src.ClientID, ClientSecretFile: secret,
			AuthorityHost: src.AuthorityHost, GraphEndpoint: src.GraphEndpoint, CACertFile: ca},
		External: &escrow.ExternalConfig{Dir: src.ExternalDir},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("escrow config: %w", err)
	}
	p, err := write("escrow.yaml", b, 0o644)
	return p, err
}
