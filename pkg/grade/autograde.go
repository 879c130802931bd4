package grade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ppml-go/ppml/kernel/nbformat"
)

// MaxSubmissionSize is the largest submission file the grader reads.
const MaxSubmissionSize = 20 << 20

// Submission is one student's notebook file.
type Submission struct {
	Student string // the file name without .ipynb, or the student's directory
	Path    string
}

// FindSubmissions lists the submissions in dir: DIR/<student>.ipynb or
// DIR/<student>/*.ipynb (the first, by name, of each directory; a directory
// without one is still listed, with Path "").
func FindSubmissions(dir string) ([]Submission, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var subs []Submission
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			nbs, _ := filepath.Glob(filepath.Join(p, "*.ipynb"))
			sort.Strings(nbs)
			s := Submission{Student: e.Name()}
			if len(nbs) > 0 {
				s.Path = nbs[0]
			}
			subs = append(subs, s)
		case strings.HasSuffix(e.Name(), ".ipynb"):
			subs = append(subs, Submission{Student: strings.TrimSuffix(e.Name(), ".ipynb"), Path: p})
		}
	}
	return subs, nil
}

// Grade is one student's result.
type Grade struct {
	Student   string       `json:"student"`
	Score     float64      `json:"score"`
	MaxScore  float64      `json:"max_score"`
	Tests     []TestResult `json:"tests"`
	Issues    []Issue      `json:"issues,omitempty"`
	Tampered  bool         `json:"tampered"`
	Duration  float64      `json:"seconds"`
	Submitted string       `json:"file,omitempty"`
	Graded    time.Time    `json:"graded"`
	// Executed is the notebook as run, with outputs (nil when not run).
	Executed *nbformat.Notebook `json:"-"`
}

// Grader grades submissions against a source notebook.
type Grader struct {
	Source   *nbformat.Notebook
	Executor Executor
	// SubmissionTimeout bounds a whole submission (0: none).
	SubmissionTimeout time.Duration
	// RunAll runs every cell whole, as nbgrader does. By default the grader
	// runs only what can change a test's result (see Validate).
	RunAll bool
	tests  []TestResult // the source's tests, ungraded
}

// NewGrader checks the source notebook and returns a grader for it.
func NewGrader(src *nbformat.Notebook, ex Executor) (*Grader, error) {
	cs, err := cells(src)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if _, err := Assign(src); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	g := &Grader{Source: src, Executor: ex}
	for i, c := range cs {
		if c.isTest() {
			g.tests = append(g.tests, newTestResult(cs, i))
		}
	}
	if len(g.tests) == 0 {
		return nil, errors.New("source: no test cells (grade cells of type code)")
	}
	return g, nil
}

// zero returns the grade of a submission that could not be graded.
func (g *Grader) zero(student, path string, issue Issue) *Grade {
	gr := &Grade{Student: student, Submitted: path, Issues: []Issue{issue}, Graded: time.Now()}
	for _, t := range g.tests {
		t.Status, t.Message = NotGraded, issue.Message
		gr.Tests = append(gr.Tests, t)
		gr.MaxScore += t.MaxPoints
	}
	return gr
}

