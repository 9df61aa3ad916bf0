package simulator

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/bitaudit/bitaudit/simulator/windows"
)

// refTime anchors every generated timestamp, so a seed always yields the
// same event log and escrow dates whatever day the fleet is built.
var refTime = time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)

// An osVersion is one Windows release a host can run.
type osVersion struct {
	name    string
	caption string
	build   string
	server  bool
}

// The releases hosts run: builds as Win32_OperatingSystem reports them.
var osVersions = []osVersion{
	{"win10-22h2", "Microsoft Windows 10 Enterprise", "19045", false},
	{"win11-23h2", "Microsoft Windows 11 Enterprise", "22631", false},
	{"win11-24h2", "Microsoft Windows 11 Enterprise", "26100", false},
	{"server2019", "Microsoft Windows Server 2019 Standard", "17763", true},
	{"server2022", "Microsoft Windows Server 2022 Standard", "20348", true},
}

// OSNames lists the operating systems a profile entry's os may name.
func OSNames() []string {
	names := make([]string, len(osVersions))
	for i, o := range osVersions {
		names[i] = o.name
	}
	return names
}

func osByName(name string) (osVersion, bool) {
	for _, o := range osVersions {
		if o.name == name {
			return o, true
		}
	}
	return osVersion{}, false
}

// Encryption methods (Win32_EncryptableVolume.GetEncryptionMethod).
const (
	methodNone      = 0
	methodAES128    = 3
	methodHardware  = 5
	methodXTSAES128 = 6
	methodXTSAES256 = 7
)

// Key protector types (GetKeyProtectorType).
const (
	protTPM              = 1
	protExternalKey      = 2
	protRecoveryPassword = 3
	protTPMPIN           = 4
	protPassword         = 8
)

// Volume types (Win32_EncryptableVolume.VolumeType) and the matching Graph
// volumeType of an escrowed key.
const (
	volOS        = 0
	volFixed     = 1
	volRemovable = 2
)

// A gen builds one machine from a host's own seeded source. Its helpers
// keep the state consistent: every event has increasing time and record ID,
// every escrowed key names a real (or deliberately stale) protector.
type gen struct {
	r      *rand.Rand
	m      *windows.Machine
	domain Domain
	clock  time.Time
	record int64
}

func newGen(r *rand.Rand, name string, os osVersion, d Domain) *gen {
	g := &gen{r: r, domain: d}
	// The machine was set up between about two years and a month ago.
	g.clock = refTime.Add(-time.Duration(30+g.r.IntN(700)) * 24 * time.Hour)
	g.m = &windows.Machine{
		ComputerName:  name,
		NetBIOSDomain: "WORKGROUP",
		OS: windows.OSVersion{
			Caption:     os.caption,
			Version:     "10.0." + os.build,
			BuildNumber: os.build,
		},
	}
	return g
}

// later advances the clock by a few minutes to a few days.
func (g *gen) later() time.Time {
	g.clock = g.clock.Add(time.Duration(60+g.r.IntN(3*24*3600)) * time.Second)
	return g.clock
}

// guid returns a random version-4 GUID in upper case without braces.
func (g *gen) guid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// recoveryPassword returns a format-valid fake 48-digit recovery password:
// eight groups of six digits, each a multiple of 11 no greater than 720885.
func (g *gen) recoveryPassword() string {
	var b []byte
	for i := range 8 {
		if i > 0 {
			b = append(b, '-')
		}
		b = fmt.Appendf(b, "%06d", 11*g.r.IntN(65536))
	}
	return string(b)
}

func (g *gen) joinDomain() {
	g.m.DNSDomain = g.domain.DNS
	g.m.NetBIOSDomain = g.domain.NetBIOS
	g.m.Join.DomainJoined = true
}

func (g *gen) joinEntra() {
	g.m.Join.AzureAdJoined = true
	g.m.Join.DeviceID = strings.ToLower(g.guid())
	g.m.Join.TenantID = g.domain.TenantID
	g.m.Join.TenantName = g.domain.TenantName
}

func (g *gen) joinHybrid() {
	g.joinDomain()
	g.joinEntra()
}

// capacities are realistic volume sizes in bytes (samples: 118.16 GB,
// 350.26 GB, 475.78 GB, 938.04 GB, 57.70 GB, 580.45 GB).
var osCapacities = []float64{118.16, 237.87, 350.26, 475.78, 938.04}
var dataCapacities = []float64{57.70, 465.75, 580.45, 931.5}

func gib(gb float64) uint64 { return uint64(gb * (1 << 30)) }

