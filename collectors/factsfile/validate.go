package factsfile

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/bitaudit/bitaudit/collectors/bitlocker"
	"github.com/bitaudit/bitaudit/model"
)

// Limits a facts file cannot stretch.
const (
	maxVolumes    = 64
	maxProtectors = 32
	maxEvents     = 500
	maxPolicy     = 256
)

var (
	joinStates  = []model.JoinState{model.JoinWorkgroup, model.JoinDomain, model.JoinEntra, model.JoinHybrid, model.JoinUnknown}
	volumeTypes = []model.VolumeType{model.VolumeOS, model.VolumeFixed, model.VolumeRemovable, model.VolumeUnknown}
	conversions = []model.ConversionStatus{model.FullyDecrypted, model.FullyEncrypted, model.EncryptionInProgress,
		model.DecryptionInProgress, model.EncryptionPaused, model.DecryptionPaused, model.ConversionUnknown}
	protections = []model.ProtectionStatus{model.ProtectionOff, model.ProtectionOn, model.ProtectionUnknown}
	methods     = []model.EncryptionMethod{model.MethodNone, model.MethodAES128Diffuser, model.MethodAES256Diffuser,
		model.MethodAES128, model.MethodAES256, model.MethodHardware, model.MethodXTSAES128, model.MethodXTSAES256, model.MethodUnknown}
	protectorTypes = []model.ProtectorType{model.ProtectorUnknown, model.ProtectorTPM, model.ProtectorExternalKey,
		model.ProtectorRecoveryPassword, model.ProtectorTPMPIN, model.ProtectorTPMStartupKey, model.ProtectorTPMPINStartupKey,
		model.ProtectorPublicKey, model.ProtectorPassword, model.ProtectorTPMNetworkKey, model.ProtectorADAccount}
	backupEvents = []int{783, 784, 785, 845, 846}
)

// Validate checks every value of the document against what Windows can
// report, with the checks collectors/bitlocker applies to a remote host.
func (d *Document) Validate() error {
	var errs []error
	bad := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if d.Schema != Schema {
		bad(fmt.Errorf("schema: not %q", Schema))
	}
	bad(bitlocker.CheckText("tool_version", d.ToolVersion, 128))
	if d.CollectedAt.IsZero() {
		bad(errors.New("collected_at: missing"))
	}
	id := d.Identity
	bad(bitlocker.CheckHostName("identity.computer_name", id.ComputerName))
	opt := func(name, v string, check func(string, string) error) {
		if v != "" {
			bad(check(name, v))
		}
	}
	opt("identity.fqdn", id.FQDN, bitlocker.CheckHostName)
	opt("identity.domain", id.Domain, bitlocker.CheckHostName)
	opt("identity.entra_device_id", id.EntraDeviceID, bitlocker.CheckGUID)
	opt("identity.tenant_id", id.TenantID, bitlocker.CheckGUID)
	opt("identity.machine_sid", id.MachineSID, checkSID)
	bad(oneOf("identity.join_state", id.JoinState, joinStates))
	bad(bitlocker.CheckText("os.caption", d.OS.Caption, 256))
	bad(bitlocker.CheckText("os.version", d.OS.Version, 64))
	bad(bitlocker.CheckText("os.build", d.OS.Build, 32))

	if len(d.FVEPolicy) > maxPolicy {
		bad(fmt.Errorf("fve_policy: more than %d values", maxPolicy))
	}
	for name := range d.FVEPolicy {
		if !validValueName(name) {
			bad(errors.New("fve_policy: invalid value name"))
			break
		}
	}
	if len(d.BackupEvents) > maxEvents {
		bad(fmt.Errorf("backup_events: more than %d", maxEvents))
	}
	for i, e := range d.BackupEvents {
		at := fmt.Sprintf("backup_events[%d]", i)
		if !slices.Contains(backupEvents, e.ID) {
			bad(fmt.Errorf("%s.id: %d is not a backup event", at, e.ID))
		}
		if e.Time.IsZero() {
			bad(fmt.Errorf("%s.time: missing", at))
		}
		opt(at+".protector_id", e.ProtectorID, bitlocker.CheckProtectorID)
		opt(at+".mount_point", e.MountPoint, func(n, s string) error { return bitlocker.CheckText(n, s, 300) })
		opt(at+".error_code", e.ErrorCode, bitlocker.CheckErrorCode)
	}

	if len(d.Volumes)+len(d.SystemVolumes) > maxVolumes {
		bad(fmt.Errorf("volumes: more than %d", maxVolumes))
	}
	if d.BitLockerNotInstalled && len(d.Volumes)+len(d.SystemVolumes) > 0 {
		bad(errors.New("volumes: listed on a host without the BitLocker feature"))
	}
	for i, v := range d.Volumes {
		errs = append(errs, v.validate(fmt.Sprintf("volumes[%d]", i), false)...)
	}
	for i, v := range d.SystemVolumes {
		errs = append(errs, v.validate(fmt.Sprintf("system_volumes[%d]", i), true)...)
	}
	if c := d.Collection; c.EventsSkipped < 0 || c.EventsSkipped > maxEvents {
		bad(fmt.Errorf("collection.events_skipped: not 0..%d", maxEvents))
	}
	if len(d.Collection.SectionErrors) > len(sections) {
		bad(errors.New("collection.section_errors: more than one per section"))
	}
	for i, e := range d.Collection.SectionErrors {
		at := fmt.Sprintf("collection.section_errors[%d]", i)
		if !slices.Contains(sections, e.Section) {
			bad(fmt.Errorf("%s.section: not a section of a collection", at))
		}
		bad(bitlocker.CheckText(at+".id", e.ID, 200))
		bad(bitlocker.CheckText(at+".message", e.Message, 400))
	}
	if len(errs) > 5 {
		errs = append(errs[:5], fmt.Errorf("and %d more", len(errs)-5))
	}
	return errors.Join(errs...)
}

