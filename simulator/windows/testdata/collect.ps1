$ErrorActionPreference='Stop';$WarningPreference='SilentlyContinue'
'##BITAUDIT BEGIN 1'
'##SECTION os'
try{Get-CimInstance -ClassName Win32_OperatingSystem|Select-Object Caption,Version,BuildNumber|ConvertTo-Json -Compress}catch{'##ERROR '+$_.FullyQualifiedErrorId+' '+$_.Exception.Message}
'##SECTION computer'
try{Get-CimInstance -ClassName Win32_ComputerSystem|Select-Object Name,DNSHostName,Domain,PartOfDomain|ConvertTo-Json -Compress}catch{'##ERROR '+$_.FullyQualifiedErrorId+' '+$_.Exception.Message}
'##SECTION volumes'
try{$r=foreach($v in Get-CimInstance -Namespace root/CIMV2/Security/MicrosoftVolumeEncryption -ClassName Win32_EncryptableVolume){
$c=Invoke-CimMethod -InputObject $v -MethodName GetConversionStatus
$k=foreach($i in (Invoke-CimMethod -InputObject $v -MethodName GetKeyProtectors -Arguments @{KeyProtectorType=0}).VolumeKeyProtectorID){[pscustomobject]@{Id=$i;Type=(Invoke-CimMethod -InputObject $v -MethodName GetKeyProtectorType -Arguments @{VolumeKeyProtectorID=$i}).KeyProtectorType}}
[pscustomobject]@{DeviceID=$v.DeviceID;DriveLetter=$v.DriveLetter;VolumeType=$v.VolumeType;Protection=(Invoke-CimMethod -InputObject $v -MethodName GetProtectionStatus).ProtectionStatus;ConversionRet=$c.ReturnValue;Conversion=$c.ConversionStatus;Percent=$c.EncryptionPercentage;Flags=$c.EncryptionFlags;Method=(Invoke-CimMethod -InputObject $v -MethodName GetEncryptionMethod).EncryptionMethod;Lock=(Invoke-CimMethod -InputObject $v -MethodName GetLockStatus).LockStatus;Suspend=(Invoke-CimMethod -InputObject $v -MethodName GetSuspendCount).SuspendCount;Protectors=@($k)}}
ConvertTo-Json -InputObject @($r) -Depth 4 -Compress}catch{'##ERROR '+$_.FullyQualifiedErrorId+' '+$_.Exception.Message}
'##SECTION events'
try{ConvertTo-Json -InputObject @(Get-WinEvent -FilterHashtable @{LogName='Microsoft-Windows-BitLocker/BitLocker Management';Id=783,784,785,845,846} -MaxEvents 500|ForEach-Object{$_.ToXml()}) -Compress}catch{'##ERROR '+$_.FullyQualifiedErrorId+' '+$_.Exception.Message}
'##SECTION fve'
try{Get-ItemProperty -Path HKLM:\SOFTWARE\Policies\Microsoft\FVE -ErrorAction SilentlyContinue|Select-Object -Property * -ExcludeProperty PS*|ConvertTo-Json -Compress}catch{'##ERROR '+$_.FullyQualifiedErrorId+' '+$_.Exception.Message}
'##SECTION dsregcmd'
try{dsregcmd /status}catch{'##ERROR '+$_.FullyQualifiedErrorId+' '+$_.Exception.Message}
'##BITAUDIT END 6'
