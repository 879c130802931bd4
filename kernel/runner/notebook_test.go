package runner

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ppml-go/ppml/kernel/nbformat"
)

func testNotebook(kernel string, sources ...string) *nbformat.Notebook {
	nb := nbformat.New()
	nb.Metadata = []byte(`{"kernelspec": {"name": "` + kernel + `", "display_name": "t", "language": "testlang"}}`)
	nb.Cells = append(nb.Cells, nbformat.NewCell(nbformat.Markdown, "# title"))
	for _, s := range sources {
		nb.Cells = append(nb.Cells, nbformat.NewCell(nbformat.Code, s))
	}
	return nb
}

func statuses(rep *Report) string {
	var s []string
	for _, c := range rep.Cells {
		s = append(s, string(c.Status))
	}
	return strings.Join(s, " ")
}

func TestRunNotebook(t *testing.T) {
	tests := []struct {
		name        string
		sources     []string
		allowErrors bool
		want        string
	}{
		{"all ok", []string{"print a", "", "result 1"}, false, "ok ok"},
		{"error stops", []string{"print a", "error E boom", "print c"}, false, "ok error skipped"},
		{"allow errors", []string{"error E boom", "print c"}, true, "error ok"},
		{"timeout stops", []string{"sleep forever", "print c"}, false, "timeout skipped"},
		{"death restarts with allow errors", []string{"exit 1", "print c"}, true, "died ok"},
		{"death stops", []string{"exit 1", "print c"}, false, "died skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nb := testNotebook("testkernel", tt.sources...)
			var events []string
			rep, err := RunNotebook(context.Background(), nb, RunOptions{
				Timeout: 300 * time.Millisecond, AllowErrors: tt.allowErrors,
				Progress: func(c CellReport) { events = append(events, string(c.Status)) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := statuses(rep); got != tt.want {
				t.Errorf("statuses %q, want %q", got, tt.want)
			}
			if len(events) == 0 || events[0] != "running" {
				t.Errorf("progress events %q", events)
			}
			if !strings.Contains(tt.want, " ") || tt.want == "ok ok" {
				return
			}
			var ce *CellError
			err = rep.Err()
			if !errors.As(err, &ce) || ce.Cell.Status == StatusOK {
				t.Fatalf("Report.Err() = %v, want a CellError", err)
			}
			if want := fmt.Sprintf("cell %d (id %s): %s", ce.Cell.Index+1, nb.Cells[ce.Cell.Index].ID, ce.Cell.Status); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Report.Err() = %v, want it to start with %q", err, want)
			}
		})
	}
}

func TestRunNotebookWritesOutputs(t *testing.T) {
	nb := testNotebook("testkernel", "print a", "", "result 7")
	old := 99
	nb.Cells[1].ExecutionCount = &old
	nb.Cells[1].Outputs = []*nbformat.Output{{OutputType: nbformat.Stream, Name: "stdout", Text: "stale\n"}}
	if _, err := RunNotebook(context.Background(), nb, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if c := nb.Cells[1]; *c.ExecutionCount != 1 || len(c.Outputs) != 1 || c.Outputs[0].Text != "a\n" {
		t.Errorf("cell 1: count %v outputs %s", *c.ExecutionCount, outputsJSON(c.Outputs))
	}
	if c := nb.Cells[2]; c.ExecutionCount != nil || len(c.Outputs) != 0 {
		t.Error("the empty cell was executed")
	}
	if c := nb.Cells[3]; *c.ExecutionCount != 2 || !strings.Contains(outputsJSON(c.Outputs), `"7"`) {
		t.Errorf("cell 3: %s", outputsJSON(c.Outputs))
	}
	if !strings.Contains(string(nb.Metadata), `"language_info"`) {
		t.Errorf("no language_info in %s", nb.Metadata)
	}
}

// TestReportNamesTheErrorOutput checks that a failed cell's report (and
// the error of the run) says what the cell's error output says, when the
// execute_reply, which here comes first, says something else.
func TestReportNamesTheErrorOutput(t *testing.T) {
	nb := testNotebook("testkernel", "print before\nmisreport panic boom")
	rep, err := RunNotebook(context.Background(), nb, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Cells[0]
	if c.Status != StatusError || c.EName != "panic" || c.EValue != "boom" || c.Message != "panic: boom" {
		t.Errorf("cell report %s: %s: %s (%s), want error: panic: boom", c.Status, c.EName, c.EValue, c.Message)
	}
	if err := rep.Err(); err == nil || !strings.HasSuffix(err.Error(), "error: panic: boom") {
		t.Errorf("Report.Err() = %v, want it to end with the panic", err)
	}
	outs := nb.Cells[c.Index].Outputs
	if len(outs) != 2 || outs[1].EName != "panic" || outs[1].EValue != "boom" {
		t.Errorf("cell outputs %s", outputsJSON(outs))
	}
}

func TestRunNotebookErrors(t *testing.T) {
	if _, err := RunNotebook(context.Background(), nbformat.New(), RunOptions{}); err == nil || !strings.Contains(err.Error(), "names no kernel") {
		t.Errorf("notebook without kernel: %v", err)
	}
	if _, err := RunNotebook(context.Background(), testNotebook("nope"), RunOptions{}); !errors.Is(err, ErrNoSpec) {
		t.Errorf("unknown kernel: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := RunNotebook(ctx, testNotebook("testkernel", "sleep forever"), RunOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("canceled run: %v", err)
	}
}

// TestIPyKernel runs Debian's ipykernel: outputs, an error, and a timeout
// interrupted by SIGINT (KeyboardInterrupt), on the same kernel.
func TestIPyKernel(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := exec.LookPath(py); err != nil {
		py = "python3"
	}
	requireIPyKernel(t, py)
	k := startTestKernel(t, "python3", Options{})
	r, err := k.Execute(context.Background(), "print('hi')\n1+1", 30*time.Second)
	if err != nil || r.Status != StatusOK || len(r.Outputs) != 2 || r.Outputs[0].Text != "hi\n" {
		t.Fatalf("%+v %v", r, err)
	}
	r, _ = k.Execute(context.Background(), "import time\ntime.sleep(60)", 500*time.Millisecond)
	if r.Status != StatusTimeout || r.Restarted || r.EName != "KeyboardInterrupt" {
		t.Errorf("timeout: %+v", r)
	}
	r, _ = k.Execute(context.Background(), "1/0", 30*time.Second)
	if r.Status != StatusError || r.EName != "ZeroDivisionError" || r.ExecutionCount != 3 {
		t.Errorf("error: %+v", r)
	}
}
