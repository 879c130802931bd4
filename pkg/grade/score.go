package grade

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ppml-go/ppml/kernel/nbformat"
)

// Cell execution statuses an Executor reports.
const (
	StatusOK      = "ok"
	StatusError   = "error"
	StatusTimeout = "timeout"
	StatusDied    = "died"    // the kernel died (memory limit, killed)
	StatusSkipped = "skipped" // not run (markdown, or the run was cut short)
)

// CellResult is how one cell ran.
type CellResult struct {
	Status    string
	EName     string
	EValue    string
	Traceback []string
	Outputs   []*nbformat.Output
}

// Executor runs the code cells of a notebook, in order, in a fresh kernel,
// and returns one result per cell of nb (StatusSkipped for markdown cells).
// It returns an error only when it could not run the notebook at all.
type Executor interface {
	Execute(ctx context.Context, nb *nbformat.Notebook) ([]CellResult, error)
}

// Test statuses in the gradebook.
const (
	Passed       = "passed"
	Failed       = "failed"        // an error in the test
	NotAttempted = "not-attempted" // the stub's "not implemented yet"
	TimedOut     = "timeout"
	KernelDied   = "died"
	Incomplete   = "incomplete" // the test did not run to its end (os.Exit)
	Disqualified = "overridden" // a student cell redefined a test helper
	NotGraded    = "not-graded" // the submission could not be graded
)

// TestResult is the grade of one test cell.
type TestResult struct {
	ID        string  `json:"test"`
	Points    float64 `json:"points"`
	MaxPoints float64 `json:"max_points"`
	Status    string  `json:"status"`
	Message   string  `json:"message,omitempty"`
	Hint      string  `json:"hint,omitempty"`
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

// instrument adds the completion mark to the test cells of nb that have a
// GoNB main body ("%%" or "%main" line) and returns which cells got one.
func instrument(nb *nbformat.Notebook, mark completionMark) map[int]bool {
	got := map[int]bool{}
	cs, _ := cells(nb)
	for i, c := range cs {
		if !c.isTest() {
			continue
		}
		lines := strings.SplitAfter(c.Source, "\n")
		for k, l := range lines {
			t := strings.TrimSpace(l)
			if t == "%%" || strings.HasPrefix(t, "%% ") || strings.HasPrefix(t, "%main") {
				if !strings.HasSuffix(l, "\n") {
					lines[k] += "\n"
				}
				lines[k] += fmt.Sprintf("defer println(%q)\n", string(mark))
				c.Source = strings.Join(lines, "")
				got[i] = true
				break
			}
		}
	}
	return got
}

// score grades the test cells of the executed notebook r.Notebook from
// their results; hints come from the release's "// Hint:" lines.
func score(r *Restored, res []CellResult, marked map[int]bool, mark completionMark) []TestResult {
	cs, _ := cells(r.Notebook)
	var out []TestResult
	overridden := ""
	for i, c := range cs {
		if d, ok := r.overrides[i]; ok && overridden == "" {
			overridden = d
		}
		if !c.isTest() {
			continue
		}
		visible, _ := stripHidden(c.Source)
		t := TestResult{ID: c.id(), MaxPoints: c.points(), Hint: hint(visible)}
		var cr CellResult
		if i < len(res) {
			cr = res[i]
		}
		msg := errorMessage(cr)
		switch {
		case overridden != "":
			t.Status, t.Message = Disqualified, fmt.Sprintf("a student cell above redefines %s, which this test relies on", overridden)
		case cr.Status == StatusOK && marked[i] && !hasMark(cr.Outputs, mark):
			t.Status, t.Message = Incomplete, "the test did not run to its end: the program exited early (os.Exit or similar)"
		case cr.Status == StatusOK:
			t.Status, t.Points = Passed, t.MaxPoints
		case cr.Status == StatusTimeout:
			t.Status, t.Message = TimedOut, "stopped after the time limit: an endless loop or far too slow code"
		case cr.Status == StatusDied:
			t.Status, t.Message = KernelDied, "the kernel died: over the memory or process limit, or killed; "+msg
		case strings.Contains(msg, NotImplemented) || strings.Contains(msg, "undefined: "):
			t.Status, t.Message = NotAttempted, msg
		case cr.Status == StatusSkipped || cr.Status == "":
			t.Status, t.Message = NotGraded, "not run"
		default:
			t.Status, t.Message = Failed, msg
		}
		out = append(out, t)
	}
	return out
}

func hasMark(outs []*nbformat.Output, mark completionMark) bool {
	for _, o := range outs {
		if o.OutputType == nbformat.Stream && strings.Contains(o.Text, string(mark)) {
			return true
		}
	}
	return false
}

// removeMark deletes the completion mark lines from the outputs.
func removeMark(outs []*nbformat.Output, mark completionMark) {
	for _, o := range outs {
		if o.OutputType == nbformat.Stream && strings.Contains(o.Text, string(mark)) {
			o.Text = strings.ReplaceAll(o.Text, string(mark)+"\n", "")
		}
	}
}

// errorMessage summarizes a failed cell: the panic or error the program
// wrote on stderr (GoNB reports only "exit status 2" as the error), else
// the error's value and first traceback lines; without ANSI colors, at
// most 2000 bytes.
func errorMessage(cr CellResult) string {
	var stderr strings.Builder
	for _, o := range cr.Outputs {
		if o.OutputType == nbformat.Stream && o.Name == "stderr" {
			stderr.WriteString(o.Text)
		}
	}
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
	msg := strings.Join(parts, "\n")
	if len(msg) > 2000 {
		msg = msg[:2000] + " …"
	}
	return msg
}

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
