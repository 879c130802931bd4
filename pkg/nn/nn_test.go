package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

func mustModel(t *testing.T, in int, layers ...Layer) *Model {
	t.Helper()
	m, err := Sequential(in, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func randomFloats(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func randomLabels(rng *rand.Rand, n, classes int) []int32 {
	v := make([]int32, n)
	for i := range v {
		v[i] = int32(rng.IntN(classes))
	}
	return v
}

func TestSequentialRejectsBadLayers(t *testing.T) {
	tests := []struct {
		name   string
		in     int
		layers []Layer
	}{
		{"no input", 0, []Layer{Dense(2, Linear)}},
		{"no layers", 3, nil},
		{"zero units", 3, []Layer{Dense(0, ReLU)}},
		{"unknown activation", 3, []Layer{Dense(2, Activation(42))}},
		{"softmax inside", 3, []Layer{Dense(4, Softmax), Dense(2, Linear)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Sequential(tc.in, tc.layers...); err == nil {
				t.Errorf("Sequential(%d, %v) succeeded, want an error", tc.in, tc.layers)
			}
		})
	}
}

func TestInitialization(t *testing.T) {
	m := mustModel(t, 30, Dense(20, ReLU), Dense(5, Softmax))
	if got, want := m.NumParams(), 30*20+20+20*5+5; got != want {
		t.Fatalf("NumParams = %d, want %d", got, want)
	}
	for _, tc := range []struct {
		init        Init
		wLimit      float64
		biasNonZero bool
	}{
		{GlorotUniform, math.Sqrt(6.0 / 50), false},
		{KaimingUniform, 1 / math.Sqrt(30), true},
	} {
		if err := m.Initialize(tc.init, 7); err != nil {
			t.Fatal(err)
		}
		all, err := m.Weights()
		if err != nil {
			t.Fatal(err)
		}
		w, b := all[:30*20], all[30*20:30*20+20]
		var maxW float64
		for _, v := range w {
			maxW = max(maxW, math.Abs(float64(v)))
		}
		if maxW > tc.wLimit || maxW < 0.8*tc.wLimit {
			t.Errorf("%v: max |w| = %v, want just below %v", tc.init, maxW, tc.wLimit)
		}
		nonZero := false
		for _, v := range b {
			nonZero = nonZero || v != 0
		}
		if nonZero != tc.biasNonZero {
			t.Errorf("%v: bias non-zero = %v, want %v", tc.init, nonZero, tc.biasNonZero)
		}
		first, _ := m.Weights()
		_ = m.Initialize(tc.init, 7)
		again, _ := m.Weights()
		_ = m.Initialize(tc.init, 8)
		other, _ := m.Weights()
		if !slices.Equal(first, again) || slices.Equal(first, other) {
			t.Errorf("%v: same seed must give the same weights and another seed others", tc.init)
		}
	}
}

func TestWeightsRoundTrip(t *testing.T) {
	m := mustModel(t, 3, Dense(4, Tanh), Dense(2, Softmax))
	rng := rand.New(rand.NewPCG(1, 1))
	w := randomFloats(rng, m.NumParams())
	if err := m.SetWeights(w); err != nil {
		t.Fatal(err)
	}
	got, err := m.Weights()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, w) {
		t.Fatalf("Weights after SetWeights differ")
	}
	if err := m.SetWeights(w[1:]); err == nil {
		t.Error("SetWeights with a short vector succeeded")
	}
	if got, _ := m.Weights(); !slices.Equal(got, w) {
		t.Error("a failed SetWeights changed the weights")
	}
	// Predict: a hand-computed forward pass.
	x := []float32{0.5, -1, 2}
	out, err := m.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	want := referenceForward(m, w, x)
	for i := range want {
		if math.Abs(float64(out[i]-want[i])) > 1e-5 {
			t.Fatalf("Predict = %v, want %v", out, want)
		}
	}
}

// referenceForward computes the model on one row in plain Go.
func referenceForward(m *Model, w, x []float32) []float32 {
	h := x
	off := 0
	for _, l := range m.layers {
		in := len(h)
		W, b := w[off:off+in*l.Units], w[off+in*l.Units:off+(in+1)*l.Units]
		off += (in + 1) * l.Units
		z := make([]float64, l.Units)
		for j := range z {
			z[j] = float64(b[j])
			for k := range in {
				z[j] += float64(h[k]) * float64(W[k*l.Units+j])
			}
		}
		out := make([]float32, l.Units)
		var sum, maxZ float64 = 0, math.Inf(-1)
		for _, v := range z {
			maxZ = max(maxZ, v)
		}
		for _, v := range z {
			sum += math.Exp(v - maxZ)
		}
		for j, v := range z {
			switch l.Activation {
			case ReLU:
				v = max(v, 0)
			case Sigmoid:
				v = 1 / (1 + math.Exp(-v))
			case Tanh:
				v = math.Tanh(v)
			case Softmax:
				v = math.Exp(v-maxZ) / sum
			case LogSoftmax:
				v = v - maxZ - math.Log(sum)
			}
			out[j] = float32(v)
		}
		h = out
	}
	return h
}

func TestBadInputLosesNothing(t *testing.T) {
	m := mustModel(t, 3, Dense(2, Softmax))
	before, _ := m.Weights()
	if _, err := m.TrainBatch([]float32{1, 2, 3}, []int32{2}); err == nil {
		t.Error("TrainBatch with an out-of-range label succeeded")
	}
	if _, err := m.TrainBatch([]float32{1, 2}, []int32{0}); err == nil {
		t.Error("TrainBatch with a short row succeeded")
	}
	if _, err := m.Backward(tensors.FromFlatDataAndDimensions([]float32{1, 2}, 1, 2), true); !errors.Is(err, ErrNoForward) {
		t.Errorf("Backward without Forward: err = %v, want ErrNoForward", err)
	}
	x := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3}, 1, 3)
	if _, err := m.Forward(x); err != nil {
		t.Fatal(err)
	}
	if _, err := m.BackwardStep(tensors.FromFlatDataAndDimensions([]float32{1, 2, 3}, 1, 3), true); err == nil {
		t.Error("BackwardStep with a gradient of the wrong shape succeeded")
	}
	if after, _ := m.Weights(); !slices.Equal(before, after) {
		t.Error("rejected calls changed the weights")
	}
}

