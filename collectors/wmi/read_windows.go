//go:build windows

package wmi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"time"

	"github.com/go-ole/go-ole"
	"github.com/go-ole/go-ole/oleutil"
	"github.com/yusufpapurcu/wmi"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// bitLockerNamespace is where Win32_EncryptableVolume lives; it exists only
// when the BitLocker feature is installed (Win32_EncryptableVolume docs).
const bitLockerNamespace = `root\CIMV2\Security\MicrosoftVolumeEncryption`

// eventQuery selects the backup events collect.ps1 reads (bitlocker.md §3).
const eventQuery = `*[System[(EventID=783 or EventID=784 or EventID=785 or EventID=845 or EventID=846)]]`

// maxToolOutput bounds what dsregcmd or wevtutil may print.
const maxToolOutput = 8 << 20

func readLocal(ctx context.Context) (*Snapshot, error) {
	s := &Snapshot{}

	var oses []struct{ Caption, Version, BuildNumber string }
	if s.OSErr = wmi.Query("SELECT Caption, Version, BuildNumber FROM Win32_OperatingSystem", &oses); s.OSErr == nil {
		if len(oses) == 0 {
			s.OSErr = errors.New("Win32_OperatingSystem returned no instance")
		} else {
			s.OS = OperatingSystem(oses[0])
		}
	}

	var cs []struct {
		Name, DNSHostName, Domain string
		PartOfDomain              bool
	}
	if s.ComputerErr = wmi.Query("SELECT Name, DNSHostName, Domain, PartOfDomain FROM Win32_ComputerSystem", &cs); s.ComputerErr == nil {
		if len(cs) == 0 {
			s.ComputerErr = errors.New("Win32_ComputerSystem returned no instance")
		} else {
			s.Computer = ComputerSystem(cs[0])
			if sid, _, _, err := windows.LookupSID("", s.Computer.Name); err == nil {
				s.MachineSID = sid.String()
			}
		}
	}

	s.Volumes, s.VolumesErr = readVolumes()
	s.Partitions, s.PartitionsErr = readPartitions()
	s.Events, s.EventsErr = readEvents(ctx)
	s.FVEPolicy, s.FVEErr = readFVEPolicy()
	s.Dsregcmd, s.DsregcmdErr = run(ctx, "dsregcmd.exe", "/status")
	return s, nil
}

// readVolumes enumerates Win32_EncryptableVolume and calls each instance's
// Get* methods through SWbemObject.ExecMethod_, as Invoke-CimMethod does.
func readVolumes() (vols []EncryptableVolume, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := ole.CoInitializeEx(0, ole.COINIT_MULTITHREADED); err != nil {
		var oe *ole.OleError
		if !errors.As(err, &oe) || (oe.Code() != ole.S_OK && oe.Code() != 1 /* S_FALSE */) {
			return nil, err
		}
	}
	defer ole.CoUninitialize()

	unknown, err := oleutil.CreateObject("WbemScripting.SWbemLocator")
	if err != nil {
		return nil, err
	}
	defer unknown.Release()
	locator, err := unknown.QueryInterface(ole.IID_IDispatch)
	if err != nil {
		return nil, err
	}
	defer locator.Release()
	svcV, err := oleutil.CallMethod(locator, "ConnectServer", nil, bitLockerNamespace)
	if err != nil {
		return nil, err
	}
	defer svcV.Clear()
	setV, err := oleutil.CallMethod(svcV.ToIDispatch(), "ExecQuery", "SELECT * FROM Win32_EncryptableVolume")
	if err != nil {
		return nil, err
	}
	defer setV.Clear()
	err = oleutil.ForEach(setV.ToIDispatch(), func(item *ole.VARIANT) error {
		v, err := readVolume(item.ToIDispatch())
		if err != nil {
			return err
		}
		vols = append(vols, v)
		return nil
	})
	return vols, err
}

