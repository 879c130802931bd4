package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ppml-go/ppml/kernel/nbformat"
	"github.com/ppml-go/ppml/kernel/runner"
	"github.com/ppml-go/ppml/pkg/grade"
	"github.com/ppml-go/ppml/pkg/grade/sandbox"
)

func runAssign(stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("assign", stderr)
	out := fs.String("o", "", "release notebook to write (required)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ppml assign SOURCE.ipynb -o RELEASE.ipynb")
		fs.PrintDefaults()
	}
	pos, err := parseFlags(fs, args, -1)
	if err != nil {
		return err
	}
	if *out == "" || len(pos) != 1 {
		return fmt.Errorf("%w: want SOURCE.ipynb -o RELEASE.ipynb", errUsage)
	}
	src := pos[0]
	nb, err := nbformat.ReadFile(src)
	if err != nil {
		return err
	}
	rel, err := grade.Assign(nb)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return nbformat.WriteFile(*out, rel)
}

// kernelFlags are the flags choosing and limiting the kernel.
type kernelFlags struct {
	kernel, kernelspec string
	timeout            time.Duration
	memory             string
	procs              int
}

func (k *kernelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.kernel, "kernel", "", "kernelspec name (default: the notebook's, else ppml-go)")
	fs.StringVar(&k.kernelspec, "kernelspec", "", "kernelspec directory (instead of --kernel)")
	fs.DurationVar(&k.timeout, "timeout", 60*time.Second, "time limit of each cell")
	fs.StringVar(&k.memory, "memory", "2GiB", "memory limit of each kernel (sandboxed runs)")
	fs.IntVar(&k.procs, "procs", 512, "process and thread limit of each kernel (sandboxed runs)")
}

func (k *kernelFlags) executor(nb *nbformat.Notebook) (*grade.KernelExecutor, error) {
	var spec *runner.Spec
	var err error
	switch {
	case k.kernelspec != "":
		spec, err = runner.ReadSpec(k.kernelspec)
	default:
		name := k.kernel
		if name == "" {
			name = runner.KernelName(nb)
		}
		if name == "" {
			name = "ppml-go"
		}
		spec, err = runner.FindSpec(name)
	}
	if err != nil {
		return nil, err
	}
	mem, err := parseBytes(k.memory)
	if err != nil {
		return nil, fmt.Errorf("%w: --memory: %v", errUsage, err)
	}
	cache := os.Getenv("GOCACHE")
	if cache == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(d, "go-build")
		}
	}
	return &grade.KernelExecutor{Spec: spec, Timeout: k.timeout, Memory: mem, Procs: k.procs, GoCache: []string{cache}}, nil
}

// parseBytes reads sizes like 2GiB, 512MiB, 1G or 1000000.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			if err != nil || f <= 0 {
				return 0, fmt.Errorf("bad size %q", s)
			}
			return int64(f * float64(u.mult)), nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q (e.g. 2GiB)", s)
	}
	return n, nil
}

func runValidate(stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("validate", stderr)
	var kf kernelFlags
	kf.register(fs)
	sandboxed := fs.Bool("sandbox", false, "run the notebook in the grader's sandbox")
	all := fs.Bool("all", false, "run every cell whole (default: the tests, and only the declarations of the other cells before the last test)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ppml validate NOTEBOOK.ipynb [flags]")
		fs.PrintDefaults()
	}
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	path := pos[0]
	nb, err := nbformat.ReadFile(path)
	if err != nil {
		return err
	}
	ex, err := kf.executor(nb)
	if err != nil {
		return err
	}
	ex.Unsafe = !*sandboxed
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	tests, err := grade.Validate(ctx, nb, ex, *all)
	if err != nil {
		return err
	}
	if len(tests) == 0 {
		fmt.Fprintln(stdout, "no test cells in", path)
		return nil
	}
	var score, total float64
	failed := 0
	for _, t := range tests {
		score += t.Points
		total += t.MaxPoints
		mark := "PASS"
		if t.Status != grade.Passed {
			mark = "FAIL"
			failed++
		}
		name := t.ID
		if t.Title != "" {
			name = t.Title + " (" + t.ID + ")"
		}
		fmt.Fprintf(stdout, "%s %3g/%-3g %s", mark, t.Points, t.MaxPoints, name)
		if t.Status != grade.Passed {
			msg := strings.ReplaceAll(t.Message, "\n", "\n      ")
			fmt.Fprintf(stdout, "\n      %s: %s", t.Status, strings.ReplaceAll(msg, "\n      \n", "\n\n"))
			if t.Hint != "" {
				fmt.Fprintf(stdout, "\n      hint: %s", t.Hint)
			}
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "%d/%d tests passed, %g/%g points\n", len(tests)-failed, len(tests), score, total)
	if failed > 0 {
		return fmt.Errorf("%d test(s) failed", failed)
	}
	return nil
}

