package winrm

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/bitaudit/bitaudit/collectors/bitlocker"
	"github.com/bitaudit/bitaudit/model"
)

// Remote actions: the only PowerShell --fix sends. Every value put into a
// script is validated first (a braced GUID, a drive letter or a volume GUID
// path); anything else is refused with ErrInvalidValue before a command is
// built, so nothing reaches the host. The scripts call Win32_EncryptableVolume
// methods through CIM, as BackupToAAD-BitLockerKeyProtector itself does
// (BitLocker.psm1; bitlocker.md §1.2, §2.3), because the method's
// ReturnValue names the reason a backup was refused, where the cmdlets only
// write an error text.

// Errors of remote actions. Every error an action returns wraps exactly one.
var (
	// ErrInvalidValue: a protector ID or mount point failed validation; no
	// command was built or sent.
	ErrInvalidValue = errors.New("value refused before any command was sent")
	// ErrActionFailed: the host ran the action and reported failure; nothing changed.
	ErrActionFailed = errors.New("the host refused the action")
	// ErrActionUnknown: the command reached the host but no answer came back
	// (connection dropped, deadline): the action may or may not have run.
	ErrActionUnknown = errors.New("outcome unknown")
	// ErrActionNotSent: the host could not be reached; no command ran.
	ErrActionNotSent = errors.New("action not sent")
)

var (
	bracedGUIDRE = regexp.MustCompile(`^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$`)
	driveRE      = regexp.MustCompile(`^[A-Za-z]:$`)
	volumeGUIDRE = regexp.MustCompile(`^\\\\\?\\Volume\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}\\$`)
)

// ValidateProtectorID accepts only a key protector ID as Windows prints it:
// a GUID in braces (bitlocker.md §1.2 GetKeyProtectors).
func ValidateProtectorID(id string) error {
	if !bracedGUIDRE.MatchString(id) {
		return fmt.Errorf("protector ID %s is not a braced GUID: %w", quoteValue(id), ErrInvalidValue)
	}
	return nil
}

// ValidateMountPoint accepts only a drive letter ("C:") or a volume GUID
// path (\\?\Volume{GUID}\), the two forms Win32_EncryptableVolume uses.
func ValidateMountPoint(mp string) error {
	if !driveRE.MatchString(mp) && !volumeGUIDRE.MatchString(mp) {
		return fmt.Errorf("mount point %s is neither a drive letter nor a volume GUID path: %w", quoteValue(mp), ErrInvalidValue)
	}
	return nil
}

// quoteValue quotes a refused value for an error, shortened and with
// control characters escaped, so a hostile value cannot forge log lines.
func quoteValue(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.QuoteToASCII(s)
}

// HRESULTs the backup methods return, and the reason each names
// (bitlocker.md §1.5; BackupRecoveryInformationToActiveDirectory: "S_FALSE
// when Group Policy does not permit storage of recovery information in AD DS").
var actionReasons = map[uint32]string{
	1:          "group policy does not permit backing up recovery information to AD DS",
	0x80070057: "the protector is not on this volume (E_INVALIDARG)",
	0x80070490: "the volume or protector was not found (E_NOTFOUND)",
	0x80310000: "the volume is locked (FVE_E_LOCKED_VOLUME)",
	0x80310008: "BitLocker is not enabled on the volume (FVE_E_NOT_ACTIVATED)",
	0x8031003A: "the protector is not a recovery password (FVE_E_INVALID_PROTECTOR_TYPE)",
	0x803100DA: "group policy for AD DS backup of OS drives is not set (FVE_E_AD_BACKUP_REQUIRED_POLICY_NOT_SET_OS_DRIVE)",
	0x803100DB: "group policy for AD DS backup of fixed drives is not set (FVE_E_AD_BACKUP_REQUIRED_POLICY_NOT_SET_FIXED_DRIVE)",
	0x8007054B: "the host cannot reach its domain (ERROR_NO_SUCH_DOMAIN)",
	0x801C0003: "the device is not joined to Entra ID (DSREG_E_DEVICE_NOT_JOINED)",
	// WinINet errors reach the method when the device cannot reach
	// Entra ID (winerror.h, WININET_E_*).
	0x80072EE7: "the device cannot resolve the Entra ID service's name (WININET_E_NAME_NOT_RESOLVED)",
	0x80072EFD: "the device cannot connect to the Entra ID service (WININET_E_CANNOT_CONNECT)",
}

