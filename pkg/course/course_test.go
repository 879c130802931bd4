package course

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// capture redirects Output to a buffer for the duration of the test.
func capture(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	old := Output
	Output = &buf
	said = map[string]bool{}
	t.Cleanup(func() { Output = old })
	return &buf
}

// panicOf returns the value f panics with, or nil.
func panicOf(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

func TestTest(t *testing.T) {
	tests := []struct {
		name   string
		checks func(t *T)
		out    string // written to Output, if it passes
		panic  string // substrings of the panic message, if it fails
	}{
		{"all pass", func(t *T) { t.Check(true, "x"); t.Near("x", 1, 1+1e-12, 1e-9) }, "✓ all pass: all 2 checks passed\n", ""},
		{"one fails", func(t *T) { t.Check(true, "x"); t.Near("Sigmoid(0)", 0.4, 0.5, 1e-9) },
			"", "one fails: 1 of 2 checks failed:\n  - Sigmoid(0) = 0.4, want 0.5"},
		{"fatal stops", func(t *T) { t.Fatalf("got %d parties", 3); t.Errorf("never") },
			"", "fatal stops: 1 of 1 checks failed:\n  - got 3 parties"},
		{"slices", func(t *T) {
			t.NearSlice("w", []float64{1, 2}, []float64{1, 2.5}, 1e-9)
			t.NearSlice("v", []float64{1}, []float64{1, 2}, 1e-9)
		}, "", "w[1] = 2, want 2.5\n  - v has 1 entries, want 2"},
		{"stub", func(t *T) { panic(NotImplemented) }, "", "stub: not implemented yet (write the solution"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := capture(t)
			r := panicOf(func() { Test(tc.name, tc.checks) })
			if tc.panic == "" {
				if r != nil {
					t.Fatalf("Test panicked: %v", r)
				}
				if out.String() != tc.out {
					t.Errorf("Test wrote %q, want %q", out.String(), tc.out)
				}
				return
			}
			if msg := fmt.Sprint(r); r == nil || !strings.Contains(msg, tc.panic) {
				t.Errorf("Test panicked with %q, want it to contain %q", msg, tc.panic)
			}
			if out.Len() != 0 {
				t.Errorf("a failing Test wrote %q", out.String())
			}
		})
	}
}

func TestTestPassesOtherPanics(t *testing.T) {
	capture(t)
	r := panicOf(func() { Test("x", func(*T) { var s []int; _ = s[3] }) })
	if err, ok := r.(error); !ok || !strings.Contains(err.Error(), "index out of range") {
		t.Errorf("Test turned a runtime panic into %v; want it passed on", r)
	}
}

func TestKeep(t *testing.T) {
	t.Setenv("GONB_TMP_DIR", t.TempDir())
	type result struct {
		Loss []float64
		Acc  float64
	}
	calls := 0
	compute := func() (result, error) {
		calls++
		return result{Loss: []float64{0.5, 0.25}, Acc: 0.99}, nil
	}
	for range 2 {
		r, err := Keep("fedavg", compute)
		if err != nil {
			t.Fatal(err)
		}
		if r.Acc != 0.99 || len(r.Loss) != 2 || r.Loss[1] != 0.25 {
			t.Errorf("Keep returned %+v", r)
		}
	}
	if calls != 1 {
		t.Errorf("compute ran %d times, want once", calls)
	}
	if err := Forget("fedavg"); err != nil {
		t.Fatal(err)
	}
	if _, err := Keep("fedavg", compute); err != nil || calls != 2 {
		t.Errorf("after Forget: err %v, compute ran %d times, want twice", err, calls)
	}
	if err := Forget("never-kept"); err != nil {
		t.Errorf("Forget of an unknown key: %v", err)
	}

	boom := errors.New("boom")
	if _, err := Keep("failing", func() (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("Keep returned %v, want compute's error", err)
	}
	if v, err := Keep("failing", func() (int, error) { return 7, nil }); err != nil || v != 7 {
		t.Errorf("Keep after a failure = %v, %v; want the new result 7 (nothing kept on error)", v, err)
	}
	if _, err := Keep[int]("fedavg", func() (int, error) { return 1, nil }); err == nil {
		t.Error("Keep decoded a kept struct as an int without error")
	}
	for _, key := range []string{"", "../x", "a/b", ".hidden"} {
		if _, err := Keep(key, func() (int, error) { return 1, nil }); err == nil {
			t.Errorf("Keep accepted key %q", key)
		}
	}
}

func TestKeepOutsideGoNB(t *testing.T) {
	t.Setenv("GONB_TMP_DIR", "")
	calls := 0
	for range 2 {
		if _, err := Keep("x", func() (int, error) { calls++; return 1, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 2 {
		t.Errorf("outside GoNB compute ran %d times, want every time (2)", calls)
	}
}

func TestPlainOutput(t *testing.T) {
	if InNotebook() {
		t.Skip("running inside GoNB")
	}
	out := capture(t)
	p := NewProgress()
	p.Printf("epoch %d", 1)
	p.Printf("epoch %d", 2)
	p.Done()
	SVG("<svg></svg>")
	HTML("<b>x</b>")
	Printf("accuracy %.2f", 0.5)
	want := "epoch 1\nepoch 2\n[SVG picture, 11 bytes]\n[HTML, 8 bytes]\naccuracy 0.50\n"
	if out.String() != want || p.Last() != "epoch 2" {
		t.Errorf("wrote %q (last %q), want %q", out.String(), p.Last(), want)
	}
}

func stubbedForward(x float64) float64 { panic(NotImplemented) }

func doneForward(x float64) float64 { return 2 * x }

// callsStub is a finished exercise that calls one that is not.
func callsStub(x float64) float64 { return stubbedForward(x) + 1 }

func referenceForward(x float64) float64 { return 3 * x }

func TestYours(t *testing.T) {
	tests := []struct {
		name string
		f    func(float64) float64
		want float64
		line string
	}{
		{"done", doneForward, 4, ""},
		{"stub", stubbedForward, 6, "Exercise 2 is not done yet: this run uses the reference stubbedForward\n"},
		{"calls a stub", callsStub, 6, "Exercise 2's callsStub calls stubbedForward, which is not done yet: this run uses the reference callsStub\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := capture(t)
			f := Yours("Exercise 2", tc.f, referenceForward)
			for range 3 {
				if got := f(2); got != tc.want {
					t.Errorf("f(2) = %v, want %v", got, tc.want)
				}
			}
			if out.String() != tc.line {
				t.Errorf("wrote %q, want %q (once)", out.String(), tc.line)
			}
		})
	}
	capture(t)
	r := panicOf(func() {
		Yours("Exercise 2", func(x float64) float64 { return []float64{}[int(x)] }, referenceForward)(1)
	})
	if err, ok := r.(error); !ok || !strings.Contains(err.Error(), "index out of range") {
		t.Errorf("a wrong answer's panic became %v; want it passed on", r)
	}
}
