package winrm

import (
	"io"
	"net/http/httptest"
	"testing"
)

// BenchmarkCollect measures the client-side cost of one collection (five
// SOAP exchanges, validation, decoding) against a loopback fake host.
func BenchmarkCollect(b *testing.B) {
	host := &fakeHost{user: "admin", pass: testPassword, stdout: collectionOutput(b)}
	srv := httptest.NewServer(host)
	defer srv.Close()
	c, err := New(basicHTTP(io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	tg := target(b, srv)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Collect(b.Context(), tg); err != nil {
			b.Fatal(err)
		}
	}
}
