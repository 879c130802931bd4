package grade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ppml-go/ppml/kernel/nbformat"
	"github.com/ppml-go/ppml/kernel/runner"
	"github.com/ppml-go/ppml/pkg/grade/sandbox"
)

// helperArg, as the first argument of this program, makes it the sandbox's
// kernel helper (see sandbox.KernelMain): KernelExecutor starts kernels
// through it.
const helperArg = "__ppml-grade-sandbox-kernel"

func init() {
	if len(os.Args) > 1 && os.Args[1] == helperArg {
		os.Exit(sandbox.KernelMain(os.Args[2:]))
	}
}

// KernelExecutor runs notebooks on a Jupyter kernel, one fresh kernel per
// notebook, in a sandbox unless Unsafe.
type KernelExecutor struct {
	// Spec is the kernel to run (e.g. the course's ppml-go kernelspec).
	Spec *runner.Spec
	// Timeout bounds each cell; Memory and Procs bound the whole kernel.
	Timeout time.Duration
	Memory  int64
	Procs   int
	// ReadOnly are extra host paths the kernel may read (the project
	// checkout, ...); Hide are paths under them it may not (the source
	// notebook, submissions, gradebook).
	ReadOnly, Hide []string
	// GoCache are read-only Go build caches layered under each kernel's
	// private cache, newest first.
	GoCache []string
	// Unsafe runs the kernel without a sandbox (for `ppml validate` on a
	// student's own notebook, or where bubblewrap is missing).
	Unsafe bool
	// KernelOutput receives the kernel processes' logs, if not nil.
	KernelOutput *os.File
}

// Execute implements Executor: it runs each code cell of nb with the cell
// timeout, and the stub of an answer cell that does not compile in its
// place. After a timeout that forced a restart, or a dead kernel, the
// kernel is restarted and the code cells that had run ok before are run
// again (declarations only persist in a live GoNB kernel) before going on.
func (e *KernelExecutor) Execute(ctx context.Context, nb *nbformat.Notebook, stubs map[int]string) ([]CellResult, error) {
	tmp, err := os.MkdirTemp("", "ppml-grade-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	defer sandbox.Cleanup(tmp) // what a killed helper left behind
	opts := runner.Options{StartTimeout: 2 * time.Minute}
	if e.KernelOutput != nil {
		opts.KernelOutput = e.KernelOutput
	}
	if !e.Unsafe {
		if opts.ArgvPrefix, err = e.sandboxPrefix(tmp); err != nil {
			return nil, err
		}
		opts.ConnectionDir = filepath.Join(tmp, "conn")
	}
	k, err := runner.Start(ctx, e.Spec, opts)
	if err != nil {
		return nil, fmt.Errorf("start kernel: %w", err)
	}
	defer func() { k.Shutdown() }()
	res := make([]CellResult, len(nb.Cells))
	var okCells []string
	for i, c := range nb.Cells {
		if c.CellType != nbformat.Code || strings.TrimSpace(c.Source) == "" {
			res[i].Status = StatusSkipped
			continue
		}
		r, err := k.Execute(ctx, c.Source, e.Timeout)
		if err != nil && r == nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r = &runner.Result{Status: runner.StatusDied, Message: err.Error()}
		}
		res[i] = CellResult{Status: string(r.Status), EName: r.EName, EValue: r.EValue, Traceback: r.Traceback, Outputs: r.Outputs, Duration: r.Duration}
		if r.Status != runner.StatusOK && r.Message != "" && r.EValue == "" {
			res[i].EValue = r.Message
		}
		if stub, ok := stubs[i]; ok && CompileFailed(res[i]) && strings.TrimSpace(stub) != strings.TrimSpace(c.Source) {
			sr, err := k.Execute(ctx, stub, e.Timeout)
			if err == nil && sr.Status == runner.StatusOK {
				res[i].Stubbed = true
				okCells = append(okCells, stub)
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		switch {
		case r.Status == runner.StatusOK:
			if g, ok, _ := c.Nbgrader(); !ok || !g.Grade {
				okCells = append(okCells, c.Source)
			}
		case r.Status == runner.StatusDied || r.Restarted:
			if !r.Restarted {
				if err := k.Restart(ctx); err != nil {
					return res, nil // the rest stays unrun
				}
			}
			for _, src := range okCells { // restore the declarations
				k.Execute(ctx, src, e.Timeout)
			}
		}
	}
	return res, nil
}

// sandboxPrefix writes the sandbox config for one kernel and returns the
// argv prefix that starts the kernel through the helper.
func (e *KernelExecutor) sandboxPrefix(tmp string) ([]string, error) {
	if err := sandbox.Available(); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	work := filepath.Join(tmp, "work")
	conn := filepath.Join(tmp, "conn")
	for _, d := range []string{work, conn} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
	}
	cfg := &sandbox.Config{
		Work:    work,
		Hide:    e.Hide,
		GoCache: e.GoCache,
		Memory:  e.Memory,
		Procs:   e.Procs,
		State:   tmp,
		CPU:     30 * time.Minute,
		Env: []string{"GOPROXY=off", "GOFLAGS=-mod=mod", "GOSUMDB=off", "GOTELEMETRY=off",
			"LANG=C.UTF-8", "GONOSUMCHECK=1", "GOWORK=off"},
	}
	ro := append([]string{e.Spec.Dir}, e.ReadOnly...)
	// bindDir makes a directory the kernel names visible: a Go module's
	// checkout (the project, --root DIR or PPML_ROOT) as its sources only,
	// anything else whole.
	bindDir := func(d string) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			cfg.Sources = append(cfg.Sources, d)
		} else {
			ro = append(ro, d)
		}
	}
	for _, a := range e.Spec.Argv {
		if filepath.IsAbs(a) {
			if st, err := os.Stat(a); err == nil && !st.IsDir() {
				ro = append(ro, filepath.Dir(a))
			} else if err == nil {
				bindDir(a)
			}
		}
	}
	path := "/usr/local/bin:/usr/bin:/bin"
	for k, v := range e.Spec.Env {
		switch k {
		case "PATH":
			path = v
		case "GOMODCACHE", "GOROOT", "PPML_ROOT", "GOPATH":
			if filepath.IsAbs(v) {
				bindDir(v)
			}
		}
		if k != "PATH" {
			cfg.Env = append(cfg.Env, k+"="+v)
		}
	}
	for _, d := range filepath.SplitList(path) {
		if !filepath.IsAbs(d) {
			continue
		}
		ro = append(ro, d)
		// A Go toolchain's bin: the compiler needs the whole GOROOT.
		if root := filepath.Dir(d); filepath.Base(d) == "bin" {
			if _, err := os.Stat(filepath.Join(root, "src", "runtime")); err == nil {
				ro = append(ro, root)
			}
		}
	}
	cfg.Env = append(cfg.Env, "PATH="+path)
	cfg.ReadOnly = ro
	cfgPath := filepath.Join(tmp, "sandbox.json")
	if err := cfg.WriteFile(cfgPath); err != nil {
		return nil, err
	}
	return []string{self, helperArg, "--config", cfgPath, "--conn-dir", conn, "--"}, nil
}
