package bitlocker

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/bitaudit/bitaudit/model"
)

const maxUint32 = math.MaxUint32

// scriptVolume is one element of the collection script's volumes section:
// Win32_EncryptableVolume plus the out parameters and ReturnValue of each
// live Get* method (a failed method leaves its out parameters null). The
// *Ret fields are absent from format version 1.
type scriptVolume struct {
	DeviceID      *string
	DriveLetter   *string
	VolumeType    *json.Number
	Protection    *json.Number
	ProtectionRet *json.Number
	Conversion    *json.Number
	Percent       *json.Number
	Flags         *json.Number
	ConversionRet *json.Number
	Method        *json.Number
	MethodRet     *json.Number
	Lock          *json.Number
	LockRet       *json.Number
	Suspend       *json.Number
	SuspendRet    *json.Number
	ProtectorsRet *json.Number
	Protectors    json.RawMessage
}

type scriptProtector struct {
	ID   *string `json:"Id"`
	Type *json.Number
	Ret  *json.Number
}

// hrLockedVolume is FVE_E_LOCKED_VOLUME, what Win32_EncryptableVolume's
// methods return on a locked volume (bitlocker.md §1.5).
const hrLockedVolume = 0x80310000

// DecodeVolumes decodes the volumes section of the collection script
// (ConvertTo-Json of Win32_EncryptableVolume with its Get* method results;
// a single object or an array). Malformed JSON or a volume without a valid
// DeviceID or drive letter is an error; anything else that cannot be read
// (a method that failed, a value out of range, a protector ID that is not
// a GUID) is recorded in that volume's ReadErrors.
func DecodeVolumes(data []byte) ([]model.Volume, error) {
	return decodeVolumes[scriptVolume]("volumes", data)
}

// decodeVolumes decodes one object or an array of T, each of which must
// convert into a model.Volume.
func decodeVolumes[T interface{ volume() (model.Volume, error) }](what string, data []byte) ([]model.Volume, error) {
	raws, err := oneOrMany[T](what, data)
	if err != nil {
		return nil, err
	}
	vols := make([]model.Volume, 0, len(raws))
	for i, r := range raws {
		v, err := r.volume()
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", what, i, err)
		}
		vols = append(vols, v)
	}
	return vols, nil
}

// returnValue reads a method's ReturnValue as the uint32 HRESULT; absent
// (format version 1, or not reported) reads as 0.
func returnValue(name string, n *json.Number) (uint32, error) {
	v, _, err := integer(name, n, math.MinInt32, maxUint32)
	return uint32(v), err
}

// volumeReader collects what could not be read about one volume.
type volumeReader struct{ errs []string }

func (r *volumeReader) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// method checks a method's ReturnValue: ok is false (and the failure is
// recorded) for a non-zero code other than FVE_E_LOCKED_VOLUME; locked is
// set for FVE_E_LOCKED_VOLUME.
func (r *volumeReader) method(name string, ret *json.Number) (ok, locked bool) {
	code, err := returnValue(name+" ReturnValue", ret)
	switch {
	case err != nil:
		r.fail("%s: ReturnValue is not an integer", name)
		return false, false
	case code == hrLockedVolume:
		return false, true
	case code != 0:
		r.fail("%s failed: 0x%08X", name, code)
		return false, false
	}
	return true, false
}

// value reads an out parameter that must be present when its method succeeded.
func (r *volumeReader) value(name string, n *json.Number, min, max int64) (int64, bool) {
	v, ok, err := integer(name, n, min, max)
	switch {
	case err != nil:
		r.fail("%s: not an integer in range", name)
		return 0, false
	case !ok:
		r.fail("%s: missing", name)
	}
	return v, ok
}

