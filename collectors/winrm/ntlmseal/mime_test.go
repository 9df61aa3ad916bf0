package ntlmseal

import (
	"bytes"
	"errors"
	"testing"
)

// pair returns two ends of one context: c seals as the client, s unseals as
// the server (its receive direction is client-to-server).
func pair(t testing.TB) (c, s *security) {
	key := bytes.Repeat([]byte{9}, 16)
	c, err := newClientSecurity(specFlags, key)
	if err != nil {
		t.Fatal(err)
	}
	s, _ = newClientSecurity(specFlags, key)
	s.recvSign, s.recvSeal = s.sendSign, s.sendSeal
	return c, s
}

func TestFrameLayout(t *testing.T) {
	c, _ := pair(t)
	got := frame(c, []byte("<s:Envelope/>"))
	head := "--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n" +
		"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=13\r\n" +
		"--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n\x10\x00\x00\x00\x01\x00\x00\x00"
	if !bytes.HasPrefix(got, []byte(head)) || !bytes.HasSuffix(got, []byte("--Encrypted Boundary--\r\n")) ||
		len(got) != len(head)-4+16+13+len("--Encrypted Boundary--\r\n") {
		t.Errorf("frame = %q", got)
	}
}

// TestUnframeParts: several encrypted parts (as in multipart/x-multi-
// encrypted), headers without indentation, and a missing closing boundary
// are all accepted; the plaintext is the parts in order.
func TestUnframeParts(t *testing.T) {
	c, s := pair(t)
	var body []byte
	for _, p := range []string{"one", "two", "three"} {
		body = append(body, bytes.TrimSuffix(frame(c, []byte(p)), []byte(boundaryEnd))...)
	}
	body = bytes.ReplaceAll(body, []byte("\n\t"), []byte("\n"))
	got, err := unframe(s, body)
	if err != nil || string(got) != "onetwothree" {
		t.Fatalf("unframe = %q, %v", got, err)
	}
}

func TestUnframeMalformed(t *testing.T) {
	for name, body := range map[string]string{
		"empty":          "",
		"no boundary":    "<s:Envelope/>",
		"no length":      boundaryLine + "\tContent-Type: " + protocolSPNEGO + "\r\n" + boundaryLine,
		"wrong protocol": boundaryLine + "\tContent-Type: application/HTTP-CredSSP-session-encrypted\r\n\tOriginalContent: type=x;Length=1\r\n" + boundaryLine,
		"short data":     boundaryLine + "\tContent-Type: " + protocolSPNEGO + "\r\n\tOriginalContent: type=x;Length=99\r\n" + boundaryLine + octetStreamLine + "\x10\x00\x00\x00" + "0123456789abcdef",
	} {
		_, s := pair(t)
		if _, err := unframe(s, []byte(body)); !errors.Is(err, errFraming) {
			t.Errorf("%s: error %v, want errFraming", name, err)
		}
	}
}

func FuzzUnframe(f *testing.F) {
	c, _ := pair(f)
	f.Add(frame(c, []byte("<s:Envelope/>")))
	f.Add([]byte(boundaryLine + boundaryLine))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, s := pair(t)
		unframe(s, body) // must not panic
	})
}
