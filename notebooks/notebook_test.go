package notebooks

import (
	"bytes"
	"context"
	"html"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ppml-go/ppml/kernel/nbformat"
	"github.com/ppml-go/ppml/kernel/runner"
	"github.com/ppml-go/ppml/pkg/grade"
)

const (
	sourcePath  = "source/ppml-course.ipynb"
	releasePath = "ppml-course.ipynb"
	kernelName  = "ppml-go" // the kernelspec scripts/install-kernel.sh installs
)

func read(t testing.TB, path string) *nbformat.Notebook {
	t.Helper()
	nb, err := nbformat.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return nb
}

// role is what nbgrader makes of a cell.
type role int

const (
	prose role = iota
	solution
	test
)

func roleOf(t *testing.T, c *nbformat.Cell) (role, *nbformat.Nbgrader) {
	t.Helper()
	g, ok, err := c.Nbgrader()
	switch {
	case err != nil:
		t.Fatalf("cell %s: %v", c.ID, err)
	case !ok:
		return prose, nil
	case g.Solution:
		return solution, g
	case g.Grade && c.CellType == "code":
		return test, g
	}
	return prose, g
}

// TestReleaseIsAssigned checks that the committed release is exactly what
// ppml assign makes of the source.
func TestReleaseIsAssigned(t *testing.T) {
	rel, err := grade.Assign(read(t, sourcePath))
	if err != nil {
		t.Fatal(err)
	}
	want, err := nbformat.Marshal(rel)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(releasePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what ppml assign makes of %s; regenerate it:\n\tppml assign notebooks/%s -o notebooks/%s",
			releasePath, sourcePath, sourcePath, releasePath)
	}
}

// TestSourceShape checks the exercises' layout: every solution cell is
// followed, after prose only, by its test cell, worth points, which
// runs course.Test; solutions and hidden tests are marked; the notebook
// names the course's kernel.
func TestSourceShape(t *testing.T) {
	nb := read(t, sourcePath)
	if k := runner.KernelName(nb); k != kernelName {
		t.Errorf("kernelspec %q, want %q", k, kernelName)
	}
	ids := map[string]bool{}
	exercises := 0
	for i, c := range nb.Cells {
		r, g := roleOf(t, c)
		if g != nil {
			if ids[g.GradeID] {
				t.Errorf("grade_id %q is used twice", g.GradeID)
			}
			ids[g.GradeID] = true
		}
		if c.CellType == "code" && (len(c.Outputs) > 0 || c.ExecutionCount != nil) {
			t.Errorf("cell %s has outputs: commit the source notebook cleared", c.ID)
		}
		switch r {
		case solution:
			exercises++
			if !strings.Contains(c.Source, grade.BeginSolution) {
				t.Errorf("solution cell %s has no %q region", c.ID, grade.BeginSolution)
			}
			next := -1
			for j := i + 1; j < len(nb.Cells); j++ {
				if nb.Cells[j].CellType == "code" {
					next = j
					break
				}
			}
			if next < 0 {
				t.Errorf("solution cell %s has no test cell after it", c.ID)
				break
			}
			tc := nb.Cells[next]
			if r, g := roleOf(t, tc); r != test || g.Points <= 0 {
				t.Errorf("the code cell after solution cell %s (%s) is not a test cell worth points", c.ID, tc.ID)
			}
		case test:
			if !strings.Contains(c.Source, "course.Test(") {
				t.Errorf("test cell %s does not run course.Test", c.ID)
			}
			if !strings.Contains(c.Source, grade.BeginHiddenTests) {
				t.Errorf("test cell %s has no hidden tests", c.ID)
			}
		}
	}
	if exercises < 8 {
		t.Errorf("%d exercises, want the original's (8 solution cells)", exercises)
	}
}