func (sv scriptVolume) volume() (model.Volume, error) {
	var v model.Volume
	if sv.DeviceID == nil || !deviceIDRE.MatchString(*sv.DeviceID) {
		return v, protocolf("DeviceID: missing or not a volume path")
	}
	v.DeviceID = *sv.DeviceID
	v.MountPoint = v.DeviceID
	if sv.DriveLetter != nil && *sv.DriveLetter != "" {
		if !driveLetterRE.MatchString(*sv.DriveLetter) {
			return v, protocolf("DriveLetter: not a drive letter")
		}
		v.MountPoint = *sv.DriveLetter
	}
	r := &volumeReader{}

	v.Type = model.VolumeUnknown
	if n, ok := r.value("VolumeType", sv.VolumeType, 0, maxUint32); ok {
		if t, known := volumeType(n); known {
			v.Type = t
		} else {
			r.fail("VolumeType: unknown value %d", n)
		}
	}

	if ok, _ := r.method("GetLockStatus", sv.LockRet); ok {
		if n, ok := r.value("LockStatus", sv.Lock, 0, 1); ok {
			v.Locked = n == 1
		}
	}

	v.Conversion = model.ConversionUnknown
	ok, locked := r.method("GetConversionStatus", sv.ConversionRet)
	if locked {
		v.Locked = true // GetConversionStatus fails on a locked volume
	}
	if ok {
		if n, ok := r.value("ConversionStatus", sv.Conversion, 0, maxUint32); ok {
			if c, known := conversionStatus(n); known {
				v.Conversion = c
			} else {
				r.fail("ConversionStatus: unknown value %d", n)
			}
		}
		if n, ok := r.value("EncryptionPercentage", sv.Percent, 0, 100); ok {
			v.EncryptionPercent = float64(n)
		}
		if n, ok := r.value("EncryptionFlags", sv.Flags, 0, maxUint32); ok {
			v.UsedSpaceOnly = n&1 != 0
		}
	}

	v.Protection = model.ProtectionUnknown
	if ok, _ := r.method("GetProtectionStatus", sv.ProtectionRet); ok {
		if n, ok := r.value("ProtectionStatus", sv.Protection, 0, maxUint32); ok {
			if p, known := protectionStatus(n); known {
				v.Protection = p
			} else {
				r.fail("ProtectionStatus: unknown value %d", n)
			}
		}
	}

	v.Method = model.MethodUnknown
	ok, locked = r.method("GetEncryptionMethod", sv.MethodRet)
	switch {
	case ok && sv.Method == nil && v.Locked:
		// Version 1 output: a locked volume's method is simply absent.
	case ok:
		if n, ok := r.value("EncryptionMethod", sv.Method, -1, maxUint32); ok {
			if m, known := encryptionMethod(n); known {
				v.Method = m
			} else {
				r.fail("EncryptionMethod: unknown value %d", n)
			}
		}
	case locked:
		v.Locked = true
	}

	if ok, _ := r.method("GetSuspendCount", sv.SuspendRet); ok {
		if n, present, err := integer("SuspendCount", sv.Suspend, 0, maxUint32); err != nil {
			r.fail("SuspendCount: not an integer in range")
		} else if present {
			c := int(n)
			v.SuspendCount = &c
		}
	}

	v.Protectors = []model.Protector{}
	if ok, locked := r.method("GetKeyProtectors", sv.ProtectorsRet); ok {
		v.Protectors = r.protectors(sv.Protectors)
	} else if locked {
		r.fail("GetKeyProtectors failed: the volume is locked")
	}
	v.ReadErrors = r.errs
	return v, nil
}

// protectors decodes the script's protector list, keeping the protectors
// that decode and recording the others.
func (r *volumeReader) protectors(raw json.RawMessage) []model.Protector {
	out := []model.Protector{}
	if len(raw) == 0 || string(raw) == "null" {
		r.fail("protectors: missing")
		return out
	}
	raws, err := oneOrMany[scriptProtector]("protectors", raw)
	if err != nil {
		r.fail("protectors: not a list of protectors")
		return out
	}
	seen := map[string]bool{}
	for i, p := range raws {
		if p.ID == nil || !braceGUIDRE.MatchString(*p.ID) {
			// An eDrive's band protector is named "BitLocker" (bitlocker.md §1.2).
			r.fail("protectors[%d]: ID is not a {GUID}", i)
			continue
		}
		id := model.NormalizeProtectorID(*p.ID)
		if seen[id] {
			r.fail("protectors[%d]: duplicate ID", i)
			continue
		}
		seen[id] = true
		if ok, _ := r.method(fmt.Sprintf("protectors[%d] GetKeyProtectorType", i), p.Ret); !ok {
			continue
		}
		n, ok := r.value(fmt.Sprintf("protectors[%d].Type", i), p.Type, 0, maxUint32)
		if !ok {
			continue
		}
		pt, known := protectorType(n)
		if !known {
			r.fail("protectors[%d]: unknown type %d", i, n)
			continue
		}
		out = append(out, model.Protector{ID: *p.ID, Type: pt})
	}
	return out
}

