package front

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ppml-go/ppml/internal/reaper"
	"github.com/ppml-go/ppml/kernel/jupyter"
)

// Config describes the kernel Run runs.
type Config struct {
	// ConnectionFile is the connection file Jupyter wrote for this kernel.
	ConnectionFile string
	// GoNB is the gonb binary; "" looks "gonb" up on PATH.
	GoNB string
	// Root is the checkout of the Go module that notebooks import: its module
	// is required by every notebook and replaced by Root. "" for none.
	Root string
	// Log receives the front's messages and GoNB's warnings and errors; nil
	// means os.Stderr. Verbose adds GoNB's informational log.
	Log     io.Writer
	Verbose bool
	// ParentPID, if not 0, is the pid of the client that started the
	// kernel, as jupyter_client passes it in $JPY_PARENT_PID: when it is the
	// front's parent, the front stops once its parent is gone, as ipykernel
	// does, so that a client that dies leaves no kernel behind.
	ParentPID int
}

// Timeouts of the front, variables so that tests may shorten them.
var (
	// StartTimeout bounds GoNB's start and the notebook module's setup.
	StartTimeout = 60 * time.Second
	// StopTimeout is how long GoNB has to exit after a shutdown or SIGTERM
	// before it is killed.
	StopTimeout = 5 * time.Second
	// ReplyDelayLimit bounds how long an execute_reply waits for the idle
	// status of its request.
	ReplyDelayLimit = 5 * time.Second
)

// route is where the reply to a client's request goes, with what the front
// needs of the request to amend the reply.
type route struct {
	ch  jupyter.Channel
	ids [][]byte
	// history is the code of an execute_request to record in the history
	// once it has an execution_count, or "".
	history string
	// onCommand: an inspect_request's cursor is on a line of GoNB's special
	// commands, for which GoNB's help is the answer.
	onCommand bool
}

// internalRequest is a request of the front's own to GoNB. Its iopub
// messages are not published; done is called once with its reply and its
// standard output when both the reply and the idle status came.
type internalRequest struct {
	reply  *jupyter.Message
	idle   bool
	stdout strings.Builder
	done   func(reply *jupyter.Message, stdout string)
}

// kernel is one running front with its GoNB child.
type kernel struct {
	cfg     Config
	log     *slog.Logger
	front   *jupyter.Sockets // bound for Jupyter's clients
	child   *jupyter.Sockets // connected to GoNB
	session *jupyter.Session

	mu          sync.Mutex
	pending     map[string]route            // client request msg_id → its route
	catchers    map[string]*errorCatcher    // execute_request msg_id → its catcher
	internal    map[string]*internalRequest // the front's own requests to GoNB, by msg_id
	history     history                     // the cells clients ran
	gonbVersion string                      // GoNB's module version, from its binary
	proj        *project                    // the project notebooks import; nil for none
	shutdown    atomic.Bool                 // a shutdown_request was forwarded
	replied     chan struct{}               // closed when its shutdown_reply was
	once        sync.Once
}

