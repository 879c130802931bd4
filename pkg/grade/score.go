package grade

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/ppml-go/ppml/kernel/front"
	"html"
	"regexp"
	"strings"
	"time"

	"github.com/ppml-go/ppml/kernel/nbformat"
	"github.com/ppml-go/ppml/kernel/runner"
)

// CellResult is how one cell ran.
type CellResult struct {
	// Status is the runner's: ok, error, timeout, died (the kernel died:
	// memory limit, killed), or skipped (not run: markdown, empty, or the
	// run was cut short).
	Status    runner.Status
	EName     string
	EValue    string
	Traceback []string
	Outputs   []*nbformat.Output
	// Stubbed reports that the cell did not compile and that its stub ran
	// in its place (see Executor); the other fields are the cell's own.
	Stubbed bool
	// Duration is how long the cell took, from request to reply.
	Duration time.Duration
	// ExecutionCount is the kernel's counter for the run (0 if unknown).
	ExecutionCount int
}

// Executor runs the code cells of a notebook, in order, in a fresh kernel,
// and returns one result per cell of nb (runner.StatusSkipped for markdown cells
// and empty code cells). It returns an error only when it could not run the
// notebook at all.
//
// stubs maps indexes of code cells (the answer cells) to a source to run in
// their place when they do not compile (see CompileFailed): the release's
// stub, so that the declarations of the cells after them, which may call
// them, still compile, and one answer that does not compile does not fail
// every exercise after it.
type Executor interface {
	Execute(ctx context.Context, nb *nbformat.Notebook, stubs map[int]string) ([]CellResult, error)
}

// compileFailure matches the errors plain GoNB reports for a cell that it
// could not build: a parse error, or a failed goimports, go get or go build.
var compileFailure = regexp.MustCompile(`^(parsing go files|failed to run "\S*\bgo(imports)? )`)

// CompileFailed reports whether the cell failed before its program ran:
// it did not parse, import or compile. The ppml-go kernel names such an
// error front.CompileErrorName; plain GoNB says which tool failed.
func CompileFailed(r CellResult) bool {
	return r.Status == runner.StatusError && (r.EName == front.CompileErrorName || compileFailure.MatchString(r.EValue))
}

// TestStatus says how a test fared, as the gradebook records it.
type TestStatus string

// Test statuses.
const (
	Passed       TestStatus = "passed"
	Failed       TestStatus = "failed"        // an error in the test
	NotAttempted TestStatus = "not-attempted" // the stub's "not implemented yet", or nothing usable handed in
	TimedOut     TestStatus = "timeout"
	KernelDied   TestStatus = "died"
	Incomplete   TestStatus = "incomplete"    // the test did not run to its end (os.Exit)
	Overridden   TestStatus = "overridden"    // a student cell redefined a declaration of a locked cell
	NoCompile    TestStatus = "compile-error" // the answer, or the test with it, does not compile
	// NotGraded: the grader could not grade the submission (see
	// Grade.NotGraded); no points are recorded, earned or lost.
	NotGraded TestStatus = "not-graded"
)

// TestResult is the grade of one test cell.
type TestResult struct {
	ID string `json:"test"`
	// Title is the heading of the notebook's section the test is in (the
	// exercise), "" if none.
	Title     string     `json:"title,omitempty"`
	Points    float64    `json:"points"`
	MaxPoints float64    `json:"max_points"`
	Status    TestStatus `json:"status"`
	Message   string     `json:"message,omitempty"`
	Hint      string     `json:"hint,omitempty"`
	// Seconds is how long the test cell ran, from request to reply.
	Seconds float64 `json:"seconds"`
	// Code is the test's visible code, for the feedback.
	Code string `json:"-"`
}

// newTestResult returns the ungraded result of test cell i of cs.
func newTestResult(cs []cell, i int) TestResult {
	visible, _ := stripHidden(cs[i].Source)
	return TestResult{ID: cs[i].id(), Title: heading(cs, i), MaxPoints: cs[i].points(), Hint: hint(visible), Code: strings.TrimSpace(visible)}
}

