package model

import "log/slog"

const redacted = "[redacted]"

// A Secret holds a credential. Every way of printing, logging or encoding it
// yields "[redacted]"; [Secret.Reveal] is the one greppable way to read it.
type Secret struct{ v string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.v }

// Empty reports whether the secret is unset.
func (s Secret) Empty() bool { return s.v == "" }

func (s Secret) String() string               { return redacted }
func (s Secret) GoString() string             { return redacted }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
