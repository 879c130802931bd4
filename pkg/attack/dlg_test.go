package attack

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	G "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// TestSecondOrderGradient checks the gradient of the gradient-matching loss
// with respect to the dummy inputs, computed by graph.Gradient of
// graph.Gradient, against central finite differences on a small float64 MLP.
func TestSecondOrderGradient(t *testing.T) {
	net, err := NewNet(MLP, 5, 4, 3, dtypes.Float64, 1)
	if err != nil {
		t.Fatal(err)
	}
	labels := []int{2, 0}
	target := []float64{0.1, 0.9, 0.4, 0.3, 0.7, 0.2, 0.5, 0.8, 0.6, 0.05}
	observed, err := net.Gradient(target, labels)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]any{nil, int32s(labels)}, net.observedArgs(observed)...)
	e, err := model.NewExec(backend(), net.store, func(scope *model.Scope, in []*G.Node) []*G.Node {
		x := in[0]
		d := net.matchLoss(scope, x, in[1], in[2:])
		return []*G.Node{d, G.Gradient(d, x)[0]}
	})
	if err != nil {
		t.Fatal(err)
	}
	eval := func(x []float64) (float64, []float64) {
		args[0] = tensorOf(dtypes.Float64, x, 2, 5)
		out, err := e.Exec(args...)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := float64s(out[0])
		g, _ := float64s(out[1])
		return d[0], g
	}
	x := []float64{0.3, 0.5, 0.2, 0.6, 0.4, 0.45, 0.35, 0.55, 0.25, 0.65}
	_, grad := eval(x)
	if maxAbsDiff(grad, make([]float64, len(grad))) < 1e-4 {
		t.Fatalf("gradient %v too small to test", grad)
	}
	const h = 1e-6
	for j := range x {
		xp, xm := append([]float64(nil), x...), append([]float64(nil), x...)
		xp[j] += h
		xm[j] -= h
		dp, _ := eval(xp)
		dm, _ := eval(xm)
		fd := (dp - dm) / (2 * h)
		if math.Abs(fd-grad[j]) > 1e-6*max(1, math.Abs(fd)) {
			t.Errorf("d/dx[%d]: autodiff %.9g, finite differences %.9g", j, grad[j], fd)
		}
	}
}

// TestDLG recovers batches of 4 MNIST digits from the course's MLP
// (784-64-10) gradient: median PSNR at least 25 dB and every label.
func TestDLG(t *testing.T) {
	x, y := testImages(t, 8)
	net, err := NewNet(MLP, 784, 64, 10, dtypes.Float32, 3)
	if err != nil {
		t.Fatal(err)
	}
	s := Setting{Batch: 4, Clients: 1, Batches: 2, DLG: DLGOptions{Iterations: 1500, Restarts: 3}}
	rep, err := AttackGradients(net, x, y, nil, nil, s)
	if err != nil {
		t.Fatal(err)
	}
	if rep.MedianPSNR() < 25 || rep.LabelsRight != rep.Labels {
		t.Errorf("DLG at batch 4: median PSNR %.1f dB (want >= 25), labels %d of %d; PSNR %.1f", rep.MedianPSNR(), rep.LabelsRight, rep.Labels, rep.PSNR)
	}
}

// TestDefences attacks the secure-aggregation sum of 10 clients and a
// DP-noised update: DLG and the analytic inversion fall below 12 dB, and the
// analytic inversion of the sum is a mixture, within 3 dB of an attacker who
// only knows the mean digit.
func TestDefences(t *testing.T) {
	x, y := testImages(t, 600)
	net, err := NewNet(MLP, 784, 64, 10, dtypes.Float32, 3)
	if err != nil {
		t.Fatal(err)
	}
	dlg := DLGOptions{Iterations: 600, Restarts: 1}
	for _, tc := range []struct {
		name  string
		s     Setting
		below float64 // median PSNR must be below this
		base  bool    // ... or rather below the baseline plus this
	}{
		{"dlg/secagg10", Setting{Batch: 4, Clients: 10, Batches: 1, DLG: dlg}, 12, false},
		{"dlg/dp1", Setting{Batch: 4, Clients: 1, DPNoise: 1, Batches: 1, DLG: dlg}, 12, false},
		{"analytic/dp1", Setting{Batch: 1, Clients: 1, DPNoise: 1, Batches: 8}, 12, false},
		{"analytic/secagg10", Setting{Batch: 1, Clients: 10, Batches: 8}, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := AttackGradients(net, x[:8], y[:8], x[100:], y[100:], tc.s)
			if err != nil {
				t.Fatal(err)
			}
			limit := tc.below
			if tc.base {
				limit += rep.BaselinePSNR
			}
			if rep.MedianPSNR() >= limit {
				t.Errorf("median PSNR %.1f dB, want below %.1f (baseline %.1f)", rep.MedianPSNR(), limit, rep.BaselinePSNR)
			}
			t.Logf("median PSNR %.1f dB (baseline %.1f), labels %d of %d", rep.MedianPSNR(), rep.BaselinePSNR, rep.LabelsRight, rep.Labels)
		})
	}
}

// TestPeel recovers batches of 8, and the images of secure-aggregation sums
// of 10 one-image clients, by taking out the examples that a first-layer
// unit sees alone: at least 90% of the images exact to 1e-4 and of the
// labels right.
func TestPeel(t *testing.T) {
	x, y := testImages(t, 200)
	net, err := NewNet(MLP, 784, 64, 10, dtypes.Float32, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []Setting{
		{Batch: 8, Clients: 1, Batches: 2, DLG: DLGOptions{Peel: true, Iterations: 300}},
		{Batch: 1, Clients: 10, Batches: 2, DLG: DLGOptions{Peel: true, Iterations: 300}},
	} {
		rep, err := AttackGradients(net, x[:16], y[:16], x[100:], y[100:], s)
		if err != nil {
			t.Fatal(err)
		}
		exact := 0
		for _, m := range rep.MSE {
			if m < 1e-8 {
				exact++
			}
		}
		want := s.Batch * s.Clients * s.Batches
		if 10*exact < 9*want || 10*rep.LabelsRight < 9*want || rep.Labels != want {
			t.Errorf("batch %d, %d clients: %d of %d images exact, labels %d of %d", s.Batch, s.Clients, exact, want, rep.LabelsRight, rep.Labels)
		}
		t.Logf("batch %d, %d clients: %d of %d images exact, labels %d of %d", s.Batch, s.Clients, exact, want, rep.LabelsRight, rep.Labels)
	}
}
