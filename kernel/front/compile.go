package front

import (
	"fmt"
	"html"
	"regexp"
	"strings"
)

// GoNB shows a failed build (goimports' parse errors, go build's messages)
// as an HTML block on display_data, one element per line of the tool's
// output, with the compiler's positions in main.go mapped to cell lines, and
// then raises an error that says only that the tool failed ("failed to run
// .../go build ...: exit status 1"). A text client sees nothing of what is
// wrong. The front keeps the HTML block (JupyterLab shows the cell's line on
// hover) and rewrites the error from it: ename "compile error", evalue the
// first message with its cell line ("Cell[5]: Line 2: undefined: x"), and
// every message as traceback, as it does for a panic.

// CompileErrorName is the ename of the error the front makes of a cell
// that failed to build (parse, goimports or go build); a client such as the
// grader tells a compile error from a failed run by it.
const CompileErrorName = "compile error"

var (
	// stderrBlock marks GoNB's rendering of a tool's stderr.
	stderrBlock = `data-mime-type="application/vnd.jupyter.stderr"`
	// outputLine starts each line of the tool's output in the block.
	outputLine = regexp.MustCompile(`<div style="white-space: pre-wrap;">`)
	// errContext starts the hidden listing of the code around an error.
	errContext = `<div class="gonb-err-context">`
	htmlTag    = regexp.MustCompile(`<[^>]*>`)
	// mappedPosition is "Cell[5]: Line 2 ./main.go:12:13: " once tags are
	// gone: the cell line GoNB mapped and the position in its main.go.
	mappedPosition = regexp.MustCompile(`^(Cell\[\d+\]: Line \d+) \S*?:\d+(:\d+)?: `)
)

// compileMessages returns the lines of a tool's output in GoNB's HTML
// rendering of it, with each mapped position written as "Cell[5]: Line 2: ",
// or nil if htmlText is not such a rendering or shows no message. The go
// command's "# package" headers are left out.
func compileMessages(htmlText string) []string {
	if !strings.Contains(htmlText, stderrBlock) {
		return nil
	}
	var lines []string
	for _, part := range outputLine.Split(htmlText, -1)[1:] {
		part, _, _ = strings.Cut(part, errContext)
		line := strings.TrimSpace(html.UnescapeString(htmlTag.ReplaceAllString(part, "")))
		if line == "" || strings.HasPrefix(line, "# ") {
			continue
		}
		lines = append(lines, mappedPosition.ReplaceAllString(line, "$1: "))
	}
	return lines
}

// compileError is the error of a failed build whose output was messages.
func compileError(messages []string) errorContent {
	value := messages[0]
	if n := len(messages) - 1; n > 0 {
		value += fmt.Sprintf(" (and %d more line(s) in the traceback)", n)
	}
	return errorContent{EName: CompileErrorName, EValue: value, Traceback: messages}
}

// failedTool reports whether an error of GoNB's says that one of the tools
// that build a cell failed (go build, goimports' parser), as opposed to the
// cell's program.
var failedTool = regexp.MustCompile(`^(failed to run "\S*go(imports)? |parsing go files in )`)
