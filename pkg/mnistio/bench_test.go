package mnistio

import "testing"

// BenchmarkLoadData loads, checks and decodes all 70000 images and labels.
// bench/mnistio/run.sh compares it with NumPy.
func BenchmarkLoadData(b *testing.B) {
	dir, err := Dir()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(70000 * (784 + 1))
	for b.Loop() {
		if _, _, err := LoadDir(dir); err != nil {
			b.Fatal(err)
		}
	}
}
