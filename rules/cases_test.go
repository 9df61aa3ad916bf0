package rules

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/bitaudit/bitaudit/model"
)

var update = flag.Bool("update", false, "rewrite want.json in testdata/cases and the .err goldens in testdata/policies")

// defaultNow is the clock of cases without a "now" file.
var defaultNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// caseWant is what a case expects: the host's status, reason and findings,
// and the policy's waivers after the evaluation.
type caseWant struct {
	Status   model.Status         `json:"status"`
	Reason   string               `json:"reason"`
	Findings []model.Finding      `json:"findings"`
	Waivers  []model.WaiverStatus `json:"waivers,omitempty"`
}

type testCase struct {
	name string
	host model.HostResult
	pol  *Policy
	now  time.Time
	want caseWant
	arch *txtar.Archive
	path string
}

func loadCases(t *testing.T) []testCase {
	t.Helper()
	paths, err := filepath.Glob("testdata/cases/*.txtar")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	var cases []testCase
	for _, p := range paths {
		a, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		tc := testCase{name: strings.TrimSuffix(filepath.Base(p), ".txtar"), arch: a, path: p, now: defaultNow, pol: DefaultPolicy()}
		var sawHost bool
		for _, f := range a.Files {
			switch f.Name {
			case "host.json":
				dec := json.NewDecoder(bytes.NewReader(f.Data))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&tc.host); err != nil {
					t.Fatalf("%s: host.json: %v", p, err)
				}
				sawHost = true
			case "policy.yaml":
				if tc.pol, err = LoadPolicy(bytes.NewReader(f.Data), p+":policy.yaml"); err != nil {
					t.Fatalf("%s: %v", p, err)
				}
			case "now":
				if tc.now, err = time.Parse(time.RFC3339, strings.TrimSpace(string(f.Data))); err != nil {
					t.Fatalf("%s: now: %v", p, err)
				}
			case "want.json":
				dec := json.NewDecoder(bytes.NewReader(f.Data))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&tc.want); err != nil && !*update {
					t.Fatalf("%s: want.json: %v", p, err)
				}
			default:
				t.Fatalf("%s: unexpected file %q", p, f.Name)
			}
		}
		if !sawHost {
			t.Fatalf("%s: no host.json", p)
		}
		cases = append(cases, tc)
	}
	return cases
}

func TestCases(t *testing.T) {
	for _, tc := range loadCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEngine(tc.pol, Builtin())
			if err != nil {
				t.Fatal(err)
			}
			h := tc.host
			e.Evaluate(&h, tc.now)
			got := caseWant{Status: h.Status, Reason: h.Reason, Findings: h.Findings}
			if ws := e.Waivers(tc.now); len(ws) > 0 {
				got.Waivers = ws
			}
			if *update {
				b, err := json.MarshalIndent(got, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				for i := range tc.arch.Files {
					if tc.arch.Files[i].Name == "want.json" {
						tc.arch.Files = append(tc.arch.Files[:i], tc.arch.Files[i+1:]...)
						break
					}
				}
				tc.arch.Files = append(tc.arch.Files, txtar.File{Name: "want.json", Data: append(b, '\n')})
				if err := os.WriteFile(tc.path, txtar.Format(tc.arch), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("%s (-want +got):\n%s", tc.path, d)
			}
		})
	}
}

// TestEveryRuleHasACase checks that each built-in rule fires in at least one
// case, so no rule goes untested.
func TestEveryRuleHasACase(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range loadCases(t) {
		for _, f := range tc.want.Findings {
			seen[f.RuleID] = true
		}
	}
	for _, r := range Builtin() {
		if !seen[r.ID] && r.Scope != ScopeDirectory { // those: TestEvaluateCoverage
			t.Errorf("rule %s appears in no case's want.json", r.ID)
		}
	}
}
