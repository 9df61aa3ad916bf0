// Package bitlocker decodes what Windows prints for the commands bitaudit's
// collection script runs (Windows PowerShell 5.1 ConvertTo-Json of
// Win32_EncryptableVolume and Get-BitLockerVolume, BitLocker Management
// event XML, the FVE policy registry key and dsregcmd /status) into model
// types.
//
// The package is pure: it does no I/O and imports only model. Everything it
// reads comes from the audited host and is treated as hostile: identifiers
// are validated, free text is cleaned, and a volume that cannot be decoded
// completely is an error, never a half-filled value that could look
// compliant. Errors about malformed input wrap [model.ErrProtocol]. No
// decoded value or error ever carries a recovery password.
package bitlocker