// An ActionError is a failure the host reported: the method's ReturnValue
// and the reason it names.
type ActionError struct {
	Method string
	Code   uint32
	Reason string
}

func (e *ActionError) Error() string {
	return fmt.Sprintf("%s returned 0x%08X: %s", e.Method, e.Code, e.Reason)
}

func (e *ActionError) Unwrap() error { return ErrActionFailed }

const volumesLoop = `foreach($v in Get-CimInstance -Namespace root/CIMV2/Security/MicrosoftVolumeEncryption -ClassName Win32_EncryptableVolume){if($v.DriveLetter -eq '%[1]s' -or $v.DeviceID -eq '%[1]s'){%[2]s}}`

// actionScript wraps body, run for the volume mount, in the error frame
// every action uses. mount must be validated.
func actionScript(mount, body string) string {
	return "$ErrorActionPreference='Stop'\n'##BITAUDIT ACTION'\ntry{" + fmt.Sprintf(volumesLoop, mount, body) +
		"}catch{'##ERROR '+$_.FullyQualifiedErrorId+' '+$_.Exception.Message}\n'##BITAUDIT DONE'"
}

// BackupToAD backs the recovery-password protector id of volume mount up
// to AD DS (BackupRecoveryInformationToActiveDirectory).
func (c *Collector) BackupToAD(ctx context.Context, t model.Target, mount, id string) error {
	return c.backup(ctx, t, mount, id, "BackupRecoveryInformationToActiveDirectory")
}

// BackupToEntra backs the recovery-password protector id of volume mount
// up to Entra ID (BackupRecoveryInformationToCloudDomain, which
// BackupToAAD-BitLockerKeyProtector calls).
func (c *Collector) BackupToEntra(ctx context.Context, t model.Target, mount, id string) error {
	return c.backup(ctx, t, mount, id, "BackupRecoveryInformationToCloudDomain")
}

func (c *Collector) backup(ctx context.Context, t model.Target, mount, id, method string) error {
	if err := errors.Join(ValidateMountPoint(mount), ValidateProtectorID(id)); err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	body := "'##RESULT '+(Invoke-CimMethod -InputObject $v -MethodName " + method + " -Arguments @{VolumeKeyProtectorID='" + id + "'}).ReturnValue"
	lines, err := c.action(ctx, t, actionScript(mount, body))
	if err != nil {
		return err
	}
	_, err = result(t, method, lines)
	return err
}

// AddRecoveryPassword adds one recovery-password protector to volume mount
// (ProtectKeyWithNumericalPassword, the password generated by Windows) and
// returns its ID, validated: what the host returns is a claim like any other.
func (c *Collector) AddRecoveryPassword(ctx context.Context, t model.Target, mount string) (string, error) {
	if err := ValidateMountPoint(mount); err != nil {
		return "", fmt.Errorf("%s: %w", t, err)
	}
	const method = "ProtectKeyWithNumericalPassword"
	body := "$r=Invoke-CimMethod -InputObject $v -MethodName " + method + ";'##RESULT '+$r.ReturnValue;'##ID '+$r.VolumeKeyProtectorID"
	lines, err := c.action(ctx, t, actionScript(mount, body))
	if err != nil {
		return "", err
	}
	if _, err := result(t, method, lines); err != nil {
		return "", err
	}
	id := lines["##ID"]
	if err := ValidateProtectorID(id); err != nil {
		return "", fmt.Errorf("%s: %s returned an unusable protector ID: %w", t, method, err)
	}
	return strings.ToUpper(id), nil
}

