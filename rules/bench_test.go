package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// benchHost builds an audited domain host with an OS, a fixed and a
// removable volume, each with a TPM (or password) protector and a recovery
// password verified in AD DS.
func benchHost(i int) model.HostResult {
	vol := func(mp string, vt model.VolumeType, first model.ProtectorType) model.Volume {
		return model.Volume{
			MountPoint: mp, Type: vt, Conversion: model.FullyEncrypted, EncryptionPercent: 100,
			Protection: model.ProtectionOn, Method: model.MethodXTSAES128,
			Protectors: []model.Protector{
				{ID: fmt.Sprintf("{%08X-0000-4000-8000-%012X}", i, 1), Type: first},
				{ID: fmt.Sprintf("{%08X-0000-4000-8000-%012X}", i, 2), Type: model.ProtectorRecoveryPassword,
					Backups: []model.Backup{{Location: model.LocationAD, State: model.BackupVerified}}},
			},
		}
	}
	return model.HostResult{
		Target: fmt.Sprintf("ws-%05d.corp.example.test", i),
		Status: model.StatusCompliant,
		Facts: &model.HostFacts{
			Hostname: fmt.Sprintf("WS-%05d", i), Join: model.JoinInfo{State: model.JoinDomain, DomainName: "CORP"},
			Policy: map[string]int64{"OSRequireActiveDirectoryBackup": 1},
		},
		Volumes: []model.Volume{
			vol("C:", model.VolumeOS, model.ProtectorTPM),
			vol("D:", model.VolumeFixed, model.ProtectorExternalKey),
			vol("E:", model.VolumeRemovable, model.ProtectorPassword),
		},
	}
}

// benchFleet returns n hosts, every fifth with an escrow gap and every
// seventh with a suspended OS volume, so findings are produced too.
func benchFleet(n int) []model.HostResult {
	hosts := make([]model.HostResult, n)
	for i := range hosts {
		hosts[i] = benchHost(i)
		if i%5 == 0 {
			hosts[i].Volumes[1].Protectors[1].Backups[0].State = model.BackupMissing
		}
		if i%7 == 0 {
			hosts[i].Volumes[0].Protection = model.ProtectionOff
		}
	}
	return hosts
}

const benchPolicy = `waivers:
  - {id: W-1, hosts: ["ws-0001*"], rules: [escrow.missing], reason: r, owner: o, expires: 2027-01-01}
custom_rules:
  - id: custom.removable
    scope: volume
    expr: volume.type == "removable" && volume.recovery_passwords == 0
    message: Removable drive without a recovery password.
`

// BenchmarkEvaluate evaluates 10,000 hosts x 3 volumes per iteration; the
// reported ns/host is the figure to compare.
func BenchmarkEvaluate(b *testing.B) {
	for _, bc := range []struct{ name, policy string }{{"default", ""}, {"waivers+cel", benchPolicy}} {
		b.Run(bc.name, func(b *testing.B) {
			p := DefaultPolicy()
			if bc.policy != "" {
				var err error
				if p, err = LoadPolicy(strings.NewReader(bc.policy), "bench.yaml"); err != nil {
					b.Fatal(err)
				}
			}
			e, err := NewEngine(p, Builtin())
			if err != nil {
				b.Fatal(err)
			}
			fleet := benchFleet(10_000)
			now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for i := range fleet {
					e.Evaluate(&fleet[i], now)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(fleet)), "ns/host")
		})
	}
}