// Run runs the kernel of cfg: it binds the connection file's sockets, starts
// GoNB behind them and serves until a client's shutdown_request has been
// answered and GoNB exited (nil), ctx ends (nil, after stopping GoNB), or
// GoNB exits on its own (an error). GoNB and whatever it started are stopped
// before Run returns.
func Run(ctx context.Context, cfg Config) (err error) {
	k, info, gonb, err := newKernel(cfg)
	if err != nil {
		return err
	}
	// What GoNB or its guardian leaves when killed is adopted by the front
	// and killed before Run returns.
	if err := reaper.BecomeSubreaper(); err != nil {
		k.log.Warn("cannot adopt what gonb leaves behind", "err", err)
	}
	defer killOrphans(k.log)

	if k.front, err = jupyter.Listen(info); err != nil {
		return err
	}
	defer k.front.Close()
	go k.front.ServeHeartbeat()

	dir, err := os.MkdirTemp("", "ppml-kernel-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd, childInfo, err := k.startGoNB(gonb, dir)
	if err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer stopProcess(cmd, exited, k.log) // at once if it already exited

	dialCtx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	if k.child, err = jupyter.Dial(dialCtx, childInfo, ""); err != nil {
		return fmt.Errorf("connect to gonb: %w", err)
	}
	defer k.child.Close()
	if err := k.start(dialCtx, exited); err != nil {
		return err
	}
	return k.serve(ctx, cmd, exited)
}

// newKernel returns the kernel of cfg (not started), the connection info of
// its clients' sockets and the gonb binary it runs.
func newKernel(cfg Config) (k *kernel, info *jupyter.ConnectionInfo, gonb string, err error) {
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	k = &kernel{
		cfg:      cfg,
		log:      slog.New(slog.NewTextHandler(cfg.Log, nil)).With("kernel", "ppml"),
		session:  jupyter.NewSession(),
		pending:  map[string]route{},
		catchers: map[string]*errorCatcher{},
		internal: map[string]*internalRequest{},
		replied:  make(chan struct{}),
	}
	if info, err = jupyter.ReadConnectionFile(cfg.ConnectionFile); err != nil {
		return nil, nil, "", err
	}
	gonb = cfg.GoNB
	if gonb == "" {
		if gonb, err = exec.LookPath("gonb"); err != nil {
			return nil, nil, "", fmt.Errorf("gonb not found on PATH (install the kernel with scripts/install-kernel.sh): %w", err)
		}
	}
	if cfg.Root != "" {
		if k.proj, err = readProject(cfg.Root); err != nil {
			return nil, nil, "", err
		}
	}
	k.gonbVersion = "(unknown version)"
	if bi, err := buildinfo.ReadFile(gonb); err == nil && bi.Main.Version != "" {
		k.gonbVersion = bi.Main.Version
	}
	return k, info, gonb, nil
}

// startGoNB starts gonb on new sockets whose connection file it writes in
// dir, its output going through the log filter, and returns the process and
// the sockets' connection info.
func (k *kernel) startGoNB(gonb, dir string) (*exec.Cmd, *jupyter.ConnectionInfo, error) {
	childInfo, err := jupyter.NewConnectionInfo("gonb")
	if err != nil {
		return nil, nil, err
	}
	// GoNB takes the kernel id (for GONB_JUPYTER_KERNEL_ID) from a file name
	// kernel-ID.json, as Jupyter names them.
	childFile := filepath.Join(dir, filepath.Base(k.cfg.ConnectionFile))
	if !strings.HasPrefix(filepath.Base(childFile), "kernel-") {
		childFile = filepath.Join(dir, "kernel-"+jupyter.NewID()+".json")
	}
	if err := childInfo.WriteFile(childFile); err != nil {
		return nil, nil, err
	}
	cmd := gonbCommand(gonb, "--kernel", childFile)
	logs := &klogFilter{w: k.cfg.Log, verbose: k.cfg.Verbose}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start gonb: %w", err)
	}
	return cmd, childInfo, nil
}

// start relays GoNB's messages, waits for GoNB to answer and sets up the
// notebook's module, then relays the clients' requests: GoNB must be up,
// and the module set up, before the first client request, as both go
// through GoNB's queue ahead of the clients'.
func (k *kernel) start(ctx context.Context, exited chan error) error {
	for _, ch := range []jupyter.Channel{jupyter.Shell, jupyter.Control, jupyter.Stdin, jupyter.IOPub} {
		go k.fromChild(ch)
	}
	if _, _, err := k.ask(ctx, exited, "kernel_info_request", map[string]any{}); err != nil {
		return fmt.Errorf("gonb did not start: %w", err)
	}
	if err := k.setup(ctx, exited); err != nil {
		k.log.Error("setting up the notebook's module", "err", err)
	}
	for _, ch := range []jupyter.Channel{jupyter.Shell, jupyter.Control, jupyter.Stdin} {
		go k.fromClient(ch)
	}
	return nil
}