// volume adds a volume in the given state; callers add protectors.
func (g *gen) volume(letter string, vtype uint32, method uint32) *windows.Volume {
	caps := osCapacities
	if vtype != volOS {
		caps = dataCapacities
	}
	v := &windows.Volume{
		DeviceID:         `\\?\Volume{` + strings.ToLower(g.guid()) + `}\`,
		DriveLetter:      letter,
		VolumeType:       vtype,
		CapacityBytes:    gib(caps[g.r.IntN(len(caps))]),
		EncryptionMethod: method,
	}
	if vtype == volFixed {
		v.Label = "Data"
	}
	if method != methodNone {
		v.ConversionStatus = 1
		v.EncryptionPercentage = 100
		v.ProtectionStatus = 1
	}
	g.m.Volumes = append(g.m.Volumes, v)
	return v
}

// xts picks XTS-AES 128 (the Windows default since 1511) or, less often, 256.
func (g *gen) xts() uint32 {
	if g.r.IntN(4) == 0 {
		return methodXTSAES256
	}
	return methodXTSAES128
}

func (g *gen) protector(v *windows.Volume, typ uint32) *windows.Protector {
	p := &windows.Protector{ID: "{" + g.guid() + "}", Type: typ}
	if typ == protRecoveryPassword {
		p.RecoveryPassword = g.recoveryPassword()
	}
	v.Protectors = append(v.Protectors, p)
	return p
}

func (g *gen) event(id int, data ...windows.EventData) {
	g.record++
	g.m.Events = append(g.m.Events, windows.Event{ID: id, RecordID: g.record, Time: g.later(), Data: data})
}

func graphVolumeType(v *windows.Volume) int { return int(v.VolumeType) + 1 }

// backupAD records event 784 and, when stored, the AD recovery object.
func (g *gen) backupAD(v *windows.Volume, p *windows.Protector, stored bool) {
	g.event(784,
		windows.EventData{Name: "ProtectorGUID", Value: p.ID},
		windows.EventData{Name: "IdentificationGUID", Value: "{" + g.guid() + "}"})
	if stored {
		g.m.Escrow.AD = append(g.m.Escrow.AD, windows.EscrowedKey{ProtectorID: p.ID, Created: g.clock, VolumeType: graphVolumeType(v)})
	}
}

// backupEntra records event 845 and, when stored, the Entra recovery key.
func (g *gen) backupEntra(v *windows.Volume, p *windows.Protector, stored bool) {
	mount := v.DriveLetter
	if mount == "" {
		mount = v.DeviceID
	}
	g.event(845,
		windows.EventData{Name: "VolumeMountPoint", Value: mount},
		windows.EventData{Name: "ProtectorGUID", Value: p.ID},
		windows.EventData{Name: "TraceGUID", Value: "{" + g.guid() + "}"})
	if stored {
		g.m.Escrow.Entra = append(g.m.Escrow.Entra, windows.EscrowedKey{ProtectorID: p.ID, Created: g.clock, VolumeType: graphVolumeType(v)})
	}
}

// escrow backs the recovery password up where the machine's join state
// sends it: AD for domain-joined, Entra ID for Entra-joined, both for
// hybrid (bitlocker.md §6), the external key store for workgroup machines.
func (g *gen) escrow(v *windows.Volume, p *windows.Protector) {
	j := g.m.Join
	if j.DomainJoined {
		g.backupAD(v, p, true)
	}
	if j.AzureAdJoined {
		g.backupEntra(v, p, true)
	}
	if !j.DomainJoined && !j.AzureAdJoined {
		g.later()
		g.m.Escrow.ExternalFiles = append(g.m.Escrow.ExternalFiles, windows.EscrowedKey{ProtectorID: p.ID, Created: g.clock, VolumeType: graphVolumeType(v)})
	}
}

// policy sets the FVE policy a GPO or Intune profile writes (bitlocker.md
// §6). requireBackup adds OSRequireActiveDirectoryBackup=1; some hosts have
// a policy without it, as real estates do.
func (g *gen) policy(requireBackup bool) {
	p := map[string]any{
		"OSRecovery":                   uint32(1),
		"OSManageDRA":                  uint32(0),
		"OSRecoveryPassword":           uint32(2),
		"OSRecoveryKey":                uint32(2),
		"OSHideRecoveryPage":           uint32(0),
		"OSActiveDirectoryBackup":      uint32(1),
		"OSActiveDirectoryInfoToStore": uint32(1),
		"EncryptionMethodWithXtsOs":    uint32(methodXTSAES128),
		"EncryptionMethodWithXtsFdv":   uint32(methodXTSAES128),
		"EncryptionMethodWithXtsRdv":   uint32(4), // AES-CBC 256 for removable drives
	}
	if requireBackup {
		p["OSRequireActiveDirectoryBackup"] = uint32(1)
		p["OSRecoveryPassword"] = uint32(1)
	}
	g.m.FVEPolicy = p
}

// somePolicy applies one of the Intune policy variants seen on Entra-joined
// machines, where OSRequireActiveDirectoryBackup does not apply: backup
// required, enabled but not required, or no FVE key at all.
func (g *gen) somePolicy() {
	switch n := g.r.IntN(10); {
	case n < 6:
		g.policy(true)
	case n < 9:
		g.policy(false)
	}
}
