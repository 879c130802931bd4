package split

import (
	"bufio"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ppml-go/ppml/pkg/mnistio"
	"github.com/ppml-go/ppml/pkg/nn"
)

var (
	ppmlOnce sync.Once
	ppmlBin  string
	ppmlErr  error
)

// ppml builds cmd/ppml once per test run.
func ppml(t *testing.T) string {
	t.Helper()
	ppmlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ppml-split-test")
		if err != nil {
			ppmlErr = err
			return
		}
		ppmlBin = filepath.Join(dir, "ppml")
		out, err := exec.Command("go", "build", "-o", ppmlBin, "github.com/ppml-go/ppml/cmd/ppml").CombinedOutput()
		if err != nil {
			ppmlErr = errors.New("go build cmd/ppml: " + err.Error() + "\n" + string(out))
		}
	})
	if ppmlErr != nil {
		t.Fatal(ppmlErr)
	}
	return ppmlBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if ppmlBin != "" {
		_ = os.RemoveAll(filepath.Dir(ppmlBin))
	}
	os.Exit(code)
}

// workerProcess starts `ppml worker` on a free loopback port and returns
// its address and process; the process is killed when the test ends.
func workerProcess(t *testing.T, id string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(ppml(t), "worker", "--listen", "tcp://127.0.0.1:0", "--id", id)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("worker %s did not start: %v", id, err)
	}
	f := strings.Fields(line) // worker ID listening on ADDR
	if len(f) != 5 {
		t.Fatalf("worker %s printed %q", id, line)
	}
	return f[4], cmd
}

func dialT(t *testing.T, addr string, timeout time.Duration) *RemoteWorker {
	t.Helper()
	w, err := Dial(addr, DialOptions{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// courseConfig is the original notebook's split network.
func courseConfig() Config {
	return Config{
		InputDim:     784,
		Layers:       []nn.Layer{nn.Dense(128, nn.ReLU), nn.Dense(640, nn.ReLU), nn.Dense(10, nn.LogSoftmax)},
		Loss:         nn.NLL,
		LearningRate: 0.03,
		Init:         nn.KaimingUniform,
		Seed:         0,
	}
}

// minTestAccuracy is what the original's configuration reaches in 5 epochs.
// The PyTorch reference (bench/split/split_torch.py, the same split with the
// backward step restored) reaches 96.0% with seed 0 and training losses
// 0.538, 0.258, 0.196, 0.158, 0.134; this package gives 0.546, 0.261, 0.197,
// 0.159, 0.133 and 94.9-96.0% over seeds 0-2. Plain SGD at 0.03 does not
// reach 97% in 5 epochs (96.6% after 10).
const minTestAccuracy = 0.945

// TestAcceptanceMNIST is the original's configuration (MNIST 60k,
// 784-128-640-10, batch 64 shuffled, SGD 0.03, 5 epochs), in process and
// with two `ppml worker` processes: both reach minTestAccuracy with the same
// losses.
func TestAcceptanceMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("5 epochs of MNIST twice")
	}
	train, test, err := mnistio.LoadData()
	if err != nil {
		t.Fatal(err)
	}
	x, y := train.Float32(0.5, 0.5), train.LabelsInt32()
	tx, ty := test.Float32(0.5, 0.5), test.LabelsInt32()
	run := func(alice, bob Worker) ([]float64, nn.Metrics) {
		net, err := NewNetwork(courseConfig(), Segment{alice, 2}, Segment{bob, 1})
		if err != nil {
			t.Fatal(err)
		}
		hist, err := net.Fit(x, y, FitOptions{Epochs: 5, BatchSize: 64, Shuffle: true, Seed: 0})
		if err != nil {
			t.Fatal(err)
		}
		var losses []float64
		for _, h := range hist {
			losses = append(losses, h.Train.Loss)
			t.Logf("%s/%s epoch %d: %v, %.2f s", alice.ID(), bob.ID(), h.Epoch, h.Train, h.Duration.Seconds())
		}
		res, err := net.Evaluate(tx, ty, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return losses, res
	}
	local, localTest := run(NewVirtualWorker("alice"), NewVirtualWorker("bob"))
	if localTest.Accuracy < minTestAccuracy {
		t.Errorf("in-process test accuracy %.4f, want >= %v", localTest.Accuracy, minTestAccuracy)
	}
	aliceAddr, _ := workerProcess(t, "alice")
	bobAddr, _ := workerProcess(t, "bob")
	remote, remoteTest := run(dialT(t, aliceAddr, time.Minute), dialT(t, bobAddr, time.Minute))
	if remoteTest.Accuracy < minTestAccuracy {
		t.Errorf("remote test accuracy %.4f, want >= %v", remoteTest.Accuracy, minTestAccuracy)
	}
	for i := range local {
		if local[i] != remote[i] {
			t.Errorf("epoch %d loss: in-process %v, remote %v", i, local[i], remote[i])
		}
	}
	if localTest != remoteTest {
		t.Errorf("test metrics: in-process %v, remote %v", localTest, remoteTest)
	}
}

// TestWorkerFailsMidEpoch kills (or stops) the label-holding worker's
// process during an epoch: Fit returns an error within the timeout instead
// of hanging, and the other worker still holds its trained segment.
func TestWorkerFailsMidEpoch(t *testing.T) {
	const timeout = 2 * time.Second
	rng := rand.New(rand.NewPCG(1, 1))
	const rows = 64 * 100
	x := make([]float32, rows*784)
	y := make([]int32, rows)
	for i := range x {
		x[i] = rng.Float32()
	}
	for i := range y {
		y[i] = int32(rng.IntN(10))
	}
	for _, tc := range []struct {
		name    string
		sig     syscall.Signal
		timeout bool // the failure can only be noticed by the timeout
	}{
		{"killed", syscall.SIGKILL, false},
		{"stopped", syscall.SIGSTOP, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			aliceAddr, _ := workerProcess(t, "alice")
			bobAddr, bobProc := workerProcess(t, "bob")
			alice, bob := dialT(t, aliceAddr, timeout), dialT(t, bobAddr, timeout)
			net, err := NewNetwork(courseConfig(), Segment{alice, 2}, Segment{bob, 1})
			if err != nil {
				t.Fatal(err)
			}
			initial, err := net.Segments()[0].Weights()
			if err != nil {
				t.Fatal(err)
			}
			var failed time.Time
			_, err = net.Fit(x, y, FitOptions{Epochs: 1, BatchSize: 64, Progress: func(p Progress) {
				if p.Batch == 20 {
					failed = time.Now()
					_ = bobProc.Process.Signal(tc.sig)
				}
			}})
			elapsed := time.Since(failed)
			if failed.IsZero() {
				t.Fatal("training never reached batch 20")
			}
			if err == nil || (tc.timeout && !errors.Is(err, ErrTimeout)) {
				t.Errorf("Fit after bob was %s: err = %v, want an error (a timeout: %v)", tc.name, err, tc.timeout)
			}
			if elapsed > timeout+2*time.Second {
				t.Errorf("Fit took %v to notice, the timeout is %v", elapsed, timeout)
			}
			trained, err := net.Segments()[0].Weights()
			if err != nil {
				t.Fatalf("alice lost her segment: %v", err)
			}
			if len(trained) != len(initial) || slices.Equal(trained, initial) {
				t.Errorf("alice's segment is not the trained one")
			}
		})
	}
}
