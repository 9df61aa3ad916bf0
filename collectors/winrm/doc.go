// Package winrm collects BitLocker facts from a Windows host over WinRM
// (WS-Management) with github.com/masterzen/winrm.
//
// One Collect runs the embedded collect.ps1 once (one shell, one
// powershell.exe) and decodes its framed output with collectors/bitlocker.
// The library version bitaudit uses swallows non-200 SOAP faults, can poll
// forever, has no cancellation and panics on empty Receive bodies
// (shared/docs/winrm.md §3.1 M1–M15), so every request goes through this
// package's own transport: it carries the caller's context, turns faults and
// HTTP errors into errors that wrap the model sentinels (keeping the fault
// text), validates every response before the library parses it, and caps
// the output. An outer guard returns at the context's deadline whatever the
// library's goroutines are doing.
//
// Each Collect attempt keeps one connection to its host (hostConn), and the
// security context, NTLM (ntlmAuth; ntlmseal when sealing) or any later one,
// is bound to that connection: it is never lost to a shared pool's eviction
// between handshake legs nor handed to another host, at any concurrency. A
// connection lost mid-handshake restarts the handshake on a new one.
package winrm
