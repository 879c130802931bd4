package front

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ppml-go/ppml/kernel/jupyter"
)

func msg(t *testing.T, msgType string, content any) *jupyter.Message {
	t.Helper()
	m, err := jupyter.NewSession().NewMessage(msgType, nil, content)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func stderr(t *testing.T, text string) *jupyter.Message {
	return msg(t, "stream", streamContent{Name: "stderr", Text: text})
}

// summary renders the messages as "type:detail" for comparison.
func summary(t *testing.T, ms []*jupyter.Message) []string {
	t.Helper()
	var out []string
	for _, m := range ms {
		switch m.Type() {
		case "stream":
			var s streamContent
			m.DecodeContent(&s)
			out = append(out, "stream:"+s.Name+":"+s.Text)
		case "error":
			var e errorContent
			m.DecodeContent(&e)
			b, _ := json.Marshal(e)
			out = append(out, "error:"+string(b))
		default:
			out = append(out, m.Type())
		}
	}
	return out
}

func TestPanicCatcher(t *testing.T) {
	idle := func() *jupyter.Message { return msg(t, "status", statusContent{ExecutionState: "idle"}) }
	html := func() *jupyter.Message {
		return msg(t, "display_data", map[string]any{"data": map[string]string{"text/html": "<pre>trace</pre>"}})
	}
	gonbError := func() *jupyter.Message {
		return msg(t, "error", errorContent{EName: "ERROR", EValue: "exit status 2", Traceback: []string{"exit status 2"}})
	}
	trace := "goroutine 1 [running]:\nmain.main()\n\t[[ Cell [2] Line 2 ]] /tmp/gonb_1/main.go:10 +0x65\n"
	wantErr := `error:{"ename":"panic","evalue":"boom","traceback":["panic: boom","","goroutine 1 [running]:","main.main()","\t[[ Cell [2] Line 2 ]] /tmp/gonb_1/main.go:10 +0x65"]}`

	tests := []struct {
		name string
		in   []*jupyter.Message
		want []string
	}{{
		name: "panic in two chunks becomes one error",
		in:   []*jupyter.Message{stderr(t, "panic: "), stderr(t, "boom\n\n"+trace), stderr(t, "exit status 2\n"), html(), gonbError(), idle()},
		want: []string{wantErr, "status"},
	}, {
		name: "output before the panic is kept",
		in:   []*jupyter.Message{stderr(t, "warning\npanic: boom\n\n"+trace), stderr(t, "exit status 2\n"), gonbError(), idle()},
		want: []string{"stream:stderr:warning\n", wantErr, "status"},
	}, {
		name: "panic text without a failure is released unchanged",
		in:   []*jupyter.Message{stderr(t, "panic: not really\n"), stderr(t, "more\n"), idle()},
		want: []string{"stream:stderr:panic: not really\n", "stream:stderr:more\n", "status"},
	}, {
		name: "panic: in the middle of a line is not a panic",
		in:   []*jupyter.Message{stderr(t, "said "), stderr(t, "panic: no\n"), gonbError(), idle()},
		want: []string{"stream:stderr:said ", "stream:stderr:panic: no\n", `error:{"ename":"ERROR","evalue":"exit status 2","traceback":["exit status 2"]}`, "status"},
	}, {
		name: "stdout passes while capturing",
		in:   []*jupyter.Message{stderr(t, "panic: boom\n\n"), msg(t, "stream", streamContent{Name: "stdout", Text: "out\n"}), stderr(t, trace), gonbError(), idle()},
		want: []string{"stream:stdout:out\n", wantErr, "status"},
	}, {
		// GoNB's stderr is copied by a goroutine of its own: its error can
		// come before the report's last lines, which must still be in it.
		name: "the report's end after GoNB's error",
		in:   []*jupyter.Message{stderr(t, "panic: boom\n\ngoroutine 1 [running]:\n"), html(), gonbError(), stderr(t, "main.main()\n\t[[ Cell [2] Line 2 ]] /tmp/gonb_1/main.go:10 +0x65\n"), idle()},
		want: []string{wantErr, "status"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newErrorCatcher("", nil)
			var got []*jupyter.Message
			for _, m := range tt.in {
				got = append(got, c.filter(m)...)
			}
			if g := summary(t, got); !reflect.DeepEqual(g, tt.want) {
				t.Errorf("got\n%q\nwant\n%q", g, tt.want)
			}
		})
	}
}

func TestPanicCatcherPatchesReply(t *testing.T) {
	c := newErrorCatcher("", nil)
	c.filter(stderr(t, "panic: boom\n\ngoroutine 1 [running]:\n"))
	c.filter(msg(t, "error", errorContent{EName: "ERROR", EValue: "exit status 2"}))
	c.filter(msg(t, "status", statusContent{ExecutionState: "idle"})) // the front patches the reply after idle
	reply := msg(t, "execute_reply", map[string]any{"status": "error", "execution_count": 3, "ename": "ERROR", "evalue": "exit status 2"})
	c.patchReply(reply)
	var got struct {
		Status         string `json:"status"`
		ExecutionCount int    `json:"execution_count"`
		EName          string `json:"ename"`
		EValue         string `json:"evalue"`
	}
	if err := reply.DecodeContent(&got); err != nil {
		t.Fatal(err)
	}
	if got.Status != "error" || got.ExecutionCount != 3 || got.EName != "panic" || got.EValue != "boom" {
		t.Errorf("patched reply = %+v", got)
	}
}