// TestBackwardMatchesFiniteDifferences checks the vector-Jacobian product of
// Backward: for f = sum(out * r), the gradients with respect to the input and
// the parameters against central differences, from the residuals the
// forward pass kept and recomputing the forward pass.
func TestBackwardMatchesFiniteDifferences(t *testing.T) {
	for _, recompute := range []bool{false, true} {
		t.Run(fmt.Sprintf("recompute=%v", recompute), func(t *testing.T) { testBackwardMatchesFiniteDifferences(t, recompute) })
	}
}

func testBackwardMatchesFiniteDifferences(t *testing.T, recompute bool) {
	for _, tc := range []struct {
		in     int
		layers []Layer
	}{
		{4, []Layer{Dense(5, Tanh), Dense(4, Sigmoid), Dense(3, Linear)}},
		{4, []Layer{Dense(5, ReLU), Dense(3, Softmax)}},
		{4, []Layer{Dense(5, Tanh), Dense(3, LogSoftmax)}},
		{50, []Layer{Reshape(5, 5, 2), Conv2D(3, 2, Tanh), Flatten(), Dense(3, LogSoftmax)}},
		{32, []Layer{Reshape(4, 4, 2), MaxPool2D(2), Flatten(), Dense(3, Linear)}},
		{50, []Layer{Reshape(5, 5, 2), Conv2D(3, 2, Tanh), MaxPool2D(2), Flatten(), Dense(3, LogSoftmax)}},
	} {
		layers, in := tc.layers, tc.in
		m := mustModel(t, in, layers...)
		_ = m.Initialize(KaimingUniform, 3)
		m.recompute = recompute
		rng := rand.New(rand.NewPCG(5, 5))
		const rows = 3
		x := randomFloats(rng, rows*in)
		r := randomFloats(rng, rows*3)
		f := func() float64 {
			out, err := m.Predict(x)
			if err != nil {
				t.Fatal(err)
			}
			var s float64
			for i := range out {
				s += float64(out[i]) * float64(r[i])
			}
			return s
		}
		if _, err := m.Forward(tensors.FromFlatDataAndDimensions(x, rows, in)); err != nil {
			t.Fatal(err)
		}
		dxT, err := m.Backward(tensors.FromFlatDataAndDimensions(r, rows, 3), true)
		if err != nil {
			t.Fatal(err)
		}
		if m.recompute != recompute {
			t.Errorf("%v: the backward pass could not use the residuals of the forward pass", layers)
		}
		dx, _ := tensors.CopyFlatData[float32](dxT)
		grads, _ := m.Gradients()
		// Without the input gradient the first layer takes another path.
		m.ZeroGrad()
		_, _ = m.Forward(tensors.FromFlatDataAndDimensions(x, rows, in))
		if dx, err := m.Backward(tensors.FromFlatDataAndDimensions(r, rows, 3), false); err != nil || dx != nil {
			t.Fatalf("Backward(needInputGrad=false) = %v, %v; want nil, nil", dx, err)
		}
		grads2, _ := m.Gradients()
		for i := range grads {
			checkClose(t, "param (no input grad)", layers, i, float64(grads2[i]), float64(grads[i]))
		}
		w, _ := m.Weights()
		const eps = 1e-3
		for i := range x {
			old := x[i]
			x[i] = old + eps
			fp := f()
			x[i] = old - eps
			fm := f()
			x[i] = old
			checkClose(t, "input", layers, i, float64(dx[i]), (fp-fm)/(2*eps))
		}
		for i := range w {
			old := w[i]
			w[i] = old + eps
			_ = m.SetWeights(w)
			fp := f()
			w[i] = old - eps
			_ = m.SetWeights(w)
			fm := f()
			w[i] = old
			checkClose(t, "param", layers, i, float64(grads[i]), (fp-fm)/(2*eps))
		}
	}
}

