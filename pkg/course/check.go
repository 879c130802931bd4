package course

import (
	"fmt"
	"math"
	"strings"
)

// NotImplemented is the message of the stub that replaces an exercise's
// solution in the student release ("ppml assign"); Test recognises it.
const NotImplemented = "not implemented yet"

// T collects the results of an exercise's checks; see Test.
type T struct {
	checks   int
	failures []string
}

// fatal is the panic value of T.Fatalf, which Test recovers.
type fatal struct{}

// Errorf records a failed check and goes on.
func (t *T) Errorf(format string, args ...any) {
	t.checks++
	t.failures = append(t.failures, fmt.Sprintf(format, args...))
}

// Fatalf records a failed check and stops the test: use it when the
// checks after it would make no sense (a result of the wrong length).
func (t *T) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	panic(fatal{})
}

// Check records a check, which fails with the formatted message unless ok,
// and returns ok.
func (t *T) Check(ok bool, format string, args ...any) bool {
	if !ok {
		t.Errorf(format, args...)
		return false
	}
	t.checks++
	return true
}

// Near checks that got is within tol of want (absolutely, or relatively for
// large values); what names the value in the message.
func (t *T) Near(what string, got, want, tol float64) {
	t.Check(near(got, want, tol), "%s = %.6g, want %.6g", what, got, want)
}

// NearSlice checks that got and want have the same length and that every
// entry of got is within tol of want's; it reports the first entry that is
// not.
func (t *T) NearSlice(what string, got, want []float64, tol float64) {
	if len(got) != len(want) {
		t.Errorf("%s has %d entries, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if !near(got[i], want[i], tol) {
			t.Errorf("%s[%d] = %.6g, want %.6g", what, i, got[i], want[i])
			return
		}
	}
	t.checks++
}

func near(got, want, tol float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return math.IsNaN(got) && math.IsNaN(want)
	}
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

// Test runs the checks of an exercise and reports them. If all pass it
// writes one line to Output. Otherwise it panics, so that the cell ends in
// an error (which is how a notebook, and the grader, see a failed test),
// with a message that lists the failed checks or says that the exercise is
// not written yet (the release's stub panicked with NotImplemented). A
// panic of the code under test is passed on as it is, with its stack.
func Test(name string, checks func(t *T)) {
	t := &T{}
	if stub := run(t, checks); stub {
		panic(fmt.Sprintf("%s: %s (write the solution in the exercise's cell and run it, then run this cell again)", name, NotImplemented))
	}
	if len(t.failures) > 0 {
		panic(fmt.Sprintf("%s: %d of %d checks failed:\n  - %s", name, len(t.failures), t.checks, strings.Join(t.failures, "\n  - ")))
	}
	fmt.Fprintf(out(), "✓ %s: all %d checks passed\n", name, t.checks)
}

// run calls checks(t), and reports whether it stopped on the stub's panic.
// It recovers from T.Fatalf; any other panic goes on, from where it was
// raised.
func run(t *T, checks func(t *T)) (stub bool) {
	defer func() {
		switch r := recover(); {
		case r == nil, r == (fatal{}):
		case fmt.Sprint(r) == NotImplemented:
			stub = true
		default:
			panic(r)
		}
	}()
	checks(t)
	return false
}
