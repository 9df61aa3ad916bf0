// Package wmi collects a Windows host's BitLocker facts locally, through
// WMI, for hosts the WinRM collector cannot reach (laptops off the corporate
// network, hosts with WinRM closed). `bitaudit collect` runs it on the host
// and writes a facts file that `bitaudit audit --facts DIR` ingests.
//
// It reads what collect.ps1 reads, the same way: Win32_EncryptableVolume in
// root\CIMV2\Security\MicrosoftVolumeEncryption through its live Get*
// methods (every ReturnValue kept; never GetKeyProtectorNumericalPassword),
// Win32_OperatingSystem and Win32_ComputerSystem, the FVE policy registry
// key, the BitLocker Management events (wevtutil, which prints the same
// event XML as EventLogRecord.ToXml) and dsregcmd /status. What it read is
// a [Snapshot]; [Snapshot.Sections] turns it into the sections the script
// prints, and collectors/bitlocker decodes those with the very checks it
// applies to a remote host's output, so both collectors agree by
// construction on what a value means.
//
// The WMI reading itself (yusufpapurcu/wmi, go-ole) is Windows-only; on other
// systems [Collector.Collect] returns [ErrNotWindows]. The conversion from
// recorded WMI values to model types is pure and tested everywhere.
package wmi