func checkClose(t *testing.T, what string, layers []Layer, i int, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 2e-3+2e-2*math.Abs(want) {
		t.Errorf("%v: d/d %s[%d] = %v, finite differences give %v", layers, what, i, got, want)
	}
}

// TestLossGradientMatchesFiniteDifferences checks TrainTop: the returned input
// gradient and the SGD update against central differences of the mean loss
// that Evaluate reports.
func TestLossGradientMatchesFiniteDifferences(t *testing.T) {
	for _, tc := range []struct {
		head Activation
		loss Loss
	}{
		{Softmax, SparseCategoricalCrossentropy},
		{LogSoftmax, NLL},
		{Sigmoid, SparseCategoricalCrossentropy},
	} {
		m := mustModel(t, 4, Dense(6, Tanh), Dense(3, tc.head))
		const lr = 0.5
		_ = m.Compile(tc.loss, SGD{LearningRate: lr})
		_ = m.Initialize(KaimingUniform, 11)
		rng := rand.New(rand.NewPCG(9, 9))
		const rows = 5
		x := randomFloats(rng, rows*4)
		y := randomLabels(rng, rows, 3)
		loss := func() float64 {
			mt, err := m.Evaluate(x, y, 2)
			if err != nil {
				t.Fatal(err)
			}
			return mt.Loss
		}
		w, _ := m.Weights()
		top, err := m.Clone()
		if err != nil {
			t.Fatal(err)
		}
		dxT, mt, err := top.TrainTop(tensors.FromFlatDataAndDimensions(x, rows, 4), y)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(mt.Loss-loss()) > 1e-5 {
			t.Errorf("%v/%v: TrainTop loss %v, Evaluate %v", tc.head, tc.loss, mt.Loss, loss())
		}
		dx, _ := tensors.CopyFlatData[float32](dxT)
		updated, _ := top.Weights()
		const eps = 1e-2
		layers := []Layer{Dense(6, Tanh), Dense(3, tc.head)}
		for i := range x {
			old := x[i]
			x[i] = old + eps
			fp := loss()
			x[i] = old - eps
			fm := loss()
			x[i] = old
			checkClose(t, "input", layers, i, float64(dx[i]), (fp-fm)/(2*eps))
		}
		for i := range w {
			old := w[i]
			w[i] = old + eps
			_ = m.SetWeights(w)
			fp := loss()
			w[i] = old - eps
			_ = m.SetWeights(w)
			fm := loss()
			w[i] = old
			checkClose(t, "param", layers, i, float64(w[i]-updated[i])/lr, (fp-fm)/(2*eps))
		}
	}
}

