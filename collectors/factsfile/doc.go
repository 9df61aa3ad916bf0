// Package factsfile reads and writes facts files: what the local WMI
// collector (`bitaudit collect`) learned about one Windows host, in the
// versioned schema documented in docs/facts-schema.md, for `bitaudit audit
// --facts DIR` to evaluate and verify like a host audited over WinRM.
//
// A facts file is hostile input, like anything a host says: its size is
// bounded, its schema is strict (unknown fields, wrong types and invalid
// values reject the whole file, naming it), it can never carry escrow
// evidence (that is checked at the sources), and one bad file never stops a
// run: it is listed as a rejected input. Files are written atomically (a
// hidden temporary file, fsynced, then renamed), so a reader never picks up
// a half-written one.
package factsfile
