package windows

import (
	"os"
	"testing"
)

// BenchmarkCollectScript measures one collect.ps1 run as masterzen sends it.
func BenchmarkCollectScript(b *testing.B) {
	script, err := os.ReadFile("testdata/collect.ps1")
	if err != nil {
		b.Fatal(err)
	}
	cmd := masterzenCommand(string(script))
	m := domainMachine()
	b.ReportAllocs()
	for b.Loop() {
		m.Run(b.Context(), Invocation{CommandLine: cmd, Codepage: 65001, User: "auditor"})
	}
}

// BenchmarkHostname measures the cheapest command.
func BenchmarkHostname(b *testing.B) {
	m := domainMachine()
	b.ReportAllocs()
	for b.Loop() {
		m.Run(b.Context(), Invocation{CommandLine: "hostname", Codepage: 65001})
	}
}

// BenchmarkParseCollect measures parsing collect.ps1 alone.
func BenchmarkParseCollect(b *testing.B) {
	script, err := os.ReadFile("testdata/collect.ps1")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseScript(string(script)); err != nil {
			b.Fatal(err)
		}
	}
}
