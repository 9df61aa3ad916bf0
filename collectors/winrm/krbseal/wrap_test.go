package krbseal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/types"
)

var aesTypes = []struct {
	name    string
	id      int32
	keySize int
	sigSize int // MS-WSMV signature length: 16 header + RRC + 16 confounder
}{
	{"aes128-cts-hmac-sha1-96", etypeID.AES128_CTS_HMAC_SHA1_96, 16, 60},
	{"aes256-cts-hmac-sha1-96", etypeID.AES256_CTS_HMAC_SHA1_96, 32, 60},
	{"aes128-cts-hmac-sha256-128", etypeID.AES128_CTS_HMAC_SHA256_128, 16, 64},
	{"aes256-cts-hmac-sha384-192", etypeID.AES256_CTS_HMAC_SHA384_192, 32, 72},
}

func randomKey(t testing.TB, id int32, size int) types.EncryptionKey {
	k := make([]byte, size)
	rand.Read(k)
	return types.EncryptionKey{KeyType: id, KeyValue: k}
}

// pair returns both ends of one context.
func pair(t testing.TB, key types.EncryptionKey, acceptorSubkey bool) (initiator, acceptor *Session) {
	t.Helper()
	i, err := NewSession(key, true, acceptorSubkey, 1000, 7)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewSession(key, false, acceptorSubkey, 7, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return i, a
}

func TestSealUnsealEachEtype(t *testing.T) {
	for _, et := range aesTypes {
		for _, sub := range []bool{true, false} {
			t.Run(et.name, func(t *testing.T) {
				in, acc := pair(t, randomKey(t, et.id, et.keySize), sub)
				for _, msg := range []string{"<s:Envelope/>", "", "x", string(bytes.Repeat([]byte("é<rsp:Stream/>"), 5000))} {
					sig, data, err := in.Seal([]byte(msg))
					if err != nil {
						t.Fatal(err)
					}
					if len(sig) != et.sigSize || len(data) != len(msg) {
						t.Fatalf("signature %d bytes, data %d; want %d and %d", len(sig), len(data), et.sigSize, len(msg))
					}
					if sig[0] != 5 || sig[1] != 4 || sig[3] != 0xff || sig[4] != 0 || sig[5] != 0 || int(sig[7]) != et.sigSize-32 {
						t.Fatalf("header %x: want 05 04 .. ff, EC 0, RRC %d", sig[:8], et.sigSize-32)
					}
					got, err := acc.Unseal(sig, data)
					if err != nil || string(got) != msg {
						t.Fatalf("acceptor Unseal = %.40q, %v", got, err)
					}
					sig, data, err = acc.Seal([]byte(msg + "reply"))
					if err != nil {
						t.Fatal(err)
					}
					if wantFlags := byte(flagSealed | flagSentByAcceptor); sub && sig[2] != wantFlags|flagAcceptorSubkey || !sub && sig[2] != wantFlags {
						t.Fatalf("acceptor flags %#x", sig[2])
					}
					got, err = in.Unseal(sig, data)
					if err != nil || string(got) != msg+"reply" {
						t.Fatalf("initiator Unseal = %.40q, %v", got, err)
					}
				}
			})
		}
	}
}

func TestUnsealRejects(t *testing.T) {
	key := randomKey(t, etypeID.AES256_CTS_HMAC_SHA1_96, 32)
	type tok struct{ sig, data []byte }
	cases := map[string]func(t *testing.T, in, acc *Session) (*Session, tok){
		"bit flipped in data": func(t *testing.T, in, acc *Session) (*Session, tok) {
			sig, data, _ := in.Seal([]byte("hello world"))
			data[3] ^= 1
			return acc, tok{sig, data}
		},
		"bit flipped in checksum": func(t *testing.T, in, acc *Session) (*Session, tok) {
			sig, data, _ := in.Seal([]byte("hello world"))
			sig[20] ^= 0x80
			return acc, tok{sig, data}
		},
		"header flags changed": func(t *testing.T, in, acc *Session) (*Session, tok) {
			sig, data, _ := in.Seal([]byte("hello world"))
			sig[2] |= flagAcceptorSubkey
			return acc, tok{sig, data}
		},
		"replayed": func(t *testing.T, in, acc *Session) (*Session, tok) {
			sig, data, _ := in.Seal([]byte("hello world"))
			if _, err := acc.Unseal(bytes.Clone(sig), bytes.Clone(data)); err != nil {
				t.Fatal(err)
			}
			return acc, tok{sig, data}
		},
		"skipped one": func(t *testing.T, in, acc *Session) (*Session, tok) {
			in.Seal([]byte("lost"))
			sig, data, _ := in.Seal([]byte("hello world"))
			return acc, tok{sig, data}
		},
		"reflected to its sender": func(t *testing.T, in, acc *Session) (*Session, tok) {
			sig, data, _ := in.Seal([]byte("hello world"))
			return in, tok{sig, data}
		},
		"wrong key": func(t *testing.T, in, acc *Session) (*Session, tok) {
			other, _ := NewSession(randomKey(t, etypeID.AES256_CTS_HMAC_SHA1_96, 32), true, false, 1000, 7)
			sig, data, _ := other.Seal([]byte("hello world"))
			return acc, tok{sig, data}
		},
		"unsealed token": func(t *testing.T, in, acc *Session) (*Session, tok) {
			sig, data, _ := in.Seal([]byte("hello world"))
			sig[2] &^= flagSealed
			return acc, tok{sig, data}
		},
		"truncated": func(t *testing.T, in, acc *Session) (*Session, tok) {
			sig, _, _ := in.Seal([]byte("hello world"))
			return acc, tok{sig[:30], nil}
		},
		"MIC token": func(t *testing.T, in, acc *Session) (*Session, tok) {
			sig, data, _ := in.Seal([]byte("hello world"))
			sig[1] = 4
			sig[0] = 4
			return acc, tok{sig, data}
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			in, acc := pair(t, key, false)
			recv, tk := mk(t, in, acc)
			if _, err := recv.Unseal(tk.sig, tk.data); !errors.Is(err, ErrIntegrity) {
				t.Fatalf("Unseal = %v, want ErrIntegrity", err)
			}
			// The context is dead afterwards, even for a good token.
			sig, data, _ := in.Seal([]byte("after"))
			if _, err := recv.Unseal(sig, data); !errors.Is(err, ErrIntegrity) {
				t.Fatalf("Unseal after failure = %v, want ErrIntegrity", err)
			}
		})
	}
}