// serve waits for the end: GoNB exiting (after a shutdown_request, nil;
// else an error), ctx done, or the client that started the kernel gone
// (nil, after stopping GoNB).
func (k *kernel) serve(ctx context.Context, cmd *exec.Cmd, exited chan error) error {
	orphaned := watchParent(ctx, k.cfg.ParentPID)
	select {
	case err := <-exited:
		exited <- err // for the deferred stopProcess
		if k.shutdown.Load() {
			select { // the reply may still be on its way to the client
			case <-k.replied:
			case <-time.After(time.Second):
			}
			return nil
		}
		return fmt.Errorf("gonb exited: %v", err)
	case <-ctx.Done():
		stopProcess(cmd, exited, k.log)
		return nil
	case <-orphaned:
		k.log.Info("the client that started the kernel is gone: stopping", "pid", k.cfg.ParentPID)
		stopProcess(cmd, exited, k.log)
		return nil
	}
}

// watchParent returns a channel closed when the front's parent, if it is
// parent, changes (it died); a channel that is never closed when parent is 0
// or is not the front's parent.
func watchParent(ctx context.Context, parent int) <-chan struct{} {
	gone := make(chan struct{})
	if parent == 0 || os.Getppid() != parent {
		return gone
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if os.Getppid() != parent {
					close(gone)
					return
				}
			}
		}
	}()
	return gone
}

// setupMarker is what the setup cell prints when GoNB's module is ready.
const setupMarker = "ppml: notebook module ready"

// setup prepares GoNB before the first client request: with a project,
// GoNB's module gets the project's requirements (project.setupCell); in any
// case GoNB's build flags are set (buildFlags) and its "go get" before
// every cell is turned off, which "go build -mod=mod" makes unnecessary.
func (k *kernel) setup(ctx context.Context, exited chan error) error {
	var errs []error
	if k.proj != nil {
		_, out, err := k.ask(ctx, exited, "execute_request", silentCell(k.proj.setupCell()+" && echo "+shellQuote(setupMarker)))
		if err == nil && !strings.Contains(out, setupMarker) {
			err = errors.New("setting up the notebook's module failed")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("notebooks cannot import %s: %w", k.proj.module, err))
		}
	}
	config := "%goflags " + strings.Join(buildFlags, " ") + "\n%noautoget"
	if _, _, err := k.ask(ctx, exited, "execute_request", silentCell(config)); err != nil {
		errs = append(errs, fmt.Errorf("setting GoNB's build flags: %w", err))
	}
	return errors.Join(errs...)
}

// ask sends a request of the front's own to GoNB and waits for its reply
// and its standard output. An error reply is an error.
func (k *kernel) ask(ctx context.Context, exited chan error, msgType string, content any) (*jupyter.Message, string, error) {
	type result struct {
		reply  *jupyter.Message
		stdout string
	}
	res := make(chan result, 1)
	if err := k.request(msgType, content, func(reply *jupyter.Message, stdout string) { res <- result{reply, stdout} }); err != nil {
		return nil, "", err
	}
	select {
	case r := <-res:
		var c struct {
			Status string `json:"status"`
			EName  string `json:"ename"`
			EValue string `json:"evalue"`
		}
		if err := r.reply.DecodeContent(&c); err != nil {
			return nil, "", err
		}
		if c.Status != "ok" {
			return r.reply, r.stdout, fmt.Errorf("%s: %s", c.EName, c.EValue)
		}
		return r.reply, r.stdout, nil
	case err := <-exited:
		exited <- err // for Run
		return nil, "", fmt.Errorf("gonb exited: %v", err)
	case <-ctx.Done():
		return nil, "", fmt.Errorf("no %s_reply from gonb: %w", strings.TrimSuffix(msgType, "_request"), ctx.Err())
	}
}

// silentCell is the content of an execute_request of the front's own.
func silentCell(code string) map[string]any {
	return map[string]any{
		"code": code, "silent": true, "store_history": false,
		"user_expressions": map[string]any{}, "allow_stdin": false, "stop_on_error": false,
	}
}

