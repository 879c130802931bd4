package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/ppml-go/ppml/pkg/split"
)

func runWorker(stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("worker", stderr)
	listen := fs.String("listen", "", "ZeroMQ address to listen on, e.g. tcp://127.0.0.1:5555 (port 0 picks a free port)")
	id := fs.String("id", "worker", "the worker's name, as reported to its clients")
	maxBytes := fs.Int("max-message-bytes", split.DefaultMaxMessageBytes, "largest request accepted")
	threads := fs.Int("threads", 1, "OS threads running Go code (GOMAXPROCS); 0 keeps Go's default")
	gcPercent := fs.Int("gc-percent", 400, "garbage collector target (GOGC); a worker's heap is small and it sleeps between operations")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	// A worker runs one small operation at a time between network waits:
	// splitting it across threads and collecting garbage often cost more than
	// they give (measured in bench/split: about 2x per operation). The
	// environment wins over the defaults, as GOMAXPROCS and GOGC usually do.
	if *threads > 0 && os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(*threads)
	}
	setGCPercent(*gcPercent)
	if *listen == "" {
		return fmt.Errorf("%w: --listen is required", errUsage)
	}
	logger := newLogger(stderr, "worker")
	srv, err := split.Listen(*listen, split.NewVirtualWorker(*id), split.ServeOptions{MaxMessageBytes: *maxBytes, Logger: logger})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "worker %s listening on %s\n", *id, srv.Addr())
	return srv.Serve(ctx)
}

// setGCPercent sets the garbage collector's target (GOGC) to percent,
// unless the environment sets GOGC (the environment wins over a command's
// defaults, as it usually does).
func setGCPercent(percent int) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
}
