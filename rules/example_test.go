package rules_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/rules"
)

func ExampleLoadPolicy() {
	const policy = `
organisation: Example Corp
encryption:
  required_volume_types: [os, fixed, removable]
  require_tpm_pin: yes
waivers:
  - id: W-1
    hosts: kiosk-*
    rules: [volume.not-encrypted]
    reason: Kiosk
    owner: alice@example.test
`
	_, err := rules.LoadPolicy(strings.NewReader(policy), "policy.yaml")
	fmt.Println(err)
	// Output:
	// policy.yaml:5:20: encryption.require_tpm_pin: want true or false, got the string "yes"
	// policy.yaml:7:5: waivers[0]: expires is required (a waiver without expiry is not accepted)
}

func ExampleEngine_Evaluate() {
	e, err := rules.NewEngine(rules.DefaultPolicy(), rules.Builtin())
	if err != nil {
		panic(err)
	}
	h := model.HostResult{
		Target: "ws-0001",
		Status: model.StatusCompliant,
		Facts:  &model.HostFacts{Join: model.JoinInfo{State: model.JoinEntra}},
		Volumes: []model.Volume{{
			MountPoint: "C:", Type: model.VolumeOS, Conversion: model.FullyEncrypted,
			Protection: model.ProtectionOn, Method: model.MethodXTSAES128,
			Protectors: []model.Protector{
				{ID: "{A}", Type: model.ProtectorTPM},
				{ID: "{B}", Type: model.ProtectorRecoveryPassword,
					Backups: []model.Backup{{Location: model.LocationEntra, State: model.BackupMissing}}},
			},
		}},
	}
	e.Evaluate(&h, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
	fmt.Println(h.Status, "-", h.Reason)
	for _, f := range h.Findings {
		fmt.Println(f.RuleID, f.Severity, f.Message)
	}
	// Output:
	// noncompliant - 1 finding: 1 high
	// escrow.missing high Recovery password {B} of C: is not backed up at an accepted location (entra).
}
