package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ppml-go/ppml/kernel/jupyter"
	"github.com/ppml-go/ppml/kernel/nbformat"
)

// iopubTimeout is how long, after execute_reply, the runner waits for the
// kernel's idle status on iopub (the outputs) before giving up on them.
const iopubTimeout = 4 * time.Second

// Execute runs code on the kernel and collects its outputs. A timeout > 0
// bounds the execution: past it the kernel is interrupted, and if it has
// not finished InterruptGrace later it is restarted (Result.Restarted). A
// kernel that dies meanwhile gives StatusDied and stays dead until Restart.
// The error is for failures to execute at all: ctx done, a dead or shut
// down kernel; what the code did is in the Result.
func (k *Kernel) Execute(ctx context.Context, code string, timeout time.Duration) (*Result, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	in, err := k.running()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	req, err := k.session.NewMessage("execute_request", nil, map[string]any{
		"code": code, "silent": false, "store_history": true,
		"user_expressions": map[string]any{}, "allow_stdin": false, "stop_on_error": false,
	})
	if err != nil {
		return nil, err
	}
	msgs := in.wait(req.Header.MsgID)
	defer in.forget(req.Header.MsgID)
	if err := in.sockets.Send(jupyter.Shell, req); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	r := &Result{Status: StatusOK}
	c := collector{res: r, displays: k.displays}
	reply, timedOut, over, err := k.await(ctx, in, msgs, &c, timeout, start)
	if over || err != nil {
		return r, err
	}
	r.Duration = time.Since(start)
	r.setReply(reply, c.err)
	if timedOut {
		r.Status = StatusTimeout
		r.Message = fmt.Sprintf("timed out after %v and was interrupted (%s)", timeout, r.Message)
	}
	return r, nil
}

// running returns the kernel's running instance, or why there is none.
func (k *Kernel) running() (*instance, error) {
	if k.closed {
		return nil, ErrClosed
	}
	in := k.inst
	if in == nil || in.isDead() {
		why := "not running"
		if in != nil {
			why = in.deadWhy
		}
		return nil, fmt.Errorf("%w (%s)", ErrDead, why)
	}
	return in, nil
}

// await collects the messages of an execution into c until its
// execute_reply and idle status came (or the idle status is iopubTimeout
// late), and returns the reply and whether the timeout (counted from start)
// interrupted it.
// When the execution ends otherwise (still running InterruptGrace after the
// interrupt, so the kernel is restarted; the kernel died), over is true and
// c's Result says why; ctx done interrupts the kernel and returns its error.
func (k *Kernel) await(ctx context.Context, in *instance, msgs <-chan *jupyter.Message, c *collector, timeout time.Duration, start time.Time) (reply *jupyter.Message, timedOut, over bool, err error) {
	r := c.res
	idle := false
	var deadline, grace, iopubWait <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	for reply == nil || !idle {
		select {
		case m := <-msgs:
			switch {
			case m.Type() == "execute_reply":
				reply = m
				if !idle {
					iopubWait = time.After(iopubTimeout)
				}
			case m.Type() == "status":
				var st struct {
					State string `json:"execution_state"`
				}
				m.DecodeContent(&st)
				if st.State == "idle" {
					idle = true
				}
			default:
				c.add(m)
			}
		case <-iopubWait:
			idle = true // outputs lost or late: keep what came
		case <-deadline:
			timedOut = true
			deadline = nil
			k.interrupt(in)
			grace = time.After(k.opts.InterruptGrace)
		case <-grace:
			r.Status = StatusTimeout
			r.Message = fmt.Sprintf("timed out after %v; still running %v after the interrupt, so the kernel was restarted", timeout, k.opts.InterruptGrace)
			r.Restarted = true
			r.Duration = time.Since(start)
			if err := k.restart(ctx); err != nil {
				r.Message += " but did not come back: " + err.Error()
			}
			return nil, true, true, nil
		case <-in.dead:
			r.Status = StatusDied
			r.Message = "the kernel died while executing: " + in.deadWhy
			r.Duration = time.Since(start)
			in.close()
			in.proc.kill(0)
			return nil, false, true, nil
		case <-ctx.Done():
			k.interrupt(in)
			return nil, timedOut, true, ctx.Err()
		}
	}
	return reply, timedOut, false, nil
}

