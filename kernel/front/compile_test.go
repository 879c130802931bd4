package front

import (
	"reflect"
	"testing"

	"github.com/ppml-go/ppml/kernel/jupyter"
)

// Bodies of GoNB v0.11.5's HTML for failed builds (its <style> left out).
const (
	buildErrorsHTML   = "\n<div class=\"jp-RenderedText\" data-mime-type=\"application/vnd.jupyter.stderr\" style=\"font-family: monospace;\">\n\n<div style=\"white-space: pre-wrap;\"> # gonb_6ff01984</div>\n\n<div style=\"white-space: pre-wrap;\"><span class=\"gonb-err-hover-area\"><span class=\"gonb-cell-line-info\">Cell[2]: Line 4</span> <span class=\"gonb-err-location\">./main.go:8:6: </span></span>undefined: undefinedVar<div class=\"gonb-err-context\">)\n\nvar (\n<div class=\"gonb-err-line\">\ty = undefinedVar\n</div>)\n\n</div></div>\n\n<div style=\"white-space: pre-wrap;\"><span class=\"gonb-err-hover-area\"><span class=\"gonb-cell-line-info\">Cell[2]: Line 2</span> <span class=\"gonb-err-location\">./main.go:12:9: </span></span>cannot use \"s\" (untyped string constant) as int value in return statement<div class=\"gonb-err-context\">)\n\nfunc f() int {\n<div class=\"gonb-err-line\">\treturn &#34;s&#34;\n</div>}\n\n</div></div>\n\n<div style=\"white-space: pre-wrap;\"> </div>\n\n</div>\n"
	syntaxErrorHTML   = "\n\n<div class=\"jp-RenderedText\" data-mime-type=\"application/vnd.jupyter.stderr\" style=\"font-family: monospace;\">\n\n<div style=\"white-space: pre-wrap;\"><span class=\"gonb-err-hover-area\"><span class=\"gonb-cell-line-info\">Cell[1]: Line 2</span> <span class=\"gonb-err-location\">/tmp/gonb_86754f8e/main.go:5:18: </span></span>expected operand, found ')' (and 1 more errors)<div class=\"gonb-err-context\">\nfunc main() {\n\tflag.Parse()\n<div class=\"gonb-err-line\">fmt.Println(&#34;a&#34; +)\n</div>\n}\n</div></div>\n\n</div>\n"
	missingModuleHTML = "\n\n<div class=\"jp-RenderedText\" data-mime-type=\"application/vnd.jupyter.stderr\" style=\"font-family: monospace;\">\n\n<div style=\"white-space: pre-wrap;\"> go: finding module for package nosuch.example/pkg</div>\n\n<div style=\"white-space: pre-wrap;\"><span class=\"gonb-err-hover-area\"><span class=\"gonb-cell-line-info\">Cell[2]: Line 1</span> <span class=\"gonb-err-location\">main.go:5:2: </span></span>module nosuch.example/pkg: reading https://proxy.golang.org/nosuch.example/pkg/@v/list: 400 Bad Request<div class=\"gonb-err-context\">\nimport (\n\t&#34;flag&#34;\n<div class=\"gonb-err-line\">\t&#34;nosuch.example/pkg&#34;\n</div>)\n\n</div></div>\n\n<div style=\"white-space: pre-wrap;\"> </div>\n\n</div>\n"
)

func TestCompileMessages(t *testing.T) {
	tests := []struct {
		name, html string
		want       []string
	}{
		{"go build", buildErrorsHTML, []string{
			"Cell[2]: Line 4: undefined: undefinedVar",
			`Cell[2]: Line 2: cannot use "s" (untyped string constant) as int value in return statement`,
		}},
		{"syntax error", syntaxErrorHTML, []string{"Cell[1]: Line 2: expected operand, found ')' (and 1 more errors)"}},
		{"missing module", missingModuleHTML, []string{
			"go: finding module for package nosuch.example/pkg",
			"Cell[2]: Line 1: module nosuch.example/pkg: reading https://proxy.golang.org/nosuch.example/pkg/@v/list: 400 Bad Request",
		}},
		{"a cell's own HTML", "<b>hello</b>", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := compileMessages(tt.html); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("compileMessages = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCompileErrorReplaced checks that GoNB's "failed to run go build" error
// is replaced by the compiler's messages, in the error message and the
// execute_reply alike, and that the HTML listing stays.
func TestCompileErrorReplaced(t *testing.T) {
	const gonbValue = `failed to run "/usr/lib/go/bin/go build -o /tmp/gonb_1/gonb_1 -mod=mod": exit status 1`
	c := newErrorCatcher("", nil)
	var out []*jupyter.Message
	for _, m := range []*jupyter.Message{
		msg(t, "display_data", map[string]any{"data": map[string]string{"text/html": buildErrorsHTML}}),
		msg(t, "error", errorContent{EName: "ERROR", EValue: gonbValue, Traceback: []string{gonbValue}}),
		msg(t, "status", statusContent{ExecutionState: "idle"}),
	} {
		out = append(out, c.filter(m)...)
	}
	want := []string{"display_data",
		`error:{"ename":"compile error","evalue":"Cell[2]: Line 4: undefined: undefinedVar (and 1 more line(s) in the traceback)","traceback":["Cell[2]: Line 4: undefined: undefinedVar","Cell[2]: Line 2: cannot use \"s\" (untyped string constant) as int value in return statement"]}`,
		"status"}
	if got := summary(t, out); !reflect.DeepEqual(got, want) {
		t.Errorf("published %q,\nwant %q", got, want)
	}
	reply := msg(t, "execute_reply", map[string]any{"status": "error", "execution_count": 3, "ename": "ERROR", "evalue": gonbValue, "traceback": []string{gonbValue}})
	c.patchReply(reply)
	var r struct {
		Status, EName, EValue string
		ExecutionCount        int `json:"execution_count"`
	}
	if err := reply.DecodeContent(&r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "error" || r.EName != "compile error" || r.ExecutionCount != 3 || r.EValue != "Cell[2]: Line 4: undefined: undefinedVar (and 1 more line(s) in the traceback)" {
		t.Errorf("patched reply = %+v", r)
	}
}
