package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/ppml-go/ppml/kernel/front"
)

// runKernel is `ppml kernel [--root DIR] [--gonb PATH] [-v] CONNECTION_FILE`,
// the command of the ppml-go kernelspec that scripts/install-kernel.sh writes,
// or `ppml kernel --root DIR --warm MODDIR`, with which the script warms the
// build cache.
func runKernel(stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("ppml kernel", stderr)
	root := fs.String("root", os.Getenv("PPML_ROOT"), "checkout of the module that notebooks import (`dir`); default $PPML_ROOT")
	gonb := fs.String("gonb", "", "the gonb binary (`path`); default: gonb on PATH")
	verbose := fs.Bool("v", false, "log GoNB's informational messages too")
	warm := fs.String("warm", "", "only warm the build cache: set up the Go module in `dir` as the kernel sets up a notebook's (requiring the --root checkout), build it as the kernel builds a cell, and exit")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ppml kernel [--root DIR] [--gonb PATH] [-v] CONNECTION_FILE\n"+
			"       ppml kernel --root DIR --warm MODDIR\n\n"+
			"Runs the Go kernel for Jupyter on the sockets of CONNECTION_FILE. Jupyter starts it through the\n"+
			"ppml-go kernelspec; install that with scripts/install-kernel.sh.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *warm != "" {
		if fs.NArg() != 0 {
			return fmt.Errorf("%w: --warm takes no connection file", errUsage)
		}
		if *root == "" {
			return fmt.Errorf("%w: --warm needs --root", errUsage)
		}
		return front.Warm(*root, *warm)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: want one connection file, got %d arguments", errUsage, fs.NArg())
	}
	// SIGINT is for the cell that runs (GoNB, in the same process group, gets
	// it too and interrupts the cell), not for the kernel.
	signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	parent, _ := strconv.Atoi(os.Getenv("JPY_PARENT_PID")) // set by jupyter_client; 0 if not
	return front.Run(ctx, front.Config{
		ConnectionFile: fs.Arg(0), GoNB: *gonb, Root: *root, Verbose: *verbose, ParentPID: parent, Log: stderr,
	})
}