func TestNewSessionRejectsRC4AndDES(t *testing.T) {
	for _, id := range []int32{etypeID.RC4_HMAC, etypeID.DES3_CBC_SHA1_KD, 99} {
		_, err := NewSession(types.EncryptionKey{KeyType: id, KeyValue: make([]byte, 16)}, true, false, 0, 0)
		if !errors.Is(err, ErrEncType) {
			t.Errorf("etype %d: %v, want ErrEncType", id, err)
		}
	}
	if _, err := NewSession(types.EncryptionKey{KeyType: 23, KeyValue: make([]byte, 16)}, true, false, 0, 0); err == nil ||
		!bytes.Contains([]byte(err.Error()), []byte("msDS-SupportedEncryptionTypes")) {
		t.Errorf("RC4 error %v does not say what to change", err)
	}
}

func TestRotateLeft(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"abcdef", 2, "cdefab"}, {"abcdef", 0, "abcdef"}, {"abcdef", 8, "cdefab"}, {"", 3, ""}} {
		if got := string(rotateLeft([]byte(c.in), c.n)); got != c.want {
			t.Errorf("rotateLeft(%q, %d) = %q", c.in, c.n, got)
		}
	}
}

func BenchmarkSealUnseal(b *testing.B) {
	key := randomKey(b, etypeID.AES256_CTS_HMAC_SHA1_96, 32)
	in, acc := pair(b, key, true)
	soap := bytes.Repeat([]byte("<rsp:Stream>QUJD</rsp:Stream>"), 150000/29)
	b.SetBytes(int64(len(soap)))
	for b.Loop() {
		sig, data, err := in.Seal(soap)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := acc.Unseal(sig, data); err != nil {
			b.Fatal(err)
		}
	}
}