// run executes the notebook on the course's kernel; it fails when the
// kernel is not installed and skips when -short is set.
func run(t *testing.T, nb *nbformat.Notebook, allowErrors bool) *runner.Report {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not running the notebook (about a minute)")
	}
	spec, err := runner.FindSpec(kernelName)
	if err != nil {
		// The course's own test never passes by skipping: without its kernel
		// it fails and says how to install it (scripts/test.sh does).
		t.Fatalf("kernel %s is not installed (%v); install it with scripts/install-kernel.sh", kernelName, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := runner.RunNotebook(ctx, nb, runner.RunOptions{
		Options:     runner.Options{Dir: wd},
		Spec:        spec,
		Timeout:     3 * time.Minute,
		AllowErrors: allowErrors,
		Progress: func(c runner.CellReport) {
			if c.Status != runner.StatusRunning {
				t.Logf("cell %d/%d (%s): %s in %.1fs %s", c.Number, c.Total, c.ID, c.Status, c.Duration.Seconds(), c.EValue)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d cells in %.1fs", len(rep.Cells), rep.Duration.Seconds())
	return rep
}

// outputs returns the text and the MIME types of the cell's outputs. The
// text includes that of HTML outputs (course.Printf's lines), without tags.
func outputs(c *nbformat.Cell) (text string, mimes map[string]bool) {
	var b strings.Builder
	mimes = map[string]bool{}
	for _, o := range c.Outputs {
		b.WriteString(o.Text)
		for m := range o.Data {
			mimes[m] = true
		}
		if s, ok := o.Data.Text("text/html"); ok && strings.HasPrefix(s, "<pre") {
			b.WriteString(html.UnescapeString(tags.ReplaceAllString(s, "")) + "\n")
		}
	}
	return b.String(), mimes
}

var tags = regexp.MustCompile(`<[^>]*>`)

// pictureCells are cells that must show a picture (an SVG, alone or in an
// HTML row), in both notebooks.
var pictureCells = []string{"data-show", "train-one", "fedsgd-run", "hard", "leak", "masked-run", "collude", "dropout", "secagg",
	"fedavg-compare", "fedavg", "split-step", "split-train", "invert", "dlg", "dp-run"}

// demoCells are the demonstrations that run the student's functions: in the
// release each says that it used the reference, in the solution none does.
var demoCells = []string{"train-one", "fedsgd-run", "hard", "leak", "masked-run", "collude", "dropout", "secagg", "fedavg-compare", "split-step", "invert", "dp-run"}

// usedReference is what a demonstration says when it runs the reference in
// place of an exercise that is not done (course.Yours).
const usedReference = "this run uses the reference"

func byID(nb *nbformat.Notebook) map[string]*nbformat.Cell {
	m := map[string]*nbformat.Cell{}
	for _, c := range nb.Cells {
		m[c.ID] = c
	}
	return m
}

func checkPictures(t *testing.T, nb *nbformat.Notebook) {
	t.Helper()
	byID := map[string]*nbformat.Cell{}
	for _, c := range nb.Cells {
		byID[c.ID] = c
	}
	for _, id := range pictureCells {
		c := byID[id]
		if c == nil {
			t.Errorf("no cell %s", id)
			continue
		}
		if _, mimes := outputs(c); !mimes["image/svg+xml"] && !mimes["text/html"] {
			t.Errorf("cell %s shows no picture", id)
		}
	}
}

// TestSourceRuns runs the teachers' notebook top to bottom: every cell
// succeeds and every exercise's test passes.
func TestSourceRuns(t *testing.T) {
	nb := read(t, sourcePath)
	rep := run(t, nb, false)
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range nb.Cells {
		if r, _ := roleOf(t, c); r == test {
			if text, _ := outputs(c); !strings.Contains(text, "✓") {
				t.Errorf("test cell %s did not report its checks passed: %q", c.ID, text)
			}
		}
	}
	checkPictures(t, nb)
	cells := byID(nb)
	for _, id := range demoCells {
		if text, _ := outputs(cells[id]); strings.Contains(text, usedReference) {
			t.Errorf("demo %s of the solution notebook used a reference: %q", id, text)
		}
	}
}

// TestReleaseRuns runs the students' notebook top to bottom: the exercises'
// tests fail with "not implemented yet" and every other cell succeeds.
func TestReleaseRuns(t *testing.T) {
	nb := read(t, releasePath)
	rep := run(t, nb, true)
	byIndex := map[int]runner.CellReport{}
	for _, c := range rep.Cells {
		byIndex[c.Index] = c
	}
	for i, c := range nb.Cells {
		if c.CellType != "code" {
			continue
		}
		cr := byIndex[i]
		if r, _ := roleOf(t, c); r == test {
			// What the student sees is the cell's error output (the
			// kernel's reply may carry GoNB's "exit status 2" instead).
			var shown []string
			for _, o := range c.Outputs {
				if o.OutputType == "error" {
					shown = append(shown, o.EValue)
				}
			}
			if cr.Status == runner.StatusOK || len(shown) != 1 || !strings.Contains(shown[0], grade.NotImplemented) {
				t.Errorf("test cell %s: status %s, errors shown %q; want one error saying %q", c.ID, cr.Status, shown, grade.NotImplemented)
			}
			continue
		}
		if cr.Status != runner.StatusOK {
			t.Errorf("cell %s: %s %s: %s", c.ID, cr.Status, cr.EName, cr.EValue)
		}
	}
	checkPictures(t, nb)
	cells := byID(nb)
	for _, id := range demoCells {
		if text, _ := outputs(cells[id]); !strings.Contains(text, usedReference) {
			t.Errorf("demo %s of the release does not say which parts used the reference: %q", id, text)
		}
	}
}

// TestWrongAnswerShowsNoLearning runs the solution notebook, up to the
// masked demonstration, with a wrong but compiling Step that returns the
// model unchanged: the exercise's test fails, and the demonstrations, which
// run the student's functions, show no learning (accuracy at chance, 0.5).
func TestWrongAnswerShowsNoLearning(t *testing.T) {
	nb := read(t, sourcePath)
	cells := byID(nb)
	right := "return fl.Perceptron{W: w, B: m.B - lr*g.B}"
	if !strings.Contains(cells["ex3"].Source, right) {
		t.Fatalf("cell ex3 has no %q: adapt the test to the notebook", right)
	}
	cells["ex3"].Source = strings.Replace(cells["ex3"].Source, right, "_ = w\n\treturn m // wrong: the model never moves", 1)
	for i, c := range nb.Cells {
		if c.ID == "masked-run" {
			nb.Cells = nb.Cells[:i+1]
			break
		}
	}
	run(t, nb, true)
	if errs := errorsOf(cells["ex3-test"]); !strings.Contains(strings.Join(errs, " "), "checks failed") {
		t.Errorf("ex3-test with a Step that does nothing: errors %q, want failed checks", errs)
	}
	for id, pattern := range map[string]string{
		"train-one":  `party 0 alone, 32 examples: test accuracy ([0-9.]+)`,
		"fedsgd-run": `federated SGD, 10 parties, 10 rounds: test loss [0-9.]+, accuracy ([0-9.]+)`,
		"hard":       `federated SGD, 10 parties, 30 rounds: test accuracy ([0-9.]+)`,
		"masked-run": `masked federated SGD, 10 rounds: test accuracy ([0-9.]+)`,
	} {
		text, _ := outputs(cells[id])
		m := regexp.MustCompile(pattern).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("%s: no %q in %q", id, pattern, text)
			continue
		}
		if acc, _ := strconv.ParseFloat(m[1], 64); acc > 0.6 {
			t.Errorf("%s with a Step that does nothing: test accuracy %v, want chance (0.5): the demo does not run the student's Step", id, acc)
		}
	}
}

// errorsOf returns the error values of the cell's outputs.
func errorsOf(c *nbformat.Cell) []string {
	var out []string
	for _, o := range c.Outputs {
		if o.OutputType == "error" {
			out = append(out, o.EValue)
		}
	}
	return out
}
