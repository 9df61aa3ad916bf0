package windows

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Enum names as the BitLocker module's types print them (bitlocker.md §2.1, §1.4).
var (
	encryptionMethodNames = []string{"None", "Aes128Diffuser", "Aes256Diffuser", "Aes128", "Aes256", "Hardware", "XtsAes128", "XtsAes256"}
	volumeStatusNames     = []string{"FullyDecrypted", "FullyEncrypted", "EncryptionInProgress", "DecryptionInProgress", "EncryptionSuspended", "DecryptionSuspended"}
	protectionNames       = []string{"Off", "On", "Unknown"}
	lockNames             = []string{"Unlocked", "Locked"}
	volumeTypeNames       = []string{"OperatingSystem", "Data"}
	protectorTypeNames    = []string{"Unknown", "Tpm", "ExternalKey", "RecoveryPassword", "TpmPin", "TpmStartupKey", "TpmPinStartupKey", "PublicKey", "Password", "TpmNetworkKey", "AdAccountOrGroup"}
)

func enumOf(names []string, v uint32) enumVal {
	if int(v) < len(names) {
		return enumVal{name: names[v], v: int64(v)}
	}
	return enumVal{name: fmt.Sprint(v), v: int64(v)}
}

// bitLockerVolume builds Get-BitLockerVolume's object, properties in the
// constructor order of BitLocker.psm1 (bitlocker.md §2.1).
func (m *Machine) bitLockerVolume(v *Volume) *object {
	locked := v.LockStatus == 1
	mount := v.DriveLetter
	if mount == "" {
		mount = v.DeviceID
	}
	var method, status, pct, wipe any
	if !locked {
		method = enumOf(encryptionMethodNames, v.EncryptionMethod)
		status = enumOf(volumeStatusNames, v.ConversionStatus)
		pct = int64(v.EncryptionPercentage)
		wipe = int64(0)
	}
	var autoEnabled, keyStored any
	if v.VolumeType == 0 {
		stored := false
		for _, o := range m.Volumes {
			for _, p := range o.Protectors {
				stored = stored || (o.VolumeType != 0 && p.Type == 2 && p.AutoUnlock)
			}
		}
		keyStored = stored
	} else if v.bitLockerOn() {
		enabled := false
		for _, p := range v.Protectors {
			enabled = enabled || (p.Type == 2 && p.AutoUnlock)
		}
		autoEnabled = enabled
	}
	meta := int64(0)
	if v.bitLockerOn() {
		meta = 2
	}
	vt := uint32(1)
	if v.VolumeType == 0 {
		vt = 0
	}
	protectors := []any{}
	for _, p := range v.Protectors {
		var auto any
		if p.Type == 2 {
			auto = p.AutoUnlock
		}
		pw := ""
		if p.Type == 3 && !locked {
			pw = p.RecoveryPassword
		}
		kp := newObject("Microsoft.BitLocker.Structures.BitLockerVolumeKeyProtector",
			"KeyProtectorId", p.ID,
			"AutoUnlockProtector", auto,
			"KeyProtectorType", enumOf(protectorTypeNames, p.Type),
			"KeyFileName", p.KeyFileName,
			"RecoveryPassword", pw,
			"KeyCertificateType", nil,
			"Thumbprint", "")
		typ := enumOf(protectorTypeNames, p.Type).name
		kp.str = func() string { return typ }
		protectors = append(protectors, kp)
	}
	o := newObject("Microsoft.BitLocker.Structures.BitLockerVolume",
		"ComputerName", m.ComputerName,
		"MountPoint", mount,
		"EncryptionMethod", method,
		"EncryptionMethodFlags", int64(0),
		"AutoUnlockEnabled", autoEnabled,
		"AutoUnlockKeyStored", keyStored,
		"MetadataVersion", meta,
		"VolumeStatus", status,
		"ProtectionStatus", enumOf(protectionNames, v.ProtectionStatus),
		"LockStatus", enumOf(lockNames, v.LockStatus),
		"EncryptionPercentage", pct,
		"WipePercentage", wipe,
		"VolumeType", enumOf(volumeTypeNames, vt),
		"CapacityGB", float32(float64(v.CapacityBytes)/(1<<30)),
		"KeyProtector", protectors)
	o.str = func() string { return mount }
	return o
}

