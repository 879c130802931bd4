package grade

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ppml-go/ppml/kernel/gonbcell"
	"github.com/ppml-go/ppml/kernel/nbformat"
	"github.com/ppml-go/ppml/kernel/runner"
	"github.com/ppml-go/ppml/pkg/grade/sandbox"
)

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
	// GoCache are read-only Go build caches (the teacher's warmed GOCACHE)
	// that each kernel's builds read, under a private cache of its own.
	GoCache []string
	// WarmCache, if not "", is a Go build cache directory that the grader
	// warms: the kernel of Warming's executor (the check run of the
	// teacher's release, trusted) writes its new build entries there, and
	// every other kernel reads it first, read-only. With it, what the
	// teacher's GOCACHE lacks is compiled once per class, not once per
	// submission.
	WarmCache string
	warming   bool
	// Unsafe runs the kernel without a sandbox (for `ppml validate` on a
	// student's own notebook, or where bubblewrap is missing).
	Unsafe bool
	// KernelOutput receives the kernel processes' logs, if not nil.
	KernelOutput *os.File
}

// Execute implements Executor: it runs each code cell of nb with the cell
// timeout, and the stub of an answer cell that does not compile in its
// place. The cells of declarations only (an answer, the course's own
// functions) before a test cell are built with the test as one program (one
// build instead of one per cell: the build, mostly its link, is what a
// cell costs), and run one by one only when that does not compile. After a timeout that forced a
// restart, or a dead kernel, the kernel is restarted and the code cells
// that had run ok before are run again (declarations only persist in a live
// GoNB kernel) before going on. It returns an error, and no results, when
// the kernel does not start or cannot be restarted: the grader's failure,
// not the student's.
func (e *KernelExecutor) Execute(ctx context.Context, nb *nbformat.Notebook, stubs map[int]string) ([]CellResult, error) {
	tmp, err := os.MkdirTemp("", "ppml-grade-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	defer sandbox.Cleanup(tmp) // what a killed helper left behind
	// The kernel's last words, to say why it did not start.
	var out tail
	opts := runner.Options{StartTimeout: 2 * time.Minute, KernelOutput: &out}
	if e.KernelOutput != nil {
		opts.KernelOutput = io.MultiWriter(&out, e.KernelOutput)
	}
	if !e.Unsafe {
		if opts.ArgvPrefix, err = e.sandboxPrefix(tmp); err != nil {
			return nil, err
		}
		opts.ConnectionDir = filepath.Join(tmp, "conn")
	}
	k, err := runner.Start(ctx, e.Spec, opts)
	if err != nil {
		if last := out.String(); last != "" {
			return nil, fmt.Errorf("start kernel: %w; the kernel said: %s", err, last)
		}
		return nil, fmt.Errorf("start kernel: %w", err)
	}
	defer func() { k.Shutdown() }()
	x := &execution{k: k, timeout: e.Timeout}
	res := make([]CellResult, len(nb.Cells))
	runs := func(c *nbformat.Cell) bool {
		return c.CellType == nbformat.Code && strings.TrimSpace(c.Source) != ""
	}
	alone := -1 // cells up to this one run one by one: their group did not compile
	for i := 0; i < len(nb.Cells); i++ {
		c := nb.Cells[i]
		if !runs(c) {
			res[i].Status = runner.StatusSkipped
			continue
		}
		if i > alone {
			if cells := group(nb, i, runs); cells != nil {
				j := cells[len(cells)-1]
				ok, err := x.runGroup(ctx, nb, cells, res)
				if err != nil {
					return nil, err
				}
				if ok {
					i = j
					continue
				}
				alone = j
			}
		}
		r, err := x.run(ctx, c.Source)
		if err != nil {
			return nil, err
		}
		res[i] = r
		if stub, ok := stubs[i]; ok && CompileFailed(r) && strings.TrimSpace(stub) != strings.TrimSpace(c.Source) {
			sr, err := x.run(ctx, stub)
			if err != nil {
				return nil, err
			}
			if sr.Status == runner.StatusOK {
				res[i].Stubbed = true
				x.ran(ctx, stub, sr)
			}
			continue
		}
		if isTestCell(c) {
			x.ran(ctx, "", r)
		} else {
			x.ran(ctx, c.Source, r)
		}
	}
	if x.dead != nil {
		// The kernel started once: what keeps it from starting again is the
		// machine's (or the sandbox's), not the student's.
		return nil, fmt.Errorf("the kernel died and could not be restarted: %w", x.dead)
	}
	return res, nil
}

// execution is one notebook's run on a kernel.
type execution struct {
	k       *runner.Kernel
	timeout time.Duration
	decls   []string // the code that ran ok, to run again after a restart
	dead    error    // why the kernel could not be restarted
}

// run runs src; the error is ctx's only.
func (x *execution) run(ctx context.Context, src string) (CellResult, error) {
	if x.dead != nil {
		return CellResult{Status: runner.StatusDied, EValue: "the kernel died and could not be restarted"}, nil
	}
	r, err := x.k.Execute(ctx, src, x.timeout)
	if ctx.Err() != nil {
		return CellResult{}, ctx.Err()
	}
	if err != nil && r == nil {
		r = &runner.Result{Status: runner.StatusDied, Message: err.Error()}
	}
	cr := CellResult{Status: r.Status, EName: r.EName, EValue: r.EValue, Traceback: r.Traceback, Outputs: r.Outputs, Duration: r.Duration, ExecutionCount: r.ExecutionCount}
	if r.Status != runner.StatusOK && r.Message != "" && r.EValue == "" {
		cr.EValue = r.Message
	}
	if r.Status == runner.StatusDied || r.Restarted {
		if !r.Restarted {
			if err := x.k.Restart(ctx); err != nil {
				x.dead = err
				return cr, nil
			}
		}
		for _, d := range x.decls { // restore the declarations
			x.k.Execute(ctx, d, x.timeout)
		}
	}
	return cr, nil
}

// ran records that decls ran with result r: GoNB kept them if they
// compiled; if the kernel was restarted since, they run again now.
func (x *execution) ran(ctx context.Context, decls string, r CellResult) {
	if decls == "" || CompileFailed(r) {
		return
	}
	x.decls = append(x.decls, decls)
	if (r.Status == runner.StatusTimeout || r.Status == runner.StatusDied) && x.dead == nil {
		x.k.Execute(ctx, decls, x.timeout)
	}
}

// group returns the indexes of the cells from i to the next test cell that
// run, when all of them but the test are declarations only and there are at
// least two; nil otherwise.
func group(nb *nbformat.Notebook, i int, runs func(*nbformat.Cell) bool) []int {
	var cells []int
	for j := i; j >= 0; j = nextRun(nb, j, runs) {
		cells = append(cells, j)
		switch c := nb.Cells[j]; {
		case isTestCell(c):
			if len(cells) < 2 {
				return nil
			}
			return cells
		case !declarationsOnly(c.Source):
			return nil
		}
	}
	return nil
}

// runGroup runs the cells of a group (see group) as one program; false
// when it does not compile (nothing is recorded then). Otherwise the test's
// result goes to the last cell, with the lines of its stack traces put back
// in the cells they come from, and the others are ok.
func (x *execution) runGroup(ctx context.Context, nb *nbformat.Notebook, cells []int, res []CellResult) (bool, error) {
	srcs := make([]string, len(cells))
	for k, i := range cells {
		srcs[k] = nb.Cells[i].Source
	}
	joined, err := gonbcell.Join(srcs...)
	if err != nil {
		return false, nil
	}
	decls, err := gonbcell.Join(srcs[:len(srcs)-1]...)
	if err != nil {
		return false, nil
	}
	r, err := x.run(ctx, joined.Source)
	if err != nil || CompileFailed(r) {
		return false, err
	}
	first, j := cells[0], cells[len(cells)-1]
	for k := first; k < j; k++ {
		res[k].Status = runner.StatusSkipped
	}
	for _, k := range cells[:len(cells)-1] {
		res[k] = CellResult{Status: runner.StatusOK}
	}
	relocate(&r, joined)
	res[j] = r
	x.ran(ctx, decls.Source, r)
	return true, nil
}

// relocate rewrites the cell lines of r's stack traces that point into the
// joined cell j to the lines of the cells they come from.
func relocate(r *CellResult, j *gonbcell.Joined) {
	// New slices: the result's traceback and its error output's may share
	// one array, which must not be relocated twice.
	fix := func(tb []string) []string {
		out := make([]string, len(tb))
		for k, l := range tb {
			out[k] = tracedLine.ReplaceAllStringFunc(l, func(m string) string {
				sm := tracedLine.FindStringSubmatch(m)
				if n, _ := strconv.Atoi(sm[2]); n != r.ExecutionCount || r.ExecutionCount == 0 {
					return m // a line of a cell that ran before
				}
				line, _ := strconv.Atoi(sm[3])
				_, orig := j.Origin(line)
				return sm[1] + strconv.Itoa(orig) + sm[4]
			})
		}
		return out
	}
	if r.Traceback != nil {
		r.Traceback = fix(r.Traceback)
	}
	for _, o := range r.Outputs {
		if o.Traceback != nil {
			o.Traceback = fix(o.Traceback)
		}
	}
}

// exists reports whether a file is at path.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// tracedLine is GoNB's mark of a cell line in a stack trace.
var tracedLine = regexp.MustCompile(`(\[\[ Cell \[(\d+)\] Line )(\d+)( \]\])`)

// nextRun returns the index of the first cell after i that runs, or -1.
func nextRun(nb *nbformat.Notebook, i int, runs func(*nbformat.Cell) bool) int {
	for j := i + 1; j < len(nb.Cells); j++ {
		if runs(nb.Cells[j]) {
			return j
		}
	}
	return -1
}

// declarationsOnly reports whether a GoNB cell has no main body.
func declarationsOnly(src string) bool {
	return declarations(src) == src && !strings.Contains(src, "func main(")
}

// isTestCell reports whether c is a test: a grade cell.
func isTestCell(c *nbformat.Cell) bool {
	g, ok, _ := c.Nbgrader()
	return ok && g.Grade
}

// sandboxPrefix writes the sandbox config for one kernel and returns the
// argv prefix that starts the kernel through the helper.
func (e *KernelExecutor) sandboxPrefix(tmp string) ([]string, error) {
	if err := sandbox.Available(); err != nil {
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
		Hide:    slices.Clone(e.Hide),
		GoCache: e.goCaches(),
		Memory:  e.Memory,
		Procs:   e.Procs,
		State:   tmp,
		CPU:     30 * time.Minute,
		Env: []string{"GOPROXY=off", "GOFLAGS=-mod=mod", "GOSUMDB=off", "GOTELEMETRY=off",
			"LANG=C.UTF-8", "GONOSUMCHECK=1", "GOWORK=off"},
	}
	if e.warming {
		cfg.GoCacheWrite = e.WarmCache
	}
	ro := append([]string{e.Spec.Dir}, e.ReadOnly...)
	// bindDir makes a directory the kernel names visible: a Go module's
	// checkout (the project, --root DIR or PPML_ROOT) as its sources only,
	// anything else whole.
	bindDir := func(d string) {
		if exists(filepath.Join(d, "go.mod")) {
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
		case "GOMODCACHE", "GOROOT", "PPML_ROOT", "GOPATH", "MNIST_DIR":
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
		// No language server: nothing asks a graded kernel for completions,
		// and GoNB's gopls type-checking each cell's program cost about a
		// second of CPU per submission. Hidden, gopls is not executable and
		// GoNB runs without it.
		if gopls := filepath.Join(d, "gopls"); exists(gopls) {
			cfg.Hide = append(cfg.Hide, gopls)
		}
		// A Go toolchain's bin: the compiler needs the whole GOROOT.
		if root := filepath.Dir(d); filepath.Base(d) == "bin" {
			if exists(filepath.Join(root, "src", "runtime")) {
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
	return sandbox.KernelPrefix(cfgPath, conn)
}

// Warming implements Warmer: the same executor, writing the new build
// entries of its kernels to e.WarmCache.
func (e *KernelExecutor) Warming() Executor {
	w := *e
	w.warming = e.WarmCache != ""
	return &w
}

// goCaches are the read-only build caches of the kernels: the warmed cache
// (unless this executor warms it), the kernelspec's GOCACHE (which
// scripts/install-kernel.sh warms), then e.GoCache.
func (e *KernelExecutor) goCaches() []string {
	var out []string
	if e.WarmCache != "" && !e.warming {
		out = append(out, e.WarmCache)
	}
	if c := e.Spec.Env["GOCACHE"]; filepath.IsAbs(c) {
		out = append(out, c)
	}
	for _, c := range e.GoCache {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// tail keeps the last lines written to it.
type tail struct {
	mu   sync.Mutex
	data []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.data = append(t.data, p...)
	if len(t.data) > 4096 {
		t.data = t.data[len(t.data)-2048:]
	}
	return len(p), nil
}

// String returns the last 5 lines written, on one line.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.data)), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], " | ")
}
