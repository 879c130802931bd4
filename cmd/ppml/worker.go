package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/ppml-go/ppml/pkg/split"
)

func init() {
	register(command{name: "worker", summary: "serve a split-learning worker over ZeroMQ (--listen tcp://127.0.0.1:PORT)", run: runWorker})
}

func runWorker(args []string) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	listen := fs.String("listen", "", "ZeroMQ address to listen on, e.g. tcp://127.0.0.1:5555 (port 0 picks a free port)")
	id := fs.String("id", "worker", "the worker's name, as reported to its clients")
	maxBytes := fs.Int("max-message-bytes", split.DefaultMaxMessageBytes, "largest request accepted")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *listen == "" {
		return fmt.Errorf("%w: --listen is required", errUsage)
	}
	logger := log.New(os.Stderr, "ppml worker: ", log.LstdFlags)
	srv, err := split.Listen(*listen, split.NewVirtualWorker(*id), split.ServeOptions{MaxMessageBytes: *maxBytes, Log: logger.Printf})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("worker %s listening on %s\n", *id, srv.Addr())
	return srv.Serve(ctx)
}
