package sandbox

import (
	"fmt"
	"os"
)

// The helpers' names, as the first argument of the program.
const (
	kernelArg    = "__ppml-sandbox-kernel" // outside: starts a kernel in a sandbox (KernelPrefix)
	initArg      = "__ppml-sandbox-init"   // inside: relays, the program
	limitArg     = "__ppml-sandbox-limit"  // inside: rlimits, then exec the program
	cacheProgArg = "__ppml-gocacheprog"    // inside: GOCACHEPROG of the go commands
)

// Main runs this program as one of the sandbox's helpers when args
// (os.Args[1:]) start with a helper's name, and returns its exit status and
// true; otherwise it returns 0, false at once. Every program that starts
// sandboxes (ppml, and the test binaries of the packages that grade) calls
// it first thing in main or TestMain, since the sandbox runs the program
// itself as its helpers:
//
//	if code, ok := sandbox.Main(os.Args[1:]); ok {
//		os.Exit(code)
//	}
func Main(args []string) (int, bool) {
	if len(args) == 0 {
		return 0, false
	}
	switch args[0] {
	case kernelArg:
		return kernelMain(args[1:]), true
	case initArg:
		return initMain(args[1:]), true
	case limitArg:
		return limitMain(args[1:]), true
	case cacheProgArg:
		if err := CacheProg(os.Stdin, os.Stdout, args[1], args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "gocacheprog:", err)
			return 1, true
		}
		return 0, true
	}
	return 0, false
}
