package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at release time with -ldflags "-X main.version=v1.2.3".
var version = ""

// toolVersion returns the release version, or the module version and VCS
// revision the binary was built from.
func toolVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return buildVersion(bi.Main.Version, bi.Settings)
}

// buildVersion is the version of a build: the module version the go
// command stamped (which, for a build in a checkout, already holds the
// revision and "+dirty"), or "devel", with the revision and a dirty mark
// added only where the module version does not carry them already.
func buildVersion(mod string, settings []debug.BuildSetting) string {
	v := mod
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	rev, dirty := "", false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) >= 12 && !strings.Contains(v, rev[:12]) {
		sep := "+"
		if strings.Contains(v, "+") {
			sep = "."
		}
		v += sep + rev[:12]
	}
	if dirty && !strings.Contains(v, "dirty") {
		sep := "+"
		if strings.Contains(v, "+") {
			sep = "."
		}
		v += sep + "dirty"
	}
	return v
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(g.Out, "bitaudit %s (%s, %s/%s)\n", toolVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
