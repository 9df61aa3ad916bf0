package bitlocker

import "github.com/bitaudit/bitaudit/model"

// Enum tables from Win32_EncryptableVolume and the BitLocker PowerShell
// module (shared/docs/bitlocker.md §1.3, §1.4, §2.1).

// volumeType maps Win32_EncryptableVolume.VolumeType.
func volumeType(n int64) (model.VolumeType, bool) {
	switch n {
	case 0:
		return model.VolumeOS, true
	case 1:
		return model.VolumeFixed, true
	case 2:
		return model.VolumeRemovable, true
	}
	return "", false
}

// conversionStatus maps GetConversionStatus.ConversionStatus, which uses the
// same numbers as the PowerShell VolumeStatus enum for 0..5 (4 and 5 are
// called EncryptionSuspended/DecryptionSuspended there).
func conversionStatus(n int64) (model.ConversionStatus, bool) {
	switch n {
	case 0:
		return model.FullyDecrypted, true
	case 1:
		return model.FullyEncrypted, true
	case 2:
		return model.EncryptionInProgress, true
	case 3:
		return model.DecryptionInProgress, true
	case 4:
		return model.EncryptionPaused, true
	case 5:
		return model.DecryptionPaused, true
	}
	return "", false
}

// protectionStatus maps GetProtectionStatus (PowerShell: Off, On, Unknown).
func protectionStatus(n int64) (model.ProtectionStatus, bool) {
	switch n {
	case 0:
		return model.ProtectionOff, true
	case 1:
		return model.ProtectionOn, true
	case 2:
		return model.ProtectionUnknown, true
	}
	return "", false
}

// encryptionMethod maps GetEncryptionMethod. -1 and its uint32 form
// 4294967295 mean "unknown" (bitlocker.md §1.3).
func encryptionMethod(n int64) (model.EncryptionMethod, bool) {
	switch n {
	case 0:
		return model.MethodNone, true
	case 1:
		return model.MethodAES128Diffuser, true
	case 2:
		return model.MethodAES256Diffuser, true
	case 3:
		return model.MethodAES128, true
	case 4:
		return model.MethodAES256, true
	case 5:
		return model.MethodHardware, true
	case 6:
		return model.MethodXTSAES128, true
	case 7:
		return model.MethodXTSAES256, true
	case -1, 4294967295:
		return model.MethodUnknown, true
	}
	return "", false
}

// protectorType maps KeyProtectorType 0..10 (bitlocker.md §1.4).
func protectorType(n int64) (model.ProtectorType, bool) {
	types := [...]model.ProtectorType{
		model.ProtectorUnknown, model.ProtectorTPM, model.ProtectorExternalKey,
		model.ProtectorRecoveryPassword, model.ProtectorTPMPIN, model.ProtectorTPMStartupKey,
		model.ProtectorTPMPINStartupKey, model.ProtectorPublicKey, model.ProtectorPassword,
		model.ProtectorTPMNetworkKey, model.ProtectorADAccount,
	}
	if n < 0 || n >= int64(len(types)) {
		return "", false
	}
	return types[n], true
}
