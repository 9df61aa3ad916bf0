package simulator

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "update golden files")

func TestLoadSpecExample(t *testing.T) {
	f, err := os.Open("testdata/fleet-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := LoadSpec(f, "fleet-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Seed != 42 || s.Hosts != 200 || len(s.Profiles) != 6 || len(s.Faults) != 4 {
		t.Fatalf("spec = %+v", s)
	}
	if got, want := s.Latency, UniformLatency(20*time.Millisecond, 120*time.Millisecond); got != want {
		t.Errorf("latency = %+v, want %+v", got, want)
	}
	if got, want := *s.Profiles[2].Latency, NormalLatency(300*time.Millisecond, 50*time.Millisecond); got != want {
		t.Errorf("server latency = %+v, want %+v", got, want)
	}
	if got := time.Duration(s.Faults[1].Delay); got != 2*time.Second {
		t.Errorf("slow delay = %v", got)
	}

	hosts, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	profiles := map[string]int{}
	faults := map[string]int{}
	for _, h := range hosts {
		profiles[h.Profile]++
		for _, k := range h.Faults {
			faults[k]++
		}
	}
	// 15 hosts by count; 185 split 0.6/0.2/0.1/0.1.
	wantProfiles := map[string]int{"domain-laptop": 111, "entra-laptop": 37, "domain-server": 10, "never-escrowed": 19, "suspended": 5, "data-decrypted": 18}
	if d := cmp.Diff(wantProfiles, profiles); d != "" {
		t.Errorf("profile counts (-want +got):\n%s", d)
	}
	wantFaults := map[string]int{FaultRefused: 4, FaultSlow: 2, FaultWrongPassword: 1, FaultHuge: 1}
	if d := cmp.Diff(wantFaults, faults); d != "" {
		t.Errorf("fault counts (-want +got):\n%s", d)
	}
	for _, h := range hosts {
		switch {
		case h.Profile == "data-decrypted" && !strings.HasPrefix(h.Machine.ComputerName, "KIOSK-"):
			t.Errorf("%s: prefix override ignored", h.Machine.ComputerName)
		case h.Profile == "entra-laptop" && h.Machine.OS.BuildNumber != "26100":
			t.Errorf("%s: os override ignored: %+v", h.Machine.ComputerName, h.Machine.OS)
		case h.Profile == "domain-server" && !strings.HasPrefix(h.Machine.ComputerName, "SRV-"):
			t.Errorf("%s: server not named SRV-", h.Machine.ComputerName)
		}
		if h.Profile != "domain-server" && (h.latency < 20*time.Millisecond || h.latency > 120*time.Millisecond) {
			t.Errorf("%s: latency %v outside [20ms, 120ms]", h.Machine.ComputerName, h.latency)
		}
	}
}

// TestLoadSpecErrors checks that each bad spec is rejected with an error
// naming file and line; testdata/bad/NAME.err holds the expected message.
func TestLoadSpecErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad specs: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = LoadSpec(f, name)
			if err == nil {
				t.Fatal("LoadSpec accepted a bad spec")
			}
			got := err.Error() + "\n"
			if !strings.HasPrefix(got, name+":") {
				t.Errorf("error does not start with %q: %s", name+":", got)
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), got); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
		})
	}
}

func TestLoadSpecDefaults(t *testing.T) {
	s, err := LoadSpec(strings.NewReader("profiles:\n  - {name: tpm-only, count: 2}\n  - {name: workgroup, count: 1}\n"), "small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Hosts != 3 || s.Domain != defaultDomain() || s.Latency != (Latency{}) {
		t.Errorf("defaults not applied: %+v", s)
	}
	silent, err := LoadSpec(strings.NewReader("long_command_line: silent\nprofiles: [{name: workgroup, count: 2}]\n"), "silent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := Build(silent)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if !h.Machine.LongCommandLineSilent {
			t.Errorf("%s: long_command_line silent not applied", h.Machine.ComputerName)
		}
	}
	if _, err := LoadSpec(strings.NewReader(""), "empty.yaml"); err == nil || !strings.HasPrefix(err.Error(), "empty.yaml:") {
		t.Errorf("empty spec: err = %v", err)
	}
}

func FuzzLoadSpec(f *testing.F) {
	for _, file := range []string{"testdata/fleet-example.yaml", "testdata/bad/bad-latency.yaml", "testdata/bad/unknown-key.yaml"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := LoadSpec(bytes.NewReader(b), "fuzz.yaml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml:") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		if s.Hosts < 1 || s.Hosts > MaxHosts {
			t.Fatalf("accepted spec with %d hosts", s.Hosts)
		}
		if s.Hosts <= 200 {
			if _, err := Build(s); err != nil {
				t.Fatalf("accepted spec does not build: %v", err)
			}
		}
	})
}
