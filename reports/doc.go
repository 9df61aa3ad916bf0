// Package reports renders a [model.Result] as the files a security team hands
// to an auditor: the versioned result document (result.json), a PDF, an XLSX
// workbook, a CSV of findings, and a manifest of SHA-256 hashes that may be
// signed with Ed25519 and checked with [Verify].
//
// Every format is rendered from the one result; no writer recomputes a
// figure (they print [model.Summary]), reads the clock or lets map order
// reach its output, so the same result always gives the same content.
//
// It imports only model from this project.
package reports