func (m *Machine) volumeByMountPoint(mp string) *Volume {
	for _, v := range m.Volumes {
		if strings.EqualFold(v.DeviceID, mp) || v.DriveLetter != "" && strings.EqualFold(strings.TrimSuffix(v.DriveLetter, ":"), strings.TrimSuffix(strings.TrimSuffix(mp, `\`), ":")) {
			return v
		}
	}
	return nil
}

func runGetBitLockerVolume(ip *interp, c *call) ([]any, error) {
	var out []any
	if !c.has("mountpoint") {
		for _, v := range ip.m.Volumes {
			out = append(out, ip.m.bitLockerVolume(v))
		}
		return out, nil
	}
	for _, mp := range enumerate(c.get("mountpoint")) {
		v := ip.m.volumeByMountPoint(toStr(mp))
		if v == nil {
			// BitLocker.psm1 reports E_NOTFOUND for a mount point that is
			// not an encryptable volume (bitlocker.md §1.5).
			if err := ip.nonTerminating(c, &psError{msg: "Element not found. (Exception from HRESULT: 0x80070490)",
				fqid: "System.Runtime.InteropServices.COMException,Microsoft.BitLocker.Structures.BitLockerVolumeInternal.GetBitLockerVolume", category: "NotSpecified: (:) [Get-BitLockerVolume], COMException",
				exType: "System.Runtime.InteropServices.COMException"}); err != nil {
				return out, err
			}
			continue
		}
		out = append(out, ip.m.bitLockerVolume(v))
	}
	return out, nil
}

// runBackupCmdlet is Backup-BitLockerKeyProtector (AD DS) and
// BackupToAAD-BitLockerKeyProtector (Entra ID): a non-zero ReturnValue
// becomes a Write-Error and that mount point is skipped (BitLocker.psm1).
func runBackupCmdlet(ip *interp, c *call, entra bool) ([]any, error) {
	id := toStr(c.get("keyprotectorid"))
	var out []any
	for _, mp := range enumerate(c.get("mountpoint")) {
		v := ip.m.volumeByMountPoint(toStr(mp))
		var ret int64 = hrInvalidArg
		if v != nil {
			if entra {
				ret = ip.m.backupToEntra(v, id)
			} else {
				ret = ip.m.backupToAD(v, id)
			}
		}
		if ret != hrOK {
			// TODO: the exact Win32 message text for each HRESULT is not in the docs.
			if err := ip.nonTerminating(c, &psError{msg: fmt.Sprintf("The operation failed. (Exception from HRESULT: 0x%08X)", ret),
				fqid:     "Microsoft.PowerShell.Commands.WriteErrorException," + c.spec.name,
				category: "NotSpecified: (:) [Write-Error], WriteErrorException", exType: "Microsoft.PowerShell.Commands.WriteErrorException"}); err != nil {
				return out, err
			}
			continue
		}
		out = append(out, ip.m.bitLockerVolume(v))
	}
	return out, nil
}

func (m *Machine) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

func (m *Machine) addEvent(id int, data ...EventData) {
	var rec int64 = 1
	if n := len(m.Events); n > 0 {
		rec = m.Events[n-1].RecordID + 1
	}
	m.Events = append(m.Events, Event{ID: id, RecordID: rec, Time: m.now(), Data: data})
}

func (m *Machine) policyDWORD(name string) (uint32, bool) {
	v, ok := m.FVEPolicy[name]
	if !ok {
		return 0, false
	}
	n, ok := v.(uint32)
	return n, ok
}

func policyPrefix(v *Volume) string {
	switch v.VolumeType {
	case 0:
		return "OS"
	case 1:
		return "FDV"
	}
	return "RDV"
}

// backupToAD is BackupRecoveryInformationToActiveDirectory: S_FALSE when
// policy does not permit AD backup; events 784 / 785.
func (m *Machine) backupToAD(v *Volume, id string) int64 {
	m.BackupCalls++
	p := v.protector(id)
	switch {
	case p == nil:
		return hrInvalidArg
	case p.Type != 3:
		return hrInvalidProtector
	}
	a, ok1 := m.policyDWORD(policyPrefix(v) + "ActiveDirectoryBackup")
	b, ok2 := m.policyDWORD("ActiveDirectoryBackup")
	if !(ok1 && a == 1) && !(ok2 && b == 1) {
		return hrSFalse
	}
	// Windows writes the GUIDs in event data in lower case (real 783 record).
	data := []EventData{{"ProtectorGUID", strings.ToLower(p.ID)}, {"IdentificationGUID", strings.ToLower(persistentID(v))}}
	if m.DNSDomain == "" || !m.Join.DomainJoined {
		m.addEvent(785, data...)
		return 2147943755 // 0x8007054B ERROR_NO_SUCH_DOMAIN
	}
	if !slices.ContainsFunc(m.Escrow.AD, func(k EscrowedKey) bool { return strings.EqualFold(k.ProtectorID, p.ID) }) {
		m.Escrow.AD = append(m.Escrow.AD, EscrowedKey{ProtectorID: strings.ToUpper(p.ID), Created: m.now(), VolumeType: int(v.VolumeType) + 1})
		EscrowChanged()
	}
	m.addEvent(784, data...)
	return hrOK
}

// backupToEntra is BackupRecoveryInformationToCloudDomain; events 845 / 846.
func (m *Machine) backupToEntra(v *Volume, id string) int64 {
	m.BackupCalls++
	p := v.protector(id)
	switch {
	case p == nil:
		return hrInvalidArg
	case p.Type != 3:
		return hrInvalidProtector
	}
	mount := v.DriveLetter
	if mount == "" {
		mount = v.DeviceID
	}
	trace := fmt.Sprintf("{%08x-0000-4000-8000-%012x}", len(m.Events)+1, len(m.Escrow.Entra)+1)
	if !m.Join.AzureAdJoined {
		m.addEvent(846, EventData{"VolumeMountPoint", mount}, EventData{"TraceGUID", trace}, EventData{"ErrorCode", "-2145648637"})
		return hrCloudBackupNotJoined
	}
	if m.EntraBackupError != 0 {
		// Event 846 carries the HRESULT as a signed decimal, as the
		// not-joined case above does.
		m.addEvent(846, EventData{"VolumeMountPoint", mount}, EventData{"TraceGUID", trace}, EventData{"ErrorCode", strconv.Itoa(int(int32(m.EntraBackupError)))})
		return int64(m.EntraBackupError)
	}
	if !slices.ContainsFunc(m.Escrow.Entra, func(k EscrowedKey) bool { return strings.EqualFold(k.ProtectorID, p.ID) }) {
		m.Escrow.Entra = append(m.Escrow.Entra, EscrowedKey{ProtectorID: strings.ToUpper(p.ID), Created: m.now(), VolumeType: int(v.VolumeType) + 1})
		EscrowChanged()
	}
	m.addEvent(845, EventData{"VolumeMountPoint", mount}, EventData{"ProtectorGUID", strings.ToLower(p.ID)}, EventData{"TraceGUID", trace})
	return hrOK
}

const bitlockerChannel = "Microsoft-Windows-BitLocker/BitLocker Management"

func runGetWinEvent(ip *interp, c *call) ([]any, error) {
	var logs []string
	var ids []int64
	if h, ok := c.get("filterhashtable").(*hashtable); ok {
		for _, p := range h.props {
			switch strings.ToLower(p.name) {
			case "logname":
				for _, l := range enumerate(p.value) {
					logs = append(logs, toStr(l))
				}
			case "id":
				for _, i := range enumerate(p.value) {
					n, _ := toNumber(i)
					ids = append(ids, int64(toFloat(n)))
				}
			case "providername":
				if !strings.EqualFold(toStr(p.value), "Microsoft-Windows-BitLocker-API") {
					logs = append(logs, "\x00none")
				}
			default:
				return nil, c.terminatingError("The "+p.name+" key is not supported by this emulation.", "InvalidHashtableKey", "InvalidArgument: (:) [Get-WinEvent], Exception", "System.Exception")
			}
		}
	}
	for _, l := range enumerate(c.get("logname")) {
		logs = append(logs, toStr(l))
	}
	for _, l := range logs {
		if !strings.EqualFold(l, bitlockerChannel) {
			return nil, ip.nonTerminating(c, &psError{msg: "There is not an event log on the localhost computer that matches \"" + l + "\".",
				fqid: "NoMatchingLogsFound," + c.spec.class, category: "ObjectNotFound: (" + ellipsize(l) + ":String) [Get-WinEvent], Exception", exType: "System.Exception"})
		}
	}
	max := int64(math.MaxInt64)
	if c.has("maxevents") {
		n, _ := toNumber(c.get("maxevents"))
		max = int64(toFloat(n))
	}
	var out []any
	for i := len(ip.m.Events) - 1; i >= 0 && int64(len(out)) < max; i-- {
		e := ip.m.Events[i]
		if len(ids) > 0 && !slices.Contains(ids, int64(e.ID)) {
			continue
		}
		out = append(out, ip.m.eventRecord(e))
	}
	if c.has("oldest") {
		slices.Reverse(out)
	}
	if len(out) == 0 {
		return nil, ip.nonTerminating(c, &psError{msg: "No events were found that match the specified selection criteria.",
			fqid: "NoMatchingEventsFound," + c.spec.class, category: "ObjectNotFound: (:) [Get-WinEvent], Exception", exType: "System.Exception"})
	}
	return out, nil
}

func eventLevel(id int) int64 {
	switch id {
	case 785, 846, 847, 829, 831:
		return 2
	}
	return 4
}

var levelNames = map[int64]string{2: "Error", 3: "Warning", 4: "Information"}

// eventRecord is an EventLogRecord with ToXml() in Windows' exact rendering.
func (m *Machine) eventRecord(e Event) *object {
	o := newObject("System.Diagnostics.Eventing.Reader.EventLogRecord",
		"Message", eventMessage(e),
		"Id", int64(e.ID),
		"Version", int64(0),
		"Qualifiers", nil,
		"Level", eventLevel(e.ID),
		"Task", int64(0),
		"Opcode", int64(0),
		"Keywords", int64(0x4000000000000000),
		"RecordId", e.RecordID,
		"ProviderName", "Microsoft-Windows-BitLocker-API",
		"ProviderId", "5d674230-ca9f-11da-a94d-0800200c9a66",
		"LogName", bitlockerChannel,
		"ProcessId", eventPID(e),
		"ThreadId", eventTID(e),
		"MachineName", m.fqdn(),
		"UserId", "S-1-5-18",
		"TimeCreated", e.Time,
		"LevelDisplayName", levelNames[eventLevel(e.ID)],
	)
	o.methods = map[string]method{"ToXml": func(*interp, []any) (any, error) { return m.eventXML(e), nil }}
	o.str = func() string { return "System.Diagnostics.Eventing.Reader.EventLogRecord" }
	return o
}

// activityID is a stable per-record correlation GUID.
func activityID(e Event) string {
	return fmt.Sprintf("{%08x-%04x-4%03x-8%03x-%012x}", uint32(e.RecordID*2654435761), e.ID, e.RecordID%4096, e.ID%4096, e.Time.UnixNano()&0xffffffffffff)
}

func eventPID(e Event) int64 { return 1000 + e.RecordID%5000*4 }
func eventTID(e Event) int64 { return 2000 + e.RecordID%3000*4 }

// eventXML renders EventLogRecord.ToXml() as EvtRender does: single-quoted
// attributes, no whitespace, the provider GUID in lower case, SystemTime
// with seven fractional digits, a Correlation ActivityID. Matched against a
// real BitLocker-API 783 record captured on a domain-joined Windows 11 host
// (quoted as a regression fixture in public code: "<Provider
// Name='Microsoft-Windows-BitLocker-API'
// Guid='{5d674230-ca9f-11da-a94d-0800200c9a66}'/>…<Correlation
// ActivityID='{…}'/>…").
func (m *Machine) eventXML(e Event) string {
	var b strings.Builder
	b.WriteString("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>")
	b.WriteString("<Provider Name='Microsoft-Windows-BitLocker-API' Guid='{5d674230-ca9f-11da-a94d-0800200c9a66}'/>")
	fmt.Fprintf(&b, "<EventID>%d</EventID><Version>0</Version><Level>%d</Level><Task>0</Task><Opcode>0</Opcode>", e.ID, eventLevel(e.ID))
	b.WriteString("<Keywords>0x4000000000000000</Keywords>")
	fmt.Fprintf(&b, "<TimeCreated SystemTime='%s'/>", e.Time.UTC().Format("2006-01-02T15:04:05.0000000Z"))
	fmt.Fprintf(&b, "<EventRecordID>%d</EventRecordID><Correlation ActivityID='%s'/>", e.RecordID, activityID(e))
	fmt.Fprintf(&b, "<Execution ProcessID='%d' ThreadID='%d'/>", eventPID(e), eventTID(e))
	b.WriteString("<Channel>" + bitlockerChannel + "</Channel><Computer>" + xmlText(m.fqdn()) + "</Computer>")
	b.WriteString("<Security UserID='S-1-5-18'/></System><EventData>")
	for _, d := range e.Data {
		b.WriteString("<Data Name='" + xmlText(d.Name) + "'>" + xmlText(d.Value) + "</Data>")
	}
	b.WriteString("</EventData></Event>")
	return b.String()
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;")

func xmlText(s string) string { return xmlEscaper.Replace(s) }

func eventData(e Event, name string) string {
	for _, d := range e.Data {
		if d.Name == name {
			return d.Value
		}
	}
	return ""
}

// eventMessage is the rendered message (wording approximate [?]).
func eventMessage(e Event) string {
	switch e.ID {
	case 783:
		return "BitLocker Drive Encryption recovery information for the volume was already backed up to Active Directory."
	case 784:
		return "BitLocker Drive Encryption recovery information for volume was backed up successfully to your Active Directory."
	case 785:
		return "BitLocker Drive Encryption recovery information for volume failed to be backed up to your Active Directory."
	case 845:
		return "BitLocker Drive Encryption recovery information for volume " + eventData(e, "VolumeMountPoint") + " was backed up successfully to your Azure AD."
	case 846:
		return "BitLocker Drive Encryption recovery information for volume " + eventData(e, "VolumeMountPoint") + " failed to be backed up to your Azure AD."
	}
	return ""
}

const fveKey = `HKLM:\SOFTWARE\Policies\Microsoft\FVE`

func runGetItemProperty(ip *interp, c *call) ([]any, error) {
	paths := enumerate(c.get("path"))
	if c.has("literalpath") {
		paths = enumerate(c.get("literalpath"))
	}
	var out []any
	for _, pv := range paths {
		path := toStr(pv)
		norm := strings.ToLower(strings.TrimSuffix(path, `\`))
		norm = strings.Replace(norm, `registry::hkey_local_machine`, "hklm:", 1)
		norm = strings.Replace(norm, `microsoft.powershell.core\`, "", 1)
		if norm != strings.ToLower(fveKey) || len(ip.m.FVEPolicy) == 0 {
			if err := ip.nonTerminating(c, &psError{msg: "Cannot find path '" + path + "' because it does not exist.",
				fqid: "PathNotFound," + c.spec.class, category: "ObjectNotFound: (" + ellipsize(path) + ":String) [Get-ItemProperty], ItemNotFoundException",
				exType: "System.Management.Automation.ItemNotFoundException"}); err != nil {
				return out, err
			}
			continue
		}
		// Values in name order (Windows enumerates them in creation order,
		// which the state does not keep), then the provider's PS* properties.
		o := newObject("System.Management.Automation.PSCustomObject")
		for _, k := range sortedKeys(ip.m.FVEPolicy) {
			switch x := ip.m.FVEPolicy[k].(type) {
			case uint32:
				o.props = append(o.props, property{k, int64(int32(x))})
			default:
				o.props = append(o.props, property{k, toStr(x)})
			}
		}
		drive := newObject("System.Management.Automation.PSDriveInfo", "Name", "HKLM", "Root", "HKEY_LOCAL_MACHINE", "Description", "The configuration settings for the local computer")
		drive.str = func() string { return "HKLM" }
		prov := newObject("System.Management.Automation.ProviderInfo", "Name", "Registry", "PSSnapIn", "Microsoft.PowerShell.Core")
		prov.str = func() string { return `Microsoft.PowerShell.Core\Registry` }
		o.props = append(o.props,
			property{"PSPath", `Microsoft.PowerShell.Core\Registry::HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\FVE`},
			property{"PSParentPath", `Microsoft.PowerShell.Core\Registry::HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft`},
			property{"PSChildName", "FVE"},
			property{"PSDrive", drive},
			property{"PSProvider", prov})
		if c.has("name") {
			sel := &object{typeNames: o.typeNames}
			for _, n := range enumerate(c.get("name")) {
				if v, ok := o.get(toStr(n)); ok {
					sel.props = append(sel.props, property{propName(o, toStr(n)), v})
				}
			}
			sel.props = append(sel.props, o.props[len(o.props)-5:]...)
			o = sel
		}
		out = append(out, o)
	}
	return out, nil
}

// dsregcmdStatus renders `dsregcmd /status`: a blank first line, banner
// boxes 72 wide, names right-aligned so that " : " starts at column 27
// (azure-docs troubleshoot-device-dsregcmd.md and a real capture over
// WinRM), Device and Tenant Details only when Entra joined, "Virtual
// Desktop" and "Device Name" as newer builds print them (shared/samples).
func (m *Machine) dsregcmdStatus() string {
	var b strings.Builder
	yn := func(v bool) string {
		if v {
			return "YES"
		}
		return "NO"
	}
	banner := func(title string) {
		b.WriteString("+----------------------------------------------------------------------+\r\n")
		fmt.Fprintf(&b, "| %-69s|\r\n", title)
		b.WriteString("+----------------------------------------------------------------------+\r\n\r\n")
	}
	line := func(name, value string) { fmt.Fprintf(&b, "%26s : %s\r\n", name, value) }
	b.WriteString("\r\n")
	banner("Device State")
	line("AzureAdJoined", yn(m.Join.AzureAdJoined))
	line("EnterpriseJoined", yn(m.Join.EnterpriseJoined))
	line("DomainJoined", yn(m.Join.DomainJoined))
	if m.Join.DomainJoined {
		line("DomainName", m.NetBIOSDomain)
	}
	line("Virtual Desktop", "NOT SET")
	line("Device Name", strings.ToLower(m.fqdn()))
	b.WriteString("\r\n")
	if m.Join.AzureAdJoined {
		banner("Device Details")
		line("DeviceId", m.Join.DeviceID)
		line("Thumbprint", thumbprint(m.Join.DeviceID))
		line("DeviceCertificateValidity", "[ 2024-01-15 09:12:44.000 UTC -- 2034-01-15 09:42:44.000 UTC ]")
		line("KeyContainerId", keyContainer(m.Join.DeviceID))
		line("KeyProvider", "Microsoft Platform Crypto Provider")
		line("TpmProtected", "YES")
		line("DeviceAuthStatus", "SUCCESS")
		b.WriteString("\r\n")
		banner("Tenant Details")
		line("TenantName", m.Join.TenantName)
		line("TenantId", m.Join.TenantID)
		line("AuthCodeUrl", "https://login.microsoftonline.com/"+m.Join.TenantID+"/oauth2/authorize")
		line("AccessTokenUrl", "https://login.microsoftonline.com/"+m.Join.TenantID+"/oauth2/token")
		line("MdmUrl", "https://enrollment.manage.microsoft.com/enrollmentserver/discovery.svc")
		line("MdmTouUrl", "https://portal.manage.microsoft.com/TermsofUse.aspx")
		line("MdmComplianceUrl", "https://portal.manage.microsoft.com/?portalAction=Compliance")
		line("SettingsUrl", "")
		line("JoinSrvVersion", "2.0")
		line("JoinSrvUrl", "https://enterpriseregistration.windows.net/EnrollmentServer/device/")
		line("JoinSrvId", "urn:ms-drs:enterpriseregistration.windows.net")
		line("KeySrvVersion", "1.0")
		line("KeySrvUrl", "https://enterpriseregistration.windows.net/EnrollmentServer/key/")
		line("KeySrvId", "urn:ms-drs:enterpriseregistration.windows.net")
		line("WebAuthNSrvVersion", "1.0")
		line("WebAuthNSrvUrl", "https://enterpriseregistration.windows.net/webauthn/"+m.Join.TenantID+"/")
		line("WebAuthNSrvId", "urn:ms-drs:enterpriseregistration.windows.net")
		line("DeviceManagementSrvVer", "1.0")
		line("DeviceManagementSrvUrl", "https://enterpriseregistration.windows.net/manage/"+m.Join.TenantID+"/")
		line("DeviceManagementSrvId", "urn:ms-drs:enterpriseregistration.windows.net")
		b.WriteString("\r\n")
	}
	// The remaining sections follow a real `dsregcmd.exe /status` run over
	// WinRM (an Evil-WinRM session, quoted in public notes): no WAM in a
	// network logon, hence WamDefaultSet ERROR and no PRT.
	banner("User State")
	line("NgcSet", "NO")
	line("WorkplaceJoined", "NO")
	line("WamDefaultSet", "ERROR")
	b.WriteString("\r\n")
	banner("SSO State")
	line("AzureAdPrt", "NO")
	line("AzureAdPrtAuthority", "NO")
	line("EnterprisePrt", "NO")
	line("EnterprisePrtAuthority", "NO")
	b.WriteString("\r\n")
	banner("Diagnostic Data")
	line("Diagnostics Reference", "www.microsoft.com/aadjerrors")
	line("User Context", "UN-ELEVATED User")
	line("Client Time", m.now().Format("2006-01-02 15:04:05.000")+" UTC")
	b.WriteString("\r\n")
	banner("Ngc Prerequisite Check")
	line("NgcPreReq", "ERROR 0xd0020017")
	line("IsDeviceJoined", "UNKNOWN")
	line("IsUserAzureAD", "UNKNOWN")
	line("PolicyEnabled", "UNKNOWN")
	line("PostLogonEnabled", "UNKNOWN")
	line("DeviceEligible", "UNKNOWN")
	line("SessionIsNotRemote", "YES")
	line("CertEnrollment", "none")
	line("PreReqResult", "WillNotProvision")
	b.WriteString("\r\n")
	return b.String()
}

// thumbprint and keyContainer derive stable fake identifiers from the deviceId.
func thumbprint(deviceID string) string {
	h := strings.ToUpper(strings.ReplaceAll(deviceID, "-", ""))
	for len(h) < 40 {
		h += "0"
	}
	return h[:40]
}

func keyContainer(deviceID string) string {
	r := []rune(deviceID)
	slices.Reverse(r)
	return string(r)
}
