package grade

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppml-go/ppml/internal/reaper"
	"github.com/ppml-go/ppml/kernel/nbformat"
	"github.com/ppml-go/ppml/kernel/runner"
	"github.com/ppml-go/ppml/pkg/grade/sandbox"
)

var (
	specOnce sync.Once
	spec     *runner.Spec
	specErr  error
)

// gonbSpec builds GoNB and goimports (the module's tools) into a temporary
// directory and returns a kernelspec running plain GoNB with the project's
// toolchain: the grader's tests do not depend on the course kernel.
func gonbSpec(t *testing.T) *runner.Spec {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a Go kernel")
	}
	return gonbSpecB(t)
}

func gonbSpecB(t testing.TB) *runner.Spec {
	specOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ppml-grade-gonb-")
		if err != nil {
			specErr = err
			return
		}
		build := exec.Command("go", "build", "-o", dir+"/", "github.com/janpfeifer/gonb", "golang.org/x/tools/cmd/goimports")
		if out, err := build.CombinedOutput(); err != nil {
			specErr = err
			t.Logf("%s", out)
			return
		}
		goenv := func(k string) string {
			out, _ := exec.Command("go", "env", k).Output()
			return strings.TrimSpace(string(out))
		}
		goroot := goenv("GOROOT")
		spec = &runner.Spec{
			Name:          "gonb-test",
			Dir:           dir,
			Argv:          []string{filepath.Join(dir, "gonb"), "--kernel", "{connection_file}", "--raw_error", "--logtostderr"},
			Language:      "go",
			InterruptMode: "message",
			Env: map[string]string{
				"GOTOOLCHAIN":  os.Getenv("GOTOOLCHAIN"),
				"GOEXPERIMENT": os.Getenv("GOEXPERIMENT"),
				"GOMODCACHE":   goenv("GOMODCACHE"),
				"PATH":         dir + ":" + goroot + "/bin:/usr/local/bin:/usr/bin:/bin",
			},
		}
	})
	if specErr != nil {
		t.Fatal(specErr)
	}
	return spec
}

func userGoCache() []string {
	out, _ := exec.Command("go", "env", "GOCACHE").Output()
	return []string{strings.TrimSpace(string(out))}
}

func testExecutor(t *testing.T, unsafe bool) *KernelExecutor {
	e := &KernelExecutor{Spec: gonbSpec(t), Timeout: 20 * time.Second, Memory: 2 << 30, Procs: 512,
		GoCache: userGoCache(), Unsafe: unsafe, Hide: []string{"testdata"}}
	if !unsafe {
		if err := sandbox.Available(); err != nil {
			t.Fatalf("the grader's sandbox cannot run here: %v (scripts/install-test-deps.sh installs bubblewrap)", err)
		}
	}
	if testing.Verbose() {
		e.KernelOutput = os.Stderr
	}
	return e
}

func TestExecuteSourceNotebook(t *testing.T) {
	for _, unsafe := range []bool{true, false} {
		src, err := nbformat.ReadFile("testdata/course.ipynb")
		if err != nil {
			t.Fatal(err)
		}
		e := testExecutor(t, unsafe)
		start := time.Now()
		res, err := e.Execute(context.Background(), src, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("unsafe=%v: %v", unsafe, time.Since(start))
		for i, r := range res {
			if r.Status != runner.StatusOK && r.Status != runner.StatusSkipped {
				t.Errorf("unsafe=%v: cell %d: %s %s %s %v", unsafe, i+1, r.Status, r.EName, r.EValue, r.Traceback)
			}
		}
	}
}

func TestMain(m *testing.M) {
	reaper.Main() // the guardian of a kernel the runner starts
	if code, ok := sandbox.Main(os.Args[1:]); ok {
		os.Exit(code) // this test binary as the sandbox's helper
	}
	code := m.Run()
	if spec != nil {
		os.RemoveAll(spec.Dir)
	}
	if courseInstall != "" {
		os.RemoveAll(courseInstall)
	}
	os.Exit(code)
}

// TestExecuteGroups checks that cells of declarations before a test, run as one
// program, keep what they mean cell by cell (a function declared in two
// cells: GoNB keeps the later, in one cell as across cells), report a panic
// in one of them at its line in its own cell, and that a group that does
// not compile runs cell by cell, so that only the broken cell is lost.
func TestExecuteGroups(t *testing.T) {
	test := func(src string) *nbformat.Cell {
		c := &nbformat.Cell{CellType: nbformat.Code, Source: src}
		if err := c.SetNbgrader(&nbformat.Nbgrader{Grade: true, GradeID: "t", Points: 1}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	code := func(src string) *nbformat.Cell { return &nbformat.Cell{CellType: nbformat.Code, Source: src} }
	nb := &nbformat.Notebook{Cells: []*nbformat.Cell{
		code("import \"fmt\"\n\nfunc version() int { return 1 }\n\nfunc show() { fmt.Println(version()) }"),
		code("// The second version.\nfunc version() int { return 2 }"),
		test("%%\nif version() != 2 {\n\tpanic(\"version 1\")\n}"),
		code("import \"strings\"\n\nfunc shout(s string) string { return strings.ToUpper(s) }"),
		code("// index panics for i out of range.\nfunc index(xs []int, i int) int {\n\tn := 0\n\tn += xs[i]\n\treturn n\n}"),
		test("%%\nindex([]int{1}, 3)"),
		code("func seven() int { return 7 }"),
		code("func broken() int { return \"x\" }"),
		test("%%\nif seven() != 7 {\n\tpanic(\"seven\")\n}"),
	}}
	e := &KernelExecutor{Spec: courseKernel(t), Timeout: time.Minute, Unsafe: true} // the ppml-go kernel: its front reports panics
	res, err := e.Execute(context.Background(), nb, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []runner.Status{runner.StatusOK, runner.StatusOK, runner.StatusOK, runner.StatusOK, runner.StatusOK, runner.StatusError,
		runner.StatusOK, runner.StatusError, runner.StatusOK} {
		if res[i].Status != want {
			t.Errorf("cell %d: %s (%s %s), want %s", i+1, res[i].Status, res[i].EName, res[i].EValue, want)
		}
	}
	if msg := errorMessage(res[5]); !strings.Contains(msg, "index out of range") || !strings.Contains(msg, "in index") ||
		(strings.Contains(msg, "line") && !strings.Contains(msg, "in index, line 4 of its cell")) {
		t.Errorf("the panic says %q, want it in index, at line 4 of its cell", msg)
	}
	if !CompileFailed(res[7]) {
		t.Errorf("the broken cell: %s %s, want a compile error", res[7].Status, res[7].EValue)
	}
}
