package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

func TestEvaluateAgainCountsWaiversOnce(t *testing.T) {
	p, err := LoadPolicy(strings.NewReader(`waivers:
  - {id: W-1, hosts: ["ws-1"], rules: [volume.not-encrypted], reason: r, owner: o, expires: 2027-01-01}
  - {id: W-2, hosts: ["ws-1"], rules: [volume.not-encrypted], reason: r, owner: o, expires: 2020-01-01}
`), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(p, Builtin())
	if err != nil {
		t.Fatal(err)
	}
	h := &model.HostResult{Target: "ws-1", Status: model.StatusCompliant, Facts: &model.HostFacts{Join: model.JoinInfo{State: model.JoinWorkgroup}},
		Volumes: []model.Volume{{MountPoint: "C:", Type: model.VolumeOS, Conversion: model.FullyDecrypted}}}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for range 3 {
		e.Evaluate(h, now)
	}
	for _, w := range e.Waivers(now) {
		if w.Matched != 1 {
			t.Errorf("waiver %s matched %d after three evaluations of one finding, want 1", w.ID, w.Matched)
		}
	}
}
