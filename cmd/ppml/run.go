package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ppml-go/ppml/kernel/nbformat"
	"github.com/ppml-go/ppml/kernel/runner"
)

const runUsage = `usage: ppml run NOTEBOOK [-o OUT.ipynb | --inplace] [--timeout 5m] [--allow-errors] [--kernel NAME]

Executes every code cell of NOTEBOOK on its kernel (metadata.kernelspec.name,
or --kernel) and writes the notebook with its outputs, like
jupyter nbconvert --to notebook --execute: by default to NAME.nbconvert.ipynb
next to NOTEBOOK; -o - writes to standard output. A line per cell goes to
standard error. The exit status is 1 if a cell fails (with --allow-errors,
only for timeouts and dead kernels: errors are then kept as outputs and the
run goes on). The outputs are written even when a cell fails. SIGINT or
SIGTERM stop the run and the kernel.

flags:
`

func runNotebook(stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("run", stderr)
	out := fs.String("o", "", "output notebook (default NAME.nbconvert.ipynb; - for stdout)")
	inplace := fs.Bool("inplace", false, "overwrite NOTEBOOK with the executed notebook")
	timeout := fs.Duration("timeout", 5*time.Minute, "per-cell timeout (0: none)")
	startTimeout := fs.Duration("start-timeout", time.Minute, "time for the kernel to start")
	allowErrors := fs.Bool("allow-errors", false, "keep going after cells that fail")
	kernel := fs.String("kernel", "", "kernelspec name (default: the notebook's)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), runUsage)
		fs.PrintDefaults()
	}
	pos, err := parseFlags(fs, args, -1)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("%w: want one notebook, got %d arguments", errUsage, len(pos))
	}
	if *inplace && *out != "" {
		return fmt.Errorf("%w: -o and --inplace exclude each other", errUsage)
	}
	path := pos[0]
	dest := *out
	switch {
	case *inplace:
		dest = path
	case dest == "":
		dest = strings.TrimSuffix(path, ".ipynb") + ".nbconvert.ipynb"
	}
	nb, err := nbformat.ReadFile(path)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := runner.RunOptions{
		Options:     runner.Options{StartTimeout: *startTimeout},
		KernelName:  *kernel,
		Timeout:     *timeout,
		AllowErrors: *allowErrors,
	}
	if !*quiet {
		opts.Progress = func(c runner.CellReport) {
			if c.Status == runner.StatusRunning {
				return
			}
			line := fmt.Sprintf("[%d/%d] cell %d", c.Number, c.Total, c.Index+1)
			if c.ID != "" {
				line += " (" + c.ID + ")"
			}
			line += fmt.Sprintf(" %s %.2fs", c.Status, c.Duration.Seconds())
			if c.Status != runner.StatusOK {
				line += ": " + firstLine(c.Message)
			}
			fmt.Fprintln(stderr, line)
		}
	}
	start := time.Now()
	rep, runErr := runner.RunNotebook(ctx, nb, opts)
	if ctx.Err() != nil {
		return errors.New("interrupted; kernel stopped")
	}
	if runErr != nil {
		return runErr
	}
	if dest == "-" {
		err = nbformat.Write(stdout, nb)
	} else {
		err = nbformat.WriteFile(dest, nb)
	}
	if err != nil {
		return err
	}
	if !*quiet {
		where := dest
		if dest == "-" {
			where = "standard output"
		}
		fmt.Fprintf(stderr, "%d code cells on kernel %s in %.1fs; wrote %s\n", len(rep.Cells), rep.Kernel, time.Since(start).Seconds(), where)
	}
	for _, c := range rep.Failed() {
		if *allowErrors && c.Status == runner.StatusError {
			continue
		}
		return &runner.CellError{Cell: c}
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
