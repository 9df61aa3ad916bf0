// Package winrm collects BitLocker facts from a Windows host over WinRM
// (WS-Management) with github.com/masterzen/winrm.
//
// One Collect runs the embedded collect.ps1 once (one shell, one
// powershell.exe) and decodes its framed output with collectors/bitlocker.
// The library version bitaudit uses swallows non-200 SOAP faults, can poll
// forever, has no cancellation and panics on empty Receive bodies
// (shared/docs/winrm.md §3.1 M1–M15), so the package uses masterzen for
// what it does well, building the WS-Management requests (once per
// Collector: requestTemplates), and drives the shell itself
// (transport.runShell): every request carries the caller's context, faults
// and HTTP errors become errors that wrap the model sentinels (keeping the
// fault text), every answer is validated and parsed once (parseResponse,
// held to masterzen's own parsers by FuzzParseResponse), and the output is
// capped. An outer guard returns at the context's deadline while the
// shell's Signal and Delete still go out.
//
// Each Collect attempt keeps one connection to its host (hostConn), and the
// security context, NTLM (ntlmAuth; ntlmseal when sealing) or any later one,
// is bound to that connection: it is never lost to a shared pool's eviction
// between handshake legs nor handed to another host, at any concurrency. A
// connection lost mid-handshake restarts the handshake on a new one.
package winrm
