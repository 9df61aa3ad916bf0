// Package rules turns collected BitLocker facts into findings under a policy.
//
// Built-in rules are data ([Builtin] lists them explicitly; their IDs are
// stable and documented in the table below). A [Policy] is read from a strict
// YAML file ([LoadPolicy]) or taken from [DefaultPolicy]; it chooses the
// accepted backup locations by join state and volume type, the allowed
// encryption methods, the volume types that must be encrypted, severity
// overrides, disabled rules, waivers with a required expiry, and custom rules
// written in CEL. An [Engine] applies a policy to one host at a time
// ([Engine.Evaluate]) and is safe for concurrent use.
//
// The package is pure: it reads a policy from an [io.Reader] and nothing
// else, and the clock is always passed in. It imports only model.
//
// # Rule IDs
//
// IDs are dotted, lower case and stable; policy files, waivers and --fix refer
// to them:
//
//	identity.mismatch           the host reports another identity than the directory holds for the target
//	identity.unverified         nothing independent of the host names it; backups at most claimed
//	identity.join-mismatch      the host misreports its join state; evaluated by the directory's
//	identity.duplicate-protector a protector ID reported by two hosts or volumes in one run
//	volume.no-os-volume         a joined host reports no OS volume
//	host.not-audited            the host could not be audited
//	host.bitlocker-not-installed the BitLocker feature is missing (Windows Server)
//	volume.not-encrypted        a volume of a required type is fully decrypted
//	volume.protection-off       protection suspended (the clear key is on disk)
//	volume.clear-key            encrypted, protection off, no protectors at all
//	volume.conversion-incomplete encryption/decryption in progress or paused
//	volume.locked               locked or state unknown, could not be evaluated
//	volume.unreadable           part of the volume's state could not be read
//	volume.weak-method          encryption method not allowed by policy
//	volume.used-space-only      used-space-only where policy requires full
//	volume.tpm-only             TPM-only OS volume where policy requires a PIN
//	recovery.no-password        encrypted volume without a recovery password
//	escrow.missing              recovery password not backed up at an accepted location
//	escrow.unverified           backup could not be verified at any accepted location
//	escrow.claimed-missing      host event claims a backup the source does not hold
//	escrow.stale-only           the source holds only keys that match no current protector
//	escrow.partial              some, not all, recovery passwords backed up
//	policy.backup-not-required  FVE policy lets BitLocker start before the key is in AD DS
//	facts.stale                 a facts file (audit --facts) older than facts.max_age
//	waiver.expired              an expired waiver would have covered a finding
//	scope.not-audited           an enabled, active directory computer no target names
//	escrow.none-in-directory    not audited, and no directory holds a key for it
//
// The last two are about directory computers, audited or not:
// [Engine.EvaluateCoverage] raises them from a run's coverage section.
//
// Custom rules from a policy file carry the IDs their authors give them,
// which must not collide with these.
//
// # Policy files
//
// [DefaultPolicyYAML] is the commented default and documents every key and
// every CEL variable. A waiver applies until 00:00 UTC on its expiry date;
// a finding it covers stays in the result with [model.Finding.Waiver] set.
// After expiry the finding counts again and waiver.expired is reported on
// the host; [Engine.Waivers] lists every waiver as active, expiring (within
// 30 days) or expired.
//
// # Tests
//
// Each file in testdata/cases is one reviewable case (host.json, optional
// policy.yaml and now, want.json); testdata/policies holds malformed
// policies with their expected errors. `go test ./rules -update` rewrites
// the expectations.
package rules
