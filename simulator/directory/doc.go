// Package directory is the simulator's Active Directory: an LDAP server on
// loopback (built on github.com/jimlambrt/gldap) holding a computer object per
// domain-joined simulated machine and, below it, one msFVE-RecoveryInformation
// object per key the machine's escrow truth (windows.Machine.Escrow.AD) says
// the directory holds. Entries are built from the machines on every search,
// so a backup made by remediation shows up in the next query.
//
// It speaks what an auditor needs: simple bind (one configured account),
// LDAPS or StartTLS, base, one-level and subtree searches with the RFC 4515
// filter forms, the paged-results control (RFC 2696), and
// LDAP_MATCHING_RULE_BIT_AND on userAccountControl. As in AD, the
// confidential msFVE-RecoveryPassword is returned only when a search names it
// explicitly, never for "*".
//
// It imports nothing of bitaudit outside simulator/.
package directory
