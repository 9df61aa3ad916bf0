// Package windows emulates the parts of a Windows host that a WinRM client
// can observe: cmd.exe command-line handling, and a documented subset of
// Windows PowerShell 5.1 answering from a [Machine]'s state with the exact
// text Windows prints. See the package documentation in powershell.go for the
// list of emulated commands; anything else fails as Windows does.
//
// It imports nothing of bitaudit outside the simulator, so it cannot agree
// with the collector merely by sharing code.
package windows
