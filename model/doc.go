// Package model defines the targets, host facts, findings and results passed
// between bitaudit's stages: collectors produce facts, rules turn facts into
// findings, audit assembles a [Result], and reports render it.
//
// It does no I/O and imports nothing of this project. The JSON encoding of
// [Result] is the versioned result document ("bitaudit.result/v1"), described
// in docs/result-schema.md; every field added here is part of that contract.
//
// No type in this package has a field for key material: protectors are
// identified by ID and type only.
package model
