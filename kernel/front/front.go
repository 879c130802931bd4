package front

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/modfile"

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

// zeroVersion is the version under which a replaced module is required.
const zeroVersion = "v0.0.0-00010101000000-000000000000"

// route is where the reply to a client's request goes.
type route struct {
	ch  jupyter.Channel
	ids [][]byte
}

// kernel is one running front with its GoNB child.
type kernel struct {
	cfg     Config
	log     *log.Logger
	front   *jupyter.Sockets // bound for Jupyter's clients
	child   *jupyter.Sockets // connected to GoNB
	session *jupyter.Session

	mu          sync.Mutex
	pending     map[string]route                 // client request msg_id → its route
	catchers    map[string]*panicCatcher         // execute_request msg_id → its catcher
	internal    map[string]chan *jupyter.Message // the front's own requests to GoNB → reply
	gonbVersion string                           // GoNB's module version, from its binary
	shutdown    atomic.Bool                      // a shutdown_request was forwarded
	replied     chan struct{}                    // closed when its shutdown_reply was
	once        sync.Once
}

// Run runs the kernel of cfg: it binds the connection file's sockets, starts
// GoNB behind them and serves until a client's shutdown_request has been
// answered and GoNB exited (nil), ctx ends (nil, after stopping GoNB), or
// GoNB exits on its own (an error). GoNB and whatever it started are stopped
// before Run returns.
func Run(ctx context.Context, cfg Config) (err error) {
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	k := &kernel{
		cfg:      cfg,
		log:      log.New(cfg.Log, "ppml kernel: ", log.LstdFlags),
		session:  jupyter.NewSession(),
		pending:  map[string]route{},
		catchers: map[string]*panicCatcher{},
		internal: map[string]chan *jupyter.Message{},
		replied:  make(chan struct{}),
	}
	info, err := jupyter.ReadConnectionFile(cfg.ConnectionFile)
	if err != nil {
		return err
	}
	gonb := cfg.GoNB
	if gonb == "" {
		if gonb, err = exec.LookPath("gonb"); err != nil {
			return fmt.Errorf("gonb not found on PATH (install the kernel with scripts/install-kernel.sh): %w", err)
		}
	}
	var module string
	if cfg.Root != "" {
		if module, err = modulePath(cfg.Root); err != nil {
			return err
		}
	}
	k.gonbVersion = "(unknown version)"
	if bi, err := buildinfo.ReadFile(gonb); err == nil && bi.Main.Version != "" {
		k.gonbVersion = bi.Main.Version
	}
	becomeSubreaper()
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
	childInfo, err := jupyter.NewConnectionInfo("gonb")
	if err != nil {
		return err
	}
	// GoNB takes the kernel id (for GONB_JUPYTER_KERNEL_ID) from a file name
	// kernel-ID.json, as Jupyter names them.
	childFile := filepath.Join(dir, filepath.Base(cfg.ConnectionFile))
	if !strings.HasPrefix(filepath.Base(childFile), "kernel-") {
		childFile = filepath.Join(dir, "kernel-"+jupyter.NewID()+".json")
	}
	if err := childInfo.WriteFile(childFile); err != nil {
		return err
	}

	cmd := exec.Command(gonb, "--kernel", childFile)
	logs := &klogFilter{w: cfg.Log, verbose: cfg.Verbose}
	cmd.Stdout, cmd.Stderr = logs, logs
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start gonb: %w", err)
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
	for _, ch := range []jupyter.Channel{jupyter.Shell, jupyter.Control, jupyter.Stdin, jupyter.IOPub} {
		go k.fromChild(ch)
	}

	// GoNB must be up, and the notebook's module set up, before the first
	// client request: both go through GoNB's queue ahead of the clients'.
	if _, err := k.ask(dialCtx, exited, "kernel_info_request", map[string]any{}); err != nil {
		return fmt.Errorf("gonb did not start: %w", err)
	}
	if module != "" {
		if err := k.setupModule(dialCtx, exited, module); err != nil {
			k.log.Printf("notebooks cannot import %s: %v", module, err)
		}
	}
	for _, ch := range []jupyter.Channel{jupyter.Shell, jupyter.Control, jupyter.Stdin} {
		go k.fromClient(ch)
	}
	orphaned := watchParent(ctx, cfg.ParentPID)

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
		k.log.Printf("the client that started the kernel (pid %d) is gone: stopping", cfg.ParentPID)
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

// modulePath returns the module path of root's go.mod.
func modulePath(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("project root: %w", err)
	}
	m := modfile.ModulePath(data)
	if m == "" {
		return "", fmt.Errorf("project root: %s/go.mod has no module line", root)
	}
	return m, nil
}

