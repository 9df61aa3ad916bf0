package winrm

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bitaudit/bitaudit/model"
	"github.com/bitaudit/bitaudit/simulator/windows"
	"github.com/bitaudit/bitaudit/simulator/wsman"
)

const (
	simRPID  = "{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}"
	simTPMID = "{3B3E091C-ECB9-4B46-9FDD-A9E699EC3C8C}"
)

func actionCollector(t *testing.T, s *simHost) *Collector {
	t.Helper()
	c, err := New(Options{User: `CORP\auditor`, Password: model.NewSecret(testPassword), CACertPEM: s.caPEM,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func received(m *windows.Machine) int {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	n := 0
	for _, r := range m.Received {
		n += r.Count
	}
	return n
}

// hostile are values crafted as PowerShell injections.
var hostile = []string{
	"{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}'; Remove-Item -Recurse -Force C:\\ ; '",
	"{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}$(Stop-Computer)",
	"{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}`'",
	"{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}\nRemove-Item C:\\",
	"8A696888-99A7-4FAC-92C7-6CC497EA7BDF",
	"{8A696888-99A7-4FAC-92C7-6CC497EA7BDFX}",
	"",
}

var hostileMounts = []string{
	"C:'; Remove-Item -Recurse -Force C:\\ ; '",
	"C:$(Stop-Computer)",
	"C:`'",
	"C:\nRemove-Item C:\\",
	`\\?\Volume{aaaaaaaa-0000-4000-8000-000000000001}\'`,
	"CC:",
	"C",
	"",
}

func TestActionsRefuseHostileValuesBeforeSending(t *testing.T) {
	m := simMachine()
	s := startSim(t, wsman.Config{AllowNTLM: true, RequireEncryption: true}, m, true)
	c := actionCollector(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrInvalidValue) {
			t.Errorf("%s: err = %v, want ErrInvalidValue", what, err)
		}
		if err != nil && (strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "Remove-Item -Recurse -Force C:\\ ;")) {
			// Quoted, never raw: a hostile value cannot forge a log line.
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: raw newline in error %q", what, err)
			}
		}
	}
	for _, id := range hostile {
		check("BackupToAD id "+id, c.BackupToAD(ctx, s.target, "C:", id))
		check("BackupToEntra id "+id, c.BackupToEntra(ctx, s.target, "C:", id))
		_, err := c.ReadRecoveryPassword(ctx, s.target, "C:", id)
		check("ReadRecoveryPassword id "+id, err)
	}
	for _, mp := range hostileMounts {
		check("BackupToAD mount "+mp, c.BackupToAD(ctx, s.target, mp, simRPID))
		check("BackupToEntra mount "+mp, c.BackupToEntra(ctx, s.target, mp, simRPID))
		_, err := c.AddRecoveryPassword(ctx, s.target, mp)
		check("AddRecoveryPassword mount "+mp, err)
	}
	if n := received(m); n != 0 {
		t.Fatalf("%d commands reached the host; want none", n)
	}
	if st := s.host.Stats(); st.Shells != 0 || st.Commands != 0 {
		t.Fatalf("WinRM traffic for refused values: %+v", st)
	}
}

