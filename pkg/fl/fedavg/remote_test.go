package fedavg

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The remote tests run each client as a separate process: the test binary
// itself, started with FEDAVG_TEST_CLIENT set, runs helperClient instead of
// the tests.
func TestMain(m *testing.M) {
	if os.Getenv("FEDAVG_TEST_CLIENT") != "" {
		if err := helperClient(); err != nil {
			fmt.Fprintln(os.Stderr, "helper client:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// remoteImages is the prefix of the MNIST training set the remote tests
// partition among their clients.
const remoteImages = 1500

func helperClient() error {
	if ids := os.Getenv("FEDAVG_DP_IDS"); ids != "" {
		return helperDPClients(ids)
	}
	id, err := strconv.Atoi(os.Getenv("FEDAVG_ID"))
	if err != nil {
		return err
	}
	opts := ClientOptions{
		ID: id,
		Data: func(clients int, seed int64) (Dataset, error) {
			sets, err := mnist()
			if err != nil {
				return Dataset{}, err
			}
			return ClientPart(sets[0].Slice(0, remoteImages), id, clients, seed, 0, 1)
		},
		JoinTimeout: 30 * time.Second,
		Logger: lineLogger(func(line string) {
			fmt.Fprintln(os.Stderr, line)
			if hangID, hangAt, ok := strings.Cut(os.Getenv("FEDAVG_HANG"), ":"); ok && hangID == strconv.Itoa(id) && strings.Contains(line, hangAt) {
				select {} // stand still mid-round until the test kills this process
			}
		}),
	}
	return RunClient(context.Background(), os.Getenv("FEDAVG_ENDPOINT"), DenseModel(784, 16, 2, 0), opts)
}

// clientProc is a client process started by a test.
type clientProc struct {
	cmd   *exec.Cmd
	lines chan string // its stderr, line by line
	done  chan error  // its exit
}

func startClient(t *testing.T, endpoint string, id int) *clientProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FEDAVG_TEST_CLIENT=1", "FEDAVG_ENDPOINT="+endpoint, "FEDAVG_ID="+strconv.Itoa(id))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &clientProc{cmd: cmd, lines: make(chan string, 1000), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			default:
			}
		}
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
		c.done <- nil
	})
	return c
}

// exitStatus waits for the process to end and returns its error.
func (c *clientProc) exitStatus(t *testing.T) error {
	select {
	case err := <-c.done:
		c.done <- err
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("client process did not exit")
		return nil
	}
}

// lineLogger returns a logger that calls f with the message of each record.
func lineLogger(f func(line string)) *slog.Logger { return slog.New(lineHandler(f)) }

// lineHandler is the slog.Handler of lineLogger.
type lineHandler func(line string)

func (h lineHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h lineHandler) Handle(_ context.Context, r slog.Record) error {
	h(r.Message)
	return nil
}
func (h lineHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h lineHandler) WithGroup(string) slog.Handler      { return h }