// setReply sets r's status, execution count and error from the kernel's
// execute_reply; errOut is the error output the execution sent on iopub,
// if any.
func (r *Result) setReply(reply *jupyter.Message, errOut *nbformat.Output) {
	var content struct {
		Status         string   `json:"status"`
		ExecutionCount *int     `json:"execution_count"`
		EName          string   `json:"ename"`
		EValue         string   `json:"evalue"`
		Traceback      []string `json:"traceback"`
	}
	reply.DecodeContent(&content)
	if content.ExecutionCount != nil {
		r.ExecutionCount = *content.ExecutionCount
	}
	switch content.Status {
	case "ok":
	case "error":
		r.Status = StatusError
		r.EName, r.EValue, r.Traceback = content.EName, content.EValue, content.Traceback
		if errOut != nil {
			// The error output, as the notebook shows it. Kernels usually
			// say the same in the reply, but not all (GoNB alone replies
			// "ERROR: exit status 2" to a panic whose output is the panic)
			// and some put it only on iopub.
			r.EName, r.EValue, r.Traceback = errOut.EName, errOut.EValue, errOut.Traceback
		}
		r.Message = strings.TrimSpace(r.EName + ": " + r.EValue)
	default: // "aborted", or anything else
		r.Status = StatusError
		r.EName = content.Status
		r.Message = "execution " + content.Status
	}
}

// collector turns iopub messages into notebook outputs as nbclient does:
// one output per stream message, merged with the previous output when it
// is a stream of the same name (as Jupyter front ends show them);
// display_data, execute_result and error outputs; update_display_data and
// any output with a display_id updating all outputs with that id;
// clear_output, immediate or at the next output with wait.
type collector struct {
	res        *Result
	displays   map[string][]*nbformat.Output
	clearFirst bool
	err        *nbformat.Output
}

func (c *collector) add(m *jupyter.Message) {
	var content struct {
		Name           string          `json:"name"`
		Text           string          `json:"text"`
		Data           json.RawMessage `json:"data"`
		Metadata       json.RawMessage `json:"metadata"`
		ExecutionCount *int            `json:"execution_count"`
		EName          string          `json:"ename"`
		EValue         string          `json:"evalue"`
		Traceback      []string        `json:"traceback"`
		Wait           bool            `json:"wait"`
		Transient      struct {
			DisplayID string `json:"display_id"`
		} `json:"transient"`
	}
	if m.DecodeContent(&content) != nil {
		return
	}
	if content.ExecutionCount != nil && m.Type() != "execute_result" {
		c.res.ExecutionCount = *content.ExecutionCount // execute_input
	}
	var data nbformat.MimeBundle
	if len(content.Data) > 0 {
		data, _ = nbformat.ParseMimeBundle(content.Data)
	}
	if data == nil {
		data = nbformat.MimeBundle{}
	}
	metadata := content.Metadata
	if len(metadata) == 0 || string(metadata) == "null" {
		metadata = json.RawMessage("{}")
	}
	id := content.Transient.DisplayID
	switch m.Type() {
	case "display_data", "execute_result", "update_display_data":
		if id != "" {
			for _, o := range c.displays[id] {
				o.Data, o.Metadata = data, metadata
			}
		}
	}
	var out *nbformat.Output
	switch m.Type() {
	case "execute_input":
		return
	case "clear_output":
		if content.Wait {
			c.clearFirst = true
		} else {
			c.res.Outputs = nil
		}
		return
	case "stream":
		c.clear()
		if n := len(c.res.Outputs); n > 0 {
			if last := c.res.Outputs[n-1]; last.OutputType == nbformat.Stream && last.Name == content.Name {
				last.Text += content.Text
				return
			}
		}
		out = &nbformat.Output{OutputType: nbformat.Stream, Name: content.Name, Text: content.Text}
	case "display_data":
		out = &nbformat.Output{OutputType: nbformat.DisplayData, Data: data, Metadata: metadata}
	case "execute_result":
		out = &nbformat.Output{OutputType: nbformat.ExecuteResult, Data: data, Metadata: metadata, ExecutionCount: content.ExecutionCount}
		if content.ExecutionCount != nil {
			c.res.ExecutionCount = *content.ExecutionCount
		}
	case "error":
		tb := content.Traceback
		if tb == nil {
			tb = []string{}
		}
		out = &nbformat.Output{OutputType: nbformat.Error, EName: content.EName, EValue: content.EValue, Traceback: tb}
		c.err = out
	default: // update_display_data, comm messages, ...
		return
	}
	c.clear()
	if id != "" && out.OutputType != nbformat.Stream && out.OutputType != nbformat.Error {
		c.displays[id] = append(c.displays[id], out)
	}
	c.res.Outputs = append(c.res.Outputs, out)
}

// clear does a clear_output(wait=True) that was waiting for this output.
func (c *collector) clear() {
	if c.clearFirst {
		c.res.Outputs = nil
		c.clearFirst = false
	}
}