// request sends a request of the front's own to GoNB's shell, in GoNB's
// queue after what was sent before. done, if not nil, gets its reply and
// standard output; what it prints on stderr or raises is logged.
func (k *kernel) request(msgType string, content any, done func(reply *jupyter.Message, stdout string)) error {
	m, err := k.session.NewMessage(msgType, nil, content)
	if err != nil {
		return err
	}
	if done == nil {
		done = func(*jupyter.Message, string) {} // its errors are logged (logInternal)
	}
	k.mu.Lock()
	k.internal[m.Header.MsgID] = &internalRequest{done: done}
	k.mu.Unlock()
	return k.child.Send(jupyter.Shell, m)
}

// internalMessage takes a message of GoNB's about the internal request r
// (msg_id id): a reply, its idle status, or output.
func (k *kernel) internalMessage(id string, r *internalRequest, m *jupyter.Message) {
	isReply := strings.HasSuffix(m.Type(), "_reply")
	k.mu.Lock()
	switch {
	case isReply:
		r.reply = m
	case isIdle(m):
		r.idle = true
	case m.Type() == "stream":
		var s streamContent
		if m.DecodeContent(&s) == nil && s.Name == "stdout" {
			r.stdout.WriteString(s.Text)
		}
	}
	finished := r.reply != nil && r.idle
	if finished {
		delete(k.internal, id)
	}
	k.mu.Unlock()
	if !isReply {
		k.logInternal(m)
	}
	if finished {
		r.done(r.reply, r.stdout.String())
	}
}

// fromClient serves the client side of channel ch until the sockets close.
func (k *kernel) fromClient(ch jupyter.Channel) {
	for {
		m, err := k.front.Recv(ch)
		if err != nil {
			if !undecodable(err) {
				return // closed
			}
			k.log.Warn("dropped a message from a client", "err", err)
			continue
		}
		if err := k.clientMessage(ch, m); err != nil {
			k.log.Error("serving a client's message", "err", err)
		}
	}
}

func (k *kernel) clientMessage(ch jupyter.Channel, m *jupyter.Message) error {
	switch m.Type() {
	case "is_complete_request":
		var req struct {
			Code string `json:"code"`
		}
		if err := m.DecodeContent(&req); err != nil {
			return err
		}
		status, indent := IsComplete(req.Code)
		reply := map[string]any{"status": status}
		if status == Incomplete {
			reply["indent"] = indent
		}
		return k.answer(ch, m, "is_complete_reply", reply)
	case "history_request":
		var req historyRequest
		if err := m.DecodeContent(&req); err != nil {
			return err
		}
		return k.answer(ch, m, "history_reply", map[string]any{"status": "ok", "history": k.history.answer(req)})
	}
	id := m.Header.MsgID
	if ch != jupyter.Stdin && strings.HasSuffix(m.Type(), "_request") {
		r := route{ch: ch, ids: m.Identities}
		var req struct {
			Code         string `json:"code"`
			CursorPos    int    `json:"cursor_pos"`
			Silent       bool   `json:"silent"`
			StoreHistory *bool  `json:"store_history"`
		}
		switch m.Type() {
		case "execute_request":
			if m.DecodeContent(&req) == nil && !req.Silent && (req.StoreHistory == nil || *req.StoreHistory) {
				r.history = req.Code
			}
		case "inspect_request":
			if m.DecodeContent(&req) == nil {
				r.onCommand = onCommandLine(req.Code, req.CursorPos)
			}
		}
		k.mu.Lock()
		k.pending[id] = r
		if m.Type() == "execute_request" {
			k.catchers[id] = newErrorCatcher(req.Code, k.history.cells)
		}
		k.mu.Unlock()
	}
	if m.Type() == "shutdown_request" {
		k.shutdown.Store(true)
	}
	fwd := *m
	fwd.Identities = nil
	return k.child.Send(ch, &fwd)
}

// answer replies to m on ch itself, between busy and idle statuses.
func (k *kernel) answer(ch jupyter.Channel, m *jupyter.Message, msgType string, content any) error {
	if err := k.publishStatus(m, "busy"); err != nil {
		return err
	}
	reply, err := k.session.NewMessage(msgType, m, content)
	if err != nil {
		return err
	}
	if err := k.front.Send(ch, reply); err != nil {
		return err
	}
	return k.publishStatus(m, "idle")
}

