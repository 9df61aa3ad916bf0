package wmi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/bitaudit/bitaudit/collectors/bitlocker"
)

// ErrNotWindows is returned by [Collector.Collect] on systems other than
// Windows.
var ErrNotWindows = errors.New("local collection reads WMI and runs only on Windows; from other systems audit hosts over WinRM (bitaudit audit --targets FILE)")

// A Snapshot is what one local collection read from Windows, before any
// decoding: WMI values as WMI returned them (nil where WMI returned null).
// Each part has its own error, so one failed query costs only its section,
// as a failed command does in collect.ps1.
type Snapshot struct {
	OS          OperatingSystem
	OSErr       error
	Computer    ComputerSystem
	ComputerErr error
	Volumes     []EncryptableVolume
	VolumesErr  error
	// Partitions are the MSFT_Partition instances (root\Microsoft\Windows\Storage),
	// which tell recovery and system partitions from data volumes.
	Partitions    []Partition
	PartitionsErr error
	// Events is what `wevtutil qe … /f:xml` printed: the BitLocker
	// Management backup events as XML, newest first.
	Events    []byte
	EventsErr error
	// FVEPolicy holds the values of HKLM\SOFTWARE\Policies\Microsoft\FVE:
	// uint64 for REG_DWORD and REG_QWORD, string for REG_SZ. Nil: the key
	// does not exist.
	FVEPolicy map[string]any
	FVEErr    error
	// Dsregcmd is the standard output of dsregcmd /status.
	Dsregcmd    []byte
	DsregcmdErr error
	// MachineSID is the computer's own SID (S-1-5-21-…), when it could be read.
	MachineSID string
}

// OperatingSystem holds the Win32_OperatingSystem properties read.
type OperatingSystem struct {
	Caption, Version, BuildNumber string
}

// ComputerSystem holds the Win32_ComputerSystem properties read.
type ComputerSystem struct {
	Name, DNSHostName, Domain string
	PartOfDomain              bool
}

// An EncryptableVolume is one Win32_EncryptableVolume instance and the
// results of its Get* methods.
type EncryptableVolume struct {
	DeviceID string
	// DriveLetter is nil for a volume without one.
	DriveLetter *string
	VolumeType  *uint32

	// Each method's ReturnValue, and its out parameters (nil when WMI
	// returned none).
	ProtectionRet        uint32
	ProtectionStatus     *uint32
	ConversionRet        uint32
	ConversionStatus     *uint32
	EncryptionPercentage *uint32
	EncryptionFlags      *uint32
	MethodRet            uint32
	EncryptionMethod     *uint32
	LockRet              uint32
	LockStatus           *uint32
	SuspendRet           uint32
	SuspendCount         *uint32
	ProtectorsRet        uint32
	Protectors           []KeyProtector
}

// A Partition holds the MSFT_Partition properties read.
type Partition struct {
	AccessPaths []string
	// GptType is the GPT partition type GUID ("{…}"); nil on MBR disks.
	GptType *string
	// MbrType is the MBR partition type; nil on GPT disks.
	MbrType *uint16
}

// A KeyProtector is one ID GetKeyProtectors returned and what
// GetKeyProtectorType said of it.
type KeyProtector struct {
	ID      string
	TypeRet uint32
	Type    *uint32
}

// Sections returns the snapshot as the sections collect.ps1 (format 2)
// prints, in its order, for [bitlocker.Frame] and
// [bitlocker.DecodeCollection]. The os section has no LanguageMode: no
// PowerShell runs.
func (s *Snapshot) Sections() []bitlocker.Section {
	return []bitlocker.Section{
		jsonSection("os", s.OS, s.OSErr),
		jsonSection("computer", s.Computer, s.ComputerErr),
		jsonSection("volumes", scriptVolumes(s.Volumes), s.VolumesErr),
		jsonSection("partitions", scriptPartitions(s.Partitions), s.PartitionsErr),
		{Name: "events", Body: s.Events, Err: sectionError("events", s.EventsErr)},
		fveSection(s.FVEPolicy, s.FVEErr),
		{Name: "dsregcmd", Body: s.Dsregcmd, Err: sectionError("dsregcmd", s.DsregcmdErr)},
	}
}