// decodeProtectors decodes a protector list (array, single object, or
// empty) with get returning each element's ID and type. The result is never
// nil.
func decodeProtectors[T any](raw json.RawMessage, get func(T) (*string, *json.Number)) ([]model.Protector, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, protocolf("protectors: missing")
	}
	raws, err := oneOrMany[T]("protectors", raw)
	if err != nil {
		return nil, err
	}
	out := make([]model.Protector, 0, len(raws))
	seen := map[string]bool{}
	for i, r := range raws {
		id, typ := get(r)
		if id == nil || !braceGUIDRE.MatchString(*id) {
			return nil, protocolf("protectors[%d]: ID is not a {GUID}", i)
		}
		if seen[model.NormalizeProtectorID(*id)] {
			return nil, protocolf("protectors[%d]: duplicate ID", i)
		}
		seen[model.NormalizeProtectorID(*id)] = true
		n, err := required("protectors["+strconv.Itoa(i)+"].Type", typ, 0, maxUint32)
		if err != nil {
			return nil, err
		}
		pt, ok := protectorType(n)
		if !ok {
			return nil, protocolf("protectors[%d]: unknown type %d", i, n)
		}
		out = append(out, model.Protector{ID: *id, Type: pt})
	}
	return out, nil
}

// bitLockerVolume is Get-BitLockerVolume | ConvertTo-Json. It deliberately
// has no RecoveryPassword field: the decoder never keeps key material.
type bitLockerVolume struct {
	MountPoint           *string
	EncryptionMethod     *json.Number
	VolumeStatus         *json.Number
	ProtectionStatus     *json.Number
	LockStatus           *json.Number
	EncryptionPercentage *json.Number
	VolumeType           *json.Number
	KeyProtector         json.RawMessage
}

type bitLockerProtector struct {
	KeyProtectorID   *string `json:"KeyProtectorId"`
	KeyProtectorType *json.Number
}

// DecodeBitLockerVolumes decodes `Get-BitLockerVolume | ConvertTo-Json` as
// Windows PowerShell 5.1 prints it (integer enums, one object or an array).
// The module's VolumeType only tells the OS volume (0) from data volumes (1),
// so data volumes come out as fixed; DeviceID is known only when the volume
// has no drive letter.
func DecodeBitLockerVolumes(data []byte) ([]model.Volume, error) {
	return decodeVolumes[bitLockerVolume]("Get-BitLockerVolume", data)
}

func (r bitLockerVolume) volume() (model.Volume, error) {
	var v model.Volume
	switch {
	case r.MountPoint == nil:
		return v, protocolf("MountPoint: missing")
	case driveLetterRE.MatchString(*r.MountPoint):
		v.MountPoint = *r.MountPoint
	case deviceIDRE.MatchString(*r.MountPoint):
		v.MountPoint, v.DeviceID = *r.MountPoint, *r.MountPoint
	default:
		return v, protocolf("MountPoint: not a drive letter or volume path")
	}

	n, err := required("VolumeType", r.VolumeType, 0, 1)
	if err != nil {
		return v, err
	}
	v.Type = model.VolumeFixed
	if n == 0 {
		v.Type = model.VolumeOS
	}

	lock, err := required("LockStatus", r.LockStatus, 0, 1)
	if err != nil {
		return v, err
	}
	v.Locked = lock == 1

	var ok bool
	n, ok, err = integer("VolumeStatus", r.VolumeStatus, 0, maxUint32)
	switch {
	case err != nil:
		return v, err
	case !ok && !v.Locked:
		return v, protocolf("VolumeStatus: missing")
	case !ok:
		v.Conversion = model.ConversionUnknown
	default:
		if v.Conversion, ok = conversionStatus(n); !ok {
			return v, protocolf("VolumeStatus: unknown value %d", n)
		}
	}

	if r.EncryptionPercentage != nil {
		p, err := r.EncryptionPercentage.Float64()
		if err != nil || p < 0 || p > 100 {
			return v, protocolf("EncryptionPercentage: not a percentage")
		}
		v.EncryptionPercent = p
	} else if !v.Locked {
		return v, protocolf("EncryptionPercentage: missing")
	}

	if n, err = required("ProtectionStatus", r.ProtectionStatus, 0, maxUint32); err != nil {
		return v, err
	}
	if v.Protection, ok = protectionStatus(n); !ok {
		return v, protocolf("ProtectionStatus: unknown value %d", n)
	}

	if n, err = required("EncryptionMethod", r.EncryptionMethod, -1, maxUint32); err != nil {
		return v, err
	}
	if v.Method, ok = encryptionMethod(n); !ok {
		return v, protocolf("EncryptionMethod: unknown value %d", n)
	}

	v.Protectors, err = decodeProtectors(r.KeyProtector, func(p bitLockerProtector) (*string, *json.Number) {
		return p.KeyProtectorID, p.KeyProtectorType
	})
	return v, err
}