func (k *kernel) publishStatus(parent *jupyter.Message, state string) error {
	m, err := k.session.NewMessage("status", parent, statusContent{ExecutionState: state})
	if err != nil {
		return err
	}
	m.Identities = [][]byte{[]byte("kernel.ppml.status")}
	return k.front.Send(jupyter.IOPub, m)
}

// fromChild serves GoNB's side of channel ch until the sockets close.
func (k *kernel) fromChild(ch jupyter.Channel) {
	for {
		m, err := k.child.Recv(ch)
		if err != nil {
			if !undecodable(err) {
				return // closed, or gonb is gone
			}
			k.log.Warn("dropped a message from gonb", "err", err)
			continue
		}
		if err := k.childMessage(ch, m); err != nil {
			k.log.Error("serving gonb's message", "err", err)
		}
	}
}

func (k *kernel) childMessage(ch jupyter.Channel, m *jupyter.Message) error {
	pid := m.ParentID()
	k.mu.Lock()
	internal, isInternal := k.internal[pid]
	r, isPending := k.pending[pid]
	catcher := k.catchers[pid]
	k.mu.Unlock()

	switch ch {
	case jupyter.IOPub:
		if isInternal {
			k.internalMessage(pid, internal, m)
			return nil
		}
		if catcher == nil {
			return k.front.Send(jupyter.IOPub, m)
		}
		for _, o := range catcher.filter(m) {
			if err := k.front.Send(jupyter.IOPub, o); err != nil {
				return err
			}
		}
		// The catcher stays until the execute_reply is out: GoNB sends the
		// reply on shell before the idle status on iopub, but the front may
		// get them in either order, and the reply needs the catcher's error.
		catcher.published(m)
		return nil

	case jupyter.Stdin: // input_request, to the client that sent the execute_request
		if !isPending {
			return fmt.Errorf("%s from gonb answers no known request", m.Type())
		}
		m.Identities = r.ids
		return k.front.Send(jupyter.Stdin, m)
	}

	// A reply on shell or control; GoNB sends all of them on shell.
	if isInternal {
		k.internalMessage(pid, internal, m)
		return nil
	}
	if !isPending {
		return fmt.Errorf("%s from gonb answers no known request", m.Type())
	}
	k.mu.Lock()
	delete(k.pending, pid)
	k.mu.Unlock()
	if m.Type() == "execute_reply" && catcher != nil {
		// GoNB replies before it publishes the idle status. Clients read
		// the reply and then the outputs up to idle, some with a short
		// timeout between messages (jupyter_kernel_test: 0.1 s), so the
		// reply waits for the idle status to go out first. The catcher
		// serves the request's iopub messages until then, and it has the
		// error of a panic for the reply.
		select {
		case <-catcher.idle:
		case <-time.After(ReplyDelayLimit):
		}
		k.mu.Lock()
		delete(k.catchers, pid)
		k.mu.Unlock()
		catcher.patchReply(m)
	}
	switch m.Type() {
	case "kernel_info_reply":
		k.patchKernelInfo(m)
	case "inspect_reply":
		k.patchInspect(m, r.onCommand)
	case "execute_reply":
		var c struct {
			ExecutionCount int `json:"execution_count"`
		}
		if r.history != "" && m.DecodeContent(&c) == nil && c.ExecutionCount > 0 {
			k.history.add(c.ExecutionCount, r.history)
		}
	}
	m.Identities = r.ids
	err := k.front.Send(r.ch, m)
	if m.Type() == "shutdown_reply" {
		k.once.Do(func() { close(k.replied) })
	}
	return err
}