// Grade grades one submission. Problems of the submission (unreadable, not
// a notebook, tampering, crashes) end up in the Grade, never as an error;
// the error is for failures of the grader itself (no kernel) or ctx.
func (g *Grader) Grade(ctx context.Context, s Submission) (*Grade, error) {
	start := time.Now()
	if s.Path == "" {
		return g.zero(s.Student, "", Issue{Invalid, "", "no .ipynb file in the submission"}), nil
	}
	st, err := os.Stat(s.Path)
	if err != nil {
		return g.zero(s.Student, s.Path, Issue{Invalid, "", "cannot read the submission: " + err.Error()}), nil
	}
	if st.Size() > MaxSubmissionSize {
		return g.zero(s.Student, s.Path, Issue{Invalid, "", fmt.Sprintf("the submission is %.1f MiB, over the %d MiB limit (clear the outputs and submit again)", float64(st.Size())/(1<<20), MaxSubmissionSize>>20)}), nil
	}
	data, err := os.ReadFile(s.Path)
	if err != nil {
		return g.zero(s.Student, s.Path, Issue{Invalid, "", "cannot read the submission: " + err.Error()}), nil
	}
	sub, err := nbformat.Parse(data)
	if err != nil {
		msg := err.Error()
		if len(strings.TrimSpace(string(data))) == 0 {
			msg = "the submission is an empty file"
		}
		return g.zero(s.Student, s.Path, Issue{Invalid, "", "not a notebook: " + msg}), nil
	}
	r, err := Restore(g.Source, sub)
	if err != nil {
		return nil, err
	}
	gr := &Grade{Student: s.Student, Submitted: s.Path, Issues: r.Issues, Graded: start}
	if len(sub.Cells) == 0 {
		gr.Issues = append(gr.Issues, Issue{Invalid, "", "the notebook has no cells"})
	}
	for _, i := range gr.Issues {
		if i.Kind == Tampered {
			gr.Tampered = true
		}
	}
	mark := newMark()
	run, marked, err := runnable(r.Notebook, mark, g.RunAll)
	if err != nil {
		return nil, err
	}
	var res []CellResult
	if r.Answered > 0 {
		ctx := ctx
		if g.SubmissionTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, g.SubmissionTimeout)
			defer cancel()
		}
		res, err = g.Executor.Execute(ctx, run, r.stubs)
		if err != nil {
			if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, ctx.Err()
			}
			gr.Issues = append(gr.Issues, Issue{Invalid, "", "the notebook could not be run: " + err.Error()})
		}
	} else {
		gr.Issues = append(gr.Issues, Issue{Missing, "", "no answer cell found: nothing was run"})
	}
	gr.Tests = score(r, res, marked, mark)
	for i, c := range r.Notebook.Cells {
		if i < len(res) {
			c.Outputs = res[i].Outputs
		}
	}
	r.Notebook.Cells = hideTests(r.Notebook.Cells, g.Source)
	gr.Executed = r.Notebook
	for _, t := range gr.Tests {
		gr.Score += t.Points
		gr.MaxScore += t.MaxPoints
	}
	gr.Duration = time.Since(start).Seconds()
	return gr, nil
}

// hideTests puts the release's text in the test cells, without their
// hidden tests, for the feedback.
func hideTests(cs []*nbformat.Cell, src *nbformat.Notebook) []*nbformat.Cell {
	orig := map[string]string{}
	sc, _ := cells(src)
	for _, c := range sc {
		if c.isTest() {
			orig[c.id()], _ = stripHidden(c.Source)
		}
	}
	for _, c := range cs {
		if g, ok, _ := c.Nbgrader(); ok && g.Grade {
			if s, ok := orig[g.GradeID]; ok {
				c.Source = s
			}
		}
	}
	return cs
}

// GradeAll grades the submissions with n in parallel, calling progress
// after each, and returns the grades in the submissions' order. A grader
// failure for one submission is recorded in its grade; the run goes on.
func (g *Grader) GradeAll(ctx context.Context, subs []Submission, n int, progress func(done int, gr *Grade)) ([]*Grade, error) {
	if n < 1 {
		n = 1
	}
	grades := make([]*Grade, len(subs))
	jobs := make(chan int)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				gr, err := g.Grade(ctx, subs[i])
				if err != nil {
					gr = g.zero(subs[i].Student, subs[i].Path, Issue{Invalid, "", "grader error: " + err.Error()})
				}
				grades[i] = gr
				mu.Lock()
				done++
				if progress != nil {
					progress(done, gr)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range subs {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return grades, ctx.Err()
}

// ProgressBar returns a progress function drawing a one-line bar for total
// submissions on w.
func ProgressBar(w io.Writer, total int) func(int, *Grade) {
	start := time.Now()
	return func(done int, gr *Grade) {
		const width = 30
		fill := width * done / max(total, 1)
		el := time.Since(start)
		rate := float64(done) / el.Minutes()
		fmt.Fprintf(w, "\r[%s%s] %d/%d  %.1f/min  last: %s %g/%g", strings.Repeat("#", fill), strings.Repeat(".", width-fill),
			done, total, rate, gr.Student, gr.Score, gr.MaxScore)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}

// Validate runs a notebook (a student's, before handing it in) and grades
// its visible test cells: what `ppml validate` reports.
//
// Unless all, it runs what the grader runs: the test cells whole and, of
// the other code cells before the last test, only their declarations (the
// part before "%%"): in GoNB nothing else of a cell reaches the cells after
// it, so the demonstrations and training runs of a notebook cannot change a
// test's result.
func Validate(ctx context.Context, nb *nbformat.Notebook, ex Executor, all bool) ([]TestResult, error) {
	nb, err := clone(nb)
	if err != nil {
		return nil, err
	}
	r := &Restored{Notebook: nb, overrides: map[int]string{}}
	mark := newMark()
	run, marked, err := runnable(nb, mark, all)
	if err != nil {
		return nil, err
	}
	res, err := ex.Execute(ctx, run, nil)
	if err != nil {
		return nil, err
	}
	return score(r, res, marked, mark), nil
}
