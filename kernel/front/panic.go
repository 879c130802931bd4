package front

import (
	"encoding/json"
	"regexp"
	"strings"
	"sync"

	"github.com/ppml-go/ppml/kernel/jupyter"
)

// panicStart finds where the Go runtime starts reporting a crash on stderr:
// "panic: " or "fatal error: " at the start of a line.
var panicStart = regexp.MustCompile(`(?m)^(panic|fatal error): `)

// exitStatus is the line GoNB appends to stderr when a cell's program fails.
var exitStatus = regexp.MustCompile(`(?m)^(\^C\n)?exit status \d+\n?$`)

// errorCatcher follows the iopub messages of one execute_request and makes
// one readable error of what GoNB reports in pieces. For a panic: until it
// sees the runtime's report it passes everything through; from the report on
// it holds stderr streams and display_data (GoNB's HTML rendering of the same
// trace) until the end of the request (the idle status), where it replaces
// them and GoNB's error message, if there was one, by one error built from
// the whole report (GoNB may send its error before the report's last lines),
// or else releases what it held unchanged (the text only looked like a
// panic). For a failed build: it
// passes GoNB's HTML listing of the compiler's messages through and remembers
// them, and replaces GoNB's error ("failed to run go build") by one that
// carries them (see compileMessages).
type errorCatcher struct {
	mu        sync.Mutex
	lineStart bool // the stderr text so far ends at a line start
	capturing bool
	kind      string // "panic" or "fatal error"
	report    strings.Builder
	held      []*jupyter.Message
	failed    *jupyter.Message // GoNB's error after a panic, held until idle
	compile   []string         // the compiler's messages, from GoNB's HTML listing
	result    *errorContent    // the error that replaced GoNB's, once sent
	code      string           // the request's code
	count     int              // its execution count, from execute_input
	earlier   func() []ranCell // the cells that ran before, oldest first
	idle      chan struct{}    // closed when the idle status of the request went by
	closeOnce sync.Once
}

// newErrorCatcher returns the catcher of a request that runs code; earlier,
// if not nil, gives the cells that ran before, to put their lines on the
// frames of a panic that GoNB did not mark (see markFrames).
func newErrorCatcher(code string, earlier func() []ranCell) *errorCatcher {
	return &errorCatcher{lineStart: true, idle: make(chan struct{}), code: code, earlier: earlier}
}

// errorContent is the content of an error message and of an execute_reply
// with status "error".
type errorContent struct {
	EName     string   `json:"ename"`
	EValue    string   `json:"evalue"`
	Traceback []string `json:"traceback"`
}

type streamContent struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

type statusContent struct {
	ExecutionState string `json:"execution_state"`
}

// filter takes one iopub message of the request and returns those to
// publish in its place, in order.
func (c *errorCatcher) filter(m *jupyter.Message) []*jupyter.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m.Type() {
	case "execute_input":
		var in struct {
			ExecutionCount int `json:"execution_count"`
		}
		if m.DecodeContent(&in) == nil {
			c.count = in.ExecutionCount
		}
	case "stream":
		var s streamContent
		if m.DecodeContent(&s) != nil || s.Name != "stderr" {
			return []*jupyter.Message{m}
		}
		if c.capturing {
			c.report.WriteString(s.Text)
			c.held = append(c.held, m)
			return nil
		}
		loc := panicStart.FindStringSubmatchIndex(s.Text)
		if loc == nil || (loc[0] == 0 && !c.lineStart) {
			if s.Text != "" {
				c.lineStart = strings.HasSuffix(s.Text, "\n")
			}
			return []*jupyter.Message{m}
		}
		c.capturing = true
		c.kind = s.Text[loc[2]:loc[3]]
		c.report.WriteString(s.Text[loc[0]:])
		var out []*jupyter.Message
		if loc[0] > 0 {
			out = append(out, withStream(m, s.Name, s.Text[:loc[0]]))
		}
		c.held = append(c.held, withStream(m, s.Name, s.Text[loc[0]:]))
		return out
	case "display_data":
		if c.capturing {
			c.held = append(c.held, m)
			return nil
		}
		var d struct {
			Data map[string]any `json:"data"`
		}
		if m.DecodeContent(&d) == nil {
			if s, ok := d.Data["text/html"].(string); ok {
				if lines := compileMessages(s); lines != nil {
					c.compile = lines
				}
			}
		}
	case "error":
		var e errorContent
		switch {
		case c.capturing:
			// GoNB may publish its error before the last lines of the
			// report (its stderr is copied by another goroutine): the
			// error waits for the idle status, when the report is whole.
			c.failed = m
			return nil
		case c.compile != nil && m.DecodeContent(&e) == nil && failedTool.MatchString(e.EValue):
			e = compileError(c.compile)
		default:
			return []*jupyter.Message{m}
		}
		c.result = &e
		_ = m.SetContent(e) // cannot fail: e marshals
		return []*jupyter.Message{m}
	case "status":
		var st statusContent
		if m.DecodeContent(&st) == nil && st.ExecutionState == "idle" {
			out := append(c.held, m)
			if c.failed != nil {
				e := c.errorFromReport()
				c.result = &e
				_ = c.failed.SetContent(e) // cannot fail: e marshals
				out = []*jupyter.Message{c.failed, m}
			}
			c.held, c.failed = nil, nil
			return out
		}
	}
	return []*jupyter.Message{m}
}

// published tells the catcher that what filter returned was published.
func (c *errorCatcher) published(m *jupyter.Message) {
	if isIdle(m) {
		c.closeOnce.Do(func() { close(c.idle) })
	}
}

// errorFromReport builds the error of a panic from the runtime's report:
// ename "panic" (or "fatal error"), evalue the panic's value, and the report
// without GoNB's closing "exit status 2" as the traceback.
func (c *errorCatcher) errorFromReport() errorContent {
	report := exitStatus.ReplaceAllString(c.report.String(), "")
	report = strings.TrimRight(report, "\n")
	value := strings.TrimPrefix(report, c.kind+": ")
	if i := strings.Index(value, "\n\n"); i >= 0 {
		value = value[:i]
	}
	return errorContent{EName: c.kind, EValue: value, Traceback: markFrames(strings.Split(report, "\n"), c.ran())}
}

// ran returns the cells that ran up to this request's, oldest first.
func (c *errorCatcher) ran() []ranCell {
	var cells []ranCell
	if c.earlier != nil {
		cells = c.earlier()
	}
	if c.count > 0 {
		cells = append(cells, ranCell{count: c.count, code: c.code})
	}
	return cells
}

// patchReply rewrites an execute_reply with status error after the error
// message of the request was replaced, so that both say the same.
func (c *errorCatcher) patchReply(m *jupyter.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.result == nil {
		return
	}
	var content map[string]json.RawMessage
	if m.DecodeContent(&content) != nil {
		return
	}
	raw, err := json.Marshal(c.result)
	if err != nil {
		return
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return
	}
	for k, v := range fields {
		content[k] = v
	}
	_ = m.SetContent(content)
}

// withStream returns a copy of stream message m with the given text.
func withStream(m *jupyter.Message, name, text string) *jupyter.Message {
	c := *m
	c.Header.MsgID = jupyter.NewID()
	if err := c.SetContent(streamContent{Name: name, Text: text}); err != nil {
		return m
	}
	return &c
}