func jsonSection(name string, v any, err error) bitlocker.Section {
	if err != nil {
		return bitlocker.Section{Name: name, Err: sectionError(name, err)}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return bitlocker.Section{Name: name, Err: sectionError(name, err)}
	}
	return bitlocker.Section{Name: name, Body: b}
}

// fveSection prints the policy key as Get-ItemProperty | ConvertTo-Json
// does: nothing when the key does not exist.
func fveSection(values map[string]any, err error) bitlocker.Section {
	if err != nil || values == nil {
		return bitlocker.Section{Name: "fve", Err: sectionError("fve", err)}
	}
	return jsonSection("fve", values, nil)
}

// scriptVolume is one volume in collect.ps1's JSON shape (the
// pscustomobject it builds): each method's out parameters as WMI returned
// them (null when absent) beside its ReturnValue, which the decoder reads.
type scriptVolume struct {
	DeviceID      string
	DriveLetter   *string
	VolumeType    *uint32
	Protection    *uint32
	ProtectionRet uint32
	Conversion    *uint32
	Percent       *uint32
	Flags         *uint32
	ConversionRet uint32
	Method        *uint32
	MethodRet     uint32
	Lock          *uint32
	LockRet       uint32
	Suspend       *uint32
	SuspendRet    uint32
	ProtectorsRet uint32
	Protectors    []scriptProtector
}

type scriptProtector struct {
	ID   string `json:"Id"`
	Type *uint32
	Ret  uint32
}

func scriptVolumes(vols []EncryptableVolume) []scriptVolume {
	out := make([]scriptVolume, 0, len(vols))
	for _, v := range vols {
		sv := scriptVolume{
			DeviceID: v.DeviceID, DriveLetter: v.DriveLetter, VolumeType: v.VolumeType,
			Protection: v.ProtectionStatus, ProtectionRet: v.ProtectionRet,
			Conversion: v.ConversionStatus, Percent: v.EncryptionPercentage, Flags: v.EncryptionFlags, ConversionRet: v.ConversionRet,
			Method: v.EncryptionMethod, MethodRet: v.MethodRet,
			Lock: v.LockStatus, LockRet: v.LockRet,
			Suspend: v.SuspendCount, SuspendRet: v.SuspendRet,
			ProtectorsRet: v.ProtectorsRet, Protectors: []scriptProtector{},
		}
		if v.DriveLetter != nil && *v.DriveLetter == "" {
			sv.DriveLetter = nil
		}
		for _, p := range v.Protectors {
			sv.Protectors = append(sv.Protectors, scriptProtector{ID: p.ID, Type: p.Type, Ret: p.TypeRet})
		}
		out = append(out, sv)
	}
	return out
}

// scriptPartition is MSFT_Partition | Select-Object AccessPaths,GptType,MbrType.
type scriptPartition struct {
	AccessPaths []string
	GptType     *string
	MbrType     *uint16
}

func scriptPartitions(parts []Partition) []scriptPartition {
	out := make([]scriptPartition, 0, len(parts))
	for _, p := range parts {
		out = append(out, scriptPartition(p))
	}
	return out
}

// An hresulter is an error that carries a COM status (go-ole's OleError).
type hresulter interface{ Code() uintptr }

// A scoder is the exception a COM call raised (go-ole's EXCEPINFO): WMI's
// own status when the call failed with DISP_E_EXCEPTION.
type scoder interface{ SCODE() uint32 }

// dispException is DISP_E_EXCEPTION: the real status is in the EXCEPINFO.
const dispException = 0x80020009

// sectionError turns a failed read into the error record the script would
// print: the WMI status as the ID where there is one (0x80041003 access
// denied, 0x8004100E invalid namespace), so the decoder classifies it.
func sectionError(section string, err error) *bitlocker.SectionError {
	if err == nil {
		return nil
	}
	id := "LocalCollectionFailed"
	var h hresulter
	if errors.As(err, &h) {
		code := uint32(h.Code())
		if sub, ok := h.(interface{ SubError() error }); ok && code == dispException {
			var sc scoder
			if errors.As(sub.SubError(), &sc) && sc.SCODE() != 0 {
				code = sc.SCODE()
			}
		}
		id = fmt.Sprintf("HRESULT 0x%08x", code)
	}
	return &bitlocker.SectionError{Section: section, ID: id, Message: strings.TrimSpace(err.Error())}
}
