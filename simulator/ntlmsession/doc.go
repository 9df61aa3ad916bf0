// Package ntlmsession is the server half of NTLM session security for the
// simulated WinRM host: it recovers the session keys a client established in
// its NTLMv2 AUTHENTICATE message, and unseals requests and seals responses in
// the MS-WSMV encrypted message format, as Windows does when
// AllowUnencrypted=false.
//
// It is written from MS-NLMP 3.4 and MS-WSMV 2.2.9.1 independently of the
// collector's client (collectors/winrm/ntlmseal) and imports nothing of
// bitaudit outside the simulator, so the two cannot agree on a shared bug.
package ntlmsession
