package front

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ppml-go/ppml/internal/reaper"
	"github.com/ppml-go/ppml/kernel/jupyter"
)

// The test binary is also a fake GoNB for the front's tests: with
// $FRONT_TEST_FAKE_GONB set to a log file, it serves "--kernel FILE" as GoNB
// would, appending the code of every execute_request it gets to the log
// (JSON, one per line). Cells:
//
//	a cell with "panic":  a panic as GoNB reports it (stderr, then an error
//	                      "ERROR: exit status 2"), the idle status, and only
//	                      then, 200 ms later, the execute_reply
//	a cell with "echo":   prints setupMarker (the front's setup cell)
//	anything else:        prints "ran"
func TestMain(m *testing.M) {
	reaper.Main()
	if log := os.Getenv("FRONT_TEST_FAKE_GONB"); log != "" {
		if err := fakeGoNB(log, os.Args[len(os.Args)-1]); err != nil {
			fmt.Fprintln(os.Stderr, "fake gonb:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fakeGoNB(logPath, connFile string) error {
	info, err := jupyter.ReadConnectionFile(connFile)
	if err != nil {
		return err
	}
	s, err := jupyter.Listen(info)
	if err != nil {
		return err
	}
	defer s.Close()
	go s.ServeHeartbeat()
	logFile, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	session := jupyter.NewSession()
	send := func(ch jupyter.Channel, parent *jupyter.Message, typ string, content any) {
		m, _ := session.NewMessage(typ, parent, content)
		s.Send(ch, m)
	}
	status := func(parent *jupyter.Message, state string) {
		send(jupyter.IOPub, parent, "status", statusContent{ExecutionState: state})
	}
	for {
		req, err := s.Recv(jupyter.Shell)
		if err != nil {
			return err
		}
		status(req, "busy")
		switch req.Type() {
		case "kernel_info_request":
			send(jupyter.Shell, req, "kernel_info_reply", map[string]any{"status": "ok", "language_info": map[string]any{"name": "go"}})
		case "shutdown_request":
			send(jupyter.Shell, req, "shutdown_reply", map[string]any{"status": "ok", "restart": false})
			status(req, "idle")
			time.Sleep(100 * time.Millisecond)
			return nil
		case "execute_request":
			var c struct {
				Code string `json:"code"`
			}
			req.DecodeContent(&c)
			line, _ := json.Marshal(c.Code)
			fmt.Fprintf(logFile, "%s\n", line)
			switch {
			case strings.Contains(c.Code, "panic"):
				send(jupyter.IOPub, req, "stream", streamContent{Name: "stderr", Text: "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/tmp/gonb_1/main.go:5 +0x1d\n"})
				send(jupyter.IOPub, req, "stream", streamContent{Name: "stderr", Text: "exit status 2\n"})
				gonbError := errorContent{EName: "ERROR", EValue: "exit status 2", Traceback: []string{"exit status 2"}}
				send(jupyter.IOPub, req, "error", gonbError)
				status(req, "idle")
				time.Sleep(200 * time.Millisecond)
				send(jupyter.Shell, req, "execute_reply", map[string]any{"status": "error", "execution_count": 1,
					"ename": gonbError.EName, "evalue": gonbError.EValue, "traceback": gonbError.Traceback})
				continue
			case strings.Contains(c.Code, "echo"):
				send(jupyter.IOPub, req, "stream", streamContent{Name: "stdout", Text: setupMarker + "\n"})
			default:
				send(jupyter.IOPub, req, "stream", streamContent{Name: "stdout", Text: "ran\n"})
			}
			send(jupyter.Shell, req, "execute_reply", map[string]any{"status": "ok", "execution_count": 1})
		}
		status(req, "idle")
	}
}

// frontClient is a client of a front running a fake GoNB.
type frontClient struct {
	t       *testing.T
	s       *jupyter.Sockets
	session *jupyter.Session
	log     string // the fake GoNB's log of execute_requests
}

// startFront runs the front on the fake GoNB, for the project root of a
// module example.com/proj that requires golang.org/x/mod, and connects to
// it.
func startFront(t *testing.T) *frontClient {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "proj")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	goMod := "module example.com/proj\n\ngo 1.24\n\nrequire golang.org/x/mod v0.41.0\n"
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte(goMod), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := jupyter.NewConnectionInfo("ppml-go")
	if err != nil {
		t.Fatal(err)
	}
	connFile := filepath.Join(dir, "kernel-test.json")
	if err := info.WriteFile(connFile); err != nil {
		t.Fatal(err)
	}
	c := &frontClient{t: t, session: jupyter.NewSession(), log: filepath.Join(dir, "gonb.log")}
	t.Setenv("FRONT_TEST_FAKE_GONB", c.log)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{ConnectionFile: connFile, GoNB: self, Root: root, Log: io.Discard})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return 10 s after its context ended")
		}
	})
	dialCtx, cancelDial := context.WithTimeout(ctx, 10*time.Second)
	defer cancelDial()
	if c.s, err = jupyter.Dial(dialCtx, info, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.s.Close() })
	// The first request's idle status also tells that iopub is connected.
	c.request("kernel_info_request", map[string]any{})
	return c
}

