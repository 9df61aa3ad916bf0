package simulator

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/bitaudit/bitaudit/simulator/windows"
)

// The facts document a local collection (`bitaudit collect`, WMI on the
// host) writes, in the schema bitaudit documents in docs/facts-schema.md
// (bitaudit.facts/v1). The simulator writes it from each machine's state
// with its own code, by what Windows' WMI classes and tools report for that
// state (bitlocker.md §1, §3, §6), so that ingesting these files can be held
// against the WinRM audit of the same fleet.
type factsDoc struct {
	Schema       string           `json:"schema"`
	ToolVersion  string           `json:"tool_version"`
	CollectedAt  time.Time        `json:"collected_at"`
	Identity     factsIdentity    `json:"identity"`
	OS           factsOS          `json:"os"`
	FVEPolicy    map[string]int64 `json:"fve_policy"`
	BackupEvents []factsEvent     `json:"backup_events"`
	Volumes      []factsVolume    `json:"volumes"`
	// BitLockerNotInstalled, SystemVolumes and Collection: see the schema.
	BitLockerNotInstalled bool            `json:"bitlocker_not_installed,omitempty"`
	SystemVolumes         []factsVolume   `json:"system_volumes,omitempty"`
	Collection            factsCollection `json:"collection,omitzero"`
}

type factsCollection struct {
	EventsSkipped int                 `json:"events_skipped,omitempty"`
	SectionErrors []factsSectionError `json:"section_errors,omitempty"`
}

type factsSectionError struct {
	Section string `json:"section"`
	ID      string `json:"id"`
	Message string `json:"message"`
}

type factsIdentity struct {
	ComputerName  string `json:"computer_name"`
	FQDN          string `json:"fqdn,omitempty"`
	Domain        string `json:"domain,omitempty"`
	JoinState     string `json:"join_state"`
	EntraDeviceID string `json:"entra_device_id,omitempty"`
	TenantID      string `json:"tenant_id,omitempty"`
}

type factsOS struct {
	Caption string `json:"caption,omitempty"`
	Version string `json:"version,omitempty"`
	Build   string `json:"build,omitempty"`
}

type factsEvent struct {
	ID          int       `json:"id"`
	Time        time.Time `json:"time"`
	ProtectorID string    `json:"protector_id,omitempty"`
	MountPoint  string    `json:"mount_point,omitempty"`
	ErrorCode   string    `json:"error_code,omitempty"`
}

type factsVolume struct {
	MountPoint        string           `json:"mount_point"`
	DeviceID          string           `json:"device_id,omitempty"`
	Type              string           `json:"type"`
	Conversion        string           `json:"conversion_status"`
	EncryptionPercent float64          `json:"encryption_percentage"`
	UsedSpaceOnly     bool             `json:"used_space_only"`
	Protection        string           `json:"protection_status"`
	Locked            bool             `json:"locked"`
	Method            string           `json:"encryption_method"`
	SuspendCount      *int             `json:"suspend_count,omitempty"`
	Protectors        []factsProtector `json:"protectors"`
	Role              string           `json:"role,omitempty"`
	ReadErrors        []string         `json:"read_errors,omitempty"`
}

type factsProtector struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// Names of the WMI enumerations (Win32_EncryptableVolume: VolumeType,
// GetConversionStatus, GetProtectionStatus, GetEncryptionMethod,
// GetKeyProtectorType) in the facts schema's vocabulary.
var (
	factsVolumeTypes = []string{"os", "fixed", "removable"}
	factsConversions = []string{"fully_decrypted", "fully_encrypted", "encryption_in_progress", "decryption_in_progress", "encryption_paused", "decryption_paused"}
	factsProtections = []string{"off", "on", "unknown"}
	factsMethods     = []string{"none", "aes_128_diffuser", "aes_256_diffuser", "aes_128", "aes_256", "hardware", "xts_aes_128", "xts_aes_256"}
	factsProtTypes   = []string{"unknown", "tpm", "external_key", "recovery_password", "tpm_pin", "tpm_startup_key", "tpm_pin_startup_key", "public_key", "password", "tpm_network_key", "ad_account_or_group"}
)

// factsBackupEvents are the events a local collection reads (wevtutil, the
// 500 newest, like collect.ps1's Get-WinEvent -MaxEvents 500).
var factsBackupEvents = map[int]bool{783: true, 784: true, 785: true, 845: true, 846: true}

