package course

import (
	"fmt"
	"html"

	"github.com/janpfeifer/gonb/gonbui"
)

// Progress is a status line that a long computation rewrites as it goes:
// in a notebook, one display in the cell's output that each Printf
// replaces; elsewhere, one line of Output per Printf.
type Progress struct {
	id   string
	last string
}

// NewProgress returns a progress line showing nothing yet.
func NewProgress() *Progress {
	p := &Progress{}
	if InNotebook() {
		p.id = "ppml-progress-" + gonbui.UniqueID()
	}
	return p
}

// Printf replaces the line's text by the formatted message.
func (p *Progress) Printf(format string, args ...any) {
	p.last = fmt.Sprintf(format, args...)
	if p.id == "" {
		fmt.Fprintln(out(), p.last)
		return
	}
	gonbui.UpdateHTML(p.id, `<pre style="margin:0">`+html.EscapeString(p.last)+`</pre>`)
}

// Done makes sure the last message reached the notebook; call it when the
// computation ends (a cell's program may exit right after).
func (p *Progress) Done() {
	if p.id != "" {
		gonbui.Sync()
	}
}

// Last returns the text of the last message.
func (p *Progress) Last() string { return p.last }
