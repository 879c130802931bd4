package split

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/ppml-go/ppml/pkg/nn"
)

// serve starts an in-test worker server named id on a free loopback port
// and returns a RemoteWorker connected to it.
func serve(t *testing.T, id string) (*RemoteWorker, *Server) {
	t.Helper()
	srv, err := Listen("tcp://127.0.0.1:0", NewVirtualWorker(id), ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	w, err := Dial(srv.Addr(), DialOptions{Timeout: 10 * time.Second})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = w.Close()
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("server did not stop")
		}
	})
	return w, srv
}

// workers returns a pair of in-process and a pair of remote workers.
func workerKinds(t *testing.T) map[string][2]Worker {
	ra, _ := serve(t, "alice")
	rb, _ := serve(t, "bob")
	return map[string][2]Worker{
		"virtual": {NewVirtualWorker("alice"), NewVirtualWorker("bob")},
		"remote":  {ra, rb},
	}
}

func TestPointers(t *testing.T) {
	for kind, ws := range workerKinds(t) {
		t.Run(kind, func(t *testing.T) {
			alice, bob := ws[0], ws[1]
			if alice.ID() != "alice" {
				t.Errorf("ID = %q, want alice", alice.ID())
			}
			x, err := Send(tensors.FromValue([]int32{1, 2, 3, 4, 5}), alice)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := alice.Objects()
			if err != nil || len(objs) != 1 || objs[0].ID != x.ID() || objs[0].Kind != "tensor" {
				t.Fatalf("Objects = %v, %v; want the one tensor %d", objs, err, x.ID())
			}
			y, err := x.Add(x)
			if err != nil {
				t.Fatal(err)
			}
			v, err := y.Get()
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Value().([]int32); !slices.Equal(got, []int32{2, 4, 6, 8, 10}) {
				t.Errorf("x+x = %v, want [2 4 6 8 10]", got)
			}
			if _, err := y.Get(); !errors.Is(err, ErrPointerUsed) {
				t.Errorf("second Get: err = %v, want ErrPointerUsed", err)
			}
			if _, err := y.Add(x); !errors.Is(err, ErrPointerUsed) {
				t.Errorf("Add after Get: err = %v, want ErrPointerUsed", err)
			}
			if objs, _ := alice.Objects(); len(objs) != 1 {
				t.Errorf("after Get alice holds %v, want only x", objs)
			}

			a, _ := Send(tensors.FromValue([][]float32{{1, 2}, {3, 4}}), alice)
			b, _ := Send(tensors.FromValue([][]float32{{5, 6}, {7, 8}}), alice)
			for _, tc := range []struct {
				name string
				op   func() (*Pointer, error)
				want []float32
			}{
				{"sub", func() (*Pointer, error) { return a.Sub(b) }, []float32{-4, -4, -4, -4}},
				{"mul", func() (*Pointer, error) { return a.Mul(b) }, []float32{5, 12, 21, 32}},
				{"matmul", func() (*Pointer, error) { return a.MatMul(b) }, []float32{19, 22, 43, 50}},
				{"sum", func() (*Pointer, error) { return a.Sum() }, []float32{10}},
			} {
				p, err := tc.op()
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				v, err := p.Get()
				if err != nil {
					t.Fatal(err)
				}
				got, _ := tensors.CopyFlatData[float32](v)
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
				}
			}
			if _, err := a.MatMul(x); err == nil {
				t.Error("matmul of float32 and int32 succeeded")
			}

			moved, err := a.Move(bob)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Get(); !errors.Is(err, ErrPointerUsed) {
				t.Errorf("Get after Move: err = %v, want ErrPointerUsed", err)
			}
			if _, err := moved.Add(b); err == nil || !strings.Contains(err.Error(), "different workers") {
				t.Errorf("Add across workers: err = %v, want a different-workers error", err)
			}
			if objs, _ := bob.Objects(); len(objs) != 1 || objs[0].ID != moved.ID() {
				t.Errorf("bob holds %v, want the moved tensor", objs)
			}
			v, _ = moved.Get()
			if got, _ := tensors.CopyFlatData[float32](v); !slices.Equal(got, []float32{1, 2, 3, 4}) {
				t.Errorf("moved value = %v", got)
			}
		})
	}
}

