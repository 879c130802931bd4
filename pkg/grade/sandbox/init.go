package sandbox

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// initMain is the sandbox's first process, inside it:
//
//	HELPER __ppml-sandbox-init [--relay PORT]... [LIMITS] -- ARGV...
//
// For each relayed port it listens on the Unix socket runDir/PORT and joins
// each connection to 127.0.0.1:PORT inside, where the program listens. It
// runs ARGV under the LIMITS (see limitMain), passes SIGINT and SIGTERM on,
// and exits with ARGV's status.
func initMain(args []string) int {
	var relay []int
	limited := []string{binPath, limitArg}
	for len(args) > 0 && args[0] != "--" {
		if len(args) < 2 {
			fmt.Fprintln(os.Stderr, "sandbox init: usage: [--relay PORT]... [--cpu S] [--nproc N] [--as BYTES] -- ARGV")
			return 2
		}
		if args[0] == "--relay" {
			p, err := strconv.Atoi(args[1])
			if err != nil {
				fmt.Fprintf(os.Stderr, "sandbox init: --relay %q: %v\n", args[1], err)
				return 2
			}
			relay = append(relay, p)
		} else {
			limited = append(limited, args[0], args[1])
		}
		args = args[2:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "sandbox init: no command")
		return 2
	}
	for _, p := range relay {
		l, err := net.Listen("unix", filepath.Join(runDir, strconv.Itoa(p)))
		if err != nil {
			fmt.Fprintln(os.Stderr, "sandbox init:", err)
			return 1
		}
		go serve(l, func() (net.Conn, error) {
			return net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), 5*time.Second)
		})
	}
	limited = append(limited, args...)
	cmd := exec.Command(limited[0], limited[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox init:", err)
		return 127
	}
	go func() {
		for sig := range sigs {
			cmd.Process.Signal(sig)
		}
	}()
	return exitCode(cmd.Wait())
}

// limitMain sets its own rlimits, which the program inherits, and execs
// the program:
//
//	HELPER __ppml-sandbox-limit [--cpu S] [--nproc N] [--as BYTES] -- ARGV...
//
// Always no core dumps; CPU seconds per process; tasks (RLIMIT_NPROC,
// counted in the sandbox's own user namespace, hence per sandbox); address
// space per process (given when no cgroup limits memory). Soft and hard
// limits alike: the program cannot raise them.
func limitMain(args []string) int {
	limits := []rlimit{{unix.RLIMIT_CORE, 0}}
	for len(args) > 0 && args[0] != "--" {
		if len(args) < 2 {
			fmt.Fprintln(os.Stderr, "sandbox: usage: [--cpu S] [--nproc N] [--as BYTES] -- ARGV")
			return 2
		}
		n, err := strconv.ParseUint(args[1], 10, 64)
		res, ok := map[string]int{"--cpu": unix.RLIMIT_CPU, "--nproc": unix.RLIMIT_NPROC, "--as": unix.RLIMIT_AS}[args[0]]
		if err != nil || !ok {
			fmt.Fprintf(os.Stderr, "sandbox: bad limit %s %q\n", args[0], args[1])
			return 2
		}
		limits = append(limits, rlimit{res, n})
		args = args[2:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "sandbox: no command")
		return 2
	}
	for _, l := range limits {
		if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: l.val, Max: l.val}); err != nil {
			fmt.Fprintf(os.Stderr, "sandbox: rlimit %d: %v\n", l.res, err)
			return 1
		}
	}
	path, err := exec.LookPath(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 127
	}
	err = syscall.Exec(path, args[1:], os.Environ())
	fmt.Fprintln(os.Stderr, "sandbox: exec:", err)
	return 127
}

// rlimit is a resource limit to set.
type rlimit struct {
	res int
	val uint64
}

// exitCode is the shell's status for the result of exec.Cmd.Wait.
func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	return 0
}

// serve accepts connections on l and joins each to a connection from dial,
// retrying for up to a minute while the other end is not listening yet (a
// client connects as soon as the kernel is started, before it listens).
func serve(l net.Listener, dial func() (net.Conn, error)) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			var k net.Conn
			for try := 0; ; try++ {
				if k, err = dial(); err == nil {
					break
				}
				if try > 1200 {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			defer k.Close()
			go func() {
				io.Copy(k, c)
				closeWrite(k)
			}()
			io.Copy(c, k)
			closeWrite(c)
		}()
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}
