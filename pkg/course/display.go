package course

import (
	"fmt"
	"io"
	"os"

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