// Partition type GUIDs of the partitions Windows keeps for itself (UEFI
// spec §5.3.3; Microsoft Learn, "Configure UEFI/GPT-based hard drive
// partitions"): Windows RE tools and the EFI system partition.
const (
	gptRecoveryPartition = "{de94bba4-06d1-4d40-a16a-bfd50179d6ac}"
	gptSystemPartition   = "{c12a7328-f81f-11d2-ba4b-00a0c93ec93b}"
)

var (
	factsGUID      = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
	factsErrorCode = regexp.MustCompile(`^(-?[0-9]{1,20}|0[xX][0-9A-Fa-f]{1,16})$`)
)

// factsProtectorID is a key protector ID as a collection keeps it: a braced
// GUID; an eDrive's band protector ("BitLocker", bitlocker.md §1.2) is not one.
func factsProtectorID(id string) (string, bool) {
	inner := strings.TrimSuffix(strings.TrimPrefix(id, "{"), "}")
	return id, len(id) == len(inner)+2 && factsGUID.MatchString(inner)
}

func enumName(names []string, n uint32) string {
	if int(n) < len(names) {
		return names[n]
	}
	return "unknown"
}

// localFacts is what a local collection on m at the given time reports.
func localFacts(m *windows.Machine, at time.Time) factsDoc {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	d := factsDoc{
		Schema: "bitaudit.facts/v1", ToolVersion: "bitaudit simulator", CollectedAt: at.UTC(),
		OS:           factsOS{Caption: m.OS.Caption, Version: m.OS.Version, Build: m.OS.BuildNumber},
		FVEPolicy:    map[string]int64{},
		BackupEvents: []factsEvent{},
		Volumes:      []factsVolume{},
	}
	id := &d.Identity
	id.ComputerName = m.ComputerName
	// Win32_ComputerSystem: PartOfDomain with DNSHostName and Domain.
	if m.DNSDomain != "" {
		id.FQDN = strings.ToLower(m.ComputerName + "." + m.DNSDomain)
	}
	// dsregcmd /status: AzureAdJoined and DomainJoined decide the join;
	// DomainName is the NetBIOS name; DeviceId and TenantId when Entra joined.
	j := m.Join
	switch {
	case j.AzureAdJoined && j.DomainJoined:
		id.JoinState = "hybrid"
	case j.AzureAdJoined:
		id.JoinState = "entra"
	case j.DomainJoined:
		id.JoinState = "domain"
	case j.EnterpriseJoined:
		id.JoinState = "unknown"
	default:
		id.JoinState = "workgroup"
	}
	if j.DomainJoined {
		id.Domain = m.NetBIOSDomain
	}
	// Without a DomainName from dsregcmd, Win32_ComputerSystem.Domain of a
	// machine that is PartOfDomain names it.
	if id.Domain == "" && m.DNSDomain != "" && id.JoinState != "entra" && id.JoinState != "workgroup" {
		id.Domain = m.DNSDomain
	}
	if j.AzureAdJoined {
		id.EntraDeviceID, id.TenantID = strings.ToLower(j.DeviceID), strings.ToLower(j.TenantID)
	}
	for name, v := range m.FVEPolicy {
		if n, ok := v.(uint32); ok { // REG_DWORD; strings are not policy switches
			d.FVEPolicy[name] = int64(n)
		}
	}
	if m.NoBitLockerFeature {
		// No MicrosoftVolumeEncryption namespace and no BitLocker
		// Management channel: wevtutil fails with "The specified channel
		// could not be found." (ERROR_EVT_CHANNEL_NOT_FOUND, 15007).
		d.BitLockerNotInstalled = true
		d.Collection.SectionErrors = append(d.Collection.SectionErrors, factsSectionError{Section: "events", ID: "wevtutil 15007",
			Message: "Failed to read events. The specified channel could not be found."})
		return d
	}
	read := 0
	for i := len(m.Events) - 1; i >= 0 && read < 500; i-- {
		e := m.Events[i]
		if !factsBackupEvents[e.ID] {
			continue
		}
		read++
		fe, ok := factsBackupEvent(e)
		if !ok {
			d.Collection.EventsSkipped++
			continue
		}
		d.BackupEvents = append(d.BackupEvents, fe)
	}
	for _, v := range m.Volumes {
		fv := factsVolumeOf(v)
		// A letterless volume on a Windows RE or EFI system partition is
		// not a data volume (MSFT_Partition.GptType).
		switch {
		case v.DriveLetter == "" && strings.EqualFold(v.PartitionGptType, gptRecoveryPartition):
			fv.Role = "recovery"
		case v.DriveLetter == "" && strings.EqualFold(v.PartitionGptType, gptSystemPartition):
			fv.Role = "system"
		}
		if fv.Role != "" {
			d.SystemVolumes = append(d.SystemVolumes, fv)
		} else {
			d.Volumes = append(d.Volumes, fv)
		}
	}
	return d
}

