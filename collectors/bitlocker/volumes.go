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
// Win32_EncryptableVolume plus the results of its live Get* methods.
type scriptVolume struct {
	DeviceID      *string
	DriveLetter   *string
	VolumeType    *json.Number
	Protection    *json.Number
	ConversionRet *json.Number
	Conversion    *json.Number
	Percent       *json.Number
	Flags         *json.Number
	Method        *json.Number
	Lock          *json.Number
	Suspend       *json.Number
	Protectors    json.RawMessage
}

type scriptProtector struct {
	ID   *string `json:"Id"`
	Type *json.Number
}

// DecodeVolumes decodes the volumes section of the collection script
// (ConvertTo-Json of Win32_EncryptableVolume with its Get* method results;
// a single object or an array). Every volume must decode completely.
func DecodeVolumes(data []byte) ([]model.Volume, error) {
	return decodeVolumes[scriptVolume]("volumes", data)
}

// decodeVolumes decodes one object or an array of T, each of which must
// convert completely into a model.Volume.
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

func (r scriptVolume) volume() (model.Volume, error) {
	var v model.Volume
	if r.DeviceID == nil || !deviceIDRE.MatchString(*r.DeviceID) {
		return v, protocolf("DeviceID: missing or not a volume path")
	}
	v.DeviceID = *r.DeviceID
	v.MountPoint = v.DeviceID
	if r.DriveLetter != nil && *r.DriveLetter != "" {
		if !driveLetterRE.MatchString(*r.DriveLetter) {
			return v, protocolf("DriveLetter: not a drive letter")
		}
		v.MountPoint = *r.DriveLetter
	}

	n, err := required("VolumeType", r.VolumeType, 0, maxUint32)
	if err != nil {
		return v, err
	}
	var ok bool
	if v.Type, ok = volumeType(n); !ok {
		return v, protocolf("VolumeType: unknown value %d", n)
	}

	lock, err := required("LockStatus", r.Lock, 0, 1)
	if err != nil {
		return v, err
	}
	v.Locked = lock == 1

	ret, err := required("ConversionRet", r.ConversionRet, math.MinInt32, maxUint32)
	if err != nil {
		return v, err
	}
	if ret != 0 {
		// GetConversionStatus fails on a locked volume: nothing is known
		// about its conversion.
		v.Conversion, v.Locked = model.ConversionUnknown, true
	} else {
		if n, err = required("ConversionStatus", r.Conversion, 0, maxUint32); err != nil {
			return v, err
		}
		if v.Conversion, ok = conversionStatus(n); !ok {
			return v, protocolf("ConversionStatus: unknown value %d", n)
		}
		if n, err = required("EncryptionPercentage", r.Percent, 0, 100); err != nil {
			return v, err
		}
		v.EncryptionPercent = float64(n)
		if n, err = required("EncryptionFlags", r.Flags, 0, maxUint32); err != nil {
			return v, err
		}
		v.UsedSpaceOnly = n&1 != 0
	}

	if n, err = required("ProtectionStatus", r.Protection, 0, maxUint32); err != nil {
		return v, err
	}
	if v.Protection, ok = protectionStatus(n); !ok {
		return v, protocolf("ProtectionStatus: unknown value %d", n)
	}

	n, ok, err = integer("EncryptionMethod", r.Method, -1, maxUint32)
	switch {
	case err != nil:
		return v, err
	case !ok && !v.Locked:
		return v, protocolf("EncryptionMethod: missing")
	case !ok:
		v.Method = model.MethodUnknown
	default:
		if v.Method, ok = encryptionMethod(n); !ok {
			return v, protocolf("EncryptionMethod: unknown value %d", n)
		}
	}

	if n, ok, err = integer("SuspendCount", r.Suspend, 0, maxUint32); err != nil {
		return v, err
	} else if ok {
		c := int(n)
		v.SuspendCount = &c
	}

	if v.Protectors, err = decodeProtectors(r.Protectors, func(p scriptProtector) (*string, *json.Number) { return p.ID, p.Type }); err != nil {
		return v, err
	}
	return v, nil
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
