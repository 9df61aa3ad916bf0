package bitlocker

import "testing"

func BenchmarkDecodeCollection(b *testing.B) {
	data := payload(b, "collection_domain.txt")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeCollection(data); err != nil {
			b.Fatal(err)
		}
	}
}