func TestActionsAnswerWithWindowsReturnValues(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(m *windows.Machine)
		do      func(c *Collector, ctx context.Context, tg model.Target) error
		wantErr error
		code    uint32
		event   int
		stored  func(m *windows.Machine) bool
	}{
		{name: "AD backup succeeds, 784", do: func(c *Collector, ctx context.Context, tg model.Target) error {
			return c.BackupToAD(ctx, tg, "C:", simRPID)
		},
			event: 784, stored: func(m *windows.Machine) bool { return len(m.Escrow.AD) == 1 }},
		{name: "AD backup by volume GUID path", do: func(c *Collector, ctx context.Context, tg model.Target) error {
			return c.BackupToAD(ctx, tg, `\\?\Volume{aaaaaaaa-0000-4000-8000-000000000001}\`, simRPID)
		}, event: 784, stored: func(m *windows.Machine) bool { return len(m.Escrow.AD) == 1 }},
		{name: "GPO forbids AD backup: S_FALSE", setup: func(m *windows.Machine) { m.FVEPolicy["OSActiveDirectoryBackup"] = uint32(0) },
			do: func(c *Collector, ctx context.Context, tg model.Target) error {
				return c.BackupToAD(ctx, tg, "C:", simRPID)
			},
			wantErr: ErrActionFailed, code: 1, stored: func(m *windows.Machine) bool { return len(m.Escrow.AD) == 0 }},
		{name: "TPM protector: invalid type", do: func(c *Collector, ctx context.Context, tg model.Target) error {
			return c.BackupToAD(ctx, tg, "C:", simTPMID)
		},
			wantErr: ErrActionFailed, code: 0x8031003A},
		{name: "unknown protector: invalid arg", do: func(c *Collector, ctx context.Context, tg model.Target) error {
			return c.BackupToAD(ctx, tg, "C:", "{00000000-0000-4000-8000-000000000000}")
		}, wantErr: ErrActionFailed, code: 0x80070057},
		{name: "no such volume", do: func(c *Collector, ctx context.Context, tg model.Target) error {
			return c.BackupToAD(ctx, tg, "Z:", simRPID)
		},
			wantErr: ErrActionFailed},
		{name: "Entra backup on a domain-only host: 846", do: func(c *Collector, ctx context.Context, tg model.Target) error {
			return c.BackupToEntra(ctx, tg, "C:", simRPID)
		},
			wantErr: ErrActionFailed, code: 0x801C0003, event: 846},
		{name: "Entra backup succeeds, 845", setup: func(m *windows.Machine) {
			m.Join.AzureAdJoined, m.Join.DeviceID = true, "0f3b2a1c-0000-4000-8000-000000000001"
		},
			do: func(c *Collector, ctx context.Context, tg model.Target) error {
				return c.BackupToEntra(ctx, tg, "C:", simRPID)
			},
			event: 845, stored: func(m *windows.Machine) bool { return len(m.Escrow.Entra) == 1 }},
		{name: "Entra backup fails, 846, nothing stored", setup: func(m *windows.Machine) {
			m.Join.AzureAdJoined, m.Join.DeviceID, m.EntraBackupError = true, "0f3b2a1c-0000-4000-8000-000000000001", 0x80072EE7
		}, do: func(c *Collector, ctx context.Context, tg model.Target) error {
			return c.BackupToEntra(ctx, tg, "C:", simRPID)
		},
			wantErr: ErrActionFailed, code: 0x80072EE7, event: 846, stored: func(m *windows.Machine) bool { return len(m.Escrow.Entra) == 0 }},
		{name: "dropped connection: outcome unknown, backup done", setup: func(m *windows.Machine) { m.DropDuringBackup = true },
			do: func(c *Collector, ctx context.Context, tg model.Target) error {
				return c.BackupToAD(ctx, tg, "C:", simRPID)
			},
			wantErr: ErrActionUnknown, event: 784, stored: func(m *windows.Machine) bool { return len(m.Escrow.AD) == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := simMachine()
			if tt.setup != nil {
				tt.setup(m)
			}
			cfg := wsman.Config{AllowNTLM: true, RequireEncryption: true}
			cfg.Runner = wsman.RunnerFunc(func(ctx context.Context, inv wsman.Invocation) wsman.Output {
				m.Mu.Lock()
				calls := m.BackupCalls
				m.Mu.Unlock()
				out := simOutput(m.Run(ctx, windows.Invocation(inv)))
				m.Mu.Lock()
				out.Drop = m.DropDuringBackup && m.BackupCalls > calls
				m.Mu.Unlock()
				return out
			})
			s := startSim(t, cfg, m, true)
			c := actionCollector(t, s)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			events := len(m.Events)
			err := tt.do(c, ctx, s.target)
			t.Logf("err: %v", err)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			var ae *ActionError
			if tt.code != 0 && (!errors.As(err, &ae) || ae.Code != tt.code) {
				t.Errorf("err = %v, want return value 0x%08X", err, tt.code)
			}
			m.Mu.Lock()
			defer m.Mu.Unlock()
			if tt.event != 0 && (len(m.Events) != events+1 || m.Events[len(m.Events)-1].ID != tt.event) {
				t.Errorf("events: %d new, want one %d", len(m.Events)-events, tt.event)
			}
			if tt.event == 0 && len(m.Events) != events {
				t.Errorf("events: %d new, want none", len(m.Events)-events)
			}
			if tt.stored != nil && !tt.stored(m) {
				t.Errorf("escrow truth not as expected: %+v", m.Escrow)
			}
		})
	}
}

func TestAddAndReadRecoveryPassword(t *testing.T) {
	m := simMachine()
	s := startSim(t, wsman.Config{AllowNTLM: true, RequireEncryption: true}, m, true)
	c := actionCollector(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	id, err := c.AddRecoveryPassword(ctx, s.target, "C:")
	if err != nil {
		t.Fatal(err)
	}
	if ValidateProtectorID(id) != nil || strings.EqualFold(id, simRPID) {
		t.Fatalf("new protector ID %q", id)
	}
	m.Mu.Lock()
	n := len(m.Volumes[0].Protectors)
	m.Mu.Unlock()
	if n != 3 {
		t.Fatalf("%d protectors after adding one, want 3", n)
	}
	if err := c.BackupToAD(ctx, s.target, "C:", id); err != nil {
		t.Fatal(err)
	}
	secret, err := c.ReadRecoveryPassword(ctx, s.target, "C:", simRPID)
	if err != nil {
		t.Fatal(err)
	}
	if secret.Reveal() != simRecoveryPassword {
		t.Error("ReadRecoveryPassword returned another password") // never print it
	}
	if strings.Contains(secret.String(), "-") {
		t.Error("Secret.String shows the password")
	}
	// A locked volume refuses to add a protector.
	m.Mu.Lock()
	m.Volumes[0].LockStatus = 1
	m.Mu.Unlock()
	var ae *ActionError
	if _, err := c.AddRecoveryPassword(ctx, s.target, "C:"); !errors.As(err, &ae) || ae.Code != 0x80310000 {
		t.Errorf("locked volume: err = %v, want FVE_E_LOCKED_VOLUME", err)
	}
}

func simOutput(o windows.Output) wsman.Output {
	return wsman.Output{Stdout: o.Stdout, Stderr: o.Stderr, ExitCode: o.ExitCode}
}