// heading returns the last markdown heading above cell i of cs, "" if none.
func heading(cs []cell, i int) string {
	for j := i - 1; j >= 0; j-- {
		if cs[j].CellType != nbformat.Markdown {
			continue
		}
		for _, l := range strings.Split(cs[j].Source, "\n") {
			if h, ok := strings.CutPrefix(strings.TrimSpace(l), "#"); ok {
				return strings.TrimSpace(strings.TrimLeft(h, "#"))
			}
		}
	}
	return ""
}

// cellTitle names cell i of cs for a student: its section and grade_id.
func cellTitle(cs []cell, i int) string {
	if h := heading(cs, i); h != "" {
		return fmt.Sprintf("%s (cell %s)", h, cs[i].id())
	}
	return "cell " + cs[i].id()
}

// completionMark is printed by a deferred statement the grader adds at the
// top of each test's main body; a test whose output lacks it did not run to
// its end (the student's code exited the process) and fails.
type completionMark string

func newMark() completionMark {
	var b [12]byte
	rand.Read(b[:])
	return completionMark("ppml-grade-done-" + hex.EncodeToString(b[:]))
}

// score grades the test cells of the executed notebook r.Notebook from
// their results res (one per cell of r.Notebook); hints come from the
// release's "// Hint:" lines. It takes the completion mark out of the
// outputs in res.
func score(r *Restored, res []CellResult, marked map[int]bool, mark completionMark) []TestResult {
	cs, _ := cells(r.Notebook)
	var out []TestResult
	overridden := ""
	answer := -1         // the answer cell of the tests that follow it
	var stubbed []string // answer cells that did not compile so far, by title
	for i, c := range cs {
		var cr CellResult
		incomplete := false
		if i < len(res) {
			var done bool
			res[i].Outputs, done = takeMark(res[i].Outputs, mark)
			cr = res[i]
			incomplete = cr.Status == runner.StatusOK && marked[i] && !done
		}
		if d, ok := r.overrides[i]; ok && overridden == "" {
			overridden = d
		}
		if c.isSolution() && c.CellType == nbformat.Code {
			answer = i
			if cr.Stubbed {
				stubbed = append(stubbed, cellTitle(cs, i))
			}
		}
		if !c.isTest() {
			continue
		}
		t := newTestResult(cs, i)
		t.Seconds = cr.Duration.Seconds()
		msg := errorMessage(cr)
		// The student's answer to this test is there, stub gone.
		complete := answer >= 0 && r.answered(answer) && !strings.Contains(cs[answer].Source, NotImplemented)
		switch {
		case overridden != "":
			t.Status, t.Message = Overridden, fmt.Sprintf("a student cell above redefines %s, which this test relies on", overridden)
		case answer >= 0 && answer < len(res) && CompileFailed(res[answer]):
			t.Status, t.Message = NoCompile, fmt.Sprintf("Your answer (cell %s) does not compile:\n%s", cs[answer].id(), errorMessage(res[answer]))
		case incomplete:
			t.Status, t.Message = Incomplete, "the test did not run to its end: the program exited early (os.Exit or similar)"
		case cr.Status == runner.StatusOK:
			t.Status, t.Points = Passed, t.MaxPoints
		case cr.Status == runner.StatusTimeout:
			t.Status, t.Message = TimedOut, "stopped after the time limit: an endless loop or far too slow code"
		case cr.Status == runner.StatusDied:
			t.Status, t.Message = KernelDied, "the kernel died: over the memory or process limit, or killed; "+msg
		case strings.Contains(msg, NotImplemented) && complete:
			// The student's own answer is complete: what panicked is code
			// of another exercise that it calls.
			why := "an exercise above that is not done yet"
			if len(stubbed) > 0 {
				why = fmt.Sprintf("in all likelihood the stub that ran in place of an answer that does not compile: %s. Fix that cell first",
					strings.Join(stubbed, ", "))
			}
			t.Status, t.Message = Failed, fmt.Sprintf("Your answer calls code that panics with %q: %s.\n\nThe test said: %s", NotImplemented, why, msg)
		case (strings.Contains(msg, NotImplemented) || strings.Contains(msg, "undefined: ")) && !complete:
			t.Status, t.Message = NotAttempted, msg
		case CompileFailed(cr):
			t.Status, t.Message = NoCompile, "The test does not compile with your answer (do your functions have the signatures the exercise asks for?):\n"+msg
		case cr.Status == runner.StatusSkipped || cr.Status == "":
			t.Status, t.Message = NotGraded, "not run"
		default:
			t.Status, t.Message = Failed, msg
		}
		out = append(out, t)
	}
	return out
}

