// Package krbsession is the Kerberos side of a simulated WinRM host: it
// accepts GSS-API Kerberos contexts from SPNEGO (RFC 4178, RFC 4559) or raw
// krb5 tokens with a service keytab, answers with an AP-REP carrying an
// acceptor subkey as Windows and MIT acceptors do, and seals and unseals
// messages with RFC 4121 Wrap tokens in the layout WinRM uses (EC 0, RRC
// 16+checksum, kerberos.md §2.5).
//
// gokrb5 verifies the AP-REQ (ticket decryption from the keytab, clock
// skew, replay cache); building the AP-REP and the Wrap tokens is this
// package's own code, written from RFC 4120 §5.5.2 and RFC 4121 §4.2 and
// sharing nothing with the auditor's client, so the two can disagree.
package krbsession
