package factsfile

import (
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// Schema identifies the facts document format this package reads and writes.
const Schema = "bitaudit.facts/v1"

// Document is one facts file. Field names are the schema's; see
// docs/facts-schema.md.
type Document struct {
	Schema      string    `json:"schema"`
	ToolVersion string    `json:"tool_version"`
	CollectedAt time.Time `json:"collected_at"`
	Identity    Identity  `json:"identity"`
	OS          OS        `json:"os"`
	// FVEPolicy holds the integer values set under
	// HKLM\SOFTWARE\Policies\Microsoft\FVE.
	FVEPolicy    map[string]int64 `json:"fve_policy"`
	BackupEvents []Event          `json:"backup_events"`
	Volumes      []Volume         `json:"volumes"`
	// BitLockerNotInstalled: the host has no BitLocker feature (no
	// MicrosoftVolumeEncryption WMI namespace), so Volumes is empty.
	BitLockerNotInstalled bool `json:"bitlocker_not_installed,omitempty"`
	// SystemVolumes are letterless recovery and system partitions, kept
	// apart from the audited volumes.
	SystemVolumes []Volume `json:"system_volumes,omitempty"`
	// Collection says what the collection could not read.
	Collection Collection `json:"collection,omitzero"`
}

// Collection records the gaps of a collection.
type Collection struct {
	// EventsSkipped counts backup events that could not be decoded.
	EventsSkipped int `json:"events_skipped,omitempty"`
	// SectionErrors lists the parts of the collection that failed.
	SectionErrors []SectionError `json:"section_errors,omitempty"`
}

// A SectionError is one part of the collection that failed on the host.
type SectionError struct {
	Section string `json:"section"`
	ID      string `json:"id"`
	Message string `json:"message"`
}

// Identity is who the host says it is. Like a remote host's report it is a
// claim: the audit matches it to the directory.
type Identity struct {
	ComputerName string `json:"computer_name"`
	FQDN         string `json:"fqdn,omitempty"`
	// Domain is the AD domain (NetBIOS or DNS name) of a domain or hybrid join.
	Domain        string          `json:"domain,omitempty"`
	JoinState     model.JoinState `json:"join_state"`
	EntraDeviceID string          `json:"entra_device_id,omitempty"`
	TenantID      string          `json:"tenant_id,omitempty"`
	MachineSID    string          `json:"machine_sid,omitempty"`
}

// OS is what Win32_OperatingSystem reports.
type OS struct {
	Caption string `json:"caption,omitempty"`
	Version string `json:"version,omitempty"`
	Build   string `json:"build,omitempty"`
}

// Event is a BitLocker Management backup event (783/784/785, 845/846).
type Event struct {
	ID          int       `json:"id"`
	Time        time.Time `json:"time"`
	ProtectorID string    `json:"protector_id,omitempty"`
	MountPoint  string    `json:"mount_point,omitempty"`
	ErrorCode   string    `json:"error_code,omitempty"`
}

// Volume is one BitLocker-capable volume. It has no escrow evidence: that
// is never taken from a host.
type Volume struct {
	MountPoint        string                 `json:"mount_point"`
	DeviceID          string                 `json:"device_id,omitempty"`
	Type              model.VolumeType       `json:"type"`
	Conversion        model.ConversionStatus `json:"conversion_status"`
	EncryptionPercent float64                `json:"encryption_percentage"`
	UsedSpaceOnly     bool                   `json:"used_space_only"`
	Protection        model.ProtectionStatus `json:"protection_status"`
	Locked            bool                   `json:"locked"`
	Method            model.EncryptionMethod `json:"encryption_method"`
	SuspendCount      *int                   `json:"suspend_count,omitempty"`
	Protectors        []Protector            `json:"protectors"`
	// Role is "recovery" or "system" for a volume of SystemVolumes.
	Role string `json:"role,omitempty"`
	// ReadErrors lists what could not be read about the volume; a volume
	// with read errors is reported as unreadable.
	ReadErrors []string `json:"read_errors,omitempty"`
}

// Protector is a key protector's ID and type, never its secret.
type Protector struct {
	ID   string              `json:"id"`
	Type model.ProtectorType `json:"type"`
}

// New builds the document for a local collection.
func New(facts model.HostFacts, vols []model.Volume, machineSID, toolVersion string, at time.Time) *Document {
	d := &Document{
		Schema: Schema, ToolVersion: toolVersion, CollectedAt: at.UTC(),
		Identity: Identity{
			ComputerName: facts.Hostname, FQDN: facts.FQDN, Domain: facts.Join.DomainName,
			JoinState: facts.Join.State, EntraDeviceID: facts.Join.EntraDeviceID, TenantID: facts.Join.TenantID,
			MachineSID: machineSID,
		},
		OS:                    OS{Caption: facts.OS.Caption, Version: facts.OS.Version, Build: facts.OS.Build},
		FVEPolicy:             facts.Policy,
		BackupEvents:          []Event{},
		Volumes:               docVolumes(vols),
		BitLockerNotInstalled: facts.BitLockerNotInstalled,
		Collection:            Collection{EventsSkipped: facts.Source.EventsSkipped},
	}
	if len(facts.SystemVolumes) > 0 {
		d.SystemVolumes = docVolumes(facts.SystemVolumes)
	}
	if d.FVEPolicy == nil {
		d.FVEPolicy = map[string]int64{}
	}
	for _, e := range facts.Events {
		d.BackupEvents = append(d.BackupEvents, Event{ID: e.ID, Time: e.Time, ProtectorID: e.ProtectorID, MountPoint: e.MountPoint, ErrorCode: e.ErrorCode})
	}
	for _, e := range facts.Source.SectionErrors {
		d.Collection.SectionErrors = append(d.Collection.SectionErrors, SectionError(e))
	}
	return d
}

func docVolumes(vols []model.Volume) []Volume {
	out := make([]Volume, 0, len(vols))
	for _, v := range vols {
		dv := Volume{
			MountPoint: v.MountPoint, DeviceID: v.DeviceID, Type: v.Type, Conversion: v.Conversion,
			EncryptionPercent: v.EncryptionPercent, UsedSpaceOnly: v.UsedSpaceOnly, Protection: v.Protection,
			Locked: v.Locked, Method: v.Method, SuspendCount: v.SuspendCount, Protectors: []Protector{},
			Role: v.Role, ReadErrors: v.ReadErrors,
		}
		for _, p := range v.Protectors {
			dv.Protectors = append(dv.Protectors, Protector{ID: p.ID, Type: p.Type})
		}
		out = append(out, dv)
	}
	return out
}

func modelVolumes(vols []Volume) []model.Volume {
	out := make([]model.Volume, 0, len(vols))
	for _, v := range vols {
		mv := model.Volume{
			MountPoint: v.MountPoint, DeviceID: v.DeviceID, Type: v.Type, Conversion: v.Conversion,
			EncryptionPercent: v.EncryptionPercent, UsedSpaceOnly: v.UsedSpaceOnly, Protection: v.Protection,
			Locked: v.Locked, Method: v.Method, SuspendCount: v.SuspendCount, Protectors: []model.Protector{},
			Role: v.Role, ReadErrors: v.ReadErrors,
		}
		for _, p := range v.Protectors {
			mv.Protectors = append(mv.Protectors, model.Protector{ID: p.ID, Type: p.Type})
		}
		out = append(out, mv)
	}
	return out
}

// Host returns the document as the facts and volumes of a host result.
// file names the facts file, for the record.
func (d *Document) Host(file string) (model.HostFacts, []model.Volume) {
	f := model.HostFacts{
		Hostname: d.Identity.ComputerName, FQDN: d.Identity.FQDN,
		OS: model.OSInfo{Caption: d.OS.Caption, Version: d.OS.Version, Build: d.OS.Build},
		Join: model.JoinInfo{
			State: d.Identity.JoinState, DomainName: d.Identity.Domain,
			EntraDeviceID: d.Identity.EntraDeviceID, TenantID: d.Identity.TenantID,
		},
		Policy: map[string]int64{},
		Events: []model.BackupEvent{},
		Source: model.Collection{Collector: "wmi", FactsFile: file, CollectedAt: d.CollectedAt,
			EventsSkipped: d.Collection.EventsSkipped},
		BitLockerNotInstalled: d.BitLockerNotInstalled,
	}
	for k, v := range d.FVEPolicy {
		f.Policy[k] = v
	}
	for _, e := range d.BackupEvents {
		f.Events = append(f.Events, model.BackupEvent{ID: e.ID, Time: e.Time, ProtectorID: e.ProtectorID, MountPoint: e.MountPoint, ErrorCode: e.ErrorCode})
	}
	for _, e := range d.Collection.SectionErrors {
		f.Source.SectionErrors = append(f.Source.SectionErrors, model.SectionError(e))
	}
	if len(d.SystemVolumes) > 0 {
		f.SystemVolumes = modelVolumes(d.SystemVolumes)
	}
	return f, modelVolumes(d.Volumes)
}

// Names returns the lower-case names the document's host may be targeted
// by: its FQDN and its computer name.
func (d *Document) Names() []string {
	var out []string
	if d.Identity.FQDN != "" {
		out = append(out, lower(d.Identity.FQDN))
	}
	return append(out, lower(d.Identity.ComputerName))
}