// takeMark removes the completion mark's line from the outputs, dropping
// outputs left empty, and reports whether it was there.
func takeMark(outs []*nbformat.Output, mark completionMark) ([]*nbformat.Output, bool) {
	found := false
	kept := outs[:0:0]
	for _, o := range outs {
		if o.OutputType == nbformat.Stream && strings.Contains(o.Text, string(mark)) {
			found = true
			text := strings.ReplaceAll(o.Text, string(mark)+"\n", "")
			if text == "" {
				continue
			}
			c := *o
			c.Text = text
			o = &c
		}
		kept = append(kept, o)
	}
	return kept, found
}

// errorMessage summarizes a failed cell for a student, without ANSI colors,
// in at most 2000 bytes: the compiler's errors (GoNB shows them as HTML,
// with the line in the cell), else the panic (as the ppml-go kernel reports
// it, an error output, or as plain GoNB does, the runtime's report on
// stderr), else the error's value and first traceback lines.
func errorMessage(cr CellResult) string {
	var stderr strings.Builder
	var compile []string
	var panicked *nbformat.Output
	for _, o := range cr.Outputs {
		switch o.OutputType {
		case nbformat.Stream:
			if o.Name == "stderr" {
				stderr.WriteString(o.Text)
			}
		case nbformat.DisplayData:
			if h, ok := o.Data.Text("text/html"); ok {
				compile = append(compile, gonbErrors(h)...)
			}
		case nbformat.Error:
			if panicked == nil && (o.EName == "panic" || o.EName == "fatal error") {
				panicked = o
			}
		}
	}
	var msg string
	switch {
	case len(compile) > 0:
		msg = strings.Join(compile, "\n")
	case panicked != nil:
		msg = panicReport(panicked)
	default:
		var parts []string
		if p := panicMessage(strip(stderr.String())); p != "" {
			parts = append(parts, p)
		}
		if v := strip(cr.EValue); v != "" {
			parts = append(parts, v)
		} else if n := strip(cr.EName); n != "" {
			parts = append(parts, n)
		}
		if len(parts) == 1 {
			for k, l := range cr.Traceback {
				if k == 6 {
					break
				}
				if l = strip(l); l != "" {
					parts = append(parts, l)
				}
			}
		}
		msg = strings.Join(parts, "\n")
	}
	if len(msg) > 2000 {
		msg = msg[:2000] + " …"
	}
	return msg
}

// panicReport is what a student needs of a panic the ppml-go kernel
// reported as an error output: its value and, for a panic of the code
// under test rather than of a failed check, where it happened, as the
// frames of the cells' code ("main.F(...)" and its "[[ Cell [n] Line l ]]").
func panicReport(o *nbformat.Output) string {
	var frames []string
	for k, l := range o.Traceback {
		l = strip(l)
		m := cellLine.FindStringSubmatch(l)
		unmapped := m == nil && gonbMain.MatchString(l)
		if (m == nil && !unmapped) || k == 0 {
			continue
		}
		fn := strings.TrimSpace(strip(o.Traceback[k-1]))
		if i := strings.LastIndex(fn, "("); i > 0 {
			fn = fn[:i]
		}
		fn = strings.TrimPrefix(fn, "main.")
		if fn == "main" || strings.HasPrefix(fn, "main.func") {
			continue // the test's own code
		}
		if unmapped {
			frames = append(frames, "  in "+fn)
			continue
		}
		frames = append(frames, fmt.Sprintf("  in %s, line %s of its cell", fn, m[1]))
	}
	value := strings.NewReplacer(" [recovered, repanicked]", "", " [recovered]", "").Replace(strip(o.EValue))
	if len(frames) == 0 {
		return value // a failed check or the stub: the value says it all
	}
	return strip(o.EName) + ": " + value + "\n" + strings.Join(frames[:min(len(frames), 5)], "\n")
}