// autogradeFlags are the flags of `ppml autograde`, checked.
type autogradeFlags struct {
	kf                  kernelFlags
	source, dir, out    string
	jobs                int
	unsafe, all, resume bool
	logPath             string
	find                grade.FindOptions
}

// runAutograde is `ppml autograde`, writing its report to stdout and its
// progress to stderr. A submission the grader could not grade (no kernel,
// a sandbox failure, a full disk, ...) is recorded as not-graded, with the
// reason, never as a score; the command then fails, saying how many and
// why, and --resume grades again only those.
func runAutograde(stdout, stderr io.Writer, args []string) error {
	a, err := parseAutograde(stderr, args)
	if err != nil {
		return err
	}
	if a.unsafe {
		fmt.Fprintln(stdout, "autograde: NO SANDBOX (--unsafe): the submissions run as this user, with its rights")
	} else {
		mem, _ := parseBytes(a.kf.memory)
		fmt.Fprintf(stdout, "autograde: sandbox limits: %s\n", sandbox.Limits(&sandbox.Config{Memory: mem, Procs: a.kf.procs, CPU: 30 * time.Minute}))
	}
	src, err := nbformat.ReadFile(a.source)
	if err != nil {
		return err
	}
	subs, err := grade.FindSubmissions(a.dir, a.find)
	if err != nil {
		return err
	}
	if len(subs) == 0 {
		return fmt.Errorf("no submissions in %s (want STUDENT.ipynb files, STUDENT/ directories, nbgrader's submitted/ or a .zip export)", a.dir)
	}
	// The grader is built before the kernel: a source notebook that is not
	// valid is the teacher's error, said at once.
	ex := &grade.KernelExecutor{}
	g, err := grade.NewGrader(src, ex)
	if err != nil {
		return err
	}
	g.SubmissionTimeout = 10*a.kf.timeout + 2*time.Minute
	g.RunAll = a.all

	var kept []*grade.Grade
	todo := subs
	if a.resume {
		prev, err := grade.ReadGradebook(a.out)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		kept, todo = grade.Resume(prev, subs)
		fmt.Fprintf(stdout, "resume: %d submissions graded already, %d to grade\n", len(kept), len(todo))
	}
	why, cleanup, err := a.executor(ex, src)
	if err != nil {
		return err
	}
	defer cleanup()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	grades, err := a.grade(ctx, stdout, stderr, g, todo, why)
	grades = append(kept, grades...)
	slices.SortFunc(grades, func(a, b *grade.Grade) int { return strings.Compare(a.Student, b.Student) })
	if werr := grade.WriteGradebook(a.out, grades); werr != nil {
		return werr
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "%d submissions in %.1fs (%.1f per minute, -j %d); gradebook in %s\n",
		len(todo), el.Seconds(), float64(len(todo))/el.Minutes(), a.jobs, a.out)
	grade.Summary(stdout, grades)
	if err != nil {
		return err
	}
	failed := 0
	for _, gr := range grades {
		if gr.NotGraded != "" && !gr.Refused {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d submissions could not be graded (see above): fix the cause and run again with --resume", failed, len(grades))
	}
	return nil
}

// parseAutograde parses and checks the flags of `ppml autograde`.
func parseAutograde(stderr io.Writer, args []string) (*autogradeFlags, error) {
	fs := newFlagSet("autograde", stderr)
	a := &autogradeFlags{}
	a.kf.register(fs)
	fs.StringVar(&a.source, "source", "", "source notebook with solutions and hidden tests (required)")
	fs.StringVar(&a.out, "o", "", "output directory for gradebook.csv, gradebook-tests.csv, gradebook.json and feedback/ (required)")
	fs.IntVar(&a.jobs, "j", 2, "submissions graded in parallel")
	fs.BoolVar(&a.unsafe, "unsafe", false, "run submissions WITHOUT the sandbox (trusted code only)")
	fs.BoolVar(&a.all, "all", false, "run every cell whole, as nbgrader does (default: the tests, and only the declarations of the other cells before the last test)")
	fs.StringVar(&a.logPath, "log", "", "append the kernels' logs to this `file`")
	fs.BoolVar(&a.resume, "resume", false, "keep the grades of the gradebook in -o whose file is unchanged; grade only the submissions missing there or not graded")
	maxSize := fs.String("max-size", "20MiB", "largest submission file accepted")
	idPattern := fs.String("id-pattern", grade.DefaultIDPattern.String(), "regular expression whose first group is the student id in the file names of a .zip export")
	fs.StringVar(&a.find.Assignment, "assignment", "", "assignment to grade in an nbgrader submitted/ tree (default: the only one)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: ppml autograde --source SOURCE.ipynb SUBMISSIONS -o GRADES/ [flags]

SUBMISSIONS is a directory of STUDENT.ipynb files or STUDENT/ directories, an
nbgrader course (its submitted/STUDENT/ASSIGNMENT/*.ipynb), or a .zip export
whose files are named NAME_ID_..._file.ipynb.`)
		fs.PrintDefaults()
	}
	pos, err := parseFlags(fs, args, -1)
	if err != nil {
		return nil, err
	}
	if a.source == "" || a.out == "" || len(pos) != 1 {
		return nil, fmt.Errorf("%w: want --source SOURCE.ipynb SUBMISSIONS -o GRADES/", errUsage)
	}
	a.dir = pos[0]
	if a.find.MaxSize, err = parseBytes(*maxSize); err != nil {
		return nil, fmt.Errorf("%w: --max-size: %v", errUsage, err)
	}
	if a.find.IDPattern, err = regexp.Compile(*idPattern); err != nil || a.find.IDPattern.NumSubexp() < 1 {
		return nil, fmt.Errorf("%w: --id-pattern %q: want a regular expression with a group", errUsage, *idPattern)
	}
	return a, nil
}

// executor sets up ex, the grader's executor, for the flags. What cannot
// grade anything (no kernelspec, no sandbox) is returned as why, the reason
// every submission is then not-graded; err is for what stops the command.
// cleanup closes the log file and removes the warm build cache.
func (a *autogradeFlags) executor(ex *grade.KernelExecutor, src *nbformat.Notebook) (why string, cleanup func(), err error) {
	var undo []func()
	cleanup = func() {
		for _, f := range slices.Backward(undo) {
			f()
		}
	}
	if e, err := a.kf.executor(src); err != nil {
		why = "no kernel to run the notebooks: " + err.Error()
	} else {
		*ex = *e
		ex.Unsafe = a.unsafe
	}
	if why == "" && !a.unsafe {
		if err := sandbox.Available(); err != nil {
			why = fmt.Sprintf("cannot sandbox submissions: %v (--unsafe grades without a sandbox, for trusted code only)", err)
		}
	}
	if a.logPath != "" {
		f, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return "", cleanup, err
		}
		undo = append(undo, func() { f.Close() })
		ex.KernelOutput = f
	}
	for _, p := range []string{a.source, a.dir, a.out} {
		if abs, err := filepath.Abs(p); err == nil {
			ex.Hide = append(ex.Hide, abs)
		}
	}
	// The build cache the check run warms for the class (what the
	// teacher's GOCACHE lacks is compiled once, not once per submission).
	if ex.WarmCache, err = os.MkdirTemp("", "ppml-grade-gocache-"); err != nil {
		cleanup()
		return "", func() {}, err
	}
	undo = append(undo, func() { os.RemoveAll(ex.WarmCache) })
	return why, cleanup, nil
}

// grade grades todo with g, after checking the kernel and the sandbox on the
// student release; with a reason why not (or when the check fails), every
// submission is not-graded with the reason.
func (a *autogradeFlags) grade(ctx context.Context, stdout, stderr io.Writer, g *grade.Grader, todo []grade.Submission, why string) ([]*grade.Grade, error) {
	if len(todo) == 0 {
		return nil, nil
	}
	if why == "" {
		fmt.Fprintln(stdout, "autograde: checking the kernel and the sandbox on the student release")
		if err := g.Check(ctx); err != nil {
			why = "the grader's check failed (the student release did not run as it should here): " + err.Error()
		}
	}
	if why != "" {
		return g.NotGradedAll(todo, why), nil
	}
	grades, err := g.GradeAll(ctx, todo, a.jobs, grade.ProgressBar(stderr, len(todo)))
	for i, gr := range grades {
		if gr == nil { // interrupted
			grades[i] = g.NotGradedAll(todo[i:i+1], "interrupted before it was graded")[0]
		}
	}
	return grades, err
}
