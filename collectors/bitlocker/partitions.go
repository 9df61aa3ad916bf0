package bitlocker

import (
	"encoding/json"
	"strings"

	"github.com/bitaudit/bitaudit/model"
)

// Partition types that mark a partition as a system or recovery partition
// rather than a data volume: GPT type GUIDs (UEFI spec §5.3.3 and
// Microsoft Learn, "Configure UEFI/GPT-based hard drive partitions":
// Windows RE tools de94bba4-…, EFI system c12a7328-…) and the MBR type
// 0x27 Windows gives its recovery partition ("Configure BIOS/MBR-based
// hard drive partitions": set-id=27).
const (
	gptRecovery = "{de94bba4-06d1-4d40-a16a-bfd50179d6ac}"
	gptSystem   = "{c12a7328-f81f-11d2-ba4b-00a0c93ec93b}"
	mbrRecovery = 0x27
)

// A Partition is what the partitions section says about one partition
// (MSFT_Partition AccessPaths, GptType, MbrType).
type Partition struct {
	AccessPaths []string
	GptType     string // lower case; "" on MBR disks
	MbrType     int    // 0 on GPT disks
}

// Role is "recovery" or "system" for those partitions, "" otherwise.
func (p Partition) Role() string {
	switch {
	case p.GptType == gptRecovery, p.MbrType == mbrRecovery:
		return "recovery"
	case p.GptType == gptSystem:
		return "system"
	}
	return ""
}

// DecodePartitions decodes the partitions section: MSFT_Partition |
// Select-Object AccessPaths,GptType,MbrType | ConvertTo-Json (one object,
// an array, or nothing when there are none). Access paths that are not
// volume GUID paths or drive roots are ignored.
func DecodePartitions(data []byte) ([]Partition, error) {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, nil
	}
	type raw struct {
		AccessPaths json.RawMessage
		GptType     *string
		MbrType     *json.Number
	}
	raws, err := oneOrMany[raw]("partitions", data)
	if err != nil {
		return nil, err
	}
	out := make([]Partition, 0, len(raws))
	for i, r := range raws {
		var p Partition
		if r.GptType != nil {
			if !braceGUIDRE.MatchString(*r.GptType) {
				return nil, protocolf("partitions[%d]: GptType is not a {GUID}", i)
			}
			p.GptType = strings.ToLower(*r.GptType)
		}
		if n, ok, err := integer("MbrType", r.MbrType, 0, 255); err != nil {
			return nil, protocolf("partitions[%d]: %v", i, err)
		} else if ok {
			p.MbrType = int(n)
		}
		if len(r.AccessPaths) > 0 && string(r.AccessPaths) != "null" {
			paths, err := oneOrManyStrings("partitions AccessPaths", r.AccessPaths)
			if err != nil {
				return nil, err
			}
			for _, a := range paths {
				if deviceIDRE.MatchString(a) {
					p.AccessPaths = append(p.AccessPaths, a)
				}
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// splitSystemVolumes moves letterless volumes that sit on a recovery or
// system partition out of the audited volumes. A volume with a drive
// letter is always audited, whatever its partition type says.
func splitSystemVolumes(vols []model.Volume, parts []Partition) (audited, system []model.Volume) {
	role := map[string]string{}
	for _, p := range parts {
		if r := p.Role(); r != "" {
			for _, a := range p.AccessPaths {
				role[strings.ToLower(a)] = r
			}
		}
	}
	audited = make([]model.Volume, 0, len(vols))
	for _, v := range vols {
		if r := role[strings.ToLower(v.DeviceID)]; r != "" && v.MountPoint == v.DeviceID {
			v.Role = r
			system = append(system, v)
			continue
		}
		audited = append(audited, v)
	}
	return audited, system
}
