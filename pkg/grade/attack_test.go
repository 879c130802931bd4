package grade

import (
	"context"
	"encoding/csv"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ppml-go/ppml/kernel/nbformat"
)

var update = flag.Bool("update", false, "rewrite testdata/submissions from the attacks below")

const (
	goodSigmoid = "func Sigmoid(x float64) float64 {\n\treturn 1 / (1 + math.Exp(-x))\n}\n"
	goodAverage = "func Average(vs [][]float64) []float64 {\n\tout := make([]float64, len(vs[0]))\n\tfor _, v := range vs {\n\t\tfor i, x := range v {\n\t\t\tout[i] += x / float64(len(vs))\n\t\t}\n\t}\n\treturn out\n}\n"
)

// sigmoidDoing returns a Sigmoid that first does attack, then answers right.
func sigmoidDoing(attack string) string {
	return "func Sigmoid(x float64) float64 {\n" + attack + "\n\treturn 1 / (1 + math.Exp(-x))\n}\n"
}

// attacks are the submissions of testdata/submissions: what each student's
// cells say (by grade_id; "" keeps the release's) and what it must score.
// @SOURCE@, @OTHER@, @OUTSIDE@ and @HOSTPORT@ are replaced when the test runs.
var attacks = []struct {
	student string
	answers map[string]string
	edit    func(nb *nbformat.Notebook) // further changes to the notebook
	want    map[string]TestStatus       // test -> status
}{
	{"good", map[string]string{"sigmoid": goodSigmoid, "average": goodAverage}, nil,
		map[string]TestStatus{"test_sigmoid": Passed, "test_average": Passed}},
	{"blank", nil, nil, map[string]TestStatus{"test_sigmoid": NotAttempted, "test_average": NotAttempted}},
	{"partial", map[string]string{"sigmoid": goodSigmoid}, nil, map[string]TestStatus{"test_sigmoid": Passed, "test_average": NotAttempted}},
	{"read_source", map[string]string{"average": goodAverage, "sigmoid": sigmoidDoing(
		"\tif data, err := os.ReadFile(\"@SOURCE@\"); err != nil || !strings.Contains(string(data), \"HIDDEN\") {\n\t\tpanic(fmt.Sprint(\"could not read the source notebook: \", err))\n\t}")},
		nil, map[string]TestStatus{"test_sigmoid": Failed, "test_average": Passed}},
	{"read_other", map[string]string{"average": goodAverage, "sigmoid": sigmoidDoing(
		"\tif _, err := os.ReadFile(\"@OTHER@\"); err != nil {\n\t\tpanic(fmt.Sprint(\"could not read another submission: \", err))\n\t}")},
		nil, map[string]TestStatus{"test_sigmoid": Failed, "test_average": Passed}},
	{"network", map[string]string{"average": goodAverage, "sigmoid": sigmoidDoing(
		"\tfor _, addr := range []string{\"@HOSTPORT@\", \"1.1.1.1:53\"} {\n\t\tif c, err := net.DialTimeout(\"tcp\", addr, 2*time.Second); err != nil {\n\t\t\tpanic(fmt.Sprint(\"no network: \", err))\n\t\t} else {\n\t\t\tc.Close()\n\t\t}\n\t}")},
		nil, map[string]TestStatus{"test_sigmoid": Failed, "test_average": Passed}},
	{"write_outside", map[string]string{"average": goodAverage, "sigmoid": sigmoidDoing(
		"\tif err := os.WriteFile(\"@OUTSIDE@/pwned\", []byte(\"x\"), 0o644); err != nil {\n\t\tpanic(fmt.Sprint(\"cannot write outside: \", err))\n\t}")},
		nil, map[string]TestStatus{"test_sigmoid": Failed, "test_average": Passed}},
	{"fork_bomb", map[string]string{"average": goodAverage, "sigmoid": sigmoidDoing(
		"\tfor i := 0; i < 100000; i++ {\n\t\tif err := exec.Command(\"/bin/sleep\", \"3\").Start(); err != nil {\n\t\t\tpanic(fmt.Sprint(\"fork bomb stopped after \", i, \" processes: \", err))\n\t\t}\n\t}")},
		nil, map[string]TestStatus{"test_sigmoid": Failed}},
	{"memory_hog", map[string]string{"average": goodAverage, "sigmoid": sigmoidDoing(
		"\tb := make([]byte, 20<<30)\n\tfor i := 0; i < len(b); i += 4096 {\n\t\tb[i] = 1\n\t}")},
		nil, map[string]TestStatus{"test_sigmoid": "!" + Passed, "test_average": Passed}},
	{"endless_loop", map[string]string{"average": goodAverage, "sigmoid": sigmoidDoing("\tfor {\n\t}")},
		nil, map[string]TestStatus{"test_sigmoid": TimedOut, "test_average": Passed}},
	{"panics", map[string]string{"average": goodAverage, "sigmoid": sigmoidDoing("\tpanic(\"boom\")")},
		nil, map[string]TestStatus{"test_sigmoid": Failed, "test_average": Passed}},
	{"exits", map[string]string{"average": goodAverage, "sigmoid": sigmoidDoing("\tos.Exit(0)")},
		nil, map[string]TestStatus{"test_sigmoid": Incomplete, "test_average": Passed}},
	{"fake_pass", map[string]string{"average": goodAverage, "sigmoid": "func Sigmoid(x float64) float64 {\n\tfmt.Println(\"All tests passed! Score 5/5\")\n\treturn 0\n}\n"},
		nil, map[string]TestStatus{"test_sigmoid": Failed, "test_average": Passed}},
	{"edits_tests", map[string]string{"average": goodAverage, "sigmoid": "func Sigmoid(x float64) float64 { return 0 }\n",
		"test_sigmoid": "%%\nfmt.Println(\"ok\")\n"},
		func(nb *nbformat.Notebook) {
			for _, c := range nb.Cells {
				if g, ok, _ := c.Nbgrader(); ok && g.GradeID == "test_sigmoid" {
					g.Points = 100
					c.SetNbgrader(g)
				}
			}
		}, map[string]TestStatus{"test_sigmoid": Failed, "test_average": Passed}},
	{"deletes_tests", map[string]string{"average": goodAverage, "sigmoid": goodSigmoid},
		func(nb *nbformat.Notebook) { nb.Cells = dropCell(nb.Cells, "test_sigmoid") },
		map[string]TestStatus{"test_sigmoid": Passed, "test_average": Passed}},
	{"redefines_helper", map[string]string{"average": goodAverage, "sigmoid": "func Sigmoid(x float64) float64 { return 0 }\n\nfunc near(a, b float64) bool { return true }\n"},
		nil, map[string]TestStatus{"test_sigmoid": Overridden, "test_average": Overridden}},
	{"reordered", map[string]string{"average": goodAverage, "sigmoid": goodSigmoid},
		func(nb *nbformat.Notebook) {
			n := len(nb.Cells)
			nb.Cells = append(append(append([]*nbformat.Cell{}, nb.Cells[:2]...), nb.Cells[5:n-1]...), append(nb.Cells[2:5], nb.Cells[n-1])...)
		}, map[string]TestStatus{"test_sigmoid": Passed, "test_average": Passed}},
	{"missing_answer", map[string]string{"average": goodAverage},
		func(nb *nbformat.Notebook) { nb.Cells = dropCell(nb.Cells, "sigmoid") },
		map[string]TestStatus{"test_sigmoid": NotAttempted, "test_average": Passed}},
}