func readVolume(obj *ole.IDispatch) (EncryptableVolume, error) {
	var v EncryptableVolume
	var err error
	if v.DeviceID, err = stringProp(obj, "DeviceID"); err != nil {
		return v, err
	}
	if dl, err := optStringProp(obj, "DriveLetter"); err != nil {
		return v, err
	} else {
		v.DriveLetter = dl
	}
	if v.VolumeType, err = uintProp(obj, "VolumeType"); err != nil {
		return v, err
	}

	call := func(method string, in map[string]any, outs ...string) (uint32, []*uint32, error) {
		out, err := execMethod(obj, method, in)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", method, err)
		}
		defer out.Release()
		ret, err := uintProp(out, "ReturnValue")
		if err != nil || ret == nil {
			return 0, nil, fmt.Errorf("%s: no ReturnValue", method)
		}
		vals := make([]*uint32, len(outs))
		for i, name := range outs {
			if vals[i], err = uintProp(out, name); err != nil {
				return 0, nil, fmt.Errorf("%s.%s: %w", method, name, err)
			}
		}
		return *ret, vals, nil
	}
	var vals []*uint32
	if v.ProtectionRet, vals, err = call("GetProtectionStatus", nil, "ProtectionStatus"); err != nil {
		return v, err
	}
	v.ProtectionStatus = vals[0]
	if v.ConversionRet, vals, err = call("GetConversionStatus", nil, "ConversionStatus", "EncryptionPercentage", "EncryptionFlags"); err != nil {
		return v, err
	}
	v.ConversionStatus, v.EncryptionPercentage, v.EncryptionFlags = vals[0], vals[1], vals[2]
	if v.MethodRet, vals, err = call("GetEncryptionMethod", nil, "EncryptionMethod"); err != nil {
		return v, err
	}
	v.EncryptionMethod = vals[0]
	if v.LockRet, vals, err = call("GetLockStatus", nil, "LockStatus"); err != nil {
		return v, err
	}
	v.LockStatus = vals[0]
	if v.SuspendRet, vals, err = call("GetSuspendCount", nil, "SuspendCount"); err != nil {
		return v, err
	}
	v.SuspendCount = vals[0]

	out, err := execMethod(obj, "GetKeyProtectors", map[string]any{"KeyProtectorType": int32(0)})
	if err != nil {
		return v, fmt.Errorf("GetKeyProtectors: %w", err)
	}
	defer out.Release()
	ret, err := uintProp(out, "ReturnValue")
	if err != nil || ret == nil {
		return v, errors.New("GetKeyProtectors: no ReturnValue")
	}
	v.ProtectorsRet = *ret
	if v.ProtectorsRet != 0 {
		return v, nil
	}
	ids, err := oleutil.GetProperty(out, "VolumeKeyProtectorID")
	if err != nil {
		return v, fmt.Errorf("GetKeyProtectors.VolumeKeyProtectorID: %w", err)
	}
	defer ids.Clear()
	if ids.VT&ole.VT_ARRAY == 0 {
		return v, nil // null: no protectors
	}
	for _, id := range ids.ToArray().ToStringArray() {
		p := KeyProtector{ID: id}
		var tv []*uint32
		if p.TypeRet, tv, err = call("GetKeyProtectorType", map[string]any{"VolumeKeyProtectorID": id}, "KeyProtectorType"); err != nil {
			return v, err
		}
		p.Type = tv[0]
		v.Protectors = append(v.Protectors, p)
	}
	return v, nil
}

// execMethod calls an instance method with named in-parameters and returns
// the out-parameters object.
func execMethod(obj *ole.IDispatch, method string, in map[string]any) (*ole.IDispatch, error) {
	args := []any{method}
	if len(in) > 0 {
		methods, err := oleutil.GetProperty(obj, "Methods_")
		if err != nil {
			return nil, err
		}
		defer methods.Clear()
		m, err := oleutil.CallMethod(methods.ToIDispatch(), "Item", method)
		if err != nil {
			return nil, err
		}
		defer m.Clear()
		cls, err := oleutil.GetProperty(m.ToIDispatch(), "InParameters")
		if err != nil {
			return nil, err
		}
		defer cls.Clear()
		inst, err := oleutil.CallMethod(cls.ToIDispatch(), "SpawnInstance_")
		if err != nil {
			return nil, err
		}
		defer inst.Clear()
		for name, val := range in {
			if _, err := oleutil.PutProperty(inst.ToIDispatch(), name, val); err != nil {
				return nil, fmt.Errorf("in-parameter %s: %w", name, err)
			}
		}
		args = append(args, inst.ToIDispatch())
	}
	out, err := oleutil.CallMethod(obj, "ExecMethod_", args...)
	if err != nil {
		return nil, err
	}
	d := out.ToIDispatch()
	d.AddRef()
	out.Clear()
	return d, nil
}

