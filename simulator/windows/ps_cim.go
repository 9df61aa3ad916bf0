package windows

import (
	"crypto/rand"
	"fmt"
	"hash/crc32"
	"regexp"
	"strconv"
	"strings"
)

// HRESULTs returned by Win32_EncryptableVolume methods (bitlocker.md §1.5).
const (
	hrOK                   = 0
	hrSFalse               = 1
	hrInvalidArg           = 2147942487 // 0x80070057 E_INVALIDARG
	hrLockedVolume         = 2150694912 // 0x80310000 FVE_E_LOCKED_VOLUME
	hrInvalidProtector     = 2150694970 // 0x8031003A FVE_E_INVALID_PROTECTOR_TYPE
	hrNotActivated         = 2150694920 // 0x80310008 FVE_E_NOT_ACTIVATED
	hrInvalidPassword      = 2150694956 // 0x8031002C FVE_E_INVALID_PASSWORD_FORMAT (ProtectKeyWithNumericalPassword return values, learn.microsoft.com)
	hrNotDataVolume        = 2150694952 // 0x80310028 FVE_E_NOT_DATA_VOLUME [?]
	hrCloudBackupNotJoined = 2149318659 // 0x801C0003 DSREG_E_DEVICE_NOT_JOINED [?]
)

const (
	bitlockerNS = `root\cimv2\security\microsoftvolumeencryption`
	storageNS   = `root\microsoft\windows\storage`
)

