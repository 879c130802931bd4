package nbformat

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRoundTripNbformatFiles reads notebooks written by Python's nbformat
// (one executed by nbclient with ipykernel: streams, display_data,
// execute_result, error, attachments, nbgrader metadata) and checks that
// writing them back gives the same bytes.
func TestRoundTripNbformatFiles(t *testing.T) {
	for _, name := range []string{"unexecuted.ipynb", "executed.ipynb"} {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			nb, err := Parse(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Marshal(nb)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("round trip differs:\n%s", firstDiff(got, want))
			}
		})
	}
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return "line " + itoa(i+1) + ":\n got  " + g[i] + "\n want " + w[i]
		}
	}
	return "lengths " + itoa(len(g)) + " and " + itoa(len(w)) + " lines"
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestExecutedContent(t *testing.T) {
	nb, err := ReadFile(filepath.Join("testdata", "executed.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	if len(nb.Cells) != 6 {
		t.Fatalf("%d cells, want 6", len(nb.Cells))
	}
	c := nb.Cells[1]
	if c.Source != "print('hello')\nimport sys\nprint('oops', file=sys.stderr)" {
		t.Errorf("source = %q", c.Source)
	}
	if *c.ExecutionCount != 1 || len(c.Outputs) != 2 || c.Outputs[0].Text != "hello\n" || c.Outputs[1].Name != "stderr" {
		t.Errorf("cell 2 = %+v", c)
	}
	res := nb.Cells[2].Outputs[3]
	if s, _ := res.Data.Text("text/plain"); res.OutputType != ExecuteResult || s != "2" || *res.ExecutionCount != 2 {
		t.Errorf("execute_result = %+v", res)
	}
	e := nb.Cells[3].Outputs[0]
	if e.EName != "ZeroDivisionError" || e.EValue != "division by zero" || len(e.Traceback) != 4 {
		t.Errorf("error = %+v", e)
	}
	if _, ok := nb.Cells[0].Extra["attachments"]; !ok {
		t.Error("markdown attachments lost")
	}
}

func TestStringsAndUnknownFields(t *testing.T) {
	nb, err := ReadFile(filepath.Join("testdata", "handwritten_v4.2.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	if nb.NBFormatMinor != 2 || string(nb.Extra["x-tool"]) != `{"state": "kept"}` {
		t.Errorf("minor %d, extra %s", nb.NBFormatMinor, nb.Extra)
	}
	code := nb.Cells[1]
	if code.ID != "" || string(code.Extra["x-cell"]) != "[1, 2]" {
		t.Errorf("code cell id %q extra %s", code.ID, code.Extra)
	}
	if got := code.Outputs[0].Text; got != "<&>\nno newline" {
		t.Errorf("stream text = %q", got)
	}
	if got := string(code.Outputs[1].Data["application/json"]); got != `{"k": [1, 2]}` {
		t.Errorf("application/json = %s", got)
	}
	if string(code.Outputs[2].Extra["x-out"]) != "true" || string(code.Outputs[3].Extra["payload"]) != `{"z": 0}` {
		t.Errorf("output extras lost: %s %s", code.Outputs[2].Extra, code.Outputs[3].Extra)
	}
	out, err := Marshal(nb)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"source": [` + "\n" + `    "# One string\n",` + "\n" + `    "second line\n"`,
		`"text": [` + "\n" + `      "<&>\n",` + "\n" + `      "no newline"`,
		`"x-tool": {`, `"x-cell": [`, `"x-out": true`, `"output_type": "future_kind"`,
		`"application/vnd.custom+json": [`,
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("written notebook lacks %s\n%s", want, out)
		}
	}
	again, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	out2, _ := Marshal(again)
	if !bytes.Equal(out, out2) {
		t.Error("second round trip changed the notebook")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, input, want string }{
		{"not JSON", "{", "not a JSON object"},
		{"JSON array", "[]", "not a JSON object"},
		{"no nbformat", `{"cells": []}`, "no nbformat version"},
		{"nbformat 3", `{"nbformat": 3, "worksheets": []}`, "nbformat 3, only 4"},
		{"no cells", `{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}`, "no cells"},
		{"cells not list", `{"nbformat": 4, "cells": {}}`, "cells is not a list"},
		{"cell not object", `{"nbformat": 4, "cells": [1]}`, "cell 1: not an object"},
		{"no cell_type", `{"nbformat": 4, "cells": [{"source": ""}]}`, "cell 1: no cell_type"},
		{"bad cell_type", `{"nbformat": 4, "cells": [{"cell_type": "heading"}]}`, `unknown cell_type "heading"`},
		{"bad source", `{"nbformat": 4, "cells": [{"cell_type": "code", "source": 3}]}`, "source: neither"},
		{"metadata not object", `{"nbformat": 4, "cells": [{"cell_type": "code", "metadata": []}]}`, "metadata is not an object"},
		{"bad output", `{"nbformat": 4, "cells": [{"cell_type": "code", "outputs": [{"name": "stdout"}]}]}`, "output 1: no output_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.input))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want ErrMalformed containing %q", err, tt.want)
			}
		})
	}
}

func TestNbgraderMetadata(t *testing.T) {
	nb, err := ReadFile(filepath.Join("testdata", "executed.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	c := nb.Cells[1]
	g, ok, err := c.Nbgrader()
	if err != nil || !ok || !g.Solution || g.GradeID != "sol1" || g.SchemaVersion != 3 {
		t.Fatalf("Nbgrader = %+v %v %v", g, ok, err)
	}
	g.Grade, g.Points, g.Checksum = true, 2.5, "abc"
	if err := c.SetNbgrader(g); err != nil {
		t.Fatal(err)
	}
	g2, _, _ := c.Nbgrader()
	if *g2 != *g {
		t.Errorf("after set: %+v, want %+v", g2, g)
	}
	if tags, ok := c.MetadataField("tags"); !ok || string(tags) != `["keep"]` {
		t.Errorf("tags lost: %s", tags)
	}
	if _, ok, _ := nb.Cells[2].Nbgrader(); ok {
		t.Error("cell without nbgrader metadata reports some")
	}
	c.SetNbgrader(nil)
	if _, ok, _ := c.Nbgrader(); ok {
		t.Error("SetNbgrader(nil) kept the metadata")
	}
	bad := NewCell(Code, "")
	bad.SetMetadataField("nbgrader", "nope")
	if _, _, err := bad.Nbgrader(); err == nil {
		t.Error("string nbgrader metadata decoded without error")
	}
}

// debianPython returns a Python interpreter with the nbformat module, or
// skips the test.
func debianPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import nbformat").Run() == nil {
			return py
		}
	}
	t.Skip("no python3 with nbformat (apt-get install -y python3-nbformat)")
	return ""
}

// TestWrittenNotebookValidates builds a notebook in Go with every output
// type and has Python's nbformat validate the file.
func TestWrittenNotebookValidates(t *testing.T) {
	py := debianPython(t)
	nb := New()
	nb.Metadata = json.RawMessage(`{"kernelspec": {"name": "gonb", "display_name": "Go (gonb)", "language": "go"}}`)
	nb.Cells = append(nb.Cells, NewCell(Markdown, "# Title\n"), NewCell(Raw, "raw"))
	code := NewCell(Code, "fmt.Println(1)\n1")
	n := 1
	code.ExecutionCount = &n
	code.Outputs = []*Output{
		{OutputType: Stream, Name: "stdout", Text: "1\n2\n"},
		{OutputType: DisplayData, Data: MimeBundle{"text/html": json.RawMessage(`"<b>x</b>\ny"`), "application/json": json.RawMessage(`{"a":1}`)}},
		{OutputType: ExecuteResult, ExecutionCount: &n, Data: MimeBundle{"text/plain": json.RawMessage(`"1"`)}},
		{OutputType: Error, EName: "panic", EValue: "boom", Traceback: []string{"goroutine 1"}},
	}
	nb.Cells = append(nb.Cells, code, NewCell(Code, ""))
	path := filepath.Join(t.TempDir(), "go.ipynb")
	if err := WriteFile(path, nb); err != nil {
		t.Fatal(err)
	}
	script := `import sys, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
nbformat.validate(nb)
print(nbformat.writes(nb), end="")`
	out, err := exec.Command(py, "-c", script, path).Output()
	if err != nil {
		t.Fatalf("nbformat rejects the written notebook: %v\n%s", err, exitStderr(err))
	}
	written, _ := os.ReadFile(path)
	if string(out)+"\n" != string(written) {
		t.Errorf("nbformat writes it differently:\n%s", firstDiff([]byte(out), written))
	}
}

func exitStderr(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
