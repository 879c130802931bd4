// Command testkernel is a minimal Jupyter kernel for the runner's tests. It
// speaks the messaging protocol through kernel/jupyter and executes a tiny
// line language, one command per line:
//
//	print TEXT          stdout stream "TEXT\n"
//	stderr TEXT         stderr stream "TEXT\n"
//	display ID TEXT     display_data text/plain TEXT (ID "-": no display_id)
//	update ID TEXT      update_display_data for ID
//	html TEXT           display_data with text/html and text/plain
//	result TEXT         execute_result text/plain TEXT
//	error NAME VALUE    error output; the execution fails
//	misreport NAME VALUE  the execution fails with an execute_reply that says
//	                    "ERROR: exit status 2" (as GoNB's own reply to a
//	                    panic), and then an error output NAME VALUE
//	clear | clearwait   clear_output (wait=false | true)
//	sleep DURATION      sleep, or until interrupted ("forever": no bound)
//	hang                sleep forever, ignoring interrupts
//	exit CODE           exit the process
//	stop                stop the process (SIGSTOP): heartbeats go unanswered
//	spawn               start a child process that sleeps; print its pid
//	pid                 print the kernel's pid
//
// An interrupt (SIGINT, or interrupt_request on control) ends a sleep with
// the error KeyboardInterrupt.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ppml-go/ppml/kernel/jupyter"
)

type kernel struct {
	s         *jupyter.Sockets
	session   *jupyter.Session
	count     int
	interrupt chan struct{}
}

func main() {
	connFile := flag.String("f", "", "connection file")
	sleeper := flag.Bool("sleeper", false, "just sleep (the child of spawn)")
	flag.Parse()
	if *sleeper {
		time.Sleep(time.Hour)
		return
	}
	info, err := jupyter.ReadConnectionFile(*connFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := jupyter.Listen(info)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k := &kernel{s: s, session: jupyter.NewSession(), interrupt: make(chan struct{}, 1)}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	go func() {
		for range sigs {
			k.interrupted()
		}
	}()
	go s.ServeHeartbeat()
	go k.serve(jupyter.Control)
	k.serve(jupyter.Shell)
}

func (k *kernel) interrupted() {
	select {
	case k.interrupt <- struct{}{}:
	default:
	}
}

func (k *kernel) serve(ch jupyter.Channel) {
	for {
		req, err := k.s.Recv(ch)
		if err != nil {
			continue
		}
		k.publish(req, "status", map[string]string{"execution_state": "busy"})
		switch req.Type() {
		case "kernel_info_request":
			k.reply(ch, req, "kernel_info_reply", map[string]any{
				"status": "ok", "protocol_version": jupyter.ProtocolVersion,
				"implementation": "testkernel", "implementation_version": "1",
				"language_info": map[string]string{"name": "testlang"}, "banner": "test",
			})
		case "execute_request":
			k.execute(req)
		case "interrupt_request":
			k.interrupted()
			k.reply(ch, req, "interrupt_reply", map[string]string{"status": "ok"})
		case "shutdown_request":
			k.reply(ch, req, "shutdown_reply", map[string]any{"status": "ok", "restart": false})
			k.publish(req, "status", map[string]string{"execution_state": "idle"})
			time.Sleep(50 * time.Millisecond)
			os.Exit(0)
		}
		k.publish(req, "status", map[string]string{"execution_state": "idle"})
	}
}

func (k *kernel) reply(ch jupyter.Channel, parent *jupyter.Message, typ string, content any) {
	m, _ := k.session.NewMessage(typ, parent, content)
	k.s.Send(ch, m)
}

func (k *kernel) publish(parent *jupyter.Message, typ string, content any) {
	m, _ := k.session.NewMessage(typ, parent, content)
	m.Identities = [][]byte{[]byte("kernel." + typ)}
	k.s.Send(jupyter.IOPub, m)
}

func (k *kernel) execute(req *jupyter.Message) {
	var c struct {
		Code string `json:"code"`
	}
	req.DecodeContent(&c)
	k.count++
	n := k.count
	k.publish(req, "execute_input", map[string]any{"code": c.Code, "execution_count": n})
	select { // forget an interrupt that came between cells
	case <-k.interrupt:
	default:
	}
	fail := func(ename, evalue string) {
		tb := []string{ename + ": " + evalue}
		k.publish(req, "error", map[string]any{"ename": ename, "evalue": evalue, "traceback": tb})
		k.reply(jupyter.Shell, req, "execute_reply", map[string]any{"status": "error", "execution_count": n, "ename": ename, "evalue": evalue, "traceback": tb})
	}
	for _, line := range strings.Split(c.Code, "\n") {
		cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		id, text, _ := strings.Cut(arg, " ")
		transient := map[string]string{}
		if id != "-" {
			transient["display_id"] = id
		}
		switch cmd {
		case "":
		case "print":
			k.publish(req, "stream", map[string]string{"name": "stdout", "text": arg + "\n"})
		case "stderr":
			k.publish(req, "stream", map[string]string{"name": "stderr", "text": arg + "\n"})
		case "display":
			k.publish(req, "display_data", map[string]any{"data": map[string]string{"text/plain": text}, "metadata": map[string]any{}, "transient": transient})
		case "update":
			k.publish(req, "update_display_data", map[string]any{"data": map[string]string{"text/plain": text}, "metadata": map[string]any{}, "transient": transient})
		case "html":
			k.publish(req, "display_data", map[string]any{"data": map[string]string{"text/html": "<b>" + arg + "</b>", "text/plain": arg}, "metadata": map[string]any{}})
		case "result":
			k.publish(req, "execute_result", map[string]any{"data": map[string]string{"text/plain": arg}, "metadata": map[string]any{}, "execution_count": n})
		case "error":
			fail(id, text)
			return
		case "misreport":
			k.reply(jupyter.Shell, req, "execute_reply", map[string]any{"status": "error", "execution_count": n,
				"ename": "ERROR", "evalue": "exit status 2", "traceback": []string{"exit status 2"}})
			k.publish(req, "error", map[string]any{"ename": id, "evalue": text, "traceback": []string{id + ": " + text}})
			return
		case "clear", "clearwait":
			k.publish(req, "clear_output", map[string]bool{"wait": cmd == "clearwait"})
		case "sleep":
			d, err := time.ParseDuration(arg)
			if arg == "forever" {
				d, err = 1000*time.Hour, nil
			}
			if err != nil {
				fail("ValueError", err.Error())
				return
			}
			select {
			case <-time.After(d):
			case <-k.interrupt:
				fail("KeyboardInterrupt", "interrupted")
				return
			}
		case "hang":
			select {}
		case "exit":
			code, _ := strconv.Atoi(arg)
			os.Exit(code)
		case "stop":
			syscall.Kill(os.Getpid(), syscall.SIGSTOP)
			time.Sleep(time.Second) // the stop reaches every thread meanwhile
		case "spawn":
			self, _ := os.Executable()
			child := exec.Command(self, "-sleeper")
			if err := child.Start(); err != nil {
				fail("OSError", err.Error())
				return
			}
			k.publish(req, "stream", map[string]string{"name": "stdout", "text": strconv.Itoa(child.Process.Pid) + "\n"})
		case "pid":
			k.publish(req, "stream", map[string]string{"name": "stdout", "text": strconv.Itoa(os.Getpid()) + "\n"})
		default:
			fail("SyntaxError", "unknown command "+strconv.Quote(cmd))
			return
		}
	}
	k.reply(jupyter.Shell, req, "execute_reply", map[string]any{"status": "ok", "execution_count": n, "user_expressions": map[string]any{}})
}
