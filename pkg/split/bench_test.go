package split

import (
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
)

// BenchmarkRemoteRoundTrip sends a cut activation of the course model (64 ×
// 640 float32) to an in-test worker over loopback ZeroMQ and back.
func BenchmarkRemoteRoundTrip(b *testing.B) {
	t := &testing.T{}
	w, _ := serve(t, "bob")
	act := tensors.FromFlatDataAndDimensions(make([]float32, 64*640), 64, 640)
	for b.Loop() {
		id := newID()
		if _, err := w.exec([]command{{Op: opPut, Out: id, Tensor: act}, {Op: opGet, A: id, Delete: true}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRemoteSmall is the round trip of an empty request.
func BenchmarkRemoteSmall(b *testing.B) {
	t := &testing.T{}
	w, _ := serve(t, "bob")
	for b.Loop() {
		if _, err := w.exec([]command{{Op: opHello}}); err != nil {
			b.Fatal(err)
		}
	}
}
