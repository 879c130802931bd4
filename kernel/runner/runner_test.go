package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ppml-go/ppml/internal/reaper"
	"github.com/ppml-go/ppml/kernel/nbformat"
)

// testKernelBin is the test kernel built by TestMain; JUPYTER_PATH points
// at kernelspecs for it: "testkernel" (interrupt by signal) and
// "testkernel-msg" (interrupt by message).
var testKernelBin string

func TestMain(m *testing.M) {
	reaper.Main()
	if os.Getenv("RUNNER_TEST_HELPER") != "" {
		os.Exit(m.Run()) // the helper test only; JUPYTER_PATH is inherited
	}
	dir, err := os.MkdirTemp("", "runner-test-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		testKernelBin = filepath.Join(dir, "testkernel")
		build := exec.Command("go", "build", "-o", testKernelBin, "./internal/testkernel")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building the test kernel:", err)
			return 1
		}
		for name, mode := range map[string]string{"testkernel": "", "testkernel-msg": "message"} {
			writeSpec(filepath.Join(dir, "kernels", name), Spec{
				Argv: []string{testKernelBin, "-f", "{connection_file}"}, DisplayName: name,
				Language: "testlang", InterruptMode: mode,
			})
		}
		os.Setenv("JUPYTER_PATH", dir+string(os.PathListSeparator)+os.Getenv("JUPYTER_PATH"))
		return m.Run()
	}()
	os.Exit(code)
}

func writeSpec(dir string, s Spec) {
	os.MkdirAll(dir, 0o755)
	data, _ := json.Marshal(s)
	if err := os.WriteFile(filepath.Join(dir, "kernel.json"), data, 0o644); err != nil {
		panic(err)
	}
}

func startTestKernel(t *testing.T, name string, opts Options) *Kernel {
	t.Helper()
	spec, err := FindSpec(name)
	if err != nil {
		t.Fatal(err)
	}
	k, err := Start(context.Background(), spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Shutdown() })
	return k
}

func TestFindSpec(t *testing.T) {
	s, err := FindSpec("TestKernel-MSG")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "testkernel-msg" || s.InterruptMode != "message" || s.Argv[0] != testKernelBin {
		t.Errorf("spec = %+v", s)
	}
	argv, _ := s.command("/tmp/c.json")
	if argv[2] != "/tmp/c.json" {
		t.Errorf("argv = %q, want {connection_file} substituted", argv)
	}
	_, err = FindSpec("nope")
	if !errors.Is(err, ErrNoSpec) || !strings.Contains(err.Error(), "testkernel") {
		t.Errorf("FindSpec(nope) = %v, want ErrNoSpec listing the kernels found", err)
	}
	bad := t.TempDir()
	writeSpec(bad, Spec{Argv: []string{"x"}, InterruptMode: "poke"})
	if _, err := ReadSpec(bad); err == nil || !strings.Contains(err.Error(), "interrupt_mode") {
		t.Errorf("ReadSpec(bad interrupt_mode) = %v", err)
	}
}

// TestCommandIPythonHistory checks that an IPython kernel keeps its
// history in memory, as under nbclient, unless its kernelspec says where.
func TestCommandIPythonHistory(t *testing.T) {
	ipy := []string{"python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"}
	const mem = "--HistoryManager.hist_file=:memory:"
	tests := []struct {
		name string
		argv []string
		want string // the last argument
	}{
		{"python3", ipy, mem},
		{"python", ipy, mem},
		{"python3", append(ipy[:len(ipy):len(ipy)], "--HistoryManager.hist_file=/tmp/h.sqlite"), "--HistoryManager.hist_file=/tmp/h.sqlite"},
		{"ppml-go", []string{"ppml", "kernel", "{connection_file}"}, "/tmp/c.json"},
	}
	for _, tt := range tests {
		argv, _ := (&Spec{Name: tt.name, Argv: tt.argv}).command("/tmp/c.json")
		if got := argv[len(argv)-1]; got != tt.want || slices.Contains(argv[:len(argv)-1], mem) {
			t.Errorf("%s %q: argv %q, want it to end with %s only", tt.name, tt.argv, argv, tt.want)
		}
	}
}