// ReadRecoveryPassword reads the recovery password of protector id
// (GetKeyProtectorNumericalPassword) over the protected channel, for
// export to the external key store. The password is returned only as a
// Secret; no error or log line carries any of the host's output.
func (c *Collector) ReadRecoveryPassword(ctx context.Context, t model.Target, mount, id string) (model.Secret, error) {
	if err := errors.Join(ValidateMountPoint(mount), ValidateProtectorID(id)); err != nil {
		return model.Secret{}, fmt.Errorf("%s: %w", t, err)
	}
	if !c.https && !c.sealing {
		return model.Secret{}, fmt.Errorf("%s: reading a recovery password needs HTTPS or message encryption: %w", t, ErrInvalidValue)
	}
	const method = "GetKeyProtectorNumericalPassword"
	body := "$r=Invoke-CimMethod -InputObject $v -MethodName " + method + " -Arguments @{VolumeKeyProtectorID='" + id + "'};'##RESULT '+$r.ReturnValue;'##SECRET '+$r.NumericalPassword"
	lines, err := c.action(ctx, t, actionScript(mount, body))
	if err != nil {
		return model.Secret{}, err
	}
	secret := lines["##SECRET"]
	delete(lines, "##SECRET")
	if _, err := result(t, method, lines); err != nil {
		return model.Secret{}, err
	}
	if !recoveryPasswordRE.MatchString(secret) {
		return model.Secret{}, fmt.Errorf("%s: %s returned no well-formed recovery password: %w", t, method, ErrActionFailed)
	}
	return model.NewSecret(secret), nil
}

// recoveryPasswordRE is the 48-digit numerical password: eight groups of six digits.
var recoveryPasswordRE = regexp.MustCompile(`^[0-9]{6}(-[0-9]{6}){7}$`)

// action runs script on t and returns its marker lines ("##RESULT" → "0").
// Errors classify whether the command may have run.
func (c *Collector) action(ctx context.Context, t model.Target, script string) (map[string]string, error) {
	cmd, err := encodedCommand(script)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	res, _, err := c.runCommand(ctx, t, cmd)
	if err != nil {
		if res.sent {
			return nil, fmt.Errorf("%s: the command was sent but %w: %w", t, err, ErrActionUnknown)
		}
		return nil, fmt.Errorf("%s: %w: %w", t, err, ErrActionNotSent)
	}
	lines := map[string]string{}
	complete := false
	for _, l := range strings.Split(string(res.stdout), "\n") {
		l = strings.TrimRight(l, "\r")
		if l == "##BITAUDIT DONE" {
			complete = true
		}
		if k, v, ok := strings.Cut(l, " "); ok && strings.HasPrefix(k, "##") {
			if _, dup := lines[k]; !dup {
				lines[k] = v
			}
		}
	}
	if !complete {
		// Output cut short: the method may have run.
		return nil, fmt.Errorf("%s: action output incomplete (exit code %d%s): %w", t, res.exit, stderrExcerpt(string(res.stderr)), ErrActionUnknown)
	}
	return lines, nil
}

// result reads the method's ReturnValue from the action's marker lines.
func result(t model.Target, method string, lines map[string]string) (uint32, error) {
	if e, ok := lines["##ERROR"]; ok {
		return 0, fmt.Errorf("%s: %s failed on the host: %s: %w", t, method, bitlocker.Clean(e, 200), ErrActionFailed)
	}
	r, ok := lines["##RESULT"]
	if !ok {
		return 0, fmt.Errorf("%s: no BitLocker volume with this mount point: %w", t, ErrActionFailed)
	}
	code, err := strconv.ParseUint(strings.TrimSpace(r), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s: %s returned %q, not a number: %w", t, method, bitlocker.Clean(r, 40), ErrActionFailed)
	}
	if code != 0 {
		reason, ok := actionReasons[uint32(code)]
		if !ok {
			reason = "unexpected return value"
		}
		return uint32(code), fmt.Errorf("%s: %w", t, &ActionError{Method: method, Code: uint32(code), Reason: reason})
	}
	return 0, nil
}
