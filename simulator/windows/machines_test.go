package windows

import (
	"time"
)

// Fake recovery passwords: valid format, never real.
const (
	fakePW1 = "111111-222222-333333-444444-555555-666666-000000-111111"
	fakePW2 = "000000-111111-222222-333333-444444-555555-666666-000000"
	fakePW3 = "123453-234564-345675-456786-567897-678908-012342-123453"
)

var t0 = time.Date(2025, 3, 4, 10, 20, 30, 123456700, time.UTC)

func clock() time.Time { return t0.Add(48 * time.Hour) }

// domainMachine: OS volume (TPM + recovery password) and a fixed data volume
// with an auto-unlock external key, a removable volume without a letter.
func domainMachine() *Machine {
	return &Machine{
		ComputerName: "WS-0001", Now: clock, DNSDomain: "corp.example.test", NetBIOSDomain: "CORP",
		OS:        OSVersion{Caption: "Microsoft Windows 11 Enterprise", Version: "10.0.22631", BuildNumber: "22631"},
		Join:      JoinState{DomainJoined: true},
		FVEPolicy: map[string]any{"OSActiveDirectoryBackup": uint32(1), "OSRecovery": uint32(1), "OSRequireActiveDirectoryBackup": uint32(1), "OSActiveDirectoryInfoToStore": uint32(1), "EncryptionMethodWithXtsOs": uint32(7)},
		Volumes: []*Volume{
			{DeviceID: `\\?\Volume{1b2c3d4e-0000-4000-8000-000000000001}\`, DriveLetter: "C:", VolumeType: 0, CapacityBytes: 510856749056,
				ConversionStatus: 1, EncryptionPercentage: 100, EncryptionFlags: 1, ProtectionStatus: 1, EncryptionMethod: 7,
				Protectors: []*Protector{
					{ID: "{3B3E091C-ECB9-4B46-9FDD-A9E699EC3C8C}", Type: 1},
					{ID: "{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}", Type: 3, RecoveryPassword: fakePW1},
				}},
			{DeviceID: `\\?\Volume{1b2c3d4e-0000-4000-8000-000000000002}\`, DriveLetter: "D:", VolumeType: 1, CapacityBytes: 1000203837440,
				ConversionStatus: 2, EncryptionPercentage: 42, ProtectionStatus: 0, EncryptionMethod: 6,
				Protectors: []*Protector{
					{ID: "{C0FFEE00-1111-4222-8333-444455556666}", Type: 2, KeyFileName: "C0FFEE00-1111-4222-8333-444455556666.BEK", AutoUnlock: true},
					{ID: "{D00D0000-1111-4222-8333-444455556666}", Type: 3, RecoveryPassword: fakePW2},
				}},
			{DeviceID: `\\?\Volume{1b2c3d4e-0000-4000-8000-000000000003}\`, VolumeType: 2, CapacityBytes: 31914983424},
		},
		Events: []Event{
			{ID: 784, RecordID: 7, Time: t0, Data: []EventData{{"ProtectorGUID", "{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}"}, {"IdentificationGUID", "{1B2C3D4E-0000-4000-8000-000000000001}"}}},
			{ID: 785, RecordID: 9, Time: t0.Add(time.Hour), Data: []EventData{{"ProtectorGUID", "{D00D0000-1111-4222-8333-444455556666}"}, {"IdentificationGUID", "{1B2C3D4E-0000-4000-8000-000000000002}"}}},
		},
	}
}

// lockedMachine: workgroup host whose data volume is locked, suspended OS volume.
func lockedMachine() *Machine {
	return &Machine{
		ComputerName: "KIOSK-07", Now: clock, NetBIOSDomain: "WORKGROUP",
		OS: OSVersion{Caption: "Microsoft Windows 10 Pro", Version: "10.0.19045", BuildNumber: "19045"},
		Volumes: []*Volume{
			{DeviceID: `\\?\Volume{aaaaaaaa-0000-4000-8000-000000000001}\`, DriveLetter: "C:", VolumeType: 0, CapacityBytes: 255369887744,
				ConversionStatus: 1, EncryptionPercentage: 100, ProtectionStatus: 0, EncryptionMethod: 6, SuspendCount: 2,
				Protectors: []*Protector{{ID: "{11111111-2222-4333-8444-555555555555}", Type: 4}}},
			{DeviceID: `\\?\Volume{aaaaaaaa-0000-4000-8000-000000000002}\`, DriveLetter: "E:", VolumeType: 1, CapacityBytes: 2000398934016,
				ConversionStatus: 1, EncryptionPercentage: 100, ProtectionStatus: 2, LockStatus: 1, EncryptionMethod: 7,
				Protectors: []*Protector{{ID: "{22222222-3333-4444-8555-666666666666}", Type: 3, RecoveryPassword: fakePW3}, {ID: "{33333333-4444-4555-8666-777777777777}", Type: 8}}},
		},
	}
}

// entraMachine: Entra-joined laptop, one volume, 845 events, no FVE key.
func entraMachine() *Machine {
	return &Machine{
		ComputerName: "LAPTOP-Ä01", Now: clock, NetBIOSDomain: "WORKGROUP",
		OS:   OSVersion{Caption: "Microsoft Windows 11 Pro", Version: "10.0.26100", BuildNumber: "26100"},
		Join: JoinState{AzureAdJoined: true, DeviceID: "5820fbe9-60c8-43b0-bb11-44aee233e4e7", TenantID: "99999999-9999-9999-9999-999999999999", TenantName: "Contoso <Test> & 'Co'"},
		Volumes: []*Volume{
			{DeviceID: `\\?\Volume{bbbbbbbb-0000-4000-8000-000000000001}\`, DriveLetter: "C:", VolumeType: 0, CapacityBytes: 1022870564864,
				ConversionStatus: 1, EncryptionPercentage: 100, EncryptionFlags: 1, ProtectionStatus: 1, EncryptionMethod: 7,
				Protectors: []*Protector{{ID: "{44444444-5555-4666-8777-888888888888}", Type: 3, RecoveryPassword: fakePW1}, {ID: "{55555555-6666-4777-8888-999999999999}", Type: 1}}},
		},
		Events: []Event{
			{ID: 845, RecordID: 21, Time: t0, Data: []EventData{{"VolumeMountPoint", "C:"}, {"ProtectorGUID", "{44444444-5555-4666-8777-888888888888}"}, {"TraceGUID", "{01234567-89AB-4CDE-8F01-23456789ABCD}"}}},
		},
	}
}

// hybridMachine: hybrid joined (AD + Entra), decrypted OS volume, no events.
func hybridMachine() *Machine {
	return &Machine{
		ComputerName: "LAPTOP-HOSTNAME", Now: clock, DNSDomain: "on-prem-domain.com", NetBIOSDomain: "AAA",
		OS:        OSVersion{Caption: "Microsoft Windows 11 Enterprise", Version: "10.0.22631", BuildNumber: "22631"},
		Join:      JoinState{AzureAdJoined: true, DomainJoined: true, DeviceID: "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", TenantID: "99999999-9999-9999-9999-999999999999", TenantName: "Company Name"},
		FVEPolicy: map[string]any{"OSActiveDirectoryBackup": uint32(1), "OSRecoveryPassword": uint32(2)},
		Volumes: []*Volume{
			{DeviceID: `\\?\Volume{cccccccc-0000-4000-8000-000000000001}\`, DriveLetter: "C:", VolumeType: 0, CapacityBytes: 254721126400},
		},
	}
}

// emptyMachine: a workgroup server with no encryptable volumes at all.
func emptyMachine() *Machine {
	return &Machine{
		ComputerName: "SRV-EMPTY", Now: clock, NetBIOSDomain: "WORKGROUP",
		OS: OSVersion{Caption: "Microsoft Windows Server 2022 Standard", Version: "10.0.20348", BuildNumber: "20348"},
	}
}

// winVM mirrors the WIN-VM capture in shared/samples.
func winVM() *Machine {
	return &Machine{
		ComputerName: "WIN-VM", Now: clock, NetBIOSDomain: "WORKGROUP",
		OS: OSVersion{Caption: "Microsoft Windows 10 Pro", Version: "10.0.19045", BuildNumber: "19045"},
		Volumes: []*Volume{
			{DeviceID: `\\?\Volume{5f5a2f5e-0000-4000-8000-000000000001}\`, DriveLetter: "C:", VolumeType: 0, CapacityBytes: 510863081472,
				ConversionStatus: 1, EncryptionPercentage: 100, ProtectionStatus: 1, EncryptionMethod: 6,
				Protectors: []*Protector{
					{ID: "{8A696888-99A7-4FAC-92C7-6CC497EA7BDF}", Type: 3, RecoveryPassword: fakePW1},
					{ID: "{3B3E091C-ECB9-4B46-9FDD-A9E699EC3C8C}", Type: 1},
				}},
			{DeviceID: `\\?\Volume{5f5a2f5e-0000-4000-8000-000000000002}\`, DriveLetter: "E:", VolumeType: 1, CapacityBytes: 61955637248},
		},
	}
}
