package main

import (
	"testing"

	"github.com/bitaudit/bitaudit/collectors/escrow"
)

// TestReadDirectoryAhead: the directory is read beside the hosts only when
// coverage will read it after them and nothing in between changes it: not
// with --fix (its backups must be in coverage's key counts), not when it
// was read before the run, not without a directory.
func TestReadDirectoryAhead(t *testing.T) {
	withAD := &escrow.Config{AD: &escrow.ADConfig{URL: "ldaps://127.0.0.1:1", BaseDN: "DC=x"}}
	tests := []struct {
		name string
		job  auditJob
	}{
		{"no directory", auditJob{opts: &auditOptions{}}},
		{"--fix", auditJob{escrowCfg: withAD, opts: &auditOptions{fix: fixOptions{enabled: true}}}},
		{"read before the run", auditJob{escrowCfg: withAD, directory: &escrow.Directory{}, opts: &auditOptions{}}},
	}
	for _, tt := range tests {
		tt.job.readDirectoryAhead(t.Context(), nil)
		if tt.job.directoryRead != nil {
			t.Errorf("%s: the directory is read ahead", tt.name)
		}
	}
}
