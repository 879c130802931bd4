package course

import (
	"fmt"
	"html"
	"io"
	"os"
	"strings"

	"github.com/janpfeifer/gonb/gonbui"
)

// Output, if not nil, is where the helpers write their text (test results,
// and everything when the program is not running in a notebook) instead of
// the standard output.
var Output io.Writer

// out returns where to write text.
func out() io.Writer {
	if Output != nil {
		return Output
	}
	return os.Stdout
}

// InNotebook reports whether the program runs as a GoNB cell, whose rich
// outputs (HTML, SVG, updatable displays) reach the notebook.
func InNotebook() bool { return gonbui.IsNotebook }

// SVG shows an SVG picture in the cell's output. Outside a notebook it
// writes a one-line placeholder.
func SVG(svg string) {
	if InNotebook() {
		gonbui.DisplaySVG(svg)
		// A cell's program may exit right after displaying, and GoNB does
		// not wait for what is in transit: Sync makes sure the picture
		// reached the notebook.
		gonbui.Sync()
		return
	}
	fmt.Fprintf(out(), "[SVG picture, %d bytes]\n", len(svg))
}

// HTML shows an HTML fragment (for instance a viz.Row of pictures) in the
// cell's output. Outside a notebook it writes a one-line placeholder.
func HTML(html string) {
	if InNotebook() {
		gonbui.DisplayHTML(html)
		gonbui.Sync()
		return
	}
	fmt.Fprintf(out(), "[HTML, %d bytes]\n", len(html))
}

// Printf writes a line of text (a newline is added if the format lacks one)
// in the cell's output, in order with the pictures of SVG and HTML: GoNB
// forwards a cell's standard output and its displays by two different
// channels, so a line printed with fmt just before a picture may land
// after it. Outside a notebook it writes to Output.
func Printf(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	if InNotebook() {
		gonbui.DisplayHTML(`<pre style="margin:0">` + html.EscapeString(strings.TrimSuffix(text, "\n")) + `</pre>`)
		return
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	fmt.Fprint(out(), text)
}
