package kerneltest

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/ppml-go/ppml/kernel/jupyter"
)

// kernelSpec is the part of kernel.json the tests use.
type kernelSpec struct {
	Argv []string          `json:"argv"`
	Env  map[string]string `json:"env"`
}

// startKernel starts the installed kernel as Jupyter does, with a marker in
// its environment that every process it starts inherits, and connects to
// it. It returns the kernel's process, its sockets and the marker.
func startKernel(t testing.TB, jupyterPath, name string) (*exec.Cmd, *jupyter.Sockets, string) {
	return startKernelUnder(t, jupyterPath, name, nil)
}

// startKernelUnder is startKernel with the kernel's command put after the
// words of parent.
func startKernelUnder(t testing.TB, jupyterPath, name string, parent []string) (*exec.Cmd, *jupyter.Sockets, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(jupyterPath, "kernels", name, "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec kernelSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	info, err := jupyter.NewConnectionInfo(kernelName)
	if err != nil {
		t.Fatal(err)
	}
	connFile := filepath.Join(t.TempDir(), "kernel-"+jupyter.NewID()+".json")
	if err := info.WriteFile(connFile); err != nil {
		t.Fatal(err)
	}
	argv := make([]string, len(spec.Argv))
	for i, a := range spec.Argv {
		argv[i] = strings.ReplaceAll(a, "{connection_file}", connFile)
	}
	argv = append(parent[:len(parent):len(parent)], argv...)
	marker := "PPML_KERNELTEST_MARK=" + jupyter.NewID()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), marker)
	for k, v := range spec.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // as jupyter_client: a session of its own
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		killMarked(marker)
		if t.Failed() {
			t.Logf("kernel log:\n%s", logs.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	socks, err := jupyter.Dial(ctx, info, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { socks.Close() })
	return cmd, socks, marker
}

// marked returns the pids of the live processes whose environment has
// marker.
func marked(marker string) []int { return reaper.WithEnv(marker) }

func killMarked(marker string) {
	for _, pid := range marked(marker) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// cmdline returns the command line of pid, for messages.
func cmdline(pid int) string {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(strings.TrimRight(string(data), "\x00"), "\x00", " ")
}

// execute sends a cell and waits for its reply or, with untilStdout, until
// the cell's program runs (its first stdout).
func execute(t testing.TB, s *jupyter.Sockets, code string, untilStdout bool) {
	t.Helper()
	m, err := jupyter.NewSession().NewMessage("execute_request", nil, map[string]any{
		"code": code, "silent": false, "store_history": true, "user_expressions": map[string]any{},
		"allow_stdin": false, "stop_on_error": true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(jupyter.Shell, m); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		for {
			var r *jupyter.Message
			var err error
			if untilStdout {
				r, err = s.Recv(jupyter.IOPub)
			} else {
				r, err = s.Recv(jupyter.Shell)
			}
			if err != nil {
				got <- err
				return
			}
			if r.ParentID() != m.Header.MsgID {
				continue
			}
			if !untilStdout || isStdout(r) {
				got <- nil
				return
			}
		}
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("no answer from the kernel to an execute_request")
	}
}

// isStdout reports whether m is a stdout stream: the cell's program runs
// (GoNB's go get and build write on stderr).
func isStdout(m *jupyter.Message) bool {
	var s struct{ Name string }
	return m.Type() == "stream" && m.DecodeContent(&s) == nil && s.Name == "stdout"
}

// waitNoneLeft fails unless every process with marker, but those of except,
// is gone within d.
func waitNoneLeft(t *testing.T, marker string, d time.Duration, except ...int) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var left []int
		for _, pid := range marked(marker) {
			if !slices.Contains(except, pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				t.Errorf("process %d left behind: %s", pid, cmdline(pid))
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKernelLeavesNoProcess stops the kernel while a cell runs, in each way
// it can stop, and checks that GoNB, gopls and the cell's program all end.
func TestKernelLeavesNoProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kernels and compiles cells: skipped with -short")
	}
	jp := install(t)
	const sleeper = "import \"time\"\n%%\nfmt.Println(\"running\")\ntime.Sleep(time.Hour)"
	stops := []struct {
		name   string
		parent []string // a process between the test and the kernel
		stop   func(t *testing.T, cmd *exec.Cmd, s *jupyter.Sockets)
	}{
		{"client died", []string{"sh", "-c", `JPY_PARENT_PID=$$ "$@" & wait`, "sh"}, // as jupyter_client sets it
			func(t *testing.T, cmd *exec.Cmd, s *jupyter.Sockets) {
				cmd.Process.Kill() // the shell, the kernel's parent
			}},
		{"front killed alone", nil, func(t *testing.T, cmd *exec.Cmd, s *jupyter.Sockets) {
			cmd.Process.Kill()
		}},
		{"SIGTERM", nil, func(t *testing.T, cmd *exec.Cmd, s *jupyter.Sockets) {
			cmd.Process.Signal(syscall.SIGTERM)
		}},
		{"process group killed", nil, func(t *testing.T, cmd *exec.Cmd, s *jupyter.Sockets) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // as jupyter_client kills a kernel
		}},
		{"shutdown_request", nil, func(t *testing.T, cmd *exec.Cmd, s *jupyter.Sockets) {
			m, _ := jupyter.NewSession().NewMessage("shutdown_request", nil, map[string]any{"restart": false})
			if err := s.Send(jupyter.Control, m); err != nil {
				t.Fatal(err)
			}
			r, err := s.Recv(jupyter.Control)
			if err != nil || r.Type() != "shutdown_reply" {
				t.Errorf("shutdown_request: got %v, %v; want a shutdown_reply on control", r, err)
			}
		}},
	}
	for _, st := range stops {
		t.Run(st.name, func(t *testing.T) {
			cmd, s, marker := startKernelUnder(t, jp, kernelName, st.parent)
			execute(t, s, sleeper, true)
			st.stop(t, cmd, s)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("the kernel did not exit")
			}
			// gopls gets a minute of grace only when GoNB itself was killed.
			waitNoneLeft(t, marker, 20*time.Second)
		})
	}
}

// TestInterrupt interrupts a running cell with interrupt_request on the
// control channel (the kernelspec's interrupt_mode is "message"): the reply
// comes on control, the cell ends with an error, and the kernel runs the
// next cell.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kernels and compiles cells: skipped with -short")
	}
	jp := install(t)
	cmd, s, _ := startKernel(t, jp, kernelName)
	defer func() {
		m, _ := jupyter.NewSession().NewMessage("shutdown_request", nil, map[string]any{"restart": false})
		s.Send(jupyter.Control, m)
		cmd.Wait()
	}()
	session := jupyter.NewSession()
	m, _ := session.NewMessage("execute_request", nil, map[string]any{
		"code": "import \"time\"\n%%\nfmt.Println(\"running\")\ntime.Sleep(time.Hour)", "silent": false,
		"store_history": true, "user_expressions": map[string]any{}, "allow_stdin": false, "stop_on_error": true,
	})
	if err := s.Send(jupyter.Shell, m); err != nil {
		t.Fatal(err)
	}
	for { // until the program runs
		r, err := s.Recv(jupyter.IOPub)
		if err != nil {
			t.Fatal(err)
		}
		if r.ParentID() == m.Header.MsgID && isStdout(r) {
			break
		}
	}
	intr, _ := session.NewMessage("interrupt_request", nil, map[string]any{})
	if err := s.Send(jupyter.Control, intr); err != nil {
		t.Fatal(err)
	}
	replies := make(chan *jupyter.Message, 2)
	go func() {
		if r, err := s.Recv(jupyter.Control); err == nil {
			replies <- r
		}
	}()
	go func() {
		if r, err := s.Recv(jupyter.Shell); err == nil {
			replies <- r
		}
	}()
	got := map[string]*jupyter.Message{}
	for len(got) < 2 {
		select {
		case r := <-replies:
			got[r.Type()] = r
		case <-time.After(30 * time.Second):
			t.Fatalf("after interrupt_request, got only %v", got)
		}
	}
	var st struct{ Status string }
	if r := got["execute_reply"]; r == nil || r.DecodeContent(&st) != nil || st.Status != "error" {
		t.Errorf("interrupted cell: got %v, status %q; want an execute_reply with status error", r, st.Status)
	}
	if got["interrupt_reply"] == nil {
		t.Errorf("no interrupt_reply on control; got %v", got)
	}
	execute(t, s, "%%\nfmt.Println(\"after\")", false)
}
