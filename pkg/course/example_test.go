package course_test

import (
	"fmt"

	"github.com/ppml-go/ppml/pkg/course"
)

// An exercise's test cell: the checks of the student's function, which
// either all pass or make the cell fail with what is wrong.
func ExampleTest() {
	double := func(x float64) float64 { return 2 * x }
	course.Test("Exercise 0 (double)", func(t *course.T) {
		t.Near("double(2)", double(2), 4, 1e-12)
		t.NearSlice("doubles", []float64{double(1), double(-1)}, []float64{2, -2}, 1e-12)
	})
	// Output: ✓ Exercise 0 (double): all 2 checks passed
}

// A long computation keeps its result for the kernel session, so that a
// later cell can plot it without computing it again.
func ExampleKeep() {
	losses, err := course.Keep("losses", func() ([]float64, error) {
		return []float64{0.7, 0.3, 0.1}, nil // train here
	})
	fmt.Println(losses, err)
	// Output: [0.7 0.3 0.1] <nil>
}

// Double is a student's exercise that is not done yet: the release's stub.
func Double(x float64) float64 { panic(course.NotImplemented) }

// A demonstration runs the student's function once it is written, and the
// reference (saying so) while it is still the release's stub.
func ExampleYours() {
	double := course.Yours("Exercise 1", Double, func(x float64) float64 { return 2 * x })
	fmt.Println(double(1), double(2))
	// Output:
	// Exercise 1 is not done yet: this run uses the reference Double
	// 2 4
}