func normNamespace(ns string) string {
	ns = strings.ToLower(strings.ReplaceAll(ns, "/", `\`))
	return strings.Trim(ns, `\`)
}

var cimNamespaces = map[string]bool{
	`root`: true, `root\cimv2`: true, `root\cimv2\security`: true, bitlockerNS: true, `root\default`: true,
	`root\microsoft\windows\storage`: true, `root\cimv2\mdm`: true, `root\wmi`: true, `root\subscription`: true,
}

var cimFilter = regexp.MustCompile(`(?i)^\s*(\w+)\s*=\s*(?:'([^']*)'|"([^"]*)"|(\d+)|(true|false))\s*$`)

func runGetCimInstance(ip *interp, c *call) ([]any, error) {
	ns, given := `root\cimv2`, `root\cimv2`
	if c.has("namespace") {
		given = strings.Trim(strings.ReplaceAll(toStr(c.get("namespace")), "/", `\`), `\`)
		ns = normNamespace(given)
	}
	class := toStr(c.get("classname"))
	if class == "" {
		return nil, c.bindError("Cannot process command because of one or more missing mandatory parameters: ClassName.", "MissingMandatoryParameter")
	}
	// Errors as the CIM cmdlets report them: the WMI message (with its
	// trailing space) and "HRESULT 0x8004100e"/"0x80041010" in the id.
	if !cimNamespaces[ns] || ns == bitlockerNS && ip.m.NoBitLockerFeature {
		// Without the BitLocker feature its MOF (and namespace) is not
		// installed (Win32_EncryptableVolume docs: "the BitLocker Drive
		// Encryption feature must be installed").
		return nil, ip.nonTerminating(c, &psError{msg: "Invalid namespace ", fqid: "HRESULT 0x8004100e," + c.spec.class,
			category: "MetadataError: (" + ellipsize(given+":"+class) + ":String) [Get-CimInstance], CimException",
			exType:   "Microsoft.Management.Infrastructure.CimException"})
	}
	if ip.m.NotAdmin && (ns == bitlockerNS || ns == storageNS) {
		// WBEM_E_ACCESS_DENIED: both namespaces grant access to
		// Administrators only (Win32_EncryptableVolume docs: "requires
		// administrator rights"; Get-Partition needs elevation).
		return nil, ip.nonTerminating(c, &psError{msg: "Access denied ", fqid: "HRESULT 0x80041003," + c.spec.class,
			category: "PermissionDenied: (" + ellipsize(given+":"+class) + ":String) [Get-CimInstance], CimException",
			exType:   "Microsoft.Management.Infrastructure.CimException"})
	}
	var all []*object
	switch {
	case ns == storageNS && strings.EqualFold(class, "MSFT_Partition"):
		all = ip.m.cimPartitions()
	case ns == `root\cimv2` && strings.EqualFold(class, "Win32_OperatingSystem"):
		all = []*object{ip.m.cimOperatingSystem()}
	case ns == `root\cimv2` && strings.EqualFold(class, "Win32_ComputerSystem"):
		all = []*object{ip.m.cimComputerSystem()}
	case ns == bitlockerNS && strings.EqualFold(class, "Win32_EncryptableVolume"):
		for _, v := range ip.m.Volumes {
			all = append(all, ip.m.cimVolume(v))
		}
	default:
		return nil, ip.nonTerminating(c, &psError{msg: "Invalid class ", fqid: "HRESULT 0x80041010," + c.spec.class,
			category: "MetadataError: (" + ellipsize(given+":"+class) + ":String) [Get-CimInstance], CimException",
			exType:   "Microsoft.Management.Infrastructure.CimException"})
	}
	var out []any
	filter := toStr(c.get("filter"))
	var fm []string
	if filter != "" {
		fm = cimFilter.FindStringSubmatch(filter)
		if fm == nil {
			return nil, ip.nonTerminating(c, &psError{msg: "Invalid query ", fqid: "HRESULT 0x80041017," + c.spec.class,
				category: "InvalidArgument: (:) [Get-CimInstance], CimException", exType: "Microsoft.Management.Infrastructure.CimException"})
		}
	}
	for _, o := range all {
		if fm != nil {
			v, ok := o.get(fm[1])
			if !ok {
				return nil, ip.nonTerminating(c, &psError{msg: "Invalid query ", fqid: "HRESULT 0x80041017," + c.spec.class,
					category: "InvalidArgument: (:) [Get-CimInstance], CimException", exType: "Microsoft.Management.Infrastructure.CimException"})
			}
			want := fm[2] + fm[3] + fm[4] + fm[5]
			if !compareEq(v, want) && !(v == nil && want == "") {
				continue
			}
		}
		out = append(out, o)
	}
	return out, nil
}

func cimInstance(ns, class string, keyProp string, kv ...any) *object {
	o := newObject("Microsoft.Management.Infrastructure.CimInstance#"+strings.ReplaceAll(ns, `\`, "/")+"/"+class, kv...)
	o.typeNames = append(o.typeNames, "Microsoft.Management.Infrastructure.CimInstance#"+class, "Microsoft.Management.Infrastructure.CimInstance", "System.Object")
	o.cimClass = class
	o.props = append(o.props, property{"PSComputerName", nil})
	o.str = func() string {
		if keyProp == "" {
			return class
		}
		v, _ := o.get(keyProp)
		return fmt.Sprintf(`%s (%s = "%s")`, class, keyProp, toStr(v))
	}
	return o
}

func (m *Machine) fqdn() string {
	if m.DNSDomain == "" {
		return m.ComputerName
	}
	return m.ComputerName + "." + m.DNSDomain
}

func (m *Machine) cimOperatingSystem() *object {
	return cimInstance(`root\cimv2`, "Win32_OperatingSystem", "",
		"Status", "OK",
		"Name", m.OS.Caption+`|C:\Windows|\Device\Harddisk0\Partition3`,
		"Caption", m.OS.Caption,
		"Version", m.OS.Version,
		"BuildNumber", m.OS.BuildNumber,
		"BuildType", "Multiprocessor Free",
		"CSName", m.ComputerName,
		"Manufacturer", "Microsoft Corporation",
		"OSArchitecture", "64-bit",
		"OSType", int64(18),
		"ProductType", int64(1),
		"SystemDirectory", `C:\Windows\system32`,
		"SystemDrive", "C:",
		"WindowsDirectory", `C:\Windows`,
	)
}

func (m *Machine) cimComputerSystem() *object {
	domain, workgroup := m.DNSDomain, any(nil)
	partOf := m.DNSDomain != ""
	if !partOf {
		domain, workgroup = "WORKGROUP", "WORKGROUP"
	}
	role := int64(0)
	if partOf {
		role = 1
	}
	return cimInstance(`root\cimv2`, "Win32_ComputerSystem", "Name",
		"Name", m.ComputerName,
		"Caption", m.ComputerName,
		"DNSHostName", m.ComputerName,
		"Domain", domain,
		"DomainRole", role,
		"Manufacturer", "Microsoft Corporation",
		"Model", "Virtual Machine",
		"PartOfDomain", partOf,
		"Workgroup", workgroup,
	)
}

// persistentID is the BitLocker persistent volume ID: empty for a plain,
// fully decrypted volume without protectors.
func persistentID(v *Volume) string {
	if len(v.Protectors) == 0 && v.ConversionStatus == 0 {
		return ""
	}
	if i := strings.Index(v.DeviceID, "{"); i >= 0 {
		if j := strings.Index(v.DeviceID[i:], "}"); j >= 0 {
			return strings.ToUpper(v.DeviceID[i : i+j+1])
		}
	}
	return ""
}

func (m *Machine) cimVolume(v *Volume) *object {
	var letter any
	if v.DriveLetter != "" {
		letter = v.DriveLetter
	}
	o := cimInstance(bitlockerNS, "Win32_EncryptableVolume", "DeviceID",
		"ConversionStatus", int64(v.ConversionStatus),
		"DeviceID", v.DeviceID,
		"DriveLetter", letter,
		"EncryptionMethod", int64(v.EncryptionMethod),
		"IsVolumeInitializedForProtection", len(v.Protectors) > 0,
		"PersistentVolumeID", persistentID(v),
		"ProtectionStatus", int64(v.ProtectionStatus),
		"VolumeType", int64(v.VolumeType),
	)
	o.vol = v
	return o
}

func runInvokeCimMethod(ip *interp, c *call) ([]any, error) {
	targets := enumerate(c.get("inputobject"))
	if !c.has("inputobject") {
		targets = c.input
	}
	name := toStr(c.get("methodname"))
	args, _ := c.get("arguments").(*hashtable)
	if args == nil {
		args = &hashtable{}
	}
	var out []any
	for _, t := range targets {
		o, ok := t.(*object)
		if !ok || o.cimClass == "" {
			return out, c.bindError("Cannot bind parameter 'InputObject'. Cannot convert the \""+toStr(t)+"\" value of type \""+typeNameOf(t)+"\" to type \"Microsoft.Management.Infrastructure.CimInstance\".", "CannotConvertArgumentNoMessage")
		}
		if o.vol == nil {
			return out, ip.nonTerminating(c, &psError{msg: "Method not found ", fqid: "HRESULT 0x80041055," + c.spec.class,
				category: "MetadataError: (" + o.cimClass + ":String) [Invoke-CimMethod], CimException", exType: "Microsoft.Management.Infrastructure.CimException"})
		}
		res, found := ip.m.volumeMethod(o.vol, name, args)
		if !found {
			return out, ip.nonTerminating(c, &psError{msg: "Method not found ", fqid: "HRESULT 0x80041055," + c.spec.class,
				category: "MetadataError: (Win32_EncryptableVolume:String) [Invoke-CimMethod], CimException", exType: "Microsoft.Management.Infrastructure.CimException"})
		}
		out = append(out, res)
	}
	return out, nil
}

// methodResult is what Invoke-CimMethod returns: out parameters, then ReturnValue.
func methodResult(ret int64, kv ...any) *object {
	o := newObject("Microsoft.Management.Infrastructure.CimMethodResult", kv...)
	o.props = append(o.props, property{"ReturnValue", ret}, property{"PSComputerName", nil})
	return o
}

func (v *Volume) protector(id string) *Protector {
	for _, p := range v.Protectors {
		if strings.EqualFold(p.ID, id) {
			return p
		}
	}
	return nil
}

// bitLockerOn reports whether the volume carries BitLocker metadata.
func (v *Volume) bitLockerOn() bool { return len(v.Protectors) > 0 || v.ConversionStatus != 0 }

// volumeMethod runs one Win32_EncryptableVolume method (bitlocker.md §1.2).
func (m *Machine) volumeMethod(v *Volume, name string, args *hashtable) (*object, bool) {
	arg := func(n string) any { x, _ := args.get(n); return x }
	locked := v.LockStatus == 1
	idArg := toStr(arg("VolumeKeyProtectorID"))
	switch strings.ToLower(name) {
	case "getprotectionstatus":
		return methodResult(hrOK, "ProtectionStatus", int64(v.ProtectionStatus)), true
	case "getconversionstatus":
		if locked {
			return methodResult(hrLockedVolume), true
		}
		return methodResult(hrOK, "ConversionStatus", int64(v.ConversionStatus), "EncryptionFlags", int64(v.EncryptionFlags),
			"EncryptionPercentage", int64(v.EncryptionPercentage), "WipingPercentage", int64(0), "WipingStatus", int64(0)), true
	case "getencryptionmethod":
		if locked {
			return methodResult(hrLockedVolume), true
		}
		return methodResult(hrOK, "EncryptionMethod", int64(v.EncryptionMethod), "EncryptionMethodFlags", int64(0), "SelfEncryptionDriveEncryptionMethod", ""), true
	case "getlockstatus":
		return methodResult(hrOK, "LockStatus", int64(v.LockStatus)), true
	case "getsuspendcount":
		return methodResult(hrOK, "SuspendCount", int64(v.SuspendCount)), true
	case "getversion":
		ver := int64(0)
		if v.bitLockerOn() {
			ver = 2
		}
		return methodResult(hrOK, "Version", ver), true
	case "getkeyprotectors":
		typ, _ := toNumber(arg("KeyProtectorType"))
		t := int64(toFloat(typ))
		if t < 0 || t > 10 {
			return methodResult(hrInvalidArg), true
		}
		ids := []any{}
		for _, p := range v.Protectors {
			if t == 0 || int64(p.Type) == t {
				ids = append(ids, p.ID)
			}
		}
		return methodResult(hrOK, "VolumeKeyProtectorID", ids), true
	case "getkeyprotectortype":
		p := v.protector(idArg)
		if p == nil {
			return methodResult(hrInvalidArg), true
		}
		return methodResult(hrOK, "KeyProtectorType", int64(p.Type)), true
	case "getkeyprotectorfriendlyname":
		p := v.protector(idArg)
		if p == nil {
			return methodResult(hrInvalidArg), true
		}
		return methodResult(hrOK, "FriendlyName", ""), true
	case "getexternalkeyfilename":
		p := v.protector(idArg)
		if p == nil {
			return methodResult(hrInvalidArg), true
		}
		if p.Type != 2 {
			return methodResult(hrInvalidProtector), true
		}
		return methodResult(hrOK, "FileName", p.KeyFileName), true
	case "getkeyprotectornumericalpassword":
		// Windows has it, so the emulation does; bitaudit never calls it.
		p := v.protector(idArg)
		switch {
		case p == nil:
			return methodResult(hrInvalidArg), true
		case p.Type != 3:
			return methodResult(hrInvalidProtector), true
		case locked:
			return methodResult(hrLockedVolume), true
		}
		return methodResult(hrOK, "NumericalPassword", p.RecoveryPassword), true
	case "isautounlockenabled":
		if v.VolumeType == 0 {
			return methodResult(hrNotDataVolume), true
		}
		for _, p := range v.Protectors {
			if p.Type == 2 && p.AutoUnlock {
				return methodResult(hrOK, "IsAutoUnlockEnabled", true, "VolumeKeyProtectorID", p.ID), true
			}
		}
		return methodResult(hrOK, "IsAutoUnlockEnabled", false, "VolumeKeyProtectorID", ""), true
	case "isautounlockkeystored":
		stored := false
		for _, other := range m.Volumes {
			for _, p := range other.Protectors {
				stored = stored || (p.Type == 2 && p.AutoUnlock && other.VolumeType != 0)
			}
		}
		return methodResult(hrOK, "IsAutoUnlockKeyStored", stored), true
	case "protectkeywithnumericalpassword":
		return m.protectKeyWithNumericalPassword(v, arg("FriendlyName"), arg("NumericalPassword")), true
	case "backuprecoveryinformationtoactivedirectory":
		return methodResult(m.backupToAD(v, idArg)), true
	case "backuprecoveryinformationtoclouddomain":
		return methodResult(m.backupToEntra(v, idArg)), true
	}
	return nil, false
}

// GPT partition types (UEFI spec §5.3.3, Microsoft's PARTITION_INFORMATION_GPT docs).
const (
	gptBasicData = "{ebd0a0a2-b9e5-4433-87c0-68b6b72699c7}"
	gptSystem    = "{c12a7328-f81f-11d2-ba4b-00a0c93ec93b}"
	gptReserved  = "{e3c9e316-0b5c-4db8-817d-f92df00215ae}"
	gptRecovery  = "{de94bba4-06d1-4d40-a16a-bfd50179d6ac}"
)

// cimPartitions lists MSFT_Partition as a GPT system disk has them: the
// EFI system partition, the reserved (MSR) partition (no volume, so no
// access paths), then one partition per volume; removable volumes sit on
// their own MBR disk (GptType null, MbrType 7). AccessPaths lists the
// drive root, when the volume has a letter, then the volume GUID path.
func (m *Machine) cimPartitions() []*object {
	part := func(disk, n int64, letter string, paths []any, gpt any, mbr any, system bool) *object {
		var pathsVal any
		if len(paths) > 0 {
			pathsVal = paths
		}
		return cimInstance(storageNS, "MSFT_Partition", "",
			"DiskNumber", disk, "PartitionNumber", n, "DriveLetter", letter, "AccessPaths", pathsVal,
			"GptType", gpt, "MbrType", mbr, "IsSystem", system, "IsBoot", letter == "C", "IsHidden", false)
	}
	esp := fmt.Sprintf(`\\?\Volume{%08x-5f1e-4d3a-9b2c-00000000e5f1}\`, crc32.ChecksumIEEE([]byte(m.ComputerName)))
	out := []*object{part(0, 1, "", []any{esp}, gptSystem, nil, true), part(0, 2, "", nil, gptReserved, nil, false)}
	n := int64(3)
	for _, v := range m.Volumes {
		var paths []any
		letter := ""
		if v.DriveLetter != "" {
			letter = strings.TrimSuffix(v.DriveLetter, ":")
			paths = append(paths, v.DriveLetter+`\`)
		}
		paths = append(paths, v.DeviceID)
		if v.VolumeType == 2 {
			out = append(out, part(1, 1, letter, paths, nil, int64(7), false))
			continue
		}
		gpt := v.PartitionGptType
		if gpt == "" {
			gpt = gptBasicData
		}
		out = append(out, part(0, n, letter, paths, gpt, nil, false))
		n++
	}
	return out
}

// protectKeyWithNumericalPassword adds a recovery-password protector: the
// password given, or a random one Windows generates when it is omitted
// (bitlocker.md §1.2), and logs event 775 (key protector created, §3).
func (m *Machine) protectKeyWithNumericalPassword(v *Volume, _ any, password any) *object {
	if v.LockStatus == 1 {
		return methodResult(hrLockedVolume)
	}
	if !v.bitLockerOn() {
		return methodResult(hrNotActivated)
	}
	pw := toStr(password)
	switch {
	case password == nil || pw == "":
		pw = randomRecoveryPassword()
	case !validRecoveryPassword(pw):
		return methodResult(hrInvalidPassword)
	}
	p := &Protector{ID: "{" + randomGUID() + "}", Type: 3, RecoveryPassword: pw}
	v.Protectors = append(v.Protectors, p)
	m.addEvent(775, EventData{"ProtectorGUID", strings.ToLower(p.ID)}, EventData{"IdentificationGUID", strings.ToLower(persistentID(v))})
	return methodResult(hrOK, "VolumeKeyProtectorID", p.ID)
}

// validRecoveryPassword: eight groups of six digits, each divisible by 11
// and below 720896 (bitlocker.md §1.2).
func validRecoveryPassword(s string) bool {
	groups := strings.Split(s, "-")
	if len(groups) != 8 {
		return false
	}
	for _, g := range groups {
		n, err := strconv.Atoi(g)
		if len(g) != 6 || err != nil || n%11 != 0 || n > 720885 {
			return false
		}
	}
	return true
}

func randomRecoveryPassword() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	parts := make([]string, 8)
	for i := range parts {
		n := int(b[2*i])<<8 | int(b[2*i+1])
		parts[i] = fmt.Sprintf("%06d", 11*n)
	}
	return strings.Join(parts, "-")
}

func randomGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
