package wsmvenc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

// xorSealer is a toy mechanism: data XOR 0x5a, signature = the 16-byte
// big-endian message number and length, checked on receipt.
type xorSealer struct{ sent, received uint64 }

func (x *xorSealer) Seal(msg []byte) ([]byte, []byte, error) {
	sig := binary.BigEndian.AppendUint64(nil, x.sent)
	sig = binary.BigEndian.AppendUint64(sig, uint64(len(msg)))
	x.sent++
	out := make([]byte, len(msg))
	for i, c := range msg {
		out[i] = c ^ 0x5a
	}
	return sig, out, nil
}

func (x *xorSealer) Unseal(sig, data []byte) ([]byte, error) {
	want := binary.BigEndian.AppendUint64(nil, x.received)
	want = binary.BigEndian.AppendUint64(want, uint64(len(data)))
	if !bytes.Equal(sig, want) {
		return nil, fmt.Errorf("bad signature %x", sig)
	}
	x.received++
	out := make([]byte, len(data))
	for i, c := range data {
		out[i] = c ^ 0x5a
	}
	return out, nil
}

func mustFrame(t testing.TB, s Sealer, soap string) []byte {
	t.Helper()
	b, err := Frame(s, []byte(soap))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFrameLayout(t *testing.T) {
	got := mustFrame(t, &xorSealer{}, "<s:Envelope/>")
	head := "--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n" +
		"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=13\r\n" +
		"--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n\x10\x00\x00\x00"
	if !bytes.HasPrefix(got, []byte(head)) || !bytes.HasSuffix(got, []byte("--Encrypted Boundary--\r\n")) ||
		len(got) != len(head)+16+13+len("--Encrypted Boundary--\r\n") {
		t.Errorf("Frame = %q", got)
	}
}

// badSealer returns data of the wrong length, which no framing can carry.
type badSealer struct{}

func (badSealer) Seal(msg []byte) ([]byte, []byte, error) { return nil, append(msg, 0), nil }

func TestFrameRejectsLengthChange(t *testing.T) {
	if _, err := Frame(badSealer{}, []byte("x")); !errors.Is(err, ErrFraming) {
		t.Errorf("Frame = %v, want ErrFraming", err)
	}
}

// TestUnframeParts: several encrypted parts (as in multipart/x-multi-
// encrypted), headers without indentation, and a missing closing boundary
// are all accepted; the plaintext is the parts in order.
func TestUnframeParts(t *testing.T) {
	c := &xorSealer{}
	var body []byte
	for _, p := range []string{"one", "two", "three"} {
		body = append(body, bytes.TrimSuffix(mustFrame(t, c, p), []byte(boundaryEnd))...)
	}
	body = bytes.ReplaceAll(body, []byte("\n\t"), []byte("\n"))
	got, err := Unframe(&xorSealer{}, body)
	if err != nil || string(got) != "onetwothree" {
		t.Fatalf("Unframe = %q, %v", got, err)
	}
}

func TestUnframeMalformed(t *testing.T) {
	for name, body := range map[string]string{
		"empty":          "",
		"no boundary":    "<s:Envelope/>",
		"no length":      boundaryLine + "\tContent-Type: " + protocolSPNEGO + "\r\n" + boundaryLine,
		"wrong protocol": boundaryLine + "\tContent-Type: application/HTTP-CredSSP-session-encrypted\r\n\tOriginalContent: type=x;Length=1\r\n" + boundaryLine,
		"short data":     boundaryLine + "\tContent-Type: " + protocolSPNEGO + "\r\n\tOriginalContent: type=x;Length=99\r\n" + boundaryLine + octetStreamLine + "\x10\x00\x00\x00" + "0123456789abcdef",
		"huge sig len":   boundaryLine + "\tContent-Type: " + protocolSPNEGO + "\r\n\tOriginalContent: type=x;Length=0\r\n" + boundaryLine + octetStreamLine + "\xff\xff\xff\xff",
		"negative len":   boundaryLine + "\tContent-Type: " + protocolSPNEGO + "\r\n\tOriginalContent: type=x;Length=-1\r\n" + boundaryLine,
	} {
		if _, err := Unframe(&xorSealer{}, []byte(body)); !errors.Is(err, ErrFraming) {
			t.Errorf("%s: error %v, want ErrFraming", name, err)
		}
	}
}

func TestIsEncrypted(t *testing.T) {
	for ct, want := range map[string]bool{
		ContentType: true,
		`multipart/x-multi-encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"`: true,
		`multipart/encrypted;protocol="application/HTTP-CredSSP-session-encrypted"`:                                      false,
		OriginalType: false,
	} {
		if got := IsEncrypted(ct); got != want {
			t.Errorf("IsEncrypted(%q) = %v", ct, got)
		}
	}
}

func FuzzUnframe(f *testing.F) {
	f.Add(mustFrame(f, &xorSealer{}, "<s:Envelope/>"))
	f.Add([]byte(boundaryLine + boundaryLine))
	f.Fuzz(func(t *testing.T, body []byte) {
		Unframe(&xorSealer{}, body) // must not panic
	})
}
