// Command ppml is the command-line front of the ppml-go course: it runs
// notebooks, trains the course's federated and split models, serves remote
// workers and grades submissions.
//
// Each subcommand lives in its own file of this package and registers itself
// with register in an init function.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ppml-go/ppml/internal/reaper"
	"github.com/ppml-go/ppml/pkg/grade/sandbox"
)

// command is one subcommand of ppml: its name (possibly two words, as in
// "fl fedavg"), a one-line summary, and the function that runs it with the
// arguments that follow the name.
type command struct {
	name    string
	summary string
	run     func(args []string) error
}

var commands = map[string]command{}

// register adds c to the subcommands; it panics on a duplicate name, which is
// a programming error caught by any test of this package.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("ppml: duplicate command " + c.name)
	}
	commands[c.name] = c
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

func usage() {
	fmt.Fprintln(os.Stderr, "usage: ppml COMMAND [arguments]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-16s %s\n", n, commands[n].summary)
	}
}

// lookup finds the command named by the first one or two arguments and
// returns it with the remaining arguments.
func lookup(args []string) (command, []string, bool) {
	if len(args) >= 2 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return c, args[2:], true
		}
	}
	if len(args) >= 1 {
		if c, ok := commands[args[0]]; ok {
			return c, args[1:], true
		}
	}
	return command{}, nil, false
}

func main() {
	reaper.Main() // a guardian of the kernel (runner) or of GoNB (front) runs here and exits
	if code, ok := sandbox.Main(os.Args[1:]); ok {
		os.Exit(code) // ppml as the grader's sandbox helper
	}
	args := os.Args[1:]
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			os.Exit(2)
		}
		return
	}
	c, rest, ok := lookup(args)
	if !ok {
		fmt.Fprintf(os.Stderr, "ppml: unknown command %q\n", strings.Join(args[:min(2, len(args))], " "))
		usage()
		os.Exit(2)
	}
	if err := c.run(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "ppml %s: %v\n", c.name, err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
