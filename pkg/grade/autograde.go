package grade

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ppml-go/ppml/kernel/nbformat"
	"github.com/ppml-go/ppml/kernel/runner"
)

// Grade is one student's result.
type Grade struct {
	Student string `json:"student"`
	// NotGraded, when not "", says why the submission has no grade: a
	// failure of the grader (the kernel did not start, the sandbox failed,
	// the disk is full, ...) or, when Refused, a file refused unread. No
	// score is recorded then, earned or lost: the gradebook leaves it empty
	// (null in gradebook.json), and the tests' status is NotGraded.
	NotGraded string `json:"not_graded,omitempty"`
	// Refused reports that the file itself was refused (a symbolic link, a
	// device, too big, ...), which grading again will not change.
	Refused bool `json:"refused,omitempty"`
	// SHA256 is the checksum of the graded file, by which --resume knows
	// that a file was graded as it is.
	SHA256    string       `json:"sha256,omitempty"`
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

// unusable returns the grade of a file that is no usable notebook: the
// student handed in nothing that can be graded, every test scores 0.
func (g *Grader) unusable(s Submission, sum string, issue Issue) *Grade {
	gr := &Grade{Student: s.Student, Submitted: s.Path, SHA256: sum, Issues: []Issue{issue}, Graded: time.Now()}
	for _, t := range g.tests {
		t.Status, t.Message = NotAttempted, issue.Message
		gr.Tests = append(gr.Tests, t)
		gr.MaxScore += t.MaxPoints
	}
	return gr
}

// notGraded returns the grade of a submission that the grader could not
// grade, for why: no score.
func (g *Grader) notGraded(s Submission, why string) *Grade {
	gr := &Grade{Student: s.Student, Submitted: s.Path, NotGraded: why, Refused: s.Refused != "", Graded: time.Now()}
	for _, t := range g.tests {
		t.Status, t.Message = NotGraded, why
		gr.Tests = append(gr.Tests, t)
		gr.MaxScore += t.MaxPoints
	}
	return gr
}

// NotGradedAll returns the grades of subs when the grader cannot grade
// any, for why (no kernel, ...): no scores.
func (g *Grader) NotGradedAll(subs []Submission, why string) []*Grade {
	out := make([]*Grade, len(subs))
	for i, s := range subs {
		if s.Refused != "" {
			out[i] = g.notGraded(s, s.Refused)
		} else {
			out[i] = g.notGraded(s, why)
		}
	}
	return out
}

// Grade grades one submission. Problems of the submission (unreadable, not
// a notebook, tampering, crashes) end up in the Grade, never as an error;
// the error is for failures of the grader itself (no kernel) or ctx.
func (g *Grader) Grade(ctx context.Context, s Submission) (*Grade, error) {
	start := time.Now()
	if s.Refused != "" {
		return g.notGraded(s, s.Refused), nil
	}
	data, err := s.read()
	if errors.Is(err, errTooBig) {
		s.Refused = "refused: " + err.Error()
		return g.notGraded(s, s.Refused), nil
	}
	if err != nil {
		// Checked before reading: what remains is an error of the grader's
		// machine (permissions, disk), not the student's.
		return g.notGraded(s, "cannot read the submission: "+err.Error()), nil
	}
	sum := fmt.Sprintf("%x", sha256.Sum256(data))
	sub, err := nbformat.Parse(data)
	if err != nil {
		msg := err.Error()
		if len(strings.TrimSpace(string(data))) == 0 {
			msg = "the submission is an empty file"
		}
		return g.unusable(s, sum, Issue{Invalid, "", "not a notebook: " + msg}), nil
	}
	gr, err := g.gradeNotebook(ctx, g.Executor, s, sub)
	if gr != nil {
		gr.SHA256, gr.Graded = sum, start
		gr.Duration = time.Since(start).Seconds()
	}
	return gr, err
}

// gradeNotebook grades the notebook sub of submission s.
func (g *Grader) gradeNotebook(ctx context.Context, ex Executor, s Submission, sub *nbformat.Notebook) (*Grade, error) {
	r, err := Restore(g.Source, sub)
	if err != nil {
		return nil, err
	}
	gr := &Grade{Student: s.Student, Submitted: s.Path, Issues: r.Issues}
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
		res, err = ex.Execute(ctx, run, r.stubs)
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return g.notGraded(s, fmt.Sprintf("the notebook did not finish within the submission's time limit (%v): %v", g.SubmissionTimeout, err)), nil
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return g.notGraded(s, "the notebook could not be run: "+err.Error()), nil
		}
		if why := infraFailure(r, res); why != "" {
			return g.notGraded(s, why), nil
		}
	} else {
		gr.Issues = append(gr.Issues, Issue{Missing, "", "no answer cell found: nothing was run"})
		ug := g.unusable(s, "", gr.Issues[len(gr.Issues)-1])
		ug.Issues, ug.Tampered = gr.Issues, gr.Tampered
		return ug, nil
	}
	gr.Tests = score(r, res, marked, mark)
	for _, t := range gr.Tests {
		if t.Status == NotGraded {
			return g.notGraded(s, fmt.Sprintf("test %s was not run: %s", t.ID, t.Message)), nil
		}
	}
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
	return gr, nil
}