func TestLearnsXOR(t *testing.T) {
	m := mustModel(t, 2, Dense(8, Tanh), Dense(2, Softmax))
	_ = m.Compile(SparseCategoricalCrossentropy, SGD{LearningRate: 0.5})
	x := []float32{0, 0, 0, 1, 1, 0, 1, 1}
	y := []int32{0, 1, 1, 0}
	hist, err := m.Fit(x, y, FitOptions{Epochs: 500, BatchSize: 4, Shuffle: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Evaluate(x, y, 4)
	if err != nil {
		t.Fatal(err)
	}
	if got.Accuracy != 1 || got.Loss > 0.1 || len(hist) != 500 {
		t.Errorf("after 500 epochs on XOR: %v (history %d epochs), want accuracy 1 and loss < 0.1", got, len(hist))
	}
}

// TestSplitEqualsWhole trains a model end to end and the same model cut in two
// segments (bottom: Forward, BackwardStep; top: TrainTop) from the same
// weights; they must agree step by step.
func TestSplitEqualsWhole(t *testing.T) {
	whole := mustModel(t, 6, Dense(8, ReLU), Dense(7, Tanh), Dense(4, LogSoftmax))
	_ = whole.Compile(NLL, SGD{LearningRate: 0.1})
	_ = whole.Initialize(KaimingUniform, 42)
	bottom := mustModel(t, 6, Dense(8, ReLU), Dense(7, Tanh))
	top := mustModel(t, 7, Dense(4, LogSoftmax))
	for _, s := range []*Model{bottom, top} {
		_ = s.Compile(NLL, SGD{LearningRate: 0.1})
	}
	all, _ := whole.Weights()
	if err := bottom.SetWeights(all[:bottom.NumParams()]); err != nil {
		t.Fatal(err)
	}
	if err := top.SetWeights(all[bottom.NumParams():]); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 3))
	for step := range 10 {
		rows := 5 + step%3 // varying batch sizes, like a short last batch
		x := randomFloats(rng, rows*6)
		y := randomLabels(rng, rows, 4)
		wm, err := whole.TrainBatch(x, y)
		if err != nil {
			t.Fatal(err)
		}
		a, err := bottom.Forward(tensors.FromFlatDataAndDimensions(x, rows, 6))
		if err != nil {
			t.Fatal(err)
		}
		g, sm, err := top.TrainTop(a, y)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bottom.BackwardStep(g, false); err != nil {
			t.Fatal(err)
		}
		if math.Abs(wm.Loss-sm.Loss) > 1e-5 || wm.Accuracy != sm.Accuracy {
			t.Fatalf("step %d: whole %v, split %v", step, wm, sm)
		}
	}
	ww, _ := whole.Weights()
	bw, _ := bottom.Weights()
	tw, _ := top.Weights()
	split := append(bw, tw...)
	for i := range ww {
		if math.Abs(float64(ww[i]-split[i])) > 1e-5 {
			t.Fatalf("after 10 steps weight %d: whole %v, split %v", i, ww[i], split[i])
		}
	}
}

