// Package history records audit runs and says what changed between them.
//
// A [Store] keeps every run (its metadata and figures, each host's status,
// each volume's state, every finding with its waiver state, the waivers and
// the remediation log) in SQLite, embedded and the default, or in
// PostgreSQL, for several auditors sharing one history. Both use one schema
// with versioned migrations; a database written by a newer bitaudit is
// refused and left untouched.
//
// [Compare] computes a [model.Delta] between two [Snapshot]s, from the store
// or from result files, and [Trend] the figures of the last runs.
package history
