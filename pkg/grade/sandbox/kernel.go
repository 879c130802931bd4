package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// KernelPrefix returns the argv prefix that starts a Jupyter kernel in a
// sandbox described by the config file cfgPath (see Config.WriteFile),
// for a kernel whose connection file is written in connDir: a runner puts
// it before the kernelspec's argv. The program must call Main.
func KernelPrefix(cfgPath, connDir string) ([]string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return []string{self, kernelArg, "--config", cfgPath, "--conn-dir", connDir, "--"}, nil
}

// kernelMain is the sandbox's kernel helper, run as the argv prefix of a
// kernel that the runner starts:
//
//	HELPER __ppml-sandbox-kernel --config FILE --conn-dir DIR -- KERNEL ARGV...
//
// It finds the connection file (the argument under DIR), starts the kernel
// in the sandbox described by the config file, with the connection file
// bound read-only, listens on the connection file's five ports on the
// host's loopback and joins each connection to the sandbox's Unix socket of
// that port (the sandbox's init relays it to the kernel), passes SIGINT and
// SIGTERM on, and exits with the kernel's status.
func kernelMain(args []string) int {
	var cfgPath, connDir string
	for len(args) > 0 && args[0] != "--" {
		if len(args) < 2 {
			fmt.Fprintln(os.Stderr, "sandbox: usage: --config FILE --conn-dir DIR -- ARGV")
			return 2
		}
		switch args[0] {
		case "--config":
			cfgPath = args[1]
		case "--conn-dir":
			connDir = args[1]
		}
		args = args[2:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "sandbox: no command")
		return 2
	}
	argv := args[1:]
	cfg, err := ReadConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 2
	}
	conn := ""
	for _, a := range argv {
		if connDir != "" && strings.HasPrefix(a, filepath.Clean(connDir)+"/") {
			conn = a
		}
	}
	if conn == "" {
		fmt.Fprintln(os.Stderr, "sandbox: no connection file under", connDir, "in", argv)
		return 2
	}
	ports, err := connPorts(conn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 2
	}
	code, err := runKernel(cfg, conn, ports, argv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
	}
	return code
}

func connPorts(path string) ([]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("connection file %s: %w", path, err)
	}
	if c["transport"] != "tcp" || c["ip"] != "127.0.0.1" {
		return nil, fmt.Errorf("connection file %s: only tcp on 127.0.0.1 is relayed", path)
	}
	var ports []int
	for _, k := range []string{"shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"} {
		p, ok := c[k].(float64)
		if !ok {
			return nil, fmt.Errorf("connection file %s: no %s", path, k)
		}
		ports = append(ports, int(p))
	}
	return ports, nil
}

func runKernel(cfg *Config, conn string, ports []int, argv []string) (int, error) {
	// Listen first: the runner connects as soon as we are started.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for _, p := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return 1, fmt.Errorf("relay port %d: %w", p, err)
		}
		ls = append(ls, l)
	}
	cfg.ReadOnly = append(cfg.ReadOnly, conn)
	s, err := New(cfg)
	if err != nil {
		return 1, err
	}
	defer s.Close()
	infoR, infoW, err := os.Pipe()
	if err != nil {
		return 1, err
	}
	cmd := s.Command(context.Background(), argv, ports, true)
	cmd.ExtraFiles = []*os.File{infoW}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		return 1, fmt.Errorf("start bwrap: %w", err)
	}
	infoW.Close()
	var info struct {
		Pid int `json:"child-pid"`
	}
	if err := json.NewDecoder(infoR).Decode(&info); err != nil || info.Pid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		return 1, fmt.Errorf("bwrap reported no sandbox pid: %v", err)
	}
	go io.Copy(io.Discard, infoR)
	for i, l := range ls {
		sock := s.Socket(ports[i])
		go serve(l, func() (net.Conn, error) { return net.DialTimeout("unix", sock, 5*time.Second) })
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			// The sandbox's init is bwrap's child: it passes signals on to the kernel.
			syscall.Kill(info.Pid, sig.(syscall.Signal))
		case werr := <-waited:
			if s.OOMKilled() {
				fmt.Fprintln(os.Stderr, "sandbox: the memory limit killed a process")
			}
			return exitCode(werr), nil
		}
	}
}
