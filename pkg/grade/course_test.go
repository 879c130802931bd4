package grade

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ppml-go/ppml/kernel/nbformat"
	"github.com/ppml-go/ppml/kernel/runner"
	"github.com/ppml-go/ppml/pkg/grade/sandbox"
)

// The course notebook (teacher's source) and its student release, made by
// `ppml assign`.
const (
	courseSource  = "../../notebooks/source/ppml-course.ipynb"
	courseRelease = "../../notebooks/ppml-course.ipynb"
	courseSubDir  = "testdata/course"
)

// courseSubmissions are realistic submissions of the course notebook,
// written to testdata/course by `go test -run TestCourseSubmissionsCurrent
// -update` from the release and the source's solutions. Each student
// answers the exercises of answered with the source's solution, changed by
// edits (grade_id -> old, new pairs), and scores want; tests not in status
// pass. TestCourseGrades grades them, with the source notebook ("solution")
// and the release untouched ("release"), on the ppml-go kernel.
var courseSubmissions = []struct {
	student  string
	answered []string
	edits    map[string][][2]string
	want     float64
	status   map[string]TestStatus
}{
	{student: "full", answered: allExercises, want: 24},
	{student: "partial", answered: []string{"ex1", "ex2", "ex3", "ex4"}, want: 7,
		status: map[string]TestStatus{"ex5-test": NotAttempted, "ex6-test": NotAttempted, "ex7-test": NotAttempted, "ex8-test": NotAttempted, "ex9-test": NotAttempted,
			"ex10-test": NotAttempted, "ex11-test": NotAttempted}},
	// Everything but ex3: what calls BatchGradient or Step fails, and says why.
	{student: "skips_ex3", answered: []string{"ex1", "ex2", "ex4", "ex5", "ex6", "ex7", "ex8", "ex9", "ex10", "ex11"}, want: 10,
		status: map[string]TestStatus{"ex3-test": NotAttempted, "ex4-test": Failed, "ex5-test": Failed, "ex6-test": Failed, "ex7-test": Failed, "ex8-test": Failed}},
	// A Step with the bias's sign wrong: its test fails, and so does the
	// masked round's, whose server steps with it.
	{student: "wrong_step", answered: allExercises, want: 20,
		edits:  map[string][][2]string{"ex3": {{"B: m.B - lr*g.B", "B: m.B + lr*g.B"}}},
		status: map[string]TestStatus{"ex3-test": Failed, "ex8-test": Failed}},
	{student: "panics_fedsgd", answered: allExercises, want: 21,
		edits:  map[string][][2]string{"ex6": {{"grads[i] = Gradient(", "grads[i+1] = Gradient("}}},
		status: map[string]TestStatus{"ex6-test": Failed}},
	// A syntax error in ex2: its stub runs in its place, so ex3's cell
	// (BatchGradient calls Forward, Step does not) still compiles; the tests
	// of what calls Forward fail, ex1, ex9, ex10 and ex11 pass.
	{student: "syntax_error_ex2", answered: allExercises, want: 8,
		edits: map[string][][2]string{"ex2": {{"scores[i] = s", "scores[i] = s +"}}},
		status: map[string]TestStatus{"ex2-test": NoCompile, "ex3-test": Failed, "ex4-test": Failed, "ex5-test": Failed,
			"ex6-test": Failed, "ex7-test": Failed, "ex8-test": Failed}},
	// A type error in ex5: ex5 and what calls Gradient (ex6, ex7, ex8) fail.
	{student: "type_error_ex5", answered: allExercises, want: 14,
		edits:  map[string][][2]string{"ex5": {{"batches++", "batches++\n\t\tbatches = \"many\""}}},
		status: map[string]TestStatus{"ex5-test": NoCompile, "ex6-test": Failed, "ex7-test": Failed, "ex8-test": Failed}},
	// Looks for the solutions in the project's checkout that the kernel
	// builds against: its .git, the source notebook, the grader's test data.
	{student: "snoops", answered: allExercises, want: 24,
		edits: map[string][][2]string{"ex1": {{"out := make(", `for _, p := range []string{".git/HEAD", "notebooks/source/ppml-course.ipynb", "pkg/grade/testdata/course/full.ipynb", "pkg/grade/course_test.go"} {
		if _, err := os.ReadFile(filepath.Join(os.Getenv("PPML_ROOT"), p)); err == nil {
			panic("read " + p)
		}
	}
	if out, err := exec.Command("git", "-C", os.Getenv("PPML_ROOT"), "show", "HEAD:notebooks/source/ppml-course.ipynb").CombinedOutput(); err == nil {
		panic("git show: " + string(out[:100]))
	}
	out := make(`}}}},
}

