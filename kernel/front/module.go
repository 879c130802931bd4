package front

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
)

// zeroVersion is the version under which a replaced module is required.
const zeroVersion = "v0.0.0-00010101000000-000000000000"

// buildFlags are the flags GoNB passes to "go build" for every cell, set by
// the front's setup (GoNB's %goflags). install-kernel.sh warms the build
// cache with the same flags.
//
//   - -mod=mod lets "go build" add to the notebook's go.mod what a cell's
//     imports need, as GoNB's "go get" before every cell does (a module that
//     is not required yet, a package of a required module whose
//     dependencies the project does not use), so the front turns that "go
//     get" off: it cost about 0.2 s per cell for nothing, the notebook's
//     module having the project's requirements already (project.setupCell).
//   - -ldflags=-w and -gcflags=all=-dwarf=false: a cell's program is built
//     to run once, so it goes without DWARF debug information, which takes
//     about a third of the link of a cell importing the project. Panics still
//     name functions and cell lines (from the pclntab, not from DWARF).
//
// -trimpath is not used: GoNB maps stack traces to cell lines by the
// absolute path of main.go.
var buildFlags = []string{"-mod=mod", "-gcflags=all=-dwarf=false", "-ldflags=-w"}

// project is the Go module that notebooks import, as read from its go.mod.
type project struct {
	root   string // its checkout
	module string // its module path
	mod    *modfile.File
}

// readProject reads the go.mod of the checkout root.
func readProject(root string) (*project, error) {
	file := filepath.Join(root, "go.mod")
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("project root: %w", err)
	}
	mod, err := modfile.Parse(file, data, nil)
	if err != nil {
		return nil, fmt.Errorf("project root: %w", err)
	}
	if mod.Module == nil || mod.Module.Mod.Path == "" {
		return nil, fmt.Errorf("project root: %s has no module line", file)
	}
	return &project{root: root, module: mod.Module.Mod.Path, mod: mod}, nil
}

// setupCell returns the code of the silent cell, a shell command of GoNB's
// run in GoNB's module ("!*"), that the front runs before the first
// request: it makes GoNB's module require the project, replaced by its
// checkout, and every module the project requires at the project's
// versions (with the project's replacements, local directories made
// absolute), and copies the project's go.sum. A cell importing the project,
// GoMLX or gonbui then builds without any change to the module, and without
// asking the module proxy for anything.
func (p *project) setupCell() string {
	return "!*" + p.setupCommand()
}

// setupCommand is the shell command of setupCell, run in the notebook's
// module directory.
func (p *project) setupCommand() string {
	args := []string{"go", "mod", "edit", "-require=" + p.module + "@" + zeroVersion, "-replace=" + p.module + "=" + p.root}
	for _, r := range p.mod.Require {
		args = append(args, "-require="+r.Mod.Path+"@"+r.Mod.Version)
	}
	for _, r := range p.mod.Replace { // with local directories made absolute
		old, target := r.Old.Path, r.New.Path
		if r.Old.Version != "" {
			old += "@" + r.Old.Version
		}
		if r.New.Version != "" {
			target += "@" + r.New.Version
		} else if !filepath.IsAbs(target) {
			target = filepath.Join(p.root, target)
		}
		args = append(args, "-replace="+old+"="+target)
	}
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(shellQuote(a))
	}
	b.WriteString(" && cp " + shellQuote(filepath.Join(p.root, "go.sum")) + " go.sum")
	return b.String()
}

// Warm builds the Go module in dir (a go.mod and a main package) as the
// kernel builds a cell's program: it first makes the module a notebook's
// module as the kernel makes GoNB's (requiring the module at root, replaced
// by root, and everything that module requires, with its go.sum), then runs
// "go build" with the kernel's flags. scripts/install-kernel.sh warms the
// build cache so for the packages notebooks import.
func Warm(root, dir string) error {
	p, err := readProject(root)
	if err != nil {
		return err
	}
	setup := exec.Command("bash", "-c", p.setupCommand())
	build := exec.Command("go", append(append([]string{"build"}, buildFlags...), "-o", os.DevNull, ".")...)
	for _, cmd := range []*exec.Cmd{setup, build} {
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("warming the build cache in %s: %s: %v\n%s", dir, cmd, err, out)
		}
	}
	return nil
}

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
