package main

import (
	"runtime/debug"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		mod      string
		settings []debug.BuildSetting
		want     string
	}{
		{"v1.2.3", nil, "v1.2.3"},
		{"(devel)", nil, "devel"},
		{"(devel)", []debug.BuildSetting{{Key: "vcs.revision", Value: rev}}, "devel+0123456789ab"},
		{"(devel)", []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}, "devel+0123456789ab.dirty"},
		// What go build stamps in a checkout: the revision and +dirty are already there.
		{"v0.0.0-20261201221500-0123456789ab+dirty", []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}},
			"v0.0.0-20261201221500-0123456789ab+dirty"},
		{"v0.0.0-20261201221500-0123456789ab", []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}},
			"v0.0.0-20261201221500-0123456789ab"},
	}
	for _, tt := range tests {
		if got := buildVersion(tt.mod, tt.settings); got != tt.want {
			t.Errorf("buildVersion(%q) = %q, want %q", tt.mod, got, tt.want)
		}
	}
}