// startRemote starts a server for p and n client processes.
func startRemote(t *testing.T, p *Process, n int, seed int64, timeout time.Duration) (*Server, []*clientProc) {
	t.Helper()
	srv, err := p.Listen("tcp://127.0.0.1:0", ServerOptions{Clients: n, DataSeed: seed, Timeout: timeout, Logger: lineLogger(func(line string) { t.Log(line) })})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	procs := make([]*clientProc, n)
	for id := range procs {
		procs[id] = startClient(t, srv.Addr(), id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.WaitClients(ctx); err != nil {
		t.Fatal(err)
	}
	return srv, procs
}

// Separate client processes over ZeroMQ give exactly the model and metrics
// of the same process run in one process.
func TestRemoteMatchesInProcess(t *testing.T) {
	const seed, rounds = 4, 2
	opts := Options{LocalEpochs: 2, BatchSize: 16, Seed: seed}
	clients, _ := smallClients(t, remoteImages, 3, seed)
	want, wantMetrics := run(t, newProcess(t, opts), clients, rounds)

	p := newProcess(t, opts)
	srv, procs := startRemote(t, p, 3, seed, 5*time.Second)
	state, err := p.Initialize()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for r := range rounds {
		var m Metrics
		if state, m, err = srv.Next(ctx, state); err != nil {
			t.Fatal(err)
		}
		if !metricsEqual(m, wantMetrics[r]) {
			t.Errorf("round %d: remote metrics %+v, in-process %+v", r, m, wantMetrics[r])
		}
	}
	if !slices.Equal(state.Params, want.Params) {
		t.Fatal("the remote run's model differs from the in-process one")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	for id, c := range procs {
		if err := c.exitStatus(t); err != nil {
			t.Errorf("client %d exited with %v", id, err)
		}
	}
}

func metricsEqual(a, b Metrics) bool {
	return a.Loss == b.Loss && a.Accuracy == b.Accuracy && a.Examples == b.Examples &&
		slices.Equal(a.Clients, b.Clients) && slices.Equal(a.Dropped, b.Dropped)
}

// A client process killed while it trains is dropped after the timeout; the
// round goes on with the others and gives what the survivors alone give.
func TestRemoteClientKilledMidRound(t *testing.T) {
	const seed = 6
	opts := Options{LocalEpochs: 3, BatchSize: 8, Seed: seed}
	p := newProcess(t, opts)
	const timeout = time.Second
	t.Setenv("FEDAVG_HANG", "2:round 1: training")
	srv, procs := startRemote(t, p, 3, seed, timeout)
	state0, err := p.Initialize()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	state1, m, err := srv.Next(ctx, state0)
	if err != nil || len(m.Clients) != 3 {
		t.Fatalf("round 0: %+v, %v; want 3 clients", m, err)
	}

	// Kill client 2 as soon as it says it is training round 1 (it then
	// stands still, so that its update cannot beat the kill).
	var wg sync.WaitGroup
	wg.Go(func() {
		for line := range procs[2].lines {
			if strings.Contains(line, "round 1: training") {
				procs[2].cmd.Process.Kill()
				return
			}
		}
	})
	start := time.Now()
	state2, m, err := srv.Next(ctx, state1)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Clients, []int{0, 1}) || !slices.Equal(m.Dropped, []int{2}) {
		t.Fatalf("round 1 aggregated %v and dropped %v; want [0 1] and [2]", m.Clients, m.Dropped)
	}
	if d := time.Since(start); d > 20*timeout {
		t.Errorf("round 1 took %v with a %v timeout", d, timeout)
	}
	clients, _ := smallClients(t, remoteImages, 3, seed)
	want, _, err := newProcess(t, opts).Next(state1, clients[:2])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(state2.Params, want.Params) {
		t.Fatal("round 1 without client 2 differs from the in-process round of clients 0 and 1")
	}
	// Later rounds go on with the survivors.
	if _, m, err = srv.Next(ctx, state2); err != nil || !slices.Equal(m.Clients, []int{0, 1}) {
		t.Fatalf("round 2: %+v, %v; want clients [0 1]", m, err)
	}
	srv.Close()
	for _, id := range []int{0, 1} {
		if err := procs[id].exitStatus(t); err != nil {
			t.Errorf("client %d exited with %v", id, err)
		}
	}
}

// Clients that present a bad id, or a second client with a taken id, are
// refused with a clear error.
func TestServerRefusesBadClients(t *testing.T) {
	p := newProcess(t, Options{})
	srv, err := p.Listen("tcp://127.0.0.1:0", ServerOptions{Clients: 1, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { srv.WaitClients(ctx) })
	data := func(int, int64) (Dataset, error) {
		return Dataset{Features: 784, X: make([]float32, 784), Y: []int32{0}}, nil
	}
	err = RunClient(ctx, srv.Addr(), DenseModel(784, 16, 2, 0), ClientOptions{ID: 5, Data: data})
	if err == nil || !strings.Contains(err.Error(), "client id 5 out of range [0, 1)") {
		t.Fatalf("client with id 5: %v, want a refusal", err)
	}
}
