package winrm

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator/windows"
	"github.com/bitaudit/bitaudit/simulator/wsman"
)

// Integration tests against the simulated Windows WinRM service
// (simulator/wsman answering with simulator/windows), over loopback.

const simRecoveryPassword = "111111-222222-333333-444444-555555-666666-000000-111111"

func simMachine() *windows.Machine {
	return &windows.Machine{
		ComputerName: "WS-0042", DNSDomain: "corp.example.test", NetBIOSDomain: "CORP",
		OS:   windows.OSVersion{Caption: "Microsoft Windows 11 Enterprise", Version: "10.0.22631", BuildNumber: "22631"},
		Join: windows.JoinState{DomainJoined: true},
		FVEPolicy: map[string]any{
			"OSActiveDirectoryBackup": uint32(1), "OSRequireActiveDirectoryBackup": uint32(1), "OSEncryptionType": "1",
		},
		Volumes: []*windows.Volume{
			{DeviceID: `\\?\Volume{aaaaaaaa-0000-4000-8000-000000000001}\`, DriveLetter: "C:", VolumeType: 0,
				ConversionStatus: 1, EncryptionPercentage: 100, EncryptionFlags: 1, ProtectionStatus: 1, EncryptionMethod: 7,
				Protectors: []*windows.Protector{
					{ID: "{3B3E091C-ECB9-4B46-9FDD-A9E699EC3C8C}", Type: 1},
					{ID: "{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}", Type: 3, RecoveryPassword: simRecoveryPassword},
				}},
			{DeviceID: `\\?\Volume{aaaaaaaa-0000-4000-8000-000000000002}\`, VolumeType: 1, EncryptionMethod: 0},
		},
		Events: []windows.Event{{ID: 784, RecordID: 7, Time: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), Data: []windows.EventData{
			{Name: "ProtectorGUID", Value: "{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}"},
			{Name: "IdentificationGUID", Value: "{45A9DCBD-40EC-4295-A9E6-C2E63844F040}"},
		}}},
	}
}

type simHost struct {
	target model.Target
	host   *wsman.Host
	caPEM  []byte
}

// startSim serves m on a loopback port; cfg.Runner defaults to m.
func startSim(t *testing.T, cfg wsman.Config, m *windows.Machine, useTLS bool) *simHost {
	t.Helper()
	return startSimOn(t, cfg, m, useTLS, nil)
}

// startSimOn is startSim with the listener wrapped by wrap (nil: none),
// above TLS: wrap sees the HTTP bytes.
func startSimOn(t *testing.T, cfg wsman.Config, m *windows.Machine, useTLS bool, wrap func(net.Listener) net.Listener) *simHost {
	t.Helper()
	if cfg.Runner == nil {
		cfg.Runner = machineRunner(m, 0)
	}
	if cfg.User == "" {
		cfg.User, cfg.Password = `CORP\auditor`, testPassword
	}
	cfg.ComputerName, cfg.NetBIOSDomain, cfg.DNSDomain = m.ComputerName, m.NetBIOSDomain, m.DNSDomain
	h, err := wsman.NewHost(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &simHost{host: h, target: model.Target{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port}}
	if useTLS {
		ca, err := wsman.NewCA()
		if err != nil {
			t.Fatal(err)
		}
		conf, err := ca.ServerTLSConfig(nil, []net.IP{net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		ln = tls.NewListener(ln, conf)
		s.caPEM = ca.PEM()
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	go h.Serve(ln)
	t.Cleanup(func() { h.Close() })
	return s
}

// machineRunner runs commands on m, after an optional delay (a slow host).
func machineRunner(m *windows.Machine, delay time.Duration) wsman.Runner {
	return wsman.RunnerFunc(func(ctx context.Context, inv wsman.Invocation) wsman.Output {
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return wsman.Output{ExitCode: 1}
			}
		}
		return simOutput(m.Run(ctx, windows.Invocation(inv)))
	})
}

func TestSimulatorTransportsAndAuth(t *testing.T) {
	tests := []struct {
		name       string
		cfg        wsman.Config
		tls        bool
		opts       Options
		protection string
		wantErr    error
		msg        string
	}{
		{name: "ntlm https", cfg: wsman.Config{AllowNTLM: true, RequireEncryption: true}, tls: true,
			opts: Options{Auth: "ntlm"}, protection: "tls"},
		{name: "basic https", cfg: wsman.Config{AllowBasic: true, RequireEncryption: true}, tls: true,
			opts: Options{Auth: "basic"}, protection: "tls"},
		{name: "basic http unencrypted", cfg: wsman.Config{AllowBasic: true},
			opts: Options{Transport: "http", Auth: "basic", AllowUnencrypted: true}, protection: "none"},
		{name: "ntlm http unencrypted", cfg: wsman.Config{AllowNTLM: true},
			opts: Options{Transport: "http", Auth: "ntlm", AllowUnencrypted: true}, protection: "none"},
		{name: "ntlm http sealed", cfg: wsman.Config{AllowNTLM: true, RequireEncryption: true},
			opts: Options{Transport: "http", Auth: "ntlm"}, protection: "ntlm-sealing"},
		{name: "ntlm http unsealed to a host requiring encryption", cfg: wsman.Config{AllowNTLM: true, RequireEncryption: true},
			opts: Options{Transport: "http", Auth: "ntlm", AllowUnencrypted: true}, wantErr: model.ErrAuth, msg: "requires encrypted messages"},
		{name: "wrong password ntlm http sealed", cfg: wsman.Config{AllowNTLM: true, RequireEncryption: true, Password: "other", User: `CORP\auditor`},
			opts: Options{Transport: "http", Auth: "ntlm"}, wantErr: model.ErrAuth, msg: "refused the credentials"},
		{name: "wrong password ntlm https", cfg: wsman.Config{AllowNTLM: true, Password: "other", User: `CORP\auditor`}, tls: true,
			opts: Options{Auth: "ntlm"}, wantErr: model.ErrAuth, msg: "401"},
		{name: "basic refused by an ntlm-only host", cfg: wsman.Config{AllowNTLM: true}, tls: true,
			opts: Options{Auth: "basic"}, wantErr: model.ErrAuth, msg: "Basic must be enabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := simMachine()
			s := startSim(t, tt.cfg, m, tt.tls)
			var logs logBuffer
			o := tt.opts
			o.User, o.Password, o.CACertPEM = `CORP\auditor`, model.NewSecret(testPassword), s.caPEM
			o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			facts, vols, err := c.Collect(ctx, s.target)
			for _, out := range []string{logs.String(), errString(err)} {
				if passwordShape.MatchString(out) || strings.Contains(out, testPassword) {
					t.Errorf("secret in output: %s", out)
				}
			}
			if tt.wantErr != nil {
				t.Logf("error: %v", err)
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("err = %v, want %v mentioning %q", err, tt.wantErr, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkDecoded(t, m, facts, vols)
			if facts.Source.Protection != tt.protection {
				t.Errorf("protection %q, want %q", facts.Source.Protection, tt.protection)
			}
			if st := s.host.Stats(); st.Shells != 1 || st.Commands != 1 {
				t.Errorf("one run per host expected: %+v", st)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkDecoded compares what the collector decoded with the machine state.
func checkDecoded(t *testing.T, m *windows.Machine, facts model.HostFacts, vols []model.Volume) {
	t.Helper()
	if b, _ := json.Marshal([]any{facts, vols}); passwordShape.Match(b) || bytes.Contains(b, []byte(simRecoveryPassword)) {
		t.Errorf("decoded facts carry a recovery password: %s", b)
	}
	if facts.Hostname != m.ComputerName || facts.Join.State != model.JoinDomain || facts.OS.Build != m.OS.BuildNumber {
		t.Errorf("facts: %+v", facts)
	}
	if facts.Policy["OSActiveDirectoryBackup"] != 1 || len(facts.Events) != 1 || facts.Events[0].ProtectorID != m.Events[0].Data[0].Value {
		t.Errorf("policy %v, events %+v", facts.Policy, facts.Events)
	}
	if len(vols) != len(m.Volumes) {
		t.Fatalf("%d volumes, want %d", len(vols), len(m.Volumes))
	}
	for i, mv := range m.Volumes {
		v := vols[i]
		if v.DeviceID != mv.DeviceID || len(v.Protectors) != len(mv.Protectors) {
			t.Errorf("volume %d: %+v", i, v)
			continue
		}
		for j, p := range mv.Protectors {
			if v.Protectors[j].ID != p.ID {
				t.Errorf("volume %d protector %d: %+v", i, j, v.Protectors[j])
			}
		}
	}
	if c := vols[0]; c.MountPoint != "C:" || c.Conversion != model.FullyEncrypted || !c.UsedSpaceOnly || c.Protection != model.ProtectionOn ||
		c.Method != model.MethodXTSAES256 || c.Protectors[1].Type != model.ProtectorRecoveryPassword {
		t.Errorf("C: %+v", c)
	}
	if d := vols[1]; d.MountPoint != d.DeviceID || d.Conversion != model.FullyDecrypted || d.Protectors == nil {
		t.Errorf("data volume: %+v", d)
	}
}

func TestSimulatorFaults(t *testing.T) {
	tests := []struct {
		name    string
		cfg     wsman.Config
		runner  func(m *windows.Machine) wsman.Runner
		opts    func(*Options)
		timeout time.Duration
		want    error
		msg     string
	}{
		{name: "reset", cfg: wsman.Config{Fault: wsman.FaultReset}, want: model.ErrUnreachable, msg: "reset or closed"},
		{name: "stall", cfg: wsman.Config{Fault: wsman.FaultStall}, timeout: 2 * time.Second, want: model.ErrTimeout},
		{name: "truncated", cfg: wsman.Config{Fault: wsman.FaultTruncated}, want: model.ErrProtocol, msg: "malformed XML"},
		{name: "garbled", cfg: wsman.Config{Fault: wsman.FaultGarbled}, want: model.ErrProtocol, msg: "garbled output stream"},
		{name: "quota", cfg: wsman.Config{Fault: wsman.FaultQuota}, want: model.ErrProtocol, msg: "2150859173"},
		{name: "non-SOAP 500", cfg: wsman.Config{Fault: wsman.FaultNonSOAP}, want: model.ErrProtocol, msg: "HTTP 500 with a non-SOAP body (text/html"},
		{name: "slow host beyond the deadline", timeout: 2 * time.Second, want: model.ErrTimeout,
			runner: func(m *windows.Machine) wsman.Runner { return machineRunner(m, time.Minute) }},
		{name: "hung command long-polled", cfg: wsman.Config{MaxTimeout: 500 * time.Millisecond}, timeout: 3 * time.Second, want: model.ErrTimeout,
			runner: func(m *windows.Machine) wsman.Runner { return machineRunner(m, time.Minute) }},
		{name: "huge output", want: model.ErrProtocol, msg: "output larger than",
			opts: func(o *Options) { o.MaxOutputBytes = 1 << 20 },
			runner: func(*windows.Machine) wsman.Runner {
				return wsman.RunnerFunc(func(context.Context, wsman.Invocation) wsman.Output {
					return wsman.Output{Stdout: []byte(strings.Repeat("x", 4<<20))}
				})
			}},
		{name: "slow but within the deadline", timeout: 10 * time.Second, cfg: wsman.Config{MaxTimeout: 300 * time.Millisecond},
			runner: func(m *windows.Machine) wsman.Runner { return machineRunner(m, time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := simMachine()
			cfg := tt.cfg
			cfg.AllowBasic = true
			if tt.runner != nil {
				cfg.Runner = tt.runner(m)
			}
			s := startSim(t, cfg, m, true)
			o := Options{Auth: "basic", User: `CORP\auditor`, Password: model.NewSecret(testPassword), CACertPEM: s.caPEM, Logger: slog.New(slog.DiscardHandler)}
			if tt.opts != nil {
				tt.opts(&o)
			}
			c, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 20 * time.Second
			}
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			start := time.Now()
			facts, vols, err := c.Collect(ctx, s.target)
			if late := time.Since(start) - timeout; late > time.Second {
				t.Errorf("returned %v after the deadline", late)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				checkDecoded(t, m, facts, vols)
				return
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, tt.want) || !strings.Contains(errString(err), tt.msg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tt.want, tt.msg)
			}
			if passwordShape.MatchString(err.Error()) {
				t.Errorf("password-shaped text in %v", err)
			}
			if tt.name == "hung command long-polled" {
				if st := s.host.Stats(); st.ReceiveTimeouts == 0 || st.Receives > 20 {
					t.Errorf("long-poll stats: %+v", st)
				}
			}
		})
	}
}

func TestSimulatorUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c, err := New(Options{User: "u", Password: model.NewSecret("p"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Collect(t.Context(), model.Target{Host: "127.0.0.1", Port: port})
	if !errors.Is(err, model.ErrUnreachable) {
		t.Errorf("err = %v", err)
	}
}

// TestSimulatorRealWindowsStates collects from hosts in the states real
// fleets have, over the simulated WinRM service: each is audited with what
// it can give, and says what it could not.
func TestSimulatorRealWindowsStates(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(*windows.Machine)
		wantErr error
		check   func(t *testing.T, f model.HostFacts, vols []model.Volume)
	}{
		{name: "dsregcmd writes to stderr", setup: func(m *windows.Machine) { m.DsregcmdStderr = "Failed to retrieve tenant details." },
			check: func(t *testing.T, f model.HostFacts, _ []model.Volume) {
				if f.Join.State != model.JoinDomain || len(f.Source.SectionErrors) != 0 {
					t.Errorf("join %+v, section errors %+v", f.Join, f.Source.SectionErrors)
				}
			}},
		{name: "constrained language", setup: func(m *windows.Machine) { m.LanguageMode = "ConstrainedLanguage" },
			check: func(t *testing.T, f model.HostFacts, vols []model.Volume) {
				if f.Source.LanguageMode != "ConstrainedLanguage" || len(f.Events) != 1 || len(vols) != 2 || len(f.Source.SectionErrors) != 0 {
					t.Errorf("mode %q, %d events, %d volumes, errors %+v", f.Source.LanguageMode, len(f.Events), len(vols), f.Source.SectionErrors)
				}
			}},
		{name: "no BitLocker feature", setup: func(m *windows.Machine) { m.NoBitLockerFeature = true },
			check: func(t *testing.T, f model.HostFacts, vols []model.Volume) {
				if !f.BitLockerNotInstalled || len(vols) != 0 || f.OS.Caption == "" || f.Hostname != "WS-0042" ||
					len(f.Source.SectionErrors) != 1 || f.Source.SectionErrors[0].Section != "events" {
					t.Errorf("facts %+v, volumes %+v", f, vols)
				}
			}},
		{name: "not an administrator", setup: func(m *windows.Machine) { m.NotAdmin = true }, wantErr: model.ErrAuth},
		{name: "recovery partition", setup: func(m *windows.Machine) {
			m.Volumes[1].PartitionGptType = "{de94bba4-06d1-4d40-a16a-bfd50179d6ac}"
		}, check: func(t *testing.T, f model.HostFacts, vols []model.Volume) {
			if len(vols) != 1 || len(f.SystemVolumes) != 1 || f.SystemVolumes[0].Role != "recovery" {
				t.Errorf("volumes %+v, system %+v", vols, f.SystemVolumes)
			}
		}},
		{name: "locked data volume", setup: func(m *windows.Machine) { m.Volumes[1].LockStatus = 1 },
			check: func(t *testing.T, _ model.HostFacts, vols []model.Volume) {
				if v := vols[1]; !v.Locked || v.Conversion != model.ConversionUnknown || v.Method != model.MethodUnknown || v.Unreadable() {
					t.Errorf("locked volume %+v", v)
				}
			}},
		{name: "eDrive protector", setup: func(m *windows.Machine) {
			m.Volumes[0].EncryptionMethod = 5
			m.Volumes[0].Protectors[1].ID = "BitLocker"
		}, check: func(t *testing.T, _ model.HostFacts, vols []model.Volume) {
			if v := vols[0]; !v.Unreadable() || len(v.Protectors) != 1 || v.Method != model.MethodHardware {
				t.Errorf("eDrive volume %+v", v)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := simMachine()
			tt.setup(m)
			s := startSim(t, wsman.Config{AllowBasic: true, RequireEncryption: true}, m, true)
			c, err := New(Options{Auth: "basic", User: `CORP\auditor`, Password: model.NewSecret(testPassword), CACertPEM: s.caPEM})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			facts, vols, err := c.Collect(ctx, s.target)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, facts, vols)
		})
	}
}
