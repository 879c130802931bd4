// Package runner benchmarks kernel/runner: its per-cell overhead against
// nbclient's on the same notebook and kernel, and the warm latency of cells
// of the course's Go kernel.
//
//	go test -run '^$' -bench . -benchtime 3x ./bench/runner
//
// The nbclient side is nbclient_cells.py (Debian's python3-nbclient); the
// Go kernel is the ppml-go kernelspec of scripts/install-kernel.sh (point
// JUPYTER_PATH at its share/jupyter when installed with --prefix).
package runner

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ppml-go/ppml/kernel/nbformat"
	"github.com/ppml-go/ppml/kernel/runner"
)

// cellsPerNotebook trivial cells make the benchmark notebook.
const cellsPerNotebook = 20

func python(b *testing.B) string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import nbclient").Run() == nil {
			return py
		}
	}
	b.Skip("nbclient not installed: apt-get install -y python3-nbclient")
	return ""
}

// testKernelSpec builds the runner's test kernel and installs a kernelspec
// for it under a temporary JUPYTER_PATH, visible to nbclient too.
func testKernelSpec(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "testkernel")
	build := exec.Command("go", "build", "-o", bin, "github.com/ppml-go/ppml/kernel/runner/internal/testkernel")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatal(err)
	}
	spec := filepath.Join(dir, "kernels", "benchkernel")
	os.MkdirAll(spec, 0o755)
	data, _ := json.Marshal(map[string]any{"argv": []string{bin, "-f", "{connection_file}"}, "display_name": "bench", "language": "testlang"})
	os.WriteFile(filepath.Join(spec, "kernel.json"), data, 0o644)
	b.Setenv("JUPYTER_PATH", dir+string(os.PathListSeparator)+os.Getenv("JUPYTER_PATH"))
}

func writeNotebook(b *testing.B, kernel, source string) string {
	nb := nbformat.New()
	nb.Metadata = json.RawMessage(`{"kernelspec": {"name": "` + kernel + `", "display_name": "k", "language": "x"}}`)
	for range cellsPerNotebook {
		nb.Cells = append(nb.Cells, nbformat.NewCell(nbformat.Code, source))
	}
	path := filepath.Join(b.TempDir(), "bench.ipynb")
	if err := nbformat.WriteFile(path, nb); err != nil {
		b.Fatal(err)
	}
	return path
}

// nbclientPerCell runs nbclient_cells.py and returns its time per cell.
func nbclientPerCell(b *testing.B, py, path, kernel string, rounds int) time.Duration {
	out, err := exec.Command(py, "nbclient_cells.py", path, kernel, strconvItoa(rounds)).Output()
	if err != nil {
		b.Fatalf("nbclient_cells.py: %v %s", err, stderrOf(err))
	}
	var r struct {
		SecondsPerCell float64 `json:"seconds_per_cell"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatalf("nbclient_cells.py output %q: %v", out, err)
	}
	return time.Duration(r.SecondsPerCell * float64(time.Second))
}

// BenchmarkOverheadVsNbclient executes the same notebook of trivial cells
// on the same kernel with kernel/runner and with nbclient, in one run, and
// reports both times per cell and their ratio (runner/nbclient; goal <= 1).
// On the test kernel cells cost nothing, so the times are the clients'
// overhead; on ipykernel they include Python's per-cell work.
func BenchmarkOverheadVsNbclient(b *testing.B) {
	py := python(b)
	testKernelSpec(b)
	for _, k := range []struct{ kernel, source string }{
		{"benchkernel", "print x"},
		{"python3", "x = 1"},
	} {
		b.Run(k.kernel, func(b *testing.B) {
			spec, err := runner.FindSpec(k.kernel)
			if err != nil {
				b.Skip(err)
			}
			path := writeNotebook(b, k.kernel, k.source)
			kern, err := runner.Start(context.Background(), spec, runner.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer kern.Shutdown()
			run := func() {
				for range cellsPerNotebook {
					if r, err := kern.Execute(context.Background(), k.source, time.Minute); err != nil || r.Status != runner.StatusOK {
						b.Fatalf("%+v %v", r, err)
					}
				}
			}
			run() // warm up, as the nbclient side does
			b.ResetTimer()
			for b.Loop() {
				run()
			}
			b.StopTimer()
			goCell := b.Elapsed() / time.Duration(b.N*cellsPerNotebook)
			nbCell := nbclientPerCell(b, py, path, k.kernel, max(b.N, 3))
			b.ReportMetric(float64(goCell.Microseconds()), "runner_µs/cell")
			b.ReportMetric(float64(nbCell.Microseconds()), "nbclient_µs/cell")
			b.ReportMetric(float64(goCell)/float64(nbCell), "ratio")
		})
	}
}

// BenchmarkGoCellWarm measures the latency of one cell on the course's Go
// kernel (kernelspec ppml-go) once warm: a trivial cell (goal <= 1 s) and
// one importing pkg/fl (goal <= 1.5 s). GoNB compiles each cell into a new
// program, so each execution includes a build from the warm build cache.
func BenchmarkGoCellWarm(b *testing.B) {
	spec, err := runner.FindSpec("ppml-go")
	if err != nil {
		b.Skip("Go kernel not installed (scripts/install-kernel.sh): ", err)
	}
	kern, err := runner.Start(context.Background(), spec, runner.Options{StartTimeout: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer kern.Shutdown()
	for _, c := range []struct{ name, code, want string }{
		{"trivial", "%%\nfmt.Println(1 + 1)", "2\n"},
		{"import_fl", "import \"github.com/ppml-go/ppml/pkg/fl\"\n\n%%\nfmt.Println(fl.Sigmoid(0))", "0.5\n"},
	} {
		b.Run(c.name, func(b *testing.B) {
			exec := func() {
				r, err := kern.Execute(context.Background(), c.code, 5*time.Minute)
				if err != nil || r.Status != runner.StatusOK {
					b.Fatalf("%+v %v", r, err)
				}
				if len(r.Outputs) != 1 || r.Outputs[0].Text != c.want {
					b.Fatalf("outputs %+v, want %q", r.Outputs, c.want)
				}
			}
			exec() // warm: the first build of this cell
			b.ResetTimer()
			for b.Loop() {
				exec()
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/cell")
		})
	}
}

func strconvItoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