// factsBackupEvent is what a collection keeps of a backup event: the
// protector GUID braced, the mount point and error code as written; false
// for a record whose values are not what Windows writes (it is skipped).
func factsBackupEvent(e windows.Event) (factsEvent, bool) {
	fe := factsEvent{ID: e.ID, Time: e.Time.UTC().Truncate(100 * time.Nanosecond)}
	for _, data := range e.Data {
		val := strings.TrimSpace(data.Value)
		switch data.Name {
		case "ProtectorGUID":
			inner := strings.TrimSuffix(strings.TrimPrefix(val, "{"), "}")
			switch {
			case val == "":
			case factsGUID.MatchString(inner) && (val == inner || len(val) == len(inner)+2):
				fe.ProtectorID = "{" + inner + "}"
			default:
				return fe, false
			}
		case "VolumeMountPoint":
			fe.MountPoint = val
		case "ErrorCode":
			if val != "" && !factsErrorCode.MatchString(val) {
				return fe, false
			}
			fe.ErrorCode = val
		}
	}
	return fe, true
}

// factsVolumeOf is what WMI's Get* methods report of a volume.
func factsVolumeOf(v *windows.Volume) factsVolume {
	fv := factsVolume{
		MountPoint: v.DriveLetter, DeviceID: v.DeviceID, Type: enumName(factsVolumeTypes, v.VolumeType),
		Protection: enumName(factsProtections, v.ProtectionStatus), Locked: v.LockStatus == 1,
		Protectors: []factsProtector{},
	}
	if fv.MountPoint == "" {
		fv.MountPoint = v.DeviceID
	}
	// GetConversionStatus and GetEncryptionMethod fail on a locked volume
	// (FVE_E_LOCKED_VOLUME): nothing is known of either.
	if fv.Locked {
		fv.Conversion, fv.Method = "unknown", "unknown"
	} else {
		fv.Conversion = enumName(factsConversions, v.ConversionStatus)
		fv.EncryptionPercent = float64(v.EncryptionPercentage)
		fv.UsedSpaceOnly = v.EncryptionFlags&1 != 0
		fv.Method = enumName(factsMethods, v.EncryptionMethod)
	}
	n := int(v.SuspendCount)
	fv.SuspendCount = &n
	for i, p := range v.Protectors {
		id, ok := factsProtectorID(p.ID)
		if !ok {
			fv.ReadErrors = append(fv.ReadErrors, fmt.Sprintf("key protector %d: ID %q is not a GUID", i, p.ID))
			continue
		}
		fv.Protectors = append(fv.Protectors, factsProtector{ID: id, Type: enumName(factsProtTypes, p.Type)})
	}
	return fv
}

// WriteFacts writes, into dir, the facts file a local collection on each
// host would produce at the given time, named <COMPUTERNAME>.json (with a
// suffix when two hosts claim one name). It returns the number written.
func WriteFacts(dir string, hosts []*Host, at time.Time) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	used := map[string]int{}
	written := 0
	for _, h := range hosts {
		d := localFacts(h.Machine, at)
		name := d.Identity.ComputerName
		if used[strings.ToLower(name)]++; used[strings.ToLower(name)] > 1 {
			name = fmt.Sprintf("%s-%d", name, used[strings.ToLower(name)])
		}
		b, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return 0, err
		}
		path := filepath.Join(dir, name+".json")
		tmp := filepath.Join(dir, "."+name+".json.tmp")
		if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
			return 0, err
		}
		if err := os.Rename(tmp, path); err != nil {
			return 0, err
		}
		written++
	}
	return written, nil
}
