// Command ppml is the command-line front of the ppml-go course: it runs
// notebooks, trains the course's federated and split models, serves remote
// workers and grades submissions.
//
// Each subcommand lives in its own file of this package; the table commands
// in this file names them all.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/ppml-go/ppml/internal/reaper"
	"github.com/ppml-go/ppml/pkg/grade/sandbox"
)

// command is one subcommand of ppml: its name (possibly two words, as in
// "fl fedavg"), a one-line summary, and the function that runs it with the
// arguments that follow the name, writing its output to stdout and its
// progress, logs and usage to stderr.
type command struct {
	name    string
	summary string
	run     func(stdout, stderr io.Writer, args []string) error
}

// commands are the subcommands of ppml, in the order usage lists them.
var commands = []command{
	{"run", "execute a notebook headless, like jupyter nbconvert --execute", runNotebook},
	{"kernel", "run the course's Go kernel (GoNB behind a front) for Jupyter", runKernel},
	{"fl fedavg", "federated averaging on MNIST digits, all clients in this process", runFedAvg},
	{"fl server", "federated averaging server for `ppml fl client` processes over ZeroMQ", runFLServer},
	{"fl client", "federated averaging client: trains its own data partition for a `ppml fl server`", runFLClient},
	{"fl perceptron", "the notebook's perceptron on MNIST zeros and ones: one party, FedSGD, masked FedSGD or FedAvg", runPerceptron},
	{"dp epsilon", "epsilon of DP-SGD or DP-FedAvg by the RDP accountant of the sampled Gaussian mechanism", runDPEpsilon},
	{"split train", "split learning of the course's MNIST MLP (or a CNN) on in-process or remote workers", runSplitTrain},
	{"worker", "serve a split-learning worker over ZeroMQ (--listen tcp://127.0.0.1:PORT)", runWorker},
	{"attack gradient", "recover training images from a federated gradient (analytic inversion, DLG), also through SecAgg sums and DP noise", runAttackGradient},
	{"attack split-labels", "label leakage at the split-learning cut: norm and cosine attacks, with an optional defence", runAttackSplitLabels},
	{"assign", "make the student release of a source notebook (solutions stubbed, hidden tests removed)", runAssign},
	{"validate", "run a notebook and report its visible tests", runValidate},
	{"autograde", "grade a class's submissions in a sandbox: gradebook and feedback", runAutograde},
}

// newLogger returns the logger of a subcommand's events (clients joining
// and dropping, failed requests): log/slog text records on w, tagged with
// the command's name. What a command reports to its user (rounds,
// accuracies, addresses) is plain text on its stdout, not a log.
func newLogger(w io.Writer, name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil)).With("cmd", name)
}

// newFlagSet returns the flag set of a subcommand, which returns its
// errors and writes its usage to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// errUsage is returned by a subcommand whose arguments are wrong; main then
// exits with status 2 instead of 1.
var errUsage = errors.New("usage error")

// parseFlags parses args with fs, accepting flags before, between and after
// the positional arguments (`ppml run NB.ipynb -o OUT.ipynb` and `ppml run -o
// OUT.ipynb NB.ipynb` alike), and returns the positional arguments; want is
// how many there must be, or -1 for any number. Errors wrap errUsage, except
// flag.ErrHelp, which main treats as success.
func parseFlags(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if want >= 0 && len(pos) != want {
		if want == 0 {
			return nil, fmt.Errorf("%w: unexpected arguments %q", errUsage, pos)
		}
		return nil, fmt.Errorf("%w: want %d argument(s), got %d %q", errUsage, want, len(pos), pos)
	}
	return pos, nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ppml COMMAND [arguments]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-19s %s\n", c.name, c.summary)
	}
}

// lookup finds the command named by the first one or two arguments and
// returns it with the remaining arguments.
func lookup(args []string) (command, []string, bool) {
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return c, args[len(words):], true
		}
	}
	return command{}, nil, false
}

func main() {
	reaper.Main() // a guardian of the kernel (runner) or of GoNB (front) runs here and exits
	if code, ok := sandbox.Main(os.Args[1:]); ok {
		os.Exit(code) // ppml as the grader's sandbox helper
	}
	os.Exit(run(os.Stdout, os.Stderr, os.Args[1:]))
}

// run runs the ppml command line args and returns the exit status: 0, 1 for
// a failure, 2 for a usage error.
func run(stdout, stderr io.Writer, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, rest, ok := lookup(args)
	if !ok {
		fmt.Fprintf(stderr, "ppml: unknown command %q\n", strings.Join(args[:min(2, len(args))], " "))
		usage(stderr)
		return 2
	}
	if err := c.run(stdout, stderr, rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "ppml %s: %v\n", c.name, err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}
