package kerneltest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// kernelName is the kernelspec name that scripts/install-kernel.sh writes.
const kernelName = "ppml-go"

var (
	installOnce sync.Once
	installDir  string // the prefix of the kernelspec installed for this test run
	installErr  error
	root        string // the module's checkout
)

func TestMain(m *testing.M) {
	code := m.Run()
	if installDir != "" {
		os.RemoveAll(installDir)
	}
	os.Exit(code)
}

// pythonBin is the Python that runs the scripts: the first of python3 on
// PATH and Debian's /usr/bin/python3 (PATH may lead to another Python,
// pyenv's for instance, without Debian's packages) that imports modules.
var pythonBin string

// requireJupyter skips the test in -short mode and when no python3 has the
// modules it needs.
func requireJupyter(t *testing.T, modules ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts kernels and compiles cells: skipped with -short")
	}
	imports := "import " + strings.Join(modules, ", ")
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", imports).Run() == nil {
			pythonBin = py
			return
		}
	}
	t.Skipf("no python3 can %q: install Debian's python3-jupyter-kernel-test (apt-get install -y python3-jupyter-kernel-test)", imports)
}

// install installs the kernelspec (once per test run) into a temporary
// prefix and returns the JUPYTER_PATH that finds it.
func install(t testing.TB) string {
	t.Helper()
	installOnce.Do(func() {
		var out []byte
		out, installErr = exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
		if installErr != nil {
			installErr = fmt.Errorf("go list -m: %w", installErr)
			return
		}
		root = strings.TrimSpace(string(out))
		if installDir, installErr = os.MkdirTemp("", "ppml-kerneltest-"); installErr != nil {
			return
		}
		cmd := exec.Command("bash", filepath.Join(root, "scripts", "install-kernel.sh"), "--prefix", installDir, "--quiet")
		if out, err := cmd.CombinedOutput(); err != nil {
			installErr = fmt.Errorf("install-kernel.sh: %v\n%s", err, out)
		}
	})
	if installErr != nil {
		t.Fatal(installErr)
	}
	spec := filepath.Join(installDir, "share", "jupyter", "kernels", kernelName, "kernel.json")
	if _, err := os.Stat(spec); err != nil {
		t.Fatalf("no kernelspec after install: %v", err)
	}
	return filepath.Join(installDir, "share", "jupyter")
}

// python runs a python3 script of this directory with JUPYTER_PATH set,
// killing it after timeout.
func python(t *testing.T, jupyterPath string, timeout time.Duration, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, pythonBin, args...)
	cmd.Env = append(os.Environ(), "JUPYTER_PATH="+jupyterPath, "PYTHONUNBUFFERED=1")
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return out, fmt.Errorf("python3 %s: no result after %v", strings.Join(args, " "), timeout)
	}
	return out, err
}

// TestJupyterKernelTestSuite runs jupyter_kernel_test.KernelTests, Jupyter's
// conformance suite for kernels, on the installed kernel.
func TestJupyterKernelTestSuite(t *testing.T) {
	requireJupyter(t, "jupyter_kernel_test")
	jp := install(t)
	out, err := python(t, jp, 8*time.Minute, nil, "-m", "unittest", "-v", "test_ppml_kernel.py")
	t.Logf("jupyter_kernel_test:\n%s", out)
	if err != nil {
		t.Fatalf("the kernel failed Jupyter's kernel test suite: %v", err)
	}
}

// cellResult is what run_cells.py reports for a cell.
type cellResult struct {
	Status, Stdout, Stderr, Error string
}

// TestProjectPackagesInKernel checks that a notebook cell can import every
// package of the project, GoMLX with its Go backend, and gonbui, and run.
func TestProjectPackagesInKernel(t *testing.T) {
	requireJupyter(t, "jupyter_client")
	jp := install(t)
	out, err := exec.Command("go", "list", "-e", "-f", "{{if not .Error}}{{.ImportPath}} {{.Name}}{{end}}", root+"/pkg/...").Output()
	if err != nil {
		t.Fatalf("go list ./pkg/...: %v", err)
	}
	var imports []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] != "main" {
			imports = append(imports, f[0])
		}
	}
	imports = append(imports,
		"github.com/gomlx/gomlx/core/graph", "github.com/gomlx/compute/gobackend", "github.com/janpfeifer/gonb/gonbui")
	var cells []string
	for _, p := range imports {
		cells = append(cells, fmt.Sprintf("import _ %q\n%%%%\nfmt.Println(\"imported\", %q)", p, p))
	}
	in, _ := json.Marshal(cells)
	res, err := python(t, jp, time.Duration(len(cells)+2)*2*time.Minute, in, "run_cells.py", kernelName, "180")
	if err != nil {
		t.Fatalf("run_cells.py: %v\n%s", err, res)
	}
	var results []cellResult
	sc := bufio.NewScanner(bytes.NewReader(res))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r cellResult
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Status != "" {
			results = append(results, r)
		}
	}
	if len(results) != len(cells) {
		t.Fatalf("got %d results for %d cells:\n%s", len(results), len(cells), res)
	}
	for i, p := range imports {
		r := results[i]
		if r.Status != "ok" || !strings.Contains(r.Stdout, "imported "+p) {
			t.Errorf("cell importing %s: status %s, error %q, stdout %q, stderr %q", p, r.Status, r.Error, r.Stdout, r.Stderr)
		}
	}
}
