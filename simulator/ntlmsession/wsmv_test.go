package ntlmsession

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// pair returns a client end and a server end sharing a random exported key.
func pair(t *testing.T) (client, server *Session) {
	t.Helper()
	key := bytes.Repeat([]byte{0x42}, 16)
	var err error
	if client, err = newSession(vectorFlags, key, true); err != nil {
		t.Fatal(err)
	}
	if server, err = NewServerSession(vectorFlags, key); err != nil {
		t.Fatal(err)
	}
	return client, server
}

func TestSealUnsealRoundTrip(t *testing.T) {
	client, server := pair(t)
	for i, msg := range []string{"<s:Envelope/>", strings.Repeat("x", 40000), ""} {
		ct, body, err := client.Seal([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		got, err := server.Unseal(ct, body)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if string(got) != msg {
			t.Fatalf("request %d: server got %d bytes, want %d", i, len(got), len(msg))
		}
		ct, body, err = server.Seal([]byte("reply " + msg))
		if err != nil {
			t.Fatal(err)
		}
		got, err = client.Unseal(ct, body)
		if err != nil || string(got) != "reply "+msg {
			t.Fatalf("response %d: %q, %v", i, got, err)
		}
	}
}

func TestSealFormat(t *testing.T) {
	_, server := pair(t)
	ct, body, err := server.Seal([]byte("<s:Envelope/>"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"`; ct != want {
		t.Errorf("content type %s, want %s", ct, want)
	}
	head := "--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n" +
		"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=13\r\n" +
		"--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n\x10\x00\x00\x00\x01\x00\x00\x00"
	if !bytes.HasPrefix(body, []byte(head)) || !bytes.HasSuffix(body, []byte("--Encrypted Boundary--\r\n")) {
		t.Errorf("body %q does not have the MS-WSMV layout", body)
	}
	if len(body) != len(head)-4+16+13+len("--Encrypted Boundary--\r\n") {
		t.Errorf("body is %d bytes", len(body))
	}
}

// TestUnsealMultiEncrypted: a multipart/x-multi-encrypted body of several
// pairs unseals to the concatenation, in order.
func TestUnsealMultiEncrypted(t *testing.T) {
	client, server := pair(t)
	var body []byte
	for _, chunk := range []string{"first 16 KiB", "second", "last"} {
		_, b, err := client.Seal([]byte(chunk))
		if err != nil {
			t.Fatal(err)
		}
		body = append(body, bytes.TrimSuffix(b, []byte("--Encrypted Boundary--\r\n"))...)
	}
	body = append(body, "--Encrypted Boundary--\r\n"...)
	ct := `multipart/x-multi-encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"`
	got, err := server.Unseal(ct, body)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "first 16 KiBsecondlast" {
		t.Errorf("unsealed %q", got)
	}
}

func TestUnsealRejects(t *testing.T) {
	tests := []struct {
		name   string
		mangle func(t *testing.T, client *Session, ct string, body []byte) (string, []byte)
		twice  bool // deliver the message twice: the replay must fail
		want   error
	}{
		{"bit flip in sealed data", func(t *testing.T, _ *Session, ct string, b []byte) (string, []byte) {
			b[len(b)-len("--Encrypted Boundary--\r\n")-1] ^= 1
			return ct, b
		}, false, ErrVerify},
		{"bit flip in checksum", func(t *testing.T, _ *Session, ct string, b []byte) (string, []byte) {
			i := bytes.Index(b, []byte("\x10\x00\x00\x00\x01\x00\x00\x00"))
			b[i+8] ^= 0x80
			return ct, b
		}, false, ErrVerify},
		{"replayed message", func(t *testing.T, client *Session, ct string, b []byte) (string, []byte) {
			return ct, b
		}, true, ErrVerify},
		{"plain SOAP", func(t *testing.T, _ *Session, _ string, _ []byte) (string, []byte) {
			return "application/soap+xml;charset=UTF-8", []byte("<s:Envelope/>")
		}, false, ErrNotEncrypted},
		{"truncated", func(t *testing.T, _ *Session, ct string, b []byte) (string, []byte) {
			return ct, b[:len(b)/2]
		}, false, ErrNotEncrypted},
		{"length beyond data", func(t *testing.T, _ *Session, ct string, b []byte) (string, []byte) {
			return ct, bytes.Replace(b, []byte("Length=13"), []byte("Length=99"), 1)
		}, false, ErrNotEncrypted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := pair(t)
			ct, body, err := client.Seal([]byte("<s:Envelope/>"))
			if err != nil {
				t.Fatal(err)
			}
			ct, body = tt.mangle(t, client, ct, body)
			if tt.twice {
				if _, err := server.Unseal(ct, body); err != nil {
					t.Fatalf("original message: %v", err)
				}
			}
			if _, err := server.Unseal(ct, body); !errors.Is(err, tt.want) {
				t.Fatalf("Unseal error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestUnsealOutOfOrder: a message sealed with a later sequence number than
// the server expects is refused, naming the sequence numbers.
func TestUnsealOutOfOrder(t *testing.T) {
	client, server := pair(t)
	if _, _, err := client.Seal([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	ct, body, err := client.Seal([]byte("second"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = server.Unseal(ct, body)
	if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "sequence number 1, expected 0") {
		t.Fatalf("Unseal error = %v, want a sequence number mismatch", err)
	}
	// The session is dead afterwards, even for well-formed messages.
	if _, _, err := server.Seal([]byte("x")); !errors.Is(err, ErrVerify) {
		t.Errorf("Seal after failure: %v, want ErrVerify", err)
	}
}

func FuzzUnseal(f *testing.F) {
	client, _ := newSession(vectorFlags, bytes.Repeat([]byte{0x42}, 16), true)
	_, body, _ := client.Seal([]byte("<s:Envelope/>"))
	f.Add(body)
	f.Add([]byte("--Encrypted Boundary\r\n--Encrypted Boundary\r\n"))
	ct := `multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"`
	f.Fuzz(func(t *testing.T, b []byte) {
		server, _ := NewServerSession(vectorFlags, bytes.Repeat([]byte{0x42}, 16))
		server.Unseal(ct, b) // must not panic
	})
}