func dropCell(cs []*nbformat.Cell, id string) []*nbformat.Cell {
	var out []*nbformat.Cell
	for _, c := range cs {
		if g, ok, _ := c.Nbgrader(); ok && g.GradeID == id {
			continue
		}
		out = append(out, c)
	}
	return out
}

// writeSubmissions regenerates testdata/submissions (go test -run TestAttacks -update).
func writeSubmissions(t *testing.T) {
	src, err := nbformat.ReadFile("testdata/course.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range attacks {
		nb, err := Assign(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range nb.Cells {
			if g, ok, _ := c.Nbgrader(); ok {
				if s, ok := a.answers[g.GradeID]; ok {
					c.Source = s
				}
			}
		}
		if a.edit != nil {
			a.edit(nb)
		}
		if err := nbformat.WriteFile(filepath.Join("testdata/submissions", a.student+".ipynb"), nb); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile("testdata/submissions/not_json.ipynb", []byte("this is not a notebook {"), 0o644)
	os.WriteFile("testdata/submissions/empty.ipynb", nil, 0o644)
	os.WriteFile("testdata/submissions/no_cells.ipynb", []byte(`{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}`+"\n"), 0o644)
}

func TestAttacks(t *testing.T) {
	if *update {
		writeSubmissions(t)
	}
	e := testExecutor(t, false)
	e.Timeout = 10 * time.Second
	tmp := t.TempDir()
	subDir := filepath.Join(tmp, "submissions")
	outside := filepath.Join(tmp, "outside")
	os.MkdirAll(outside, 0o755)
	srcDir := filepath.Join(tmp, "source")
	os.MkdirAll(srcDir, 0o755)
	srcData, _ := os.ReadFile("testdata/course.ipynb")
	srcPath := filepath.Join(srcDir, "course.ipynb")
	os.WriteFile(srcPath, srcData, 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	connected := make(chan struct{}, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			connected <- struct{}{}
			c.Close()
		}
	}()
	// Copy the submissions, filling in the paths of this run; one student
	// hands in a directory.
	os.MkdirAll(subDir, 0o755)
	files, _ := filepath.Glob("testdata/submissions/*.ipynb")
	if len(files) < len(attacks) {
		t.Fatalf("testdata/submissions has %d files; run go test -run TestAttacks -update", len(files))
	}
	r := strings.NewReplacer("@SOURCE@", srcPath, "@OTHER@", filepath.Join(subDir, "good.ipynb"), "@OUTSIDE@", outside, "@HOSTPORT@", l.Addr().String())
	for _, f := range files {
		data, _ := os.ReadFile(f)
		dst := filepath.Join(subDir, filepath.Base(f))
		if filepath.Base(f) == "partial.ipynb" {
			os.MkdirAll(filepath.Join(subDir, "partial"), 0o755)
			dst = filepath.Join(subDir, "partial", "course.ipynb")
		}
		os.WriteFile(dst, []byte(r.Replace(string(data))), 0o644)
	}
	huge := append([]byte(`{"cells": [], "metadata": {"junk": "`), make([]byte, MaxSubmissionSize)...)
	for i := 36; i < len(huge); i++ {
		huge[i] = 'a'
	}
	os.WriteFile(filepath.Join(subDir, "huge.ipynb"), append(huge, `"}, "nbformat": 4, "nbformat_minor": 5}`...), 0o644)
	// A link to the source notebook (it would score full marks if read) and
	// a FIFO (reading it would block the grader): refused unread.
	os.Symlink(srcPath, filepath.Join(subDir, "link.ipynb"))
	if err := syscall.Mkfifo(filepath.Join(subDir, "fifo.ipynb"), 0o644); err != nil {
		t.Fatal(err)
	}

	src, err := nbformat.ReadFile(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	e.Hide = []string{srcDir, subDir, outside}
	g, err := NewGrader(src, e)
	if err != nil {
		t.Fatal(err)
	}
	g.SubmissionTimeout = 3 * time.Minute
	subs, err := FindSubmissions(subDir, FindOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var progress func(int, *Grade)
	if testing.Verbose() {
		progress = ProgressBar(os.Stderr, len(subs))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	grades, err := g.GradeAll(ctx, subs, 2, progress)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "grades")
	if err := WriteGradebook(out, grades); err != nil {
		t.Fatal(err)
	}
	byStudent := map[string]*Grade{}
	for _, gr := range grades {
		byStudent[gr.Student] = gr
		t.Logf("%-16s %g/%g tampered=%v %v", gr.Student, gr.Score, gr.MaxScore, gr.Tampered, gr.Issues)
		for _, tr := range gr.Tests {
			t.Logf("    %-13s %-13s %s", tr.ID, tr.Status, firstLine(tr.Message))
		}
	}
	if len(grades) != len(files)+3 {
		t.Errorf("%d grades for %d submissions", len(grades), len(files)+3)
	}
	for _, a := range attacks {
		gr := byStudent[a.student]
		if gr == nil {
			t.Errorf("%s: no grade", a.student)
			continue
		}
		for _, tr := range gr.Tests {
			want, ok := a.want[tr.ID]
			if !ok {
				continue
			}
			if not, neg := strings.CutPrefix(string(want), "!"); neg && string(tr.Status) == not || !neg && tr.Status != want {
				t.Errorf("%s: %s is %s (%s), want %s", a.student, tr.ID, tr.Status, tr.Message, want)
			}
		}
		if _, err := os.Stat(filepath.Join(out, "feedback", a.student+".html")); err != nil {
			t.Errorf("%s: no feedback: %v", a.student, err)
		}
	}
	for _, s := range []string{"edits_tests", "deletes_tests"} {
		if gr := byStudent[s]; gr != nil && (!gr.Tampered || gr.MaxScore != 5) {
			t.Errorf("%s: tampered=%v max=%g, want flagged with max 5", s, gr.Tampered, gr.MaxScore)
		}
	}
	for _, s := range []string{"not_json", "empty", "no_cells"} {
		if gr := byStudent[s]; gr == nil || gr.NotGraded != "" || gr.Score != 0 || len(gr.Issues) == 0 || len(gr.Tests) != 2 || gr.Tests[0].Status != NotAttempted {
			t.Errorf("%s: want a zero grade with an issue and both tests not attempted, got %+v", s, gr)
		}
	}
	for s, why := range map[string]string{"huge": "over the 20 MiB limit", "link": "symbolic link", "fifo": "FIFO"} {
		if gr := byStudent[s]; gr == nil || !gr.Refused || !strings.Contains(gr.NotGraded, why) || gr.Score != 0 {
			t.Errorf("%s: want refused saying %q, got %+v", s, why, gr)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "pwned")); err == nil {
		t.Error("a submission wrote outside its sandbox")
	}
	select {
	case <-connected:
		t.Error("a submission connected to a port of the host")
	default:
	}
	fb, _ := os.ReadFile(filepath.Join(out, "feedback", "good.html"))
	if strings.Contains(string(fb), "Sigmoid(2)") {
		t.Error("feedback shows a hidden test")
	}
	for name, want := range map[string]int{"gradebook.csv": 1 + len(grades), "gradebook-tests.csv": 1 + 2*len(grades)} {
		f, _ := os.Open(filepath.Join(out, name))
		rows, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil || len(rows) != want {
			t.Errorf("%s has %d rows (%v), want %d", name, len(rows), err, want)
		}
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
