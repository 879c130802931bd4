package kerneltest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ppml-go/ppml/kernel/jupyter"
)

// TestJupyterLabClient drives the kernel through JupyterLab's own kernel
// client library, npm @jupyterlab/services (tests/jupyterlab/client.mjs, the
// version pinned in its package-lock.json), against Debian's Jupyter server,
// with the client's default options: an empty username, as JupyterLab and
// Notebook 7 send it. It fails on any message the library drops, on any
// check of client.mjs that fails, and on any process of the kernel left
// after its shutdown. scripts/install-test-deps.sh installs what it needs
// (python3-jupyter-server, node, the npm packages); without them it fails
// saying what is missing.
func TestJupyterLabClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Jupyter server and a kernel: skipped with -short")
	}
	jp := install(t)
	python := ""
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import jupyter_server").Run() == nil {
			python = py
			break
		}
	}
	if python == "" {
		t.Fatal("no python3 imports jupyter_server: run scripts/install-test-deps.sh (Debian's python3-jupyter-server)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: run scripts/install-test-deps.sh")
	}
	clientDir := filepath.Join(root, "tests", "jupyterlab")
	if _, err := os.Stat(filepath.Join(clientDir, "node_modules", "@jupyterlab", "services", "package.json")); err != nil {
		t.Fatalf("@jupyterlab/services is not installed in %s: run scripts/install-test-deps.sh (%v)", clientDir, err)
	}

	url, marker, server := startJupyterServer(t, python, jp)

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // within go test's default 10m
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = clientDir
	cmd.Env = append(os.Environ(), "JUPYTER_URL="+url, "JUPYTER_TOKEN="+server.token, "KERNEL_NAME="+kernelName)
	cmd.WaitDelay = 10 * time.Second
	out, runErr := cmd.CombinedOutput()
	t.Logf("client.mjs:\n%s", out)

	var summary struct {
		OK       bool
		Problems []string
		Received map[string]int
	}
	var problems []string // as they came, if the summary did not
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Check   string
			OK      bool
			Detail  string
			Problem string
			Summary *json.RawMessage
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		if line.Check != "" && !line.OK {
			t.Errorf("check %q: %s", line.Check, line.Detail)
		}
		if line.Problem != "" {
			problems = append(problems, line.Problem)
		}
		if line.Summary != nil {
			json.Unmarshal(*line.Summary, &summary)
		}
	}
	if summary.Received != nil {
		problems = summary.Problems
	}
	for _, p := range problems {
		t.Errorf("JupyterLab's client: %s", p)
	}
	if runErr != nil && !t.Failed() {
		t.Errorf("client.mjs: %v", runErr)
	}
	if summary.Received == nil {
		t.Errorf("client.mjs gave no summary")
	}
	// The client shut the kernel down: nothing of it may be left, the
	// server aside.
	waitNoneLeft(t, marker, 20*time.Second, server.cmd.Process.Pid)
}

// jupyterServer is a Jupyter server started for a test.
type jupyterServer struct {
	cmd   *exec.Cmd
	token string
}

// startJupyterServer starts Debian's Jupyter server (jupyter_server, what
// JupyterLab runs on) on a free local port, finding kernelspecs in
// jupyterPath, with a marker in its environment that the kernels it starts
// inherit. It returns the server's base URL, the marker and the server.
func startJupyterServer(t *testing.T, python, jupyterPath string) (string, string, *jupyterServer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	s := &jupyterServer{token: jupyter.NewID()}
	args := []string{"-m", "jupyter_server", "--no-browser", "--ServerApp.ip=127.0.0.1",
		fmt.Sprintf("--ServerApp.port=%d", port), "--ServerApp.port_retries=0",
		"--ServerApp.token=" + s.token, "--ServerApp.root_dir=" + dir}
	if os.Geteuid() == 0 {
		args = append(args, "--allow-root")
	}
	marker := "PPML_KERNELTEST_MARK=" + jupyter.NewID()
	s.cmd = exec.Command(python, args...)
	s.cmd.Dir = dir
	s.cmd.Env = append(os.Environ(), marker, "JUPYTER_PATH="+jupyterPath,
		"JUPYTER_CONFIG_DIR="+filepath.Join(dir, "config"), "JUPYTER_RUNTIME_DIR="+filepath.Join(dir, "runtime"))
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs := &syncBuffer{}
	s.cmd.Stdout, s.cmd.Stderr = logs, logs
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start jupyter_server: %v", err)
	}
	exited := make(chan struct{})
	go func() { s.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		}
		killMarked(marker)
		if t.Failed() {
			t.Logf("jupyter server log:\n%s", logs.String())
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url + "/api/kernelspecs?token=" + s.token)
		if err == nil {
			var specs struct {
				Kernelspecs map[string]any `json:"kernelspecs"`
			}
			json.NewDecoder(resp.Body).Decode(&specs)
			resp.Body.Close()
			if _, ok := specs.Kernelspecs[kernelName]; !ok {
				t.Fatalf("the Jupyter server does not list the %s kernelspec: %v", kernelName, specs.Kernelspecs)
			}
			return url, marker, s
		}
		select {
		case <-exited:
			t.Fatalf("jupyter_server exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("jupyter_server did not answer at %s within a minute: %v\n%s", url, err, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
