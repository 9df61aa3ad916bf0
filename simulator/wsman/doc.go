// Package wsman serves WS-Management as a Windows host's WinRM service does,
// for the remote-shell subset a WinRM client uses: Create, Command, Send,
// Receive, Signal and Delete on the cmd shell resource, with Basic and NTLMv2
// authentication, quotas, idle expiry and injectable faults.
//
// What runs inside a shell is not this package's job: a [Runner] answers each
// command line. The server is written from the protocol (MS-WSMV, MS-NLMP and
// the real-Windows envelopes quoted in docs/winrm.md §6.7), not from any
// client, and imports nothing else of bitaudit.
//
// # Fault profiles
//
// [Config.Fault] makes a host misbehave the way docs/winrm.md §6.4 describes,
// each on the first opportunity of every command:
//
//   - [FaultReset]: the first Receive of a command is answered by a TCP RST
//     (the connection is hijacked, SO_LINGER set to 0 and closed).
//   - [FaultStall]: the first Receive gets response headers and part of the
//     body, then nothing until the client goes away (or 10 minutes).
//   - [FaultTruncated]: the first Receive body is cut in the middle of the XML.
//   - [FaultGarbled]: stdout streams carry invalid base64.
//   - [FaultQuota]: every Create is refused with the MaxShellsPerUser fault
//     (2150859173).
//   - [FaultNonSOAP]: every request gets an HTTP 500 text/html error page, as
//     HTTP.sys/IIS send when the service behind them is broken.
//
// Slow hosts, hung commands, huge output, wrong passwords and refused
// connections are produced by the caller (Runner wrappers, a different
// password, no listener).
package wsman
