package grade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppml-go/ppml/kernel/nbformat"
)

// BenchmarkAutograde30 grades 30 submissions of the test course notebook
// (10 correct, 10 half done, 10 blank) in the sandbox, 2 in parallel, and
// reports submissions per minute (goal >= 10 on a 2-core machine).
func BenchmarkAutograde30(b *testing.B) {
	src, err := nbformat.ReadFile("testdata/course.ipynb")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for i := range 10 {
		for _, kind := range []string{"good", "partial", "blank"} {
			data, err := os.ReadFile(filepath.Join("testdata/submissions", kind+".ipynb"))
			if err != nil {
				b.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s%02d.ipynb", kind, i)), data, 0o644)
		}
	}
	subs, _ := FindSubmissions(dir)
	e := benchExecutor(b)
	g, err := NewGrader(src, e)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var el time.Duration
	for range b.N {
		start := time.Now()
		grades, err := g.GradeAll(context.Background(), subs, 2, nil)
		if err != nil {
			b.Fatal(err)
		}
		el += time.Since(start)
		for _, gr := range grades {
			if want := map[byte]float64{'g': 5, 'p': 2, 'b': 0}[gr.Student[0]]; gr.Score != want {
				b.Fatalf("%s scored %g, want %g: %+v", gr.Student, gr.Score, want, gr.Tests)
			}
		}
	}
	b.ReportMetric(float64(len(subs)*b.N)/el.Minutes(), "submissions/min")
}

func benchExecutor(b *testing.B) *KernelExecutor {
	return &KernelExecutor{Spec: gonbSpecB(b), Timeout: time.Minute, Memory: 2 << 30, Procs: 512, GoCache: userGoCache()}
}
