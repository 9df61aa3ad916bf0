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

// BenchmarkDecodeCollectionV2 decodes format-2 output (partitions, wevtutil
// events, method return values, section errors) as the simulator prints it.
func BenchmarkDecodeCollectionV2(b *testing.B) {
	data := payload(b, "sim_collect_v2_clm_edrive_winre.txt")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeCollection(data); err != nil {
			b.Fatal(err)
		}
	}
}