// patchKernelInfo names the kernel in GoNB's kernel_info_reply and adds the
// syntax highlighting hints that consoles and editors look for.
func (k *kernel) patchKernelInfo(m *jupyter.Message) {
	var info map[string]any
	if m.DecodeContent(&info) != nil {
		return
	}
	lang, _ := info["language_info"].(map[string]any)
	if lang == nil {
		lang = map[string]any{"name": "go", "file_extension": ".go", "mimetype": "text/x-go"}
		info["language_info"] = lang
	}
	for key, v := range map[string]string{"pygments_lexer": "go", "codemirror_mode": "go"} {
		if _, ok := lang[key]; !ok {
			lang[key] = v
		}
	}
	info["implementation"] = "ppml-go"
	info["implementation_version"] = k.gonbVersion
	info["banner"] = fmt.Sprintf("Go (ppml): GoNB %s behind ppml kernel, %v", k.gonbVersion, lang["version"])
	_ = m.SetContent(info)
}

// patchInspect makes an inspect_reply of GoNB's say found=false when it
// found nothing to show. GoNB answers with gopls's hover (text/markdown) when
// there is one; otherwise, outside a line of special commands (where its help
// is the answer), it puts gopls's or its own error text in text/plain and
// says found=true, which a client would show as documentation.
func (k *kernel) patchInspect(m *jupyter.Message, onCommand bool) {
	var c struct {
		Status string         `json:"status"`
		Found  bool           `json:"found"`
		Data   map[string]any `json:"data"`
	}
	if onCommand || m.DecodeContent(&c) != nil || c.Status != "ok" || !c.Found {
		return
	}
	if _, ok := c.Data["text/markdown"]; ok {
		return
	}
	if k.cfg.Verbose {
		k.log.Info("inspect found nothing", "text", c.Data["text/plain"])
	}
	_ = m.SetContent(map[string]any{"status": "ok", "found": false, "data": map[string]any{}, "metadata": map[string]any{}})
}

// onCommandLine reports whether the cursor (in characters, as the protocol
// counts) is on a line of GoNB's special commands (% or !).
func onCommandLine(code string, cursor int) bool {
	start, i := 0, 0
	for j, r := range code {
		if i == cursor {
			break
		}
		if r == '\n' {
			start = j + 1
		}
		i++
	}
	line, _, _ := strings.Cut(code[start:], "\n")
	line = strings.TrimSpace(line)
	return strings.HasPrefix(line, "%") || strings.HasPrefix(line, "!")
}

// logInternal logs what GoNB printed on stderr (and, verbose, on stdout)
// or raised while serving the front's own requests.
func (k *kernel) logInternal(m *jupyter.Message) {
	switch m.Type() {
	case "stream":
		var s streamContent
		if m.DecodeContent(&s) == nil && strings.TrimSpace(s.Text) != "" && (s.Name != "stdout" || k.cfg.Verbose) {
			k.log.Info("gonb, in a cell of the front's own", "stream", s.Name, "text", strings.TrimSpace(s.Text))
		}
	case "error":
		var e errorContent
		if m.DecodeContent(&e) == nil {
			k.log.Error("gonb, in a cell of the front's own", "ename", e.EName, "evalue", e.EValue)
		}
	}
}

// undecodable reports whether err is about one message (bad signature,
// malformed), after which the socket is still usable.
func undecodable(err error) bool {
	return errors.Is(err, jupyter.ErrBadSignature) || errors.Is(err, jupyter.ErrMalformed)
}

func isIdle(m *jupyter.Message) bool {
	if m.Type() != "status" {
		return false
	}
	var st statusContent
	return m.DecodeContent(&st) == nil && st.ExecutionState == "idle"
}

// killOrphans kills the front's remaining descendants: what GoNB left when
// it exited, adopted by the front as subreaper.
func killOrphans(l *slog.Logger) {
	for _, pid := range reaper.KillDescendants(os.Getpid()) {
		l.Info("killed a process left behind by gonb", "pid", pid)
	}
}

// stopProcess asks cmd to exit with SIGTERM and kills it after StopTimeout.
func stopProcess(cmd *exec.Cmd, exited chan error, l *slog.Logger) {
	terminate(cmd)
	select {
	case err := <-exited:
		exited <- err
	case <-time.After(StopTimeout):
		l.Warn("gonb did not exit after SIGTERM: killing it", "after", StopTimeout)
		_ = cmd.Process.Kill()
		exited <- <-exited
	}
}
