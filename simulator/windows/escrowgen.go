package windows

import "sync/atomic"

// escrowGeneration counts the changes to any machine's Escrow in this
// process. The simulated directories index the escrowed keys and build
// their indexes again when it has moved since, rather than scan every
// machine for every request.
var escrowGeneration atomic.Uint64

// EscrowGeneration is the number of changes to machines' Escrow so far.
func EscrowGeneration() uint64 { return escrowGeneration.Load() }

// EscrowChanged records a change to a machine's Escrow: whatever adds a key
// to an EscrowTruth after a directory serving it started (a backup the
// machine ran, a test) calls it.
func EscrowChanged() { escrowGeneration.Add(1) }
