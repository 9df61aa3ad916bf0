package model

import "fmt"

// Limits a host cannot stretch: what it reports is bounded before anything
// is looked up for it at a source.
const (
	// MaxProtectorsPerVolume bounds the key protectors one volume may
	// report. Windows allows far fewer of any kind in practice (one TPM
	// protector, a handful of recovery passwords and external keys).
	MaxProtectorsPerVolume = 32
	// MaxRecoveryPasswordsPerHost bounds the recovery passwords one host
	// may report: each costs a bounded number of source look-ups (its
	// backup at every location, and where else the source holds it).
	MaxRecoveryPasswordsPerHost = 32
)

// CheckLimits returns an error wrapping ErrProtocol, naming the count, when
// volumes report more than the limits allow.
func CheckLimits(volumes []Volume) error {
	rps := 0
	for _, v := range volumes {
		if n := len(v.Protectors); n > MaxProtectorsPerVolume {
			return fmt.Errorf("the host reports %d key protectors on %s, more than the %d a volume may have: %w", n, v.MountPoint, MaxProtectorsPerVolume, ErrProtocol)
		}
		rps += len(v.RecoveryPasswords())
	}
	if rps > MaxRecoveryPasswordsPerHost {
		return fmt.Errorf("the host reports %d recovery passwords, more than the %d looked up per host: %w", rps, MaxRecoveryPasswordsPerHost, ErrProtocol)
	}
	return nil
}
