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

// BenchmarkParseReceive measures reading one Receive answer carrying a whole
// collection output (parseResponse: scanXML and the base64 streams), and
// the same read through encoding/xml (parseResponseXML, the reference).
func BenchmarkParseReceive(b *testing.B) {
	body := []byte(envelope("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse", receiveBody(collectionOutput(b), nil, true, 0)))
	for _, p := range []struct {
		name  string
		parse func([]byte) (*response, error)
	}{{"scan", parseResponse}, {"encoding-xml", parseResponseXML}} {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.parse(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
