// Package simulator runs a fleet of simulated Windows hosts on loopback
// that speak WS-Management as Windows does, for bitaudit's tests,
// benchmarks, `bitaudit demo` and `bitaudit simulate`.
//
// Each host is a windows.Machine (its BitLocker state, join state, event
// log and escrow truth) served by its own WS-Management listener on its own
// loopback address. The fleet is described by a [Spec], read from YAML by
// [LoadSpec] or made by [DefaultSpec]; [Build] turns a spec into hosts and
// [Start] serves them. The same spec and seed always build the same fleet.
//
// The package imports nothing of bitaudit outside simulator/, so it cannot
// agree with bitaudit's collector merely by sharing code.
//
// # Fleet spec
//
// A spec is YAML, decoded strictly: unknown keys, wrong types and invalid
// values are rejected with "file:line: message". See
// testdata/fleet-example.yaml.
//
//	seed: 42                  # any integer; same seed, same fleet
//	hosts: 200                # fleet size; optional when every profile has a count
//	domain:                   # optional; these are the defaults
//	  dns: corp.example.test
//	  netbios: CORP
//	  tenant_id: 6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b
//	  tenant_name: Example Corp
//	latency: 200ms            # or {min: 20ms, max: 120ms} or {mean: 300ms, stddev: 50ms}
//	profiles:                 # counts first; the rest is split by share
//	  - name: domain-laptop
//	    share: 0.7
//	  - name: domain-server
//	    count: 10
//	    os: server2022        # optional override (see OSNames)
//	    prefix: SRV-          # optional computer-name prefix
//	    latency: 50ms         # optional override
//	faults:                   # share is a fraction of all hosts
//	  - kind: refused
//	    share: 0.03
//	  - kind: slow
//	    count: 2
//	    delay: 3s             # slow only (default 3s)
//	  - kind: huge
//	    count: 1
//	    size_mib: 32          # huge only (default 32)
//	long_command_line: error  # over 8191 characters: "error" (default) or "silent"
//	directory:                # computers the directory holds beyond the hosts (fractions of hosts)
//	  unlisted: 0.18          # answering, never added to the targets file
//	  offline: 0.06           # enabled and active, not answering now
//	  disabled: 0.03          # computer account disabled
//	  stale: 0.03             # enabled, no logon for 120 days or more
//
// Latency is drawn once per host from the host's own seeded source and
// added before every command's output. Hosts are named PREFIX-NNNN after
// their position in the fleet (LT-0001, WS-0002, SRV-0003).
//
// # Host profiles
//
// Each built-in profile is grounded in a capture in shared/samples or a
// section of bitlocker.md (named in profiles.go). Compliant under
// bitaudit's default policy (see [ProblemNoRecoveryPassword]):
//
//	domain-laptop          AD-joined, OS XTS-AES 128/256, TPM + recovery password, AD holds it, event 784
//	domain-desktop         as domain-laptop, named WS-
//	domain-server          Server 2019/2022, XTS-AES 256 OS and data volume (auto-unlock), both in AD
//	entra-laptop           Entra-joined, Entra ID holds the key, event 845
//	hybrid-laptop          hybrid-joined, AD and Entra ID hold the key, events 784 and 845
//	data-autounlock        data volume with recovery password and auto-unlock external key
//	used-space-only        OS and data volume encrypted used-space-only (EncryptionFlags 0x1)
//	tpm-pin                TPM+PIN protector plus a recovery password
//	workgroup              not joined; recovery key in the external key store
//	removable-unencrypted  compliant host with an unencrypted removable drive
//
// Noncompliant, with the problems in [Expectation.Problems]:
//
//	tpm-only               TPM only, no recovery password, no FVE   no_recovery_password, backup_not_required
//	never-escrowed         recovery password, no event, no key      escrow_missing, backup_not_required
//	backup-not-required    escrowed, OSRequireActiveDirectoryBackup absent   backup_not_required
//	escrow-lost            784/845 logged, the source lost the key  escrow_claimed_not_found
//	stale-escrow           AD holds only a removed protector's key  escrow_missing, stale_escrow
//	two-passwords          two recovery passwords, one escrowed     escrow_partial
//	suspended              protection suspended, 1-3 reboots left   protection_suspended
//	encrypting             encryption in progress at 99%            encryption_in_progress, protection_off
//	data-decrypted         fixed data volume fully decrypted        data_volume_decrypted
//	os-decrypted           OS volume fully decrypted                os_volume_decrypted
//	clear-key              encrypted, no protectors (clear key)     no_protectors
//	legacy-aes128          AES-CBC 128 (pre-XTS)                    weak_encryption_method
//	data-locked            locked data volume, key escrowed         volume_locked
//
// Cases real fleets have that a collector must survive (their sources are
// cited in profiles.go):
//
//	server-no-bitlocker    Windows Server without the BitLocker feature: no
//	                       MicrosoftVolumeEncryption namespace, module or
//	                       event channel; OS volume unencrypted      bitlocker_not_installed
//	odd-events             hybrid, compliant; events with \\?\Volume{…} paths
//	                       without trailing backslash, a folder mount point,
//	                       unbraced GUIDs, an empty ErrorCode        (compliant)
//	constrained-language   domain, compliant; Constrained Language Mode:
//	                       ToXml() and other non-core methods fail   (compliant)
//	winre-partition        domain, compliant; plus a letterless, unencrypted
//	                       Windows RE partition (GPT type de94bba4-…) (compliant)
//	edrive                 hardware-encrypted OS volume (method 5) whose
//	                       recovery password's protector ID is "BitLocker"   volume_unreadable
//	access-denied          the account is not a local administrator:
//	                       the BitLocker namespace says Access denied   status auth_failed
//
// Hostile, noncompliant: what a host says about itself is only a claim.
// Each takes from a victim (a compliant, fault-free host of the fleet drawn
// by the seed, one per hostile host; [Host.Victim] names it); the machine's
// [windows.Account] is what the directory, Entra ID and key store hold:
//
//	impostor               reports the victim's name, domain, join state, Entra deviceId,
//	                       volumes with their protector IDs and backup events; its own
//	                       hybrid-joined account holds no key     identity_mismatch
//	                       (the victim keeps its verdict: its identity matches the directory)
//	workgroup-liar         AD holds its computer object, it reports workgroup; its key
//	                       file sits in the victim's folder of the key store
//	                                                              join_state_mismatch, escrow_elsewhere
//	no-volumes             joined, reports no BitLocker volume at all   no_os_volume
//	duplicate-protector    its recovery password has the victim's protector ID
//	                                                              duplicate_protector (the victim too)
//	bidi-name              its computer name carries a right-to-left override (U+202E) and
//	                       would display as another name    protocol_error (hostile_value)
//
// Without a victim (a fleet of hostile hosts only) a hostile host keeps its
// own build: a recovery password never escrowed (escrow_missing).
//
// Remediation profiles, for --fix (status, then status after a fix pass in
// [Expectation.StatusAfterFix]):
//
//	inject-protector       a protector ID crafted as a PowerShell injection ('; Remove-Item …,
//	                       $(…), backticks, newlines)   noncompliant (volume_unreadable,
//	                                                    hostile_value), unchanged after a fix
//	inject-mountpoint      a DriveLetter crafted the same way   protocol_error, unchanged
//	drop-mid-action        never escrowed; the connection drops while the backup method runs
//	                       (it completes, the answer never arrives)  noncompliant, compliant
//	gpo-forbids-ad-backup  OSActiveDirectoryBackup=0: the AD backup method returns S_FALSE
//	                                                                 noncompliant, noncompliant
//	entra-backup-fails     Entra-joined, never escrowed; the Entra backup fails with
//	                       0x80072EE7 and event 846, nothing stored  noncompliant, noncompliant
//
// The backup methods answer as Windows does: BackupRecoveryInformationToActiveDirectory
// returns 0 and logs 784 (S_FALSE = 1 when the FVE policy does not allow AD DS backup,
// 785 and ERROR_NO_SUCH_DOMAIN when not domain-joined); BackupRecoveryInformationToCloudDomain
// logs 845 (846 with the error code on failure); ProtectKeyWithNumericalPassword adds a
// generated recovery password and logs 775. A successful backup updates the machine's
// escrow truth, so the simulated AD, Entra ID and the next audit see it. Every distinct
// command line a machine receives is recorded (Machine.Received), so a test can prove
// that no command reached a host. Profiles without an entry above keep their status after
// a fix, except escrow-lost, stale-escrow and two-passwords (compliant once backed up) and
// never-escrowed (its key is backed up where the FVE policy allows; backup_not_required stays).
//
// # Targets, escrow sources and expectations
//
// [Fleet.WriteTargets] writes CSV with the identity columns a directory
// inventory writes: host (ip:port), fqdn (the account's DNS name in the
// fleet's domain), ad_dn (CN=NAME,OU=Workstations,<domain DN>, when
// domain-joined) and entra_device_id (when Entra-joined), from the
// account, never from what the host reports. [Fleet.StartSources] serves
// the AD, Entra ID and external key store (one folder per computer:
// <dir>/<COMPUTERNAME>/BitLocker Recovery Key <ID>.TXT, [WriteKeyFile]).
// [Fleet.WriteExpectations] writes the expectation of every host as a JSON
// array of {target, profile, status, problems, status_after_fix,
// problems_after_fix}: the profile table's
// declared outcome, changed by faults and victims, never by a client.
//
// Compliant AD-joined profiles carry OSRequireActiveDirectoryBackup=1;
// Entra-joined ones vary (required, not required, no FVE key), since the
// value does not apply to them. Recovery passwords are fake but
// format-valid (eight groups of six digits, each a multiple of 11, at most
// 720885); protector IDs are upper-case GUIDs in braces.
//
// # The directory
//
// The simulated AD and Entra ID hold every host and, after them (named on
// from the last host's number), the directory-only computers of the spec's
// directory section ([Fleet.Directory]): unlisted ones are served like any
// host but left out of the targets file; offline, disabled and stale ones
// get an address where nothing listens (expected unreachable). They are
// drawn in turn from domain-laptop, never-escrowed, hybrid-laptop, tpm-only
// and domain-desktop, so some have keys escrowed and some none. Each
// machine's windows.DirectoryRecord gives its AD objectGUID (a hybrid
// machine's Entra deviceId is the same GUID), userAccountControl
// ACCOUNTDISABLE, lastLogonTimestamp and whenCreated (ages counted back
// from when the directory starts, drawn from a hash of seed and name), which
// the directory serves and Graph's devices list mirrors (accountEnabled,
// approximateLastSignInDateTime, trustType AzureAd or ServerAd).
// [DefaultSpec] adds 18% unlisted, 6% offline, 3% disabled and 3% stale
// computers. Simulated names do not resolve in DNS: [Fleet.WriteHostsFile]
// writes a hosts(5) file of every computer's account name, FQDN and
// address, and host certificates name the computer account.
//
// # Faults
//
// Fault kinds and what they do (winrm.md §6.4), with the status an auditor
// should then report:
//
//	slow            delay before each command's output             (profile's own status)
//	hung            commands never finish                          timeout
//	stall           partial response body, then silence            timeout
//	reset           TCP reset mid-exchange                         unreachable
//	refused         nothing listens at the host's address          unreachable
//	truncated       XML body cut short                             protocol_error
//	garbled         corrupt base64 in the output stream            protocol_error
//	huge            tens of MiB of output before the real output   protocol_error
//	quota           shell quota fault (2150859173) on Create       protocol_error
//	nonsoap         an HTML error page instead of SOAP             protocol_error
//	wrong_password  the host accepts a different password          auth_failed
//
// slow, hung and huge wrap the host's command runner; wrong_password
// changes the password the host accepts; reset, stall, truncated, garbled,
// quota and nonsoap are injected by the WS-Management layer; refused hosts
// get an address but no listener.
//
// # Serving
//
// [Start] gives host i the address Options.ListenBase+i (default from
// 127.0.10.1, skipping addresses ending in .0 or .255; Linux routes all of
// 127.0.0.0/8 to loopback), all on one port (5985, or 5986 with TLS). Every
// host accepts one account (Options.User, Options.Password) with Basic or
// NTLM; with TLS each host presents a certificate for its name, FQDN and
// address from a CA the fleet generates ([Fleet.CAPEM]). Start raises the
// soft open-file limit to the hard limit and refuses to start when that
// cannot hold one listener per host. [Fleet.Targets] lists every host,
// refused ones included, in the targets-file format.
//
// # Kerberos and channel binding
//
// With Options.Auth "kerberos" (or "negotiate": Kerberos and NTLM) the
// hosts are members of Options.Realm: each verifies AP-REQs with the
// service keys of Options.Keytab (export HTTP/<fqdn> keys from a real KDC;
// `bitaudit simulate --auth kerberos --keytab FILE --realm R`), accepting
// only tickets for its own computer account's names (another computer's
// ticket gets KRB_AP_ERR_NOT_US, as a relayed or misdirected login would),
// answers with an AP-REP carrying its own subkey, and over HTTP requires
// every message sealed with RFC 4121 Wrap tokens (package krbsession, its
// own code, checked against MIT's GSS-API). A clock skew over 5 minutes,
// a replayed authenticator or a client not asking for confidentiality is
// refused, with a KRB-ERROR where Windows sends one.
//
// Options.CBT is the WinRM service's CbtHardeningLevel for NTLM over HTTPS
// (`simulate --cbt`): "relaxed" refuses a login bound to another TLS
// channel, "strict" also one without channel binding (MS-NLMP
// MsvAvChannelBindings, RFC 5929 tls-server-end-point of the host's
// certificate).
package simulator
