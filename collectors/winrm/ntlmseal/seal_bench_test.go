package ntlmseal

import (
	"bytes"
	"testing"

	"github.com/bitaudit/bitaudit/collectors/winrm/wsmvenc"
)

// BenchmarkSealUnseal measures sealing and framing a 150 KB envelope (the
// MaxEnvelopeSize masterzen asks for) and unsealing it on a peer context.
func BenchmarkSealUnseal(b *testing.B) {
	key := bytes.Repeat([]byte{7}, 16)
	soap := bytes.Repeat([]byte("<rsp:Stream>QUJD</rsp:Stream>"), 150000/29)
	send, err := newClientSecurity(specFlags, key)
	if err != nil {
		b.Fatal(err)
	}
	recv, err := newClientSecurity(specFlags, key)
	if err != nil {
		b.Fatal(err)
	}
	// The receiving end plays the server: its receive direction is the
	// client-to-server one.
	recv.sendSign, recv.recvSign = recv.recvSign, recv.sendSign
	recv.sendSeal, recv.recvSeal = recv.recvSeal, recv.sendSeal
	b.SetBytes(int64(len(soap)))
	for b.Loop() {
		body, err := wsmvenc.Frame(send, soap)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := wsmvenc.Unframe(recv, body); err != nil {
			b.Fatal(err)
		}
	}
}