// A Warmer is an Executor that can run a trusted notebook (the teacher's
// release) with what it builds kept for the runs that follow.
type Warmer interface {
	Executor
	// Warming returns the executor that runs the trusted notebook.
	Warming() Executor
}

// Check grades the release of the source notebook (every answer its stub)
// as a submission, before a class: it proves that the kernel, the sandbox
// and the notebook's own cells work here (every test must come out
// not-attempted, or passed when it has no answer to wait for), and warms
// the kernels' build caches when the executor can (a Warmer). An error
// says what failed: then no submission can be graded.
func (g *Grader) Check(ctx context.Context) error {
	rel, err := Assign(g.Source)
	if err != nil {
		return err
	}
	ex := g.Executor
	if w, ok := ex.(Warmer); ok {
		ex = w.Warming()
	}
	gr, err := g.gradeNotebook(ctx, ex, Submission{Student: "(the release)"}, rel)
	if err != nil {
		return err
	}
	if gr.NotGraded != "" {
		return errors.New(gr.NotGraded)
	}
	for _, t := range gr.Tests {
		if t.Status != NotAttempted && t.Status != Passed {
			return fmt.Errorf("the release's test %s is %s, want %s: %s", t.ID, t.Status, NotAttempted, firstLines(t.Message, 3))
		}
	}
	return nil
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
					gr = g.notGraded(subs[i], "grader error: "+err.Error())
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
		last := fmt.Sprintf("%g/%g", gr.Score, gr.MaxScore)
		if gr.NotGraded != "" {
			last = "not graded"
		}
		fmt.Fprintf(w, "\r[%s%s] %d/%d  %.1f/min  last: %s %s\033[K", strings.Repeat("#", fill), strings.Repeat(".", width-fill),
			done, total, rate, gr.Student, last)
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

// infraFailure returns why the results res of the restored notebook r show
// a failure of the grader's machine rather than of the student's code, or
// "": a full disk, or a cell of the source notebook that failed before any
// cell of the student's ran (a kernel that cannot import the course's
// packages, a broken toolchain, ...).
func infraFailure(r *Restored, res []CellResult) string {
	for i, cr := range res {
		text := cr.EValue + " " + strings.Join(cr.Traceback, " ")
		for _, o := range cr.Outputs {
			text += " " + o.Text
		}
		if strings.Contains(strings.ToLower(text), "no space left on device") {
			return fmt.Sprintf("the grader's disk is full (cell %d: no space left on device)", i+1)
		}
	}
	cs, _ := cells(r.Notebook)
	for i, c := range cs {
		if r.student[i] || c.isTest() {
			break
		}
		if i < len(res) && c.CellType == nbformat.Code && res[i].Status != runner.StatusOK && res[i].Status != runner.StatusSkipped {
			return fmt.Sprintf("the source notebook's own %s failed before any student code ran (%s): %s",
				cellName(i, c), res[i].Status, firstLines(errorMessage(res[i]), 3))
		}
	}
	return ""
}

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n")
}

// Resume splits the submissions subs for a run that resumes a gradebook
// of grades prev: the grades to keep (graded, of a file unchanged since:
// same SHA-256) and the submissions to grade (new, changed, not graded or
// refused before).
func Resume(prev []*Grade, subs []Submission) (keep []*Grade, todo []Submission) {
	old := map[string]*Grade{}
	for _, g := range prev {
		old[g.Student] = g
	}
	for _, s := range subs {
		g := old[s.Student]
		if g != nil && g.NotGraded == "" && s.Refused == "" && g.SHA256 != "" {
			if data, err := s.read(); err == nil && fmt.Sprintf("%x", sha256.Sum256(data)) == g.SHA256 {
				keep = append(keep, g)
				continue
			}
		}
		todo = append(todo, s)
	}
	return keep, todo
}