var allExercises = []string{"ex1", "ex2", "ex3", "ex4", "ex5", "ex6", "ex7", "ex8", "ex9", "ex10", "ex11"}

// solved returns the text of a solution cell of the source as a student
// who solved it would hand it in: without the solution markers and stubs.
func solved(src string) (string, error) {
	return rewriteRegions(src, BeginSolution, EndSolution, func(region []string, _ string, _ bool) ([]string, error) {
		var out []string
		for _, l := range region {
			if !strings.HasPrefix(strings.TrimSpace(l), StubMarker) {
				out = append(out, l)
			}
		}
		return out, nil
	})
}

// makeCourseSubmissions builds courseSubmissions from the source and the
// release, as notebook files' contents by student.
func makeCourseSubmissions() (map[string][]byte, error) {
	src, err := nbformat.ReadFile(courseSource)
	if err != nil {
		return nil, err
	}
	answers := map[string]string{}
	sc, err := cells(src)
	if err != nil {
		return nil, err
	}
	for _, c := range sc {
		if c.isSolution() {
			if answers[c.id()], err = solved(c.Source); err != nil {
				return nil, err
			}
		}
	}
	out := map[string][]byte{}
	for _, s := range courseSubmissions {
		nb, err := nbformat.ReadFile(courseRelease)
		if err != nil {
			return nil, err
		}
		for _, c := range nb.Cells {
			g, ok, _ := c.Nbgrader()
			if !ok || !g.Solution {
				continue
			}
			for _, id := range s.answered {
				if id != g.GradeID {
					continue
				}
				text := answers[id]
				for _, e := range s.edits[id] {
					if !strings.Contains(text, e[0]) {
						return nil, fmt.Errorf("%s: the solution of %s has no %q: the course notebook changed; adapt courseSubmissions", s.student, id, e[0])
					}
					text = strings.Replace(text, e[0], e[1], 1)
				}
				c.Source = text
			}
		}
		if out[s.student], err = nbformat.Marshal(nb); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// TestCourseSubmissionsCurrent checks that testdata/course holds the
// submissions courseSubmissions makes from the current course notebook
// (-update rewrites them).
func TestCourseSubmissionsCurrent(t *testing.T) {
	subs, err := makeCourseSubmissions()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		os.RemoveAll(courseSubDir)
		os.MkdirAll(courseSubDir, 0o755)
		for name, data := range subs {
			if err := os.WriteFile(filepath.Join(courseSubDir, name+".ipynb"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, data := range subs {
		have, err := os.ReadFile(filepath.Join(courseSubDir, name+".ipynb"))
		if err != nil || !bytes.Equal(have, data) {
			t.Errorf("%s/%s.ipynb is not what the course notebook gives now: go test ./pkg/grade -run TestCourseSubmissionsCurrent -update", courseSubDir, name)
		}
	}
}

var (
	courseOnce    sync.Once
	courseSpec    *runner.Spec
	courseErr     string
	courseInstall string // the temporary prefix, removed by TestMain
)

// courseKernel returns the ppml-go kernel of this checkout, installed by
// scripts/install-kernel.sh into a temporary prefix once per test run; it
// skips the test in -short mode, and fails it when the kernel cannot be
// installed or the sandbox cannot run here.
func courseKernel(t testing.TB) *runner.Spec {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: grades the course notebook on the ppml-go kernel (minutes)")
	}
	if err := sandbox.Available(); err != nil {
		t.Fatalf("the grader's sandbox cannot run here: %v (scripts/install-test-deps.sh installs bubblewrap)", err)
	}
	courseOnce.Do(func() {
		root, err := filepath.Abs("../..")
		if err != nil {
			courseErr = err.Error()
			return
		}
		courseInstall, err = os.MkdirTemp("", "ppml-grade-kernel-")
		if err != nil {
			courseErr = err.Error()
			return
		}
		out, err := exec.Command("bash", filepath.Join(root, "scripts", "install-kernel.sh"), "--prefix", courseInstall, "--quiet").CombinedOutput()
		if err != nil {
			courseErr = fmt.Sprintf("cannot install the ppml-go kernel (scripts/install-kernel.sh --prefix %s): %v\n%s", courseInstall, err, out)
			return
		}
		courseSpec, err = runner.ReadSpec(filepath.Join(courseInstall, "share", "jupyter", "kernels", "ppml-go"))
		if err != nil {
			courseErr = fmt.Sprintf("no ppml-go kernelspec after scripts/install-kernel.sh: %v", err)
		}
	})
	if courseErr != "" {
		t.Fatal(courseErr)
	}
	return courseSpec
}

// courseGrader returns a grader of the course notebook on the ppml-go
// kernel, sandboxed, with dirs hidden from the submissions.
func courseGrader(t testing.TB, hide ...string) *Grader {
	spec := courseKernel(t)
	src, err := nbformat.ReadFile(courseSource)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(courseSource)
	e := &KernelExecutor{Spec: spec, Timeout: 2 * time.Minute, Memory: 2 << 30, Procs: 512,
		GoCache: userGoCache(), Hide: append(hide, abs), WarmCache: t.TempDir()}
	g, err := NewGrader(src, e)
	if err != nil {
		t.Fatal(err)
	}
	g.SubmissionTimeout = 10 * time.Minute
	return g
}

// TestCourseGrades grades the course's submissions on the ppml-go kernel in
// the sandbox: the solution notebook scores full marks, the release zero
// with "not implemented yet", and the partial, wrong and broken ones what
// courseSubmissions says.
func TestCourseGrades(t *testing.T) {
	tmp := t.TempDir()
	subDir, outDir := filepath.Join(tmp, "submissions"), filepath.Join(tmp, "grades")
	g := courseGrader(t, subDir, outDir)
	os.MkdirAll(subDir, 0o755)
	files, _ := filepath.Glob(filepath.Join(courseSubDir, "*.ipynb"))
	files = append(files, courseRelease, courseSource)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		switch f {
		case courseRelease:
			name = "release.ipynb"
		case courseSource:
			name = "solution.ipynb"
		}
		os.WriteFile(filepath.Join(subDir, name), data, 0o644)
	}
	subs, err := FindSubmissions(subDir, FindOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var progress func(int, *Grade)
	if testing.Verbose() {
		progress = ProgressBar(os.Stderr, len(subs))
	}
	start := time.Now()
	// As ppml autograde does: check the kernel on the release, warming the
	// class's build cache, then grade.
	if err := g.Check(context.Background()); err != nil {
		t.Fatalf("check on the release: %v", err)
	}
	grades, err := g.GradeAll(context.Background(), subs, 2, progress)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d submissions in %v (-j 2, check included)", len(subs), time.Since(start).Round(time.Second))
	if err := WriteGradebook(outDir, grades); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"solution": 24, "release": 0}
	status := map[string]map[string]TestStatus{"release": {}}
	for _, id := range allExercises {
		status["release"][id+"-test"] = NotAttempted
	}
	for _, s := range courseSubmissions {
		want[s.student], status[s.student] = s.want, s.status
	}
	if len(grades) != len(want) {
		t.Errorf("%d grades, want %d", len(grades), len(want))
	}
	for _, gr := range grades {
		t.Logf("%-18s %4.1fs %g/%g %v", gr.Student, gr.Duration, gr.Score, gr.MaxScore, gr.Issues)
		for _, tr := range gr.Tests {
			if tr.Status != Passed {
				t.Logf("    %-9s %-13s %s", tr.ID, tr.Status, strings.ReplaceAll(tr.Message, "\n", " | "))
			}
		}
		if gr.Score != want[gr.Student] || gr.MaxScore != 24 {
			t.Errorf("%s: %g/%g, want %g/24", gr.Student, gr.Score, gr.MaxScore, want[gr.Student])
		}
		if len(gr.Issues) > 0 || gr.NotGraded != "" {
			t.Errorf("%s: issues %v, not graded %q; want none", gr.Student, gr.Issues, gr.NotGraded)
		}
		for _, tr := range gr.Tests {
			w := status[gr.Student][tr.ID]
			if w == "" {
				w = Passed
			}
			if tr.Status != w {
				t.Errorf("%s: %s is %s (%s), want %s", gr.Student, tr.ID, tr.Status, tr.Message, w)
			}
			if gr.Student == "release" && !strings.Contains(tr.Message, NotImplemented) {
				t.Errorf("release: %s says %q, want %q", tr.ID, tr.Message, NotImplemented)
			}
		}
	}
	// What the feedback tells the students whose answers fail.
	feedback := map[string][]string{
		"release":          {"not implemented yet", "0 / 24"},
		"wrong_step":       {"Step(...).B = -0.5, want 0.5"},
		"panics_fedsgd":    {"index out of range", "in FedSGD, line 9 of its cell"},
		"syntax_error_ex2": {"does not compile", "line 10: expected operand", "the stub that ran in place of an answer that does not compile: Exercise 2: the forward pass (2 points) (cell ex2)"},
		"type_error_ex5":   {"does not compile", "cannot use"},
		"skips_ex3":        {"an exercise above that is not done yet"},
		"solution":         {"24 / 24"},
	}
	for student, wants := range feedback {
		page, err := os.ReadFile(filepath.Join(outDir, "feedback", student+".html"))
		if err != nil {
			t.Error(err)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(string(page), template.HTMLEscapeString(w)) {
				t.Errorf("feedback of %s lacks %q", student, w)
			}
		}
		if strings.Contains(string(page), "HIDDEN") || strings.Contains(string(page), "ppml-grade-done") {
			t.Errorf("feedback of %s shows hidden tests or the completion mark", student)
		}
	}
}

// TestCourseValidate runs `ppml validate`'s check on a partial submission,
// outside the sandbox, as a student would.
func TestCourseValidate(t *testing.T) {
	spec := courseKernel(t)
	nb, err := nbformat.ReadFile(filepath.Join(courseSubDir, "partial.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	e := &KernelExecutor{Spec: spec, Timeout: 2 * time.Minute, Unsafe: true}
	tests, err := Validate(context.Background(), nb, e, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tr := range tests {
		got = append(got, tr.ID+"="+string(tr.Status))
	}
	sort.Strings(got)
	want := "ex1-test=passed ex10-test=not-attempted ex11-test=not-attempted ex2-test=passed ex3-test=passed ex4-test=passed ex5-test=not-attempted ex6-test=not-attempted ex7-test=not-attempted ex8-test=not-attempted ex9-test=not-attempted"
	if strings.Join(got, " ") != want {
		t.Errorf("validate: %s\nwant %s", strings.Join(got, " "), want)
	}

	// Without the source there is no stub to run in place of an answer that
	// does not compile: each answer that uses it does not compile either,
	// and says so.
	nb, err = nbformat.ReadFile(filepath.Join(courseSubDir, "syntax_error_ex2.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err = Validate(context.Background(), nb, e, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range tests {
		switch {
		case tr.ID == "ex1-test" || tr.ID == "ex9-test" || tr.ID == "ex10-test" || tr.ID == "ex11-test":
			if tr.Status != Passed {
				t.Errorf("validate syntax_error_ex2: %s is %s (%s)", tr.ID, tr.Status, tr.Message)
			}
		case tr.Status != NoCompile:
			t.Errorf("validate syntax_error_ex2: %s is %s (%s), want %s", tr.ID, tr.Status, tr.Message, NoCompile)
		case tr.ID == "ex2-test" && !strings.Contains(tr.Message, "line 10: expected operand"),
			tr.ID == "ex3-test" && !strings.Contains(tr.Message, "undefined: Forward"):
			t.Errorf("validate syntax_error_ex2: %s says %q", tr.ID, tr.Message)
		}
	}
}