// outputsJSON renders outputs as a notebook would store them.
func outputsJSON(outs []*nbformat.Output) string {
	var parts []string
	for _, o := range outs {
		b, _ := o.MarshalJSON()
		parts = append(parts, string(b))
	}
	return strings.Join(parts, "\n")
}

func TestExecuteOutputs(t *testing.T) {
	k := startTestKernel(t, "testkernel", Options{})
	tests := []struct {
		name, code string
		status     Status
		want       []string // JSON of each output
	}{
		{"streams merge", "print a\nprint b\nstderr c\nprint d", StatusOK, []string{
			`{"name":"stdout","output_type":"stream","text":["a\n","b\n"]}`,
			`{"name":"stderr","output_type":"stream","text":["c\n"]}`,
			`{"name":"stdout","output_type":"stream","text":["d\n"]}`}},
		{"display and result", "html x\nresult 42", StatusOK, []string{
			`{"data":{"text/html":["<b>x</b>"],"text/plain":["x"]},"metadata":{},"output_type":"display_data"}`,
			`{"data":{"text/plain":["42"]},"execution_count":2,"metadata":{},"output_type":"execute_result"}`}},
		{"update display", "display d1 first\nprint between\nupdate d1 second", StatusOK, []string{
			`{"data":{"text/plain":["second"]},"metadata":{},"output_type":"display_data"}`,
			`{"name":"stdout","output_type":"stream","text":["between\n"]}`}},
		{"clear", "print gone\nclear\nprint kept", StatusOK, []string{
			`{"name":"stdout","output_type":"stream","text":["kept\n"]}`}},
		{"clear wait", "print gone\nclearwait\nprint kept", StatusOK, []string{
			`{"name":"stdout","output_type":"stream","text":["kept\n"]}`}},
		{"error", "print before\nerror ValueError bad value", StatusError, []string{
			`{"name":"stdout","output_type":"stream","text":["before\n"]}`,
			`{"ename":"ValueError","evalue":"bad value","output_type":"error","traceback":["ValueError: bad value"]}`}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := k.Execute(context.Background(), tt.code, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.status || r.ExecutionCount != i+1 {
				t.Errorf("status %s count %d, want %s %d (%s)", r.Status, r.ExecutionCount, tt.status, i+1, r.Message)
			}
			if got := outputsJSON(r.Outputs); got != strings.Join(tt.want, "\n") {
				t.Errorf("outputs:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
	r, _ := k.Execute(context.Background(), "error ValueError bad value", 0)
	if r.EName != "ValueError" || r.EValue != "bad value" || r.Message != "ValueError: bad value" {
		t.Errorf("error result = %+v", r)
	}
}

func TestUpdateDisplayAcrossExecutions(t *testing.T) {
	k := startTestKernel(t, "testkernel", Options{})
	first, _ := k.Execute(context.Background(), "display bar 10%", 0)
	k.Execute(context.Background(), "update bar 100%", 0)
	if s, _ := first.Outputs[0].Data.Text("text/plain"); s != "100%" {
		t.Errorf("earlier display = %q, want it updated to 100%%", s)
	}
}

func TestTimeoutInterrupts(t *testing.T) {
	for _, name := range []string{"testkernel", "testkernel-msg"} {
		t.Run(name, func(t *testing.T) {
			k := startTestKernel(t, name, Options{})
			pid := k.Pid()
			r, err := k.Execute(context.Background(), "print start\nsleep forever", 300*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != StatusTimeout || r.Restarted || r.EName != "KeyboardInterrupt" {
				t.Errorf("result %+v, want an interrupted timeout without restart", r)
			}
			r, err = k.Execute(context.Background(), "print after", time.Second)
			if err != nil || r.Status != StatusOK || r.ExecutionCount != 2 || k.Pid() != pid {
				t.Errorf("next execution: %+v %v, pid %d then %d", r, err, pid, k.Pid())
			}
		})
	}
}

func TestTimeoutRestartsStuckKernel(t *testing.T) {
	k := startTestKernel(t, "testkernel", Options{InterruptGrace: 300 * time.Millisecond})
	pid := k.Pid()
	r, err := k.Execute(context.Background(), "hang", 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusTimeout || !r.Restarted {
		t.Fatalf("result %+v, want a timeout with restart", r)
	}
	if k.Pid() == pid {
		t.Error("same kernel process after restart")
	}
	waitGone(t, pid)
	r, err = k.Execute(context.Background(), "print fresh", time.Second)
	if err != nil || r.Status != StatusOK || r.ExecutionCount != 1 {
		t.Errorf("after restart: %+v %v", r, err)
	}
}

func TestKernelDeath(t *testing.T) {
	k := startTestKernel(t, "testkernel", Options{})
	r, err := k.Execute(context.Background(), "print bye\nexit 3", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusDied || !strings.Contains(r.Message, "exit status 3") {
		t.Errorf("result %+v, want died with exit status 3", r)
	}
	if _, err := k.Execute(context.Background(), "print x", 0); !errors.Is(err, ErrDead) {
		t.Errorf("Execute on a dead kernel: %v, want ErrDead", err)
	}
	if err := k.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r, err := k.Execute(context.Background(), "print x", 0); err != nil || r.Status != StatusOK {
		t.Errorf("after restart: %+v %v", r, err)
	}
}

func TestHeartbeatDetectsHungKernel(t *testing.T) {
	k := startTestKernel(t, "testkernel", Options{HeartbeatInterval: 100 * time.Millisecond, HeartbeatTimeout: time.Second})
	pid := k.Pid()
	r, err := k.Execute(context.Background(), "stop", 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusDied || !strings.Contains(r.Message, "heartbeat") {
		t.Errorf("result %+v, want died by heartbeat", r)
	}
	waitGone(t, pid)
}

// TestShutdownLeavesNothing checks that the kernel and a child it started
// are gone after Shutdown.
func TestShutdownLeavesNothing(t *testing.T) {
	k := startTestKernel(t, "testkernel", Options{})
	pids := kernelPids(t, k)
	if err := k.Shutdown(); err != nil {
		t.Fatal(err)
	}
	for _, p := range pids {
		waitGone(t, p)
	}
	if _, err := k.Execute(context.Background(), "print x", 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Execute after Shutdown: %v, want ErrClosed", err)
	}
}

// kernelPids returns the pids of the reaper, the kernel and a child the
// kernel spawned.
func kernelPids(t *testing.T, k *Kernel) []int {
	t.Helper()
	r, err := k.Execute(context.Background(), "pid\nspawn", 10*time.Second)
	if err != nil || r.Status != StatusOK {
		t.Fatalf("%+v %v", r, err)
	}
	pids := []int{k.Pid()}
	for _, f := range strings.Fields(r.Outputs[0].Text) {
		p, _ := strconv.Atoi(f)
		pids = append(pids, p)
	}
	return pids
}

// TestKilledRunnerLeavesNothing runs a runner in a child process (this
// test binary, TestHelperRunner), kills it with SIGKILL, and checks that
// its kernel and the kernel's child are gone.
func TestKilledRunnerLeavesNothing(t *testing.T) {
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperRunner$", "-test.v")
	helper.Env = append(os.Environ(), "RUNNER_TEST_HELPER=1")
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "PIDS "); ok {
			for _, f := range strings.Fields(rest) {
				p, _ := strconv.Atoi(f)
				pids = append(pids, p)
			}
			break
		}
	}
	if len(pids) != 3 {
		helper.Process.Kill()
		helper.Wait()
		t.Fatalf("helper reported pids %v", pids)
	}
	for _, p := range pids {
		if !alive(p) {
			t.Fatalf("pid %d not running before the kill", p)
		}
	}
	helper.Process.Signal(syscall.SIGKILL)
	helper.Wait()
	for _, p := range pids {
		waitGone(t, p)
	}
}

func TestHelperRunner(t *testing.T) {
	if os.Getenv("RUNNER_TEST_HELPER") == "" {
		t.Skip("helper of TestKilledRunnerLeavesNothing")
	}
	spec, err := FindSpec("testkernel")
	if err != nil {
		t.Fatal(err)
	}
	k, err := Start(context.Background(), spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pids := kernelPids(t, k)
	fmt.Printf("PIDS %d %d %d\n", pids[0], pids[1], pids[2])
	time.Sleep(time.Minute) // killed by the parent test
}

// alive reports whether pid is a live process (zombies are not).
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !alive(pid) {
			return
		}
	}
	t.Errorf("process %d still running", pid)
	syscall.Kill(pid, syscall.SIGKILL)
}