func TestWireRoundTrip(t *testing.T) {
	cmds := []command{
		{Op: opPut, Out: 7, Tensor: tensors.FromValue([][]float32{{1, 2}, {3, 4}})},
		{Op: opTrainTop, A: 1, B: 2, C: 3, Delete: true},
		{Op: opBackwardStep, A: 1, B: 2, Grad: true},
		{Op: opNewModel, Out: 9, Spec: &modelSpec{InputDim: 3, Layers: []nn.Layer{nn.Dense(2, nn.LogSoftmax)}, Loss: nn.NLL, LearningRate: 0.03},
			Tensor: tensors.FromValue([]float32{1, 2, 3, 4, 5, 6, 7, 8})},
		{Op: opSetLR, A: 9, Rate: 0.5},
		{Op: opSend, A: 9, Out: 10, Peer: "tcp://127.0.0.1:1", Delete: true},
		{Op: opDeliver, Out: 11, Tensor: tensors.FromValue([]int32{4, 5})},
		{Op: opAwait, A: 11},
	}
	b, err := encodeRequest(nil, request{id: 3, timeout: 1500 * time.Millisecond, cmds: cmds})
	if err != nil {
		t.Fatal(err)
	}
	req, err := decodeRequest(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := req.cmds
	if req.id != 3 || req.timeout != 1500*time.Millisecond {
		t.Errorf("round trip changed the request header: %+v", req)
	}
	if len(got) != len(cmds) || got[1].C != 3 || !got[1].Delete || !got[2].Grad || got[3].Spec.LearningRate != 0.03 ||
		got[3].Spec.Layers[0].String() != nn.Dense(2, nn.LogSoftmax).String() || got[4].Rate != 0.5 || got[5].Peer != "tcp://127.0.0.1:1" ||
		!got[0].Tensor.Equal(cmds[0].Tensor) || !got[6].Tensor.Equal(cmds[6].Tensor) {
		t.Errorf("round trip changed the commands: %+v", got)
	}
	// Every strict prefix is malformed, and so is every single corrupted
	// length; none may panic.
	for i := range b {
		if _, err := decodeRequest(b[:i], nil); err == nil {
			t.Errorf("prefix of %d bytes decoded", i)
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 2000 {
		c := append([]byte(nil), b...)
		c[rng.IntN(len(c))] = byte(rng.IntN(256))
		_, _ = decodeRequest(c, nil)
	}
	huge, _ := encodeRequest(nil, request{cmds: []command{{Op: opAwait}}})
	huge = huge[:len(huge)-34] // the header and the number of commands
	huge = append(huge, byte(opPut))
	huge = append(huge, make([]byte, 33)...)
	huge = append(huge, 0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f)
	if _, err := decodeRequest(huge, nil); err == nil || !errors.Is(err, errMalformed) {
		t.Errorf("a tensor announcing 2^64 elements: err = %v, want malformed", err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	b, _ := encodeRequest(nil, request{id: 1, cmds: []command{{Op: opPut, Out: 1, Tensor: tensors.FromValue([]float32{1, 2})}, {Op: opGet, A: 1}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeRequest(data, nil)
		if err == nil {
			if _, err := encodeRequest(nil, req); err != nil {
				t.Errorf("decoded commands do not re-encode: %v", err)
			}
		}
	})
}

// TestMalformedRequestGetsErrorReply talks raw ZeroMQ to a worker: garbage
// gets an error reply, and the worker keeps serving.
func TestMalformedRequestGetsErrorReply(t *testing.T) {
	w, srv := serve(t, "bob")
	sock := zmq4.NewReq(context.Background(), zmq4.WithTimeout(5*time.Second))
	defer sock.Close()
	if err := sock.Dial(srv.Addr()); err != nil {
		t.Fatal(err)
	}
	for _, garbage := range [][]byte{[]byte("hello"), {'P', 'S', wireVersion, 0xff, 0xff, 0xff, 0xff, 0xff}, {}, {'P', 'S', wireVersion, 1, 2, 3, 4, 5, 6, 7, 8}} {
		if err := sock.Send(zmq4.NewMsg(garbage)); err != nil {
			t.Fatal(err)
		}
		msg, err := sock.Recv()
		if err != nil {
			t.Fatal(err)
		}
		frame, err := replyFrame(msg.Frames)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = decodeReply(frame)
		var re *remoteError
		if !errors.As(err, &re) || !strings.Contains(re.msg, "malformed") {
			t.Errorf("reply to %q: %v, want a malformed-message error", garbage, err)
		}
	}
	if _, err := Send(tensors.FromValue([]float32{1}), w); err != nil {
		t.Errorf("worker stopped serving after malformed messages: %v", err)
	}
}

// TestNetworkEqualsWholeModel trains a small network split in three
// segments (vanilla on two workers, and U-shaped) and the same model whole
// with nn; the per-batch losses and final weights agree, in process and
// over ZeroMQ, and the cut statistics count what crossed. The MLP and the CNN (convolution on one worker, pooling on
// the other) go through the same code.
func TestNetworkEqualsWholeModel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		layers []int // of the three segments
		cuts   []int // width of the activation at each cut
	}{
		{"mlp", Config{
			InputDim: 5,
			Layers:   []nn.Layer{nn.Dense(8, nn.ReLU), nn.Dense(6, nn.Tanh), nn.Dense(3, nn.LogSoftmax)},
			Loss:     nn.NLL, LearningRate: 0.1, Init: nn.KaimingUniform, Seed: 4,
		}, []int{1, 1, 1}, []int{8, 6}},
		{"cnn", Config{
			InputDim: 36,
			Layers: []nn.Layer{nn.Reshape(6, 6, 1), nn.Conv2D(3, 3, nn.ReLU), nn.Flatten(),
				nn.Reshape(4, 4, 3), nn.MaxPool2D(2), nn.Flatten(), nn.Dense(3, nn.LogSoftmax)},
			Loss: nn.NLL, LearningRate: 0.1, Init: nn.KaimingUniform, Seed: 4,
		}, []int{3, 3, 1}, []int{48, 12}},
	} {
		t.Run(tc.name, func(t *testing.T) { testNetworkEqualsWholeModel(t, tc.cfg, tc.layers, tc.cuts) })
	}
}

// randomRows returns rows examples of d standard normal features and labels
// in [0, classes), drawn from a generator seeded with seed.
func randomRows(seed uint64, rows, d, classes int) ([]float32, []int32) {
	rng := rand.New(rand.NewPCG(seed, seed))
	x := make([]float32, rows*d)
	y := make([]int32, rows)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range y {
		y[i] = int32(rng.IntN(classes))
	}
	return x, y
}

func testNetworkEqualsWholeModel(t *testing.T, cfg Config, layers, cutWidths []int) {
	const rows = 50
	d := cfg.InputDim
	x, y := randomRows(8, rows, d, 3)
	whole, err := nn.Sequential(cfg.InputDim, cfg.Layers...)
	if err != nil {
		t.Fatal(err)
	}
	_ = whole.Compile(cfg.Loss, nn.SGD{LearningRate: cfg.LearningRate})
	_ = whole.Initialize(cfg.Init, cfg.Seed)
	var wholeLosses []float64
	for start := 0; start < rows; start += 16 { // no shuffling: batches in order, the last one short
		end := min(start+16, rows)
		mt, err := whole.TrainBatch(x[start*d:end*d], y[start:end])
		if err != nil {
			t.Fatal(err)
		}
		wholeLosses = append(wholeLosses, mt.Loss)
	}
	wantW, _ := whole.Weights()

	for kind, ws := range workerKinds(t) {
		alice, bob := ws[0], ws[1]
		owner := NewVirtualWorker("owner") // the data owner's own worker, with bob of this kind
		for name, segs := range map[string][]Segment{
			"vanilla":           {{alice, layers[0]}, {bob, layers[1]}, {bob, layers[2]}},
			"u-shaped":          {{alice, layers[0]}, {bob, layers[1]}, {alice, layers[2]}},
			"u-shaped-in-owner": {{owner, layers[0]}, {bob, layers[1]}, {owner, layers[2]}},
		} {
			t.Run(kind+"/"+name, func(t *testing.T) {
				net, err := NewNetwork(cfg, segs...)
				if err != nil {
					t.Fatal(err)
				}
				var losses []float64
				hist, err := net.Fit(x, y, FitOptions{Epochs: 1, BatchSize: 16, Progress: func(p Progress) {
					losses = append(losses, p.Train.Loss*float64(p.Train.Count))
				}})
				if err != nil {
					t.Fatal(err)
				}
				// Progress reports running averages: recover each batch's loss.
				prev, count := 0.0, 0
				for i, l := range losses {
					n := min(16, rows-count)
					batch := (l - prev) / float64(n)
					prev, count = l, count+n
					if math.Abs(batch-wholeLosses[i]) > 1e-5 {
						t.Errorf("batch %d loss %v, whole model %v", i, batch, wholeLosses[i])
					}
				}
				got, _ := net.Weights()
				for i := range got {
					if math.Abs(float64(got[i]-wantW[i])) > 1e-5 {
						t.Fatalf("weight %d: split %v, whole %v", i, got[i], wantW[i])
					}
				}
				// What crossed each cut, counted at the transport, against
				// this test's own count: a batch's activation and its
				// gradient (rows × width float32s) when the segments on
				// either side are on different workers, nothing otherwise.
				cuts := hist[0].Cuts
				if len(cuts) != 2 {
					t.Fatalf("%d cut stats, want 2", len(cuts))
				}
				for i, c := range cuts {
					var want CutStats
					if segs[i].Worker != segs[i+1].Worker {
						bytes := int64(rows * cutWidths[i] * 4)
						want = CutStats{ForwardMessages: 4, BackwardMessages: 4, ForwardBytes: bytes, BackwardBytes: bytes}
					}
					if c != want {
						t.Errorf("cut %d: %+v, want %+v", i, c, want)
					}
				}
			})
		}
	}
}

// TestNetworkOfGoMLXModels splits a model written as GoMLX model functions
// (ml/layers, as GoMLX's examples do) into two in-process segments: the
// losses and weights follow the whole model's step by step; a worker in
// another process refuses such a segment with an error that says why.
func TestNetworkOfGoMLXModels(t *testing.T) {
	bottomFn := func(scope *model.Scope, x *graph.Node) *graph.Node {
		return activation.Relu(layers.DenseWithBias(scope.In("bottom"), x, 6))
	}
	topFn := func(scope *model.Scope, x *graph.Node) *graph.Node {
		return layers.DenseWithBias(scope.In("top"), x, 3)
	}
	wholeFn := func(scope *model.Scope, x *graph.Node) *graph.Node { return topFn(scope, bottomFn(scope, x)) }
	mk := func(fn nn.Func, head nn.Activation, in int) *nn.Model {
		m, err := nn.New(fn, head, in)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Compile(nn.NLL, nn.SGD{LearningRate: 0.1}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	whole, bottom, top := mk(wholeFn, nn.LogSoftmax, 4), mk(bottomFn, nn.Linear, 4), mk(topFn, nn.LogSoftmax, 6)
	_ = whole.Initialize(nn.KaimingUniform, 2)
	w, _ := whole.Weights()
	if err := bottom.SetWeights(w[:bottom.NumParams()]); err != nil {
		t.Fatal(err)
	}
	if err := top.SetWeights(w[bottom.NumParams():]); err != nil {
		t.Fatal(err)
	}
	const rows = 40
	x, y := randomRows(3, rows, 4, 3)
	var wholeLosses []float64
	for start := 0; start < rows; start += 10 {
		mt, err := whole.TrainBatch(x[start*4:(start+10)*4], y[start:start+10])
		if err != nil {
			t.Fatal(err)
		}
		wholeLosses = append(wholeLosses, mt.Loss)
	}
	net, err := NewNetworkOf(ModelSegment{bottom, NewVirtualWorker("alice")}, ModelSegment{top, NewVirtualWorker("bob")})
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	if _, err := net.Fit(x, y, FitOptions{Epochs: 1, BatchSize: 10, Progress: func(p Progress) {
		losses = append(losses, p.Train.Loss)
	}}); err != nil {
		t.Fatal(err)
	}
	for i, l := range losses {
		// Progress reports running means over batches of equal size.
		want := 0.0
		for _, wl := range wholeLosses[:i+1] {
			want += wl
		}
		if want /= float64(i + 1); math.Abs(l-want) > 1e-5 {
			t.Errorf("after batch %d: running loss %v, whole model %v", i, l, want)
		}
	}
	got, _ := net.Weights()
	want, _ := whole.Weights()
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Fatalf("weight %d: split %v, whole %v", i, got[i], want[i])
		}
	}
	remote, _ := serve(t, "carol")
	if _, err := SendModel(bottom, remote); err == nil || !strings.Contains(err.Error(), "not Sequential") {
		t.Errorf("sending a GoMLX model function to another process: err = %v, want one saying it is not Sequential", err)
	}
}

// TestFitOnOrder checks that OnOrder reports the order Fit trains in: each
// epoch's rows are a permutation, reshuffled every epoch, the same for the
// same seed, and training a fresh copy of the network without shuffling on
// the rows taken in the reported orders gives the same weights.
func TestFitOnOrder(t *testing.T) {
	cfg := Config{
		InputDim: 4,
		Layers:   []nn.Layer{nn.Dense(6, nn.ReLU), nn.Dense(3, nn.LogSoftmax)},
		Loss:     nn.NLL, LearningRate: 0.1, Init: nn.KaimingUniform, Seed: 5,
	}
	const rows, d = 30, 4
	x, y := randomRows(6, rows, d, 3)
	newNet := func() *Network {
		net, err := NewNetwork(cfg, Segment{NewVirtualWorker("alice"), 1}, Segment{NewVirtualWorker("bob"), 1})
		if err != nil {
			t.Fatal(err)
		}
		return net
	}
	train := func() (*Network, [][]int) {
		net := newNet()
		var orders [][]int
		_, err := net.Fit(x, y, FitOptions{Epochs: 3, BatchSize: 8, Shuffle: true, Seed: 9,
			OnOrder: func(epoch int, order []int) {
				if epoch != len(orders) {
					t.Errorf("OnOrder called for epoch %d after %d epochs", epoch, len(orders))
				}
				orders = append(orders, slices.Clone(order))
			}})
		if err != nil {
			t.Fatal(err)
		}
		return net, orders
	}
	net, orders := train()
	if len(orders) != 3 {
		t.Fatalf("OnOrder called %d times in 3 epochs", len(orders))
	}
	identity := make([]int, rows)
	for i := range identity {
		identity[i] = i
	}
	for e, o := range orders {
		if !slices.Equal(slices.Sorted(slices.Values(o)), identity) {
			t.Errorf("epoch %d: order %v is not a permutation of the %d rows", e, o, rows)
		}
	}
	if slices.Equal(orders[0], orders[1]) || slices.Equal(orders[1], orders[2]) {
		t.Errorf("the order did not change between epochs: %v", orders)
	}
	if _, again := train(); !slices.EqualFunc(orders, again, slices.Equal) {
		t.Errorf("the same seed gave orders %v, then %v", orders, again)
	}

	replay := newNet()
	for e, o := range orders {
		px := make([]float32, 0, len(x))
		py := make([]int32, 0, len(y))
		for _, r := range o {
			px = append(px, x[r*d:(r+1)*d]...)
			py = append(py, y[r])
		}
		if _, err := replay.Fit(px, py, FitOptions{Epochs: 1, BatchSize: 8,
			OnOrder: func(_ int, order []int) {
				if !slices.Equal(order, identity) {
					t.Errorf("epoch %d without shuffling: order %v", e, order)
				}
			}}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := replay.Weights()
	want, _ := net.Weights()
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("weight %d: trained in the reported order %v, with Fit's shuffling %v", i, got[i], want[i])
		}
	}
}