func stringProp(obj *ole.IDispatch, name string) (string, error) {
	p, err := optStringProp(obj, name)
	if err != nil {
		return "", err
	}
	if p == nil {
		return "", fmt.Errorf("%s is null", name)
	}
	return *p, nil
}

func optStringProp(obj *ole.IDispatch, name string) (*string, error) {
	v, err := oleutil.GetProperty(obj, name)
	if err != nil {
		return nil, err
	}
	defer v.Clear()
	switch x := v.Value().(type) {
	case nil:
		return nil, nil
	case string:
		return &x, nil
	default:
		return nil, fmt.Errorf("%s: unexpected type %T", name, x)
	}
}

// uintProp reads an unsigned WMI integer property (uint8..uint32 arrive as
// various VARIANT integer types); nil when null.
func uintProp(obj *ole.IDispatch, name string) (*uint32, error) {
	v, err := oleutil.GetProperty(obj, name)
	if err != nil {
		return nil, err
	}
	defer v.Clear()
	var n int64
	switch x := v.Value().(type) {
	case nil:
		return nil, nil
	case uint8:
		n = int64(x)
	case uint16:
		n = int64(x)
	case uint32:
		n = int64(x)
	case int8:
		n = int64(x)
	case int16:
		n = int64(x)
	case int32:
		n = int64(uint32(x)) // HRESULTs arrive as negative int32
	case int64:
		n = x
	default:
		return nil, fmt.Errorf("%s: unexpected type %T", name, x)
	}
	if n < 0 || n > 1<<32-1 {
		return nil, fmt.Errorf("%s: %d out of range", name, n)
	}
	u := uint32(n)
	return &u, nil
}

// readPartitions reads MSFT_Partition (Windows 8 / Server 2012 and later),
// whose GPT and MBR types tell recovery and system partitions apart.
func readPartitions() ([]Partition, error) {
	var rows []struct {
		AccessPaths []string
		GptType     *string
		MbrType     *uint16
	}
	c := &wmi.Client{PtrNil: true, AllowMissingFields: true}
	if err := c.Query("SELECT AccessPaths, GptType, MbrType FROM MSFT_Partition", &rows, nil, `root\Microsoft\Windows\Storage`); err != nil {
		return nil, err
	}
	parts := make([]Partition, 0, len(rows))
	for _, r := range rows {
		parts = append(parts, Partition(r))
	}
	return parts, nil
}

// readEvents runs wevtutil, the native program collect.ps1 also runs: it
// prints the same event XML as EventLogRecord.ToXml().
func readEvents(ctx context.Context) ([]byte, error) {
	return run(ctx, "wevtutil.exe", "qe", "Microsoft-Windows-BitLocker/BitLocker Management",
		"/q:"+eventQuery, "/c:500", "/rd:true", "/f:xml")
}

func readFVEPolicy() (map[string]any, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Policies\Microsoft\FVE`, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer k.Close()
	names, err := k.ReadValueNames(0)
	if err != nil {
		return nil, err
	}
	values := map[string]any{}
	for _, name := range names {
		if n, _, err := k.GetIntegerValue(name); err == nil {
			values[name] = n
		} else if s, _, err := k.GetStringValue(name); err == nil {
			values[name] = s
		}
	}
	return values, nil
}

// run executes a Windows tool with a deadline and bounded output.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &limited{&stdout, maxToolOutput}, &limited{&stderr, 4096}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", name, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// limited fails a write past n bytes, so a runaway tool cannot fill memory.
type limited struct {
	b *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.b.Len()+len(p) > l.n {
		return 0, errors.New("output too large")
	}
	return l.b.Write(p)
}
