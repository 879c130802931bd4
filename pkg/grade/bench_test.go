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
	subs, _ := FindSubmissions(dir, FindOptions{})
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

// BenchmarkAutogradeCourse30 grades 30 submissions of the course notebook
// on the ppml-go kernel in the sandbox, 2 in parallel: 10 full, 10 partial
// or broken (courseSubmissions in turn) and 10 empty (the release), and
// reports submissions per minute (goal >= 10 on a 2-core machine).
// bench/grade/run.sh measures the same through `ppml autograde`.
func BenchmarkAutogradeCourse30(b *testing.B) {
	dir := b.TempDir()
	g := courseGrader(b, dir)
	want := map[string]float64{}
	var others []string
	for _, s := range courseSubmissions {
		if s.student != "full" && s.student != "snoops" {
			others = append(others, s.student)
		}
	}
	for i := range 10 {
		for _, kind := range []string{"full", others[i%len(others)], "empty"} {
			from := filepath.Join(courseSubDir, kind+".ipynb")
			if kind == "empty" {
				from = courseRelease
			}
			data, err := os.ReadFile(from)
			if err != nil {
				b.Fatal(err)
			}
			name := fmt.Sprintf("%s-%02d", kind, i)
			os.WriteFile(filepath.Join(dir, name+".ipynb"), data, 0o644)
			want[name] = 0
			for _, s := range courseSubmissions {
				if s.student == kind {
					want[name] = s.want
				}
			}
		}
	}
	subs, _ := FindSubmissions(dir, FindOptions{})
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
			if gr.Score != want[gr.Student] {
				b.Errorf("%s scored %g, want %g", gr.Student, gr.Score, want[gr.Student])
			}
		}
	}
	b.ReportMetric(float64(len(subs)*b.N)/el.Minutes(), "submissions/min")
}
