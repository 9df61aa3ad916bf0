package bitlocker

import "fmt"

// The checks below let other readers of host-supplied data (the facts
// files of the local collector) hold values to the same rules the decoders
// apply to a remote host's output. Each returns an error wrapping
// model.ErrProtocol that names the field, never the value.

// CheckHostName checks a computer or domain name.
func CheckHostName(name, s string) error {
	if !hostLabelRE.MatchString(s) {
		return protocolf("%s: not a host name", name)
	}
	return nil
}

// CheckProtectorID checks a key protector ID as Windows prints it ({GUID}).
func CheckProtectorID(name, s string) error {
	if !braceGUIDRE.MatchString(s) {
		return protocolf("%s: not a braced GUID", name)
	}
	return nil
}

// CheckGUID checks a bare GUID (an Entra device or tenant ID).
func CheckGUID(name, s string) error {
	if !guidRE.MatchString(s) {
		return protocolf("%s: not a GUID", name)
	}
	return nil
}

// CheckMountPoint checks a volume's mount point: a drive letter or a
// volume GUID path.
func CheckMountPoint(name, s string) error {
	if !driveLetterRE.MatchString(s) && !deviceIDRE.MatchString(s) {
		return protocolf("%s: not a drive letter or volume path", name)
	}
	return nil
}

// CheckDeviceID checks a Win32_EncryptableVolume DeviceID (\\?\Volume{GUID}\).
func CheckDeviceID(name, s string) error {
	if !deviceIDRE.MatchString(s) {
		return protocolf("%s: not a volume path", name)
	}
	return nil
}

// CheckText checks a short single-line value: valid UTF-8, no control
// characters, at most max bytes, nothing shaped like a recovery password.
func CheckText(name, s string, max int) error {
	_, err := field(name, s, max)
	return err
}

// CheckErrorCode checks an event's ErrorCode (decimal or 0x-hex).
func CheckErrorCode(name, s string) error {
	if !errorCodeRE.MatchString(s) {
		return fmt.Errorf("%s: not an error code: %w", name, protocolf("invalid value"))
	}
	return nil
}