// setupModule makes GoNB's module require module, replaced by the project
// root, with the project's go.sum, through a silent cell of GoNB's own
// special commands ("!*" runs in the module's directory).
func (k *kernel) setupModule(ctx context.Context, exited chan error, module string) error {
	root := k.cfg.Root
	code := fmt.Sprintf("!*go mod edit -require=%s -replace=%s && cp %s go.sum",
		shellQuote(module+"@"+zeroVersion), shellQuote(module+"="+root), shellQuote(filepath.Join(root, "go.sum")))
	reply, err := k.ask(ctx, exited, "execute_request", map[string]any{
		"code": code, "silent": true, "store_history": false,
		"user_expressions": map[string]any{}, "allow_stdin": false, "stop_on_error": false,
	})
	if err != nil {
		return err
	}
	var r struct {
		Status string `json:"status"`
		EValue string `json:"evalue"`
	}
	if err := reply.DecodeContent(&r); err != nil {
		return err
	}
	if r.Status != "ok" {
		return fmt.Errorf("setting up the notebook module: %s", r.EValue)
	}
	return nil
}

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ask sends a request of the front's own to GoNB's shell and waits for its
// reply. Its iopub messages are not published.
func (k *kernel) ask(ctx context.Context, exited chan error, msgType string, content any) (*jupyter.Message, error) {
	m, err := k.session.NewMessage(msgType, nil, content)
	if err != nil {
		return nil, err
	}
	reply := make(chan *jupyter.Message, 1)
	k.mu.Lock()
	k.internal[m.Header.MsgID] = reply
	k.mu.Unlock()
	if err := k.child.Send(jupyter.Shell, m); err != nil {
		return nil, err
	}
	select {
	case r := <-reply:
		return r, nil
	case err := <-exited:
		exited <- err // for Run
		return nil, fmt.Errorf("gonb exited: %v", err)
	case <-ctx.Done():
		return nil, fmt.Errorf("no %s from gonb: %w", strings.TrimSuffix(msgType, "_request")+"_reply", ctx.Err())
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
			k.log.Printf("dropped a message from a client: %v", err)
			continue
		}
		if err := k.clientMessage(ch, m); err != nil {
			k.log.Print(err)
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
		return k.answer(ch, m, "history_reply", map[string]any{"status": "ok", "history": []any{}})
	}
	id := m.Header.MsgID
	if ch != jupyter.Stdin && strings.HasSuffix(m.Type(), "_request") {
		k.mu.Lock()
		k.pending[id] = route{ch: ch, ids: m.Identities}
		if m.Type() == "execute_request" {
			k.catchers[id] = newPanicCatcher()
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
			k.log.Printf("dropped a message from gonb: %v", err)
			continue
		}
		if err := k.childMessage(ch, m); err != nil {
			k.log.Print(err)
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
			k.logInternal(m)
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
		if isIdle(m) {
			k.mu.Lock()
			delete(k.catchers, pid)
			k.mu.Unlock()
			catcher.published(m)
		}
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
		k.mu.Lock()
		delete(k.internal, pid)
		k.mu.Unlock()
		internal <- m
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
		// reply waits for the idle status to go out first.
		select {
		case <-catcher.idle:
		case <-time.After(ReplyDelayLimit):
		}
		catcher.patchReply(m)
	}
	if m.Type() == "kernel_info_reply" {
		k.patchKernelInfo(m)
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

// logInternal logs what GoNB printed or raised while serving the front's
// own requests.
func (k *kernel) logInternal(m *jupyter.Message) {
	switch m.Type() {
	case "stream":
		var s streamContent
		if m.DecodeContent(&s) == nil && strings.TrimSpace(s.Text) != "" {
			k.log.Printf("setup: %s", strings.TrimSpace(s.Text))
		}
	case "error":
		var e errorContent
		if m.DecodeContent(&e) == nil {
			k.log.Printf("setup: %s: %s", e.EName, e.EValue)
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

// stopProcess asks cmd to exit with SIGTERM and kills it after StopTimeout.
func stopProcess(cmd *exec.Cmd, exited chan error, l *log.Logger) {
	terminate(cmd)
	select {
	case err := <-exited:
		exited <- err
	case <-time.After(StopTimeout):
		l.Printf("gonb did not exit %v after SIGTERM: killing it", StopTimeout)
		_ = cmd.Process.Kill()
		exited <- <-exited
	}
}
