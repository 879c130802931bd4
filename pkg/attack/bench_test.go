package attack

import (
	"testing"

	"github.com/gomlx/compute/dtypes"
)

// BenchmarkDLGStep measures one Adam step of DLG at batch 4 on the course's
// MLP: forward, gradient, gradient of the gradient-matching loss.
func BenchmarkDLGStep(b *testing.B) {
	x, y := testImages(b, 4)
	net, err := NewNet(MLP, 784, 64, 10, dtypes.Float32, 1)
	if err != nil {
		b.Fatal(err)
	}
	g, err := net.Gradient(flatten(x), y)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := DLG(net, g, 4, DLGOptions{Iterations: 1}); err != nil { // compile
		b.Fatal(err)
	}
	b.ResetTimer()
	if _, err := DLG(net, g, 4, DLGOptions{Iterations: b.N}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkGradient measures a client's gradient on one image, the input of
// the analytic inversion.
func BenchmarkGradient(b *testing.B) {
	x, y := testImages(b, 1)
	net, err := NewNet(MLP, 784, 64, 10, dtypes.Float32, 1)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := net.Gradient(x[0], y); err != nil {
			b.Fatal(err)
		}
	}
}