// cellLine matches GoNB's mark of a cell line in a stack trace.
var cellLine = regexp.MustCompile(`\[\[ Cell \[\d+\] Line (\d+) \]\]`)

// gonbMain matches a frame of a cell's program that GoNB did not mark with
// its cell line: GoNB v0.11.5 maps "main.go:N" in each piece of stderr it
// reads, and misses it when a read splits it, as the runtime writes a trace
// piece by piece.
var gonbMain = regexp.MustCompile(`^\s*/\S*/gonb_[0-9a-f]+/main\.go:\d+`)

// gonbErrors extracts the compiler's error lines from the HTML GoNB displays
// for a cell that does not compile, as "line L: message" where L is the line
// in the cell; nil when h is not such a display.
func gonbErrors(h string) []string {
	if !strings.Contains(h, "gonb-err") {
		return nil
	}
	var text strings.Builder
	skip := 0 // depth inside an element whose text is not wanted
	for _, tok := range htmlToken.FindAllString(h, -1) {
		switch {
		case strings.HasPrefix(tok, "</"):
			if skip > 0 {
				skip--
			}
			if strings.HasPrefix(tok, "</div") {
				text.WriteString("\n")
			}
		case strings.HasPrefix(tok, "<"):
			switch {
			case skip > 0:
				if !voidTag.MatchString(tok) {
					skip++
				}
			case strings.HasPrefix(tok, "<style") || strings.Contains(tok, "gonb-err-context"):
				skip = 1
			}
			if strings.HasPrefix(tok, "<div") {
				text.WriteString("\n")
			}
		case skip == 0:
			text.WriteString(html.UnescapeString(tok))
		}
	}
	var out []string
	for _, l := range strings.Split(text.String(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "# ") {
			continue
		}
		out = append(out, gonbLocation.ReplaceAllString(l, "line $1: "))
	}
	return out
}

var (
	htmlToken    = regexp.MustCompile(`<[^>]*>|[^<]+`)
	voidTag      = regexp.MustCompile(`^<(!|(?i:br|hr|img|meta|link|input|wbr)\b)|/>$`)
	gonbLocation = regexp.MustCompile(`^Cell\[\d+\]: Line (\d+)\s+\S+:\d+:\d+:\s*`)
)

// hint returns the "// Hint:" lines of a test's source, joined.
func hint(src string) string {
	var hs []string
	for _, l := range strings.Split(src, "\n") {
		if h, ok := strings.CutPrefix(strings.TrimSpace(l), "// Hint:"); ok {
			hs = append(hs, strings.TrimSpace(h))
		}
	}
	return strings.Join(hs, " ")
}

// panicMessage returns the part of a Go program's stderr that says what
// went wrong: from a "panic:" or "fatal error:" line to the first goroutine
// dump, else the last lines.
func panicMessage(stderr string) string {
	lines := strings.Split(stderr, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			start = i
			break
		}
	}
	if start < 0 {
		if len(lines) > 8 {
			lines = lines[len(lines)-8:]
		}
		return strings.TrimSpace(strings.Join(lines, "\n"))
	}
	var out []string
	for _, l := range lines[start:] {
		if strings.HasPrefix(l, "goroutine ") || strings.HasPrefix(l, "[signal ") {
			break
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
