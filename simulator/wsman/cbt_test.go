package wsman

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"testing"
)

// ntResponse is an NTLMv2 response whose client blob carries pairs.
func ntResponse(pairs ...[]byte) []byte {
	b := make([]byte, 16+blobPairs)
	b[16], b[17] = 1, 1
	for _, p := range pairs {
		b = append(b, p...)
	}
	return append(b, 0, 0, 0, 0) // MsvAvEOL
}

func cbtPair(v [16]byte) []byte {
	p := binary.LittleEndian.AppendUint16(nil, avChannelBindings)
	p = binary.LittleEndian.AppendUint16(p, 16)
	return append(p, v[:]...)
}

func TestCheckCBT(t *testing.T) {
	want := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	other := [16]byte{9}
	flags := []byte{6, 0, 4, 0, 2, 0, 0, 0}
	cases := []struct {
		name string
		nt   []byte
		ok   map[CBT]bool
	}{
		{"matching bindings", ntResponse(flags, cbtPair(want)), map[CBT]bool{CBTNone: true, CBTRelaxed: true, CBTStrict: true}},
		{"no bindings", ntResponse(flags), map[CBT]bool{CBTNone: true, CBTRelaxed: true, CBTStrict: false}},
		{"zero bindings", ntResponse(cbtPair([16]byte{})), map[CBT]bool{CBTNone: true, CBTRelaxed: true, CBTStrict: false}},
		{"another channel's bindings (relayed)", ntResponse(cbtPair(other)), map[CBT]bool{CBTNone: true, CBTRelaxed: false, CBTStrict: false}},
		{"truncated blob", make([]byte, 20), map[CBT]bool{CBTNone: true, CBTRelaxed: true, CBTStrict: false}},
	}
	for _, c := range cases {
		for level, ok := range c.ok {
			err := checkCBT(level, c.nt, want)
			if ok != (err == nil) || err != nil && !errors.Is(err, errCBT) {
				t.Errorf("%s, %s: %v, want ok=%v", c.name, level, err, ok)
			}
		}
	}
}

// TestServerEndPointHash holds the simulator's own binding computation to
// values made outside Go (openssl dgst and Python hashlib, in the
// auditor's tlsbind testdata): the simulator shares no code with it.
func TestServerEndPointHash(t *testing.T) {
	for name, want := range map[string]string{
		"rsa-sha256":   "723aeb7a1b4da4262e23edef62d3d3c4",
		"ecdsa-sha384": "6f660d2b51c27a71d88ee9ef29b6a8a3",
		"rsa-sha1":     "3c60dea7cdbce8f054124fae9715e680",
	} {
		b, err := os.ReadFile("../../collectors/winrm/tlsbind/testdata/" + name + ".pem")
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		got, err := serverEndPointHash(block.Bytes)
		if err != nil || hex.EncodeToString(got[:]) != want {
			t.Errorf("%s: %x, %v; want %s", name, got, err, want)
		}
	}
}

// TestCheckBindings: the same levels for a Kerberos authenticator's
// channel-binding hash.
func TestCheckBindings(t *testing.T) {
	want := [16]byte{7, 7, 7}
	for _, c := range []struct {
		level CBT
		got   [16]byte
		ok    bool
	}{
		{CBTStrict, want, true}, {CBTStrict, [16]byte{}, false}, {CBTStrict, [16]byte{1}, false},
		{CBTRelaxed, [16]byte{}, true}, {CBTRelaxed, [16]byte{1}, false}, {CBTNone, [16]byte{1}, true},
	} {
		if err := checkBindings(c.level, c.got, want); (err == nil) != c.ok {
			t.Errorf("%s, %x: %v, want ok=%v", c.level, c.got[:2], err, c.ok)
		}
	}
}