// request sends a request on shell and returns its reply and the iopub
// messages of the request up to its idle status.
func (c *frontClient) request(msgType string, content any) (reply *jupyter.Message, iopub []*jupyter.Message) {
	c.t.Helper()
	req, err := c.session.NewMessage(msgType, nil, content)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.s.Send(jupyter.Shell, req); err != nil {
		c.t.Fatal(err)
	}
	type recv struct {
		m   *jupyter.Message
		err error
	}
	replies, pub := make(chan recv, 1), make(chan recv, 100)
	go func() { m, err := c.s.Recv(jupyter.Shell); replies <- recv{m, err} }()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			m, err := c.s.Recv(jupyter.IOPub)
			select {
			case pub <- recv{m, err}:
			case <-stop:
				return
			}
			if err != nil || (m.ParentID() == req.Header.MsgID && isIdle(m)) {
				return
			}
		}
	}()
	timeout := time.After(10 * time.Second)
	for idle := false; reply == nil || !idle; {
		select {
		case r := <-replies:
			if r.err != nil {
				c.t.Fatal(r.err)
			}
			reply = r.m
		case r := <-pub:
			if r.err != nil {
				c.t.Fatal(r.err)
			}
			if r.m.ParentID() != req.Header.MsgID {
				continue
			}
			if isIdle(r.m) {
				idle = true
			} else if r.m.Type() != "status" {
				iopub = append(iopub, r.m)
			}
		case <-timeout:
			c.t.Fatalf("%s: no reply and idle status within 10 s", msgType)
		}
	}
	return reply, iopub
}

func (c *frontClient) execute(code string) (reply *jupyter.Message, iopub []*jupyter.Message) {
	c.t.Helper()
	return c.request("execute_request", map[string]any{
		"code": code, "silent": false, "store_history": true,
		"user_expressions": map[string]any{}, "allow_stdin": false, "stop_on_error": false,
	})
}

// received returns the code of the execute_requests the fake GoNB got.
func (c *frontClient) received() []string {
	c.t.Helper()
	data, err := os.ReadFile(c.log)
	if err != nil {
		c.t.Fatal(err)
	}
	var codes []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var code string
		if err := json.Unmarshal([]byte(line), &code); err != nil {
			c.t.Fatalf("%s: %v", c.log, err)
		}
		codes = append(codes, code)
	}
	return codes
}

// TestPanicReplyAfterIdle checks that the execute_reply of a panicking cell
// names the panic, as its error output does, also when GoNB's reply comes to
// the front after the idle status of the request.
func TestPanicReplyAfterIdle(t *testing.T) {
	c := startFront(t)
	for i := range 3 {
		reply, iopub := c.execute("%%\npanic(\"boom\")")
		var got errorContent
		if err := reply.DecodeContent(&got); err != nil {
			t.Fatal(err)
		}
		if got.EName != "panic" || got.EValue != "boom" {
			t.Errorf("run %d: execute_reply says %s: %s, want panic: boom", i, got.EName, got.EValue)
		}
		var outs []string
		for _, m := range iopub {
			if m.Type() == "error" {
				var e errorContent
				m.DecodeContent(&e)
				outs = append(outs, e.EName+": "+e.EValue)
			}
		}
		if len(outs) != 1 || outs[0] != "panic: boom" {
			t.Errorf("run %d: error outputs %q, want one \"panic: boom\"", i, outs)
		}
	}
}

// TestSetup checks what the front has GoNB run before the first request:
// the setup of the notebook's module for the project, then GoNB's build
// flags without its "go get"; the client's cells follow unchanged.
func TestSetup(t *testing.T) {
	c := startFront(t)
	cells := []string{"import \"example.com/proj/pkg\"\n%%\nfmt.Println(pkg.X)", "%autoget"}
	for _, code := range cells {
		c.execute(code)
	}
	got := c.received()
	if len(got) < 2 || !strings.HasPrefix(got[0], "!*'go' 'mod' 'edit' '-require=example.com/proj@"+zeroVersion+"'") ||
		!strings.Contains(got[0], "'-require=golang.org/x/mod@v0.41.0'") || !strings.Contains(got[0], setupMarker) {
		t.Fatalf("setup cell: %q", got)
	}
	want := []string{"%goflags -mod=mod -gcflags=all=-dwarf=false -ldflags=-w\n%noautoget", cells[0], cells[1]}
	if strings.Join(got[1:], "\n---\n") != strings.Join(want, "\n---\n") {
		t.Errorf("GoNB got\n%q\nwant\n%q", got[1:], want)
	}
}