// TestBackwardThenStepEqualsBackwardStep checks gradient accumulation: two
// Backward calls and one Step equal the sum of the two updates.
func TestBackwardThenStepEqualsBackwardStep(t *testing.T) {
	a := mustModel(t, 3, Dense(4, ReLU), Dense(2, Linear))
	_ = a.Initialize(KaimingUniform, 1)
	b, _ := a.Clone()
	rng := rand.New(rand.NewPCG(4, 4))
	x := tensors.FromFlatDataAndDimensions(randomFloats(rng, 6), 2, 3)
	g := tensors.FromFlatDataAndDimensions(randomFloats(rng, 4), 2, 2)
	for range 2 {
		if _, err := a.Forward(x); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Backward(g, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Step(); err != nil {
		t.Fatal(err)
	}
	_ = b.Compile(b.Loss(), SGD{LearningRate: 2 * b.Optimizer().LearningRate})
	if _, err := b.Forward(x); err != nil {
		t.Fatal(err)
	}
	if _, err := b.BackwardStep(g, true); err != nil {
		t.Fatal(err)
	}
	wa, _ := a.Weights()
	wb, _ := b.Weights()
	for i := range wa {
		if math.Abs(float64(wa[i]-wb[i])) > 1e-6 {
			t.Fatalf("weight %d: Backward twice + Step %v, BackwardStep at double rate %v", i, wa[i], wb[i])
		}
	}
}

// TestConv2DIsConvolve checks the patch-product convolution against
// GoMLX's graph.Convolve.
func TestConv2DIsConvolve(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 1))
	x := tensors.FromFlatDataAndDimensions(randomFloats(rng, 2*6*5*3), 2, 6, 5, 3)
	k := tensors.FromFlatDataAndDimensions(randomFloats(rng, 3*3*3*4), 3, 3, 3, 4)
	got := graph.MustExecOnce(Backend(), conv2D, x, k)
	want := graph.MustExecOnce(Backend(), func(x, k *graph.Node) *graph.Node {
		return graph.Convolve(x, k).NoPadding().Done()
	}, x, k)
	g, w := got.Value().([][][][]float32), want.Value().([][][][]float32)
	if !slices.Equal(got.Shape().Dimensions, want.Shape().Dimensions) {
		t.Fatalf("shape %v, want %v", got.Shape(), want.Shape())
	}
	for b := range g {
		for i := range g[b] {
			for j := range g[b][i] {
				for c := range g[b][i][j] {
					if math.Abs(float64(g[b][i][j][c]-w[b][i][j][c])) > 1e-4 {
						t.Fatalf("[%d %d %d %d] = %v, Convolve gives %v", b, i, j, c, g[b][i][j][c], w[b][i][j][c])
					}
				}
			}
		}
	}
}

func TestBackendRunsExecutionsSequentially(t *testing.T) {
	if d := Backend().Description(); !strings.Contains(d, "parallelism=0") {
		t.Errorf("backend %q: want parallelism within executions turned off (sequentialBackend)", d)
	}
}

func TestLayoutProductEqualsDotGeneral(t *testing.T) {
	// Every combination of contracting axes, with small (< smallContracting)
	// and large contracting sizes: the product laid out for the backend
	// equals DotGeneral's.
	for _, k := range []int{3, 20} {
		for _, ca := range []int{0, 1} {
			for _, cb := range []int{0, 1} {
				t.Run(fmt.Sprintf("k%d_ca%d_cb%d", k, ca, cb), func(t *testing.T) {
					ad, bd := []int{5, 5}, []int{7, 7}
					ad[ca], ad[1-ca] = k, 5
					bd[cb], bd[1-cb] = k, 7
					mk := func(d []int, seed uint64) *tensors.Tensor {
						rng := rand.New(rand.NewPCG(seed, 1))
						v := make([]float32, d[0]*d[1])
						for i := range v {
							v[i] = rng.Float32()*2 - 1
						}
						return tensors.FromFlatDataAndDimensions(v, d...)
					}
					a, b := mk(ad, 1), mk(bd, 2)
					e := graph.MustNewExec(Backend(), func(a, b *graph.Node) (*graph.Node, *graph.Node) {
						return graph.DotGeneral(a, []int{ca}, nil, b, []int{cb}, nil), layoutProduct(a, ca, b, cb)
					})
					out := e.MustExec(a, b)
					want, got := out[0].Value().([][]float32), out[1].Value().([][]float32)
					for i := range want {
						for j := range want[i] {
							if math.Abs(float64(want[i][j]-got[i][j])) > 1e-5 {
								t.Fatalf("[%d,%d] = %v, DotGeneral gives %v", i, j, got[i][j], want[i][j])
							}
						}
					}
				})
			}
		}
	}
}
