$ErrorActionPreference='Stop';$WarningPreference='SilentlyContinue'
'##BITAUDIT BEGIN 2'
'##SECTION os'
try{Get-CimInstance Win32_OperatingSystem|Select-Object Caption,Version,BuildNumber,@{n='LanguageMode';e={"$($ExecutionContext.SessionState.LanguageMode)"}}|ConvertTo-Json -Compress}catch{"##ERROR $($_.FullyQualifiedErrorId) $_"}
'##SECTION computer'
try{Get-CimInstance Win32_ComputerSystem|Select-Object Name,DNSHostName,Domain,PartOfDomain|ConvertTo-Json -Compress}catch{"##ERROR $($_.FullyQualifiedErrorId) $_"}
'##SECTION volumes'
try{$r=foreach($v in Get-CimInstance -Namespace root/CIMV2/Security/MicrosoftVolumeEncryption Win32_EncryptableVolume){
$p=Invoke-CimMethod -InputObject $v -MethodName GetProtectionStatus
$c=Invoke-CimMethod -InputObject $v -MethodName GetConversionStatus
$m=Invoke-CimMethod -InputObject $v -MethodName GetEncryptionMethod
$l=Invoke-CimMethod -InputObject $v -MethodName GetLockStatus
$s=Invoke-CimMethod -InputObject $v -MethodName GetSuspendCount
$g=Invoke-CimMethod -InputObject $v -MethodName GetKeyProtectors -Arguments @{KeyProtectorType=0}
$k=foreach($i in $g.VolumeKeyProtectorID){$t=Invoke-CimMethod -InputObject $v -MethodName GetKeyProtectorType -Arguments @{VolumeKeyProtectorID=$i};[pscustomobject]@{Id=$i;Type=$t.KeyProtectorType;Ret=$t.ReturnValue}}
[pscustomobject]@{DeviceID=$v.DeviceID;DriveLetter=$v.DriveLetter;VolumeType=$v.VolumeType;Protection=$p.ProtectionStatus;ProtectionRet=$p.ReturnValue;Conversion=$c.ConversionStatus;Percent=$c.EncryptionPercentage;Flags=$c.EncryptionFlags;ConversionRet=$c.ReturnValue;Method=$m.EncryptionMethod;MethodRet=$m.ReturnValue;Lock=$l.LockStatus;LockRet=$l.ReturnValue;Suspend=$s.SuspendCount;SuspendRet=$s.ReturnValue;ProtectorsRet=$g.ReturnValue;Protectors=@($k)}}
ConvertTo-Json -InputObject @($r) -Depth 4 -Compress}catch{"##ERROR $($_.FullyQualifiedErrorId) $_"}
'##SECTION partitions'
try{Get-CimInstance -Namespace root/Microsoft/Windows/Storage MSFT_Partition|Select-Object AccessPaths,GptType,MbrType|ConvertTo-Json -Compress}catch{"##ERROR $($_.FullyQualifiedErrorId) $_"}
'##SECTION events'
try{wevtutil qe 'Microsoft-Windows-BitLocker/BitLocker Management' "/q:*[System[(EventID=783 or EventID=784 or EventID=785 or EventID=845 or EventID=846)]]" /c:500 /rd:true /f:xml}catch{"##ERROR $($_.FullyQualifiedErrorId) $_"}
'##SECTION fve'
try{Get-ItemProperty -Path HKLM:\SOFTWARE\Policies\Microsoft\FVE -ErrorAction SilentlyContinue|Select-Object -Property * -ExcludeProperty PS*|ConvertTo-Json -Compress}catch{"##ERROR $($_.FullyQualifiedErrorId) $_"}
'##SECTION dsregcmd'
try{$ErrorActionPreference='Continue';dsregcmd /status}catch{"##ERROR $($_.FullyQualifiedErrorId) $_"}
'##BITAUDIT END 7'
