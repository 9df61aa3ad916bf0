package escrow

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// A published string/octet-string pair: "7147a8de-129a-4edd-9533-83982050211f
// becomes dea847719a12dd4e953383982050211f" (leadfollowmove.com, "Converting a
// GUID string to octet string"), and [MS-DTYP] 2.3.4.2: Data1..Data3 little-endian.
func TestGUIDWindowsByteOrder(t *testing.T) {
	tests := []struct {
		id  string
		hex string
	}{
		{"7147a8de-129a-4edd-9533-83982050211f", "dea847719a12dd4e953383982050211f"},
		{"00112233-4455-6677-8899-aabbccddeeff", "33221100554477668899aabbccddeeff"},
		{"{C5E9D00C-1D4B-4E57-A0F1-8E2CB6A4D0F2}", "0cd0e9c54b1d574ea0f18e2cb6a4d0f2"},
	}
	for _, tt := range tests {
		raw, _ := hex.DecodeString(tt.hex)
		got, err := decodeGUID(raw)
		if err != nil {
			t.Fatalf("decodeGUID(%s): %v", tt.hex, err)
		}
		if want := normalize(tt.id); got != want {
			t.Errorf("decodeGUID(%s) = %s, want %s", tt.hex, got, want)
		}
		enc, err := encodeGUID(tt.id)
		if err != nil || !bytes.Equal(enc, raw) {
			t.Errorf("encodeGUID(%s) = %x, %v; want %s", tt.id, enc, err, tt.hex)
		}
	}
	if _, err := decodeGUID(make([]byte, 15)); err == nil {
		t.Error("decodeGUID accepted 15 bytes")
	}
	if _, err := encodeGUID("not-a-guid"); err == nil {
		t.Error("encodeGUID accepted a non-GUID")
	}
}

func normalize(s string) string {
	b := []byte(s)
	b = bytes.Trim(b, "{}")
	return string(bytes.ToLower(b))
}

func TestGUIDFromCN(t *testing.T) {
	tests := map[string]string{
		// The CN form from bitlocker.md §4.
		"2023-10-10T10:00:00-08:00{063EA4E1-220C-4293-BA01-4754620A96E7}": "063ea4e1-220c-4293-ba01-4754620a96e7",
		"2017-10-20T09:38:39-00:00{c5e9d00c-1d4b-4e57-a0f1-8e2cb6a4d0f2}": "c5e9d00c-1d4b-4e57-a0f1-8e2cb6a4d0f2",
		"no guid here":                          "",
		"2017-10-20T09:38:39{short}":            "",
		"{063EA4E1-220C-4293-BA01-4754620A96E7": "",
	}
	for cn, want := range tests {
		if got := guidFromCN(cn); got != want {
			t.Errorf("guidFromCN(%q) = %q, want %q", cn, got, want)
		}
	}
}

func TestEscapeBinary(t *testing.T) {
	if got := escapeBinary([]byte{0x0c, 0xd0, 0x28}); got != `\0c\d0\28` {
		t.Errorf("escapeBinary = %s", got)
	}
}

func TestParseGeneralizedTime(t *testing.T) {
	for _, s := range []string{"20231010180000.0Z", "20231010180000Z", "20231010180000.123456Z", "20231010200000+0200"} {
		got, err := parseGeneralizedTime(s)
		if err != nil {
			t.Errorf("parseGeneralizedTime(%q): %v", s, err)
			continue
		}
		if want := "2023-10-10T18:00:00Z"; got.Format("2006-01-02T15:04:05Z07:00") != want {
			t.Errorf("parseGeneralizedTime(%q) = %v, want %s", s, got, want)
		}
	}
	if _, err := parseGeneralizedTime("yesterday"); err == nil {
		t.Error("parseGeneralizedTime accepted garbage")
	}
}

func FuzzDecodeGUID(f *testing.F) {
	f.Add([]byte("0123456789abcdef"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := decodeGUID(b)
		if err != nil {
			return
		}
		back, err := encodeGUID(id)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("round trip %x -> %s -> %x, %v", b, id, back, err)
		}
	})
}