// sections are the parts of a collection a section error may name.
var sections = []string{"os", "computer", "volumes", "partitions", "events", "fve", "dsregcmd"}

// validate checks one volume; system volumes carry a role, others none.
func (v Volume) validate(at string, system bool) []error {
	var errs []error
	bad := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	bad(bitlocker.CheckMountPoint(at+".mount_point", v.MountPoint))
	if v.DeviceID != "" {
		bad(bitlocker.CheckDeviceID(at+".device_id", v.DeviceID))
	}
	bad(oneOf(at+".type", v.Type, volumeTypes))
	bad(oneOf(at+".conversion_status", v.Conversion, conversions))
	bad(oneOf(at+".protection_status", v.Protection, protections))
	bad(oneOf(at+".encryption_method", v.Method, methods))
	if v.EncryptionPercent < 0 || v.EncryptionPercent > 100 || math.IsNaN(v.EncryptionPercent) {
		bad(fmt.Errorf("%s.encryption_percentage: not 0..100", at))
	}
	if v.SuspendCount != nil && (*v.SuspendCount < 0 || *v.SuspendCount > 15) {
		bad(fmt.Errorf("%s.suspend_count: not 0..15", at))
	}
	switch {
	case system && v.Role != "recovery" && v.Role != "system":
		bad(fmt.Errorf("%s.role: not recovery or system", at))
	case !system && v.Role != "":
		bad(fmt.Errorf("%s.role: only system volumes have one", at))
	}
	if len(v.ReadErrors) > maxProtectors {
		bad(fmt.Errorf("%s.read_errors: more than %d", at, maxProtectors))
	}
	for j, e := range v.ReadErrors {
		bad(bitlocker.CheckText(fmt.Sprintf("%s.read_errors[%d]", at, j), e, 300))
	}
	if len(v.Protectors) > maxProtectors {
		bad(fmt.Errorf("%s.protectors: more than %d", at, maxProtectors))
	}
	for j, p := range v.Protectors {
		pat := fmt.Sprintf("%s.protectors[%d]", at, j)
		bad(bitlocker.CheckProtectorID(pat+".id", p.ID))
		bad(oneOf(pat+".type", p.Type, protectorTypes))
	}
	return errs
}

func oneOf[T ~string](name string, v T, valid []T) error {
	if !slices.Contains(valid, v) {
		return fmt.Errorf("%s: not a known value", name)
	}
	return nil
}

func validValueName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '_')) {
			return false
		}
	}
	return true
}

// checkSID accepts a machine SID in string form (S-1-5-21-a-b-c).
func checkSID(name, s string) error {
	parts := strings.Split(s, "-")
	if len(s) > 184 || len(parts) < 3 || parts[0] != "S" || parts[1] != "1" {
		return fmt.Errorf("%s: not a SID", name)
	}
	for _, p := range parts[2:] {
		if p == "" || strings.Trim(p, "0123456789") != "" || len(p) > 10 {
			return fmt.Errorf("%s: not a SID", name)
		}
	}
	return nil
}

// Age is how long before now the facts were collected.
func (d *Document) Age(now time.Time) time.Duration { return now.Sub(d.CollectedAt) }
