// Package escrow verifies at the source that each recovery-password
// protector of a host is backed up: in Active Directory (msFVE-RecoveryInformation
// objects read over LDAP), in Entra ID (Microsoft Graph recoveryKeys) and in an
// external key store (a directory of "BitLocker Recovery Key <ID>.TXT" files).
//
// Protectors are matched by ID only. No key material is ever requested: LDAP
// searches never ask for msFVE-RecoveryPassword, Graph requests never select
// key, and external key files are never opened.
//
// # States
//
// [Checker.Verify] records, for every recovery-password protector, one
// [model.Backup] per location, always in the order of [model.Locations]:
//
//   - verified: the source holds this protector ID; Object names the
//     recovery object's DN, the Graph key ID or the file name.
//   - claimed: the source is not configured, and the host's event log (784 or
//     783 for AD, 845 for Entra ID) says the key was backed up.
//   - missing: the source was checked and lacks the key. When the key sits
//     elsewhere at the source (another computer object in AD, another device
//     in Entra ID), the state stays missing for the host's own object and
//     Object names where it was found; Reason says so. When a host event
//     claims a backup, Event is set: "claimed but missing".
//   - unknown: the source failed (Reason carries the error, and Event the
//     host's claim if there is one: a claim never stands in for a source
//     that could not be checked), does not apply to the host, or is not
//     configured and no event claims a backup; Reason says which. A location that does not apply (AD for a
//     host not joined to AD, Entra ID for a host not joined to Entra ID) is
//     recorded as unknown with reason "not joined to AD" or "not joined to
//     Entra ID" rather than omitted, so every protector has the same three
//     entries and the policy decides which locations count.
//
// Keys a source holds for the host that match none of its current protectors
// are added to a volume's StaleKeys: Entra keys to the volume of their
// volumeType, AD keys (which carry no volume type) to the OS volume.
//
// # Scale
//
// A Checker keeps at most ADConfig.MaxConns bound LDAP connections and
// reuses them for every host; searches are paged. Computer-object lookups
// are cached for the Checker's lifetime, recovery objects and keys are read
// on every Verify, so verifying a host again after remediation sees the new
// backup. Once a bind or a token request is refused, the Checker stops
// asking for the rest of the run (a wrong password retried by thousands of
// hosts would lock the account out).
//
// This package imports only model of bitaudit.
package escrow
