package escrow

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/bitaudit/bitaudit/model"
)

// decodeGUID returns the GUID string (lower case, no braces) of a 16-byte
// binary GUID in Windows byte order: Data1, Data2 and Data3 little-endian,
// Data4 as is ([MS-DTYP] 2.3.4.2 "GUID--Packet Representation"; this is how
// AD stores objectGUID and msFVE-RecoveryGuid).
func decodeGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("binary GUID has %d bytes, want 16", len(b))
	}
	var s [16]byte
	s[0], s[1], s[2], s[3] = b[3], b[2], b[1], b[0]
	s[4], s[5] = b[5], b[4]
	s[6], s[7] = b[7], b[6]
	copy(s[8:], b[8:])
	h := hex.EncodeToString(s[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// encodeGUID is the inverse of decodeGUID: it accepts a GUID with or without
// braces, in any case.
func encodeGUID(id string) ([]byte, error) {
	id = model.NormalizeProtectorID(id)
	if !model.IsGUID(id) {
		return nil, fmt.Errorf("not a GUID: %q", id)
	}
	s, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	if err != nil {
		return nil, fmt.Errorf("not a GUID: %q", id)
	}
	b := make([]byte, 16)
	b[0], b[1], b[2], b[3] = s[3], s[2], s[1], s[0]
	b[4], b[5] = s[5], s[4]
	b[6], b[7] = s[7], s[6]
	copy(b[8:], s[8:])
	return b, nil
}

// guidFromCN returns the normalised GUID at the end of a recovery object's CN,
// "<date-time>{GUID}" (bitlocker.md §4), or "" when the CN has none.
func guidFromCN(cn string) string {
	i := strings.LastIndexByte(cn, '{')
	if i < 0 || !strings.HasSuffix(cn, "}") {
		return ""
	}
	id := model.NormalizeProtectorID(cn[i:])
	if !model.IsGUID(id) {
		return ""
	}
	return id
}

// escapeBinary returns b escaped for an LDAP filter value, every byte as \xx (RFC 4515 §3).
func escapeBinary(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		fmt.Fprintf(&sb, `\%02x`, c)
	}
	return sb.String()
}
