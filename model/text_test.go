package model

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	tests := []struct {
		name    string
		facts   HostFacts
		volumes []Volume
		want    string // "" means accepted
	}{
		{"plain", HostFacts{Hostname: "LT-0018", OS: OSInfo{Caption: "Microsoft Windows 11 Pro"}}, []Volume{{MountPoint: "C:"}}, ""},
		{"non-Latin is fine", HostFacts{Hostname: "ПК-Бухгалтерия-01", OS: OSInfo{Caption: "Windows 11 专业版"}}, nil, ""},
		{"bidi override in name", HostFacts{Hostname: "LT-\u202e8100"}, nil, "bidirectional-override character U+202E in facts.Hostname"},
		{"isolate in OS", HostFacts{OS: OSInfo{Caption: "Windows\u2066 11"}}, nil, "U+2066 in facts.OS.Caption"},
		{"zero width in volume", HostFacts{}, []Volume{{MountPoint: "C:", Protectors: []Protector{{ID: "{A\u200b}"}}}}, "format character U+200B in volumes[0].Protectors[0].ID"},
		{"control", HostFacts{FQDN: "a\x1b[31m.example"}, nil, "control character U+001B in facts.FQDN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckText(&tt.facts, tt.volumes)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrProtocol) {
				t.Errorf("CheckText = %v, want a protocol error containing %q", err, tt.want)
			}
		})
	}
}
