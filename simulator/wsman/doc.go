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
// [Config.Fault] makes a host misbehave the way docs/winrm.md §6.4 describes:
//
//   - [FaultReset]: the first Receive of a command that carries output is
//     answered by a TCP RST
//     (the connection is hijacked, SO_LINGER set to 0 and closed); masterzen
//     reports "connection reset by peer" with exit code 0.
//   - [FaultStall]: that Receive gets response headers and half the body,
//     then nothing until the client goes away (or 10 minutes); masterzen
//     hangs unless its connection has a deadline.
//   - [FaultTruncated]: that Receive body is cut in the middle of the XML;
//     masterzen reports "XML syntax error … unexpected EOF".
//   - [FaultGarbled]: every stdout stream carries invalid base64; masterzen
//     silently returns truncated output.
//   - [FaultQuota]: every Create is refused with the MaxShellsPerUser fault
//     (2150859173); masterzen loses the fault and reports "Command has
//     already been closed".
//   - [FaultNonSOAP]: every request gets an HTTP 500 text/html error page, as
//     HTTP.sys sends when the service behind it is broken; masterzen reports
//     "http response error: 500 - invalid content type".
//
// Slow hosts, hung commands, huge output, wrong passwords and refused
// connections are produced by the caller (Runner wrappers, a different
// password, no listener).
package wsman
