// Package audit runs one fleet audit: it collects facts from every target
// through a [Collector], has escrow verified at the source by a [Verifier],
// evaluates policy with an [Evaluator], and assembles the [model.Result].
//
// A run never fails fast. Every target gets exactly one result slot, so every
// target appears exactly once in the result whatever happens to it: a host
// that cannot be reached, refuses the credentials, times out, answers garbage
// or is cut off by an interrupt gets a status and a reason instead of facts.
//
// The interfaces are declared here, at the consumer; the WinRM collector,
// the escrow checker and the rules engine satisfy them without importing
// this package.
package audit
