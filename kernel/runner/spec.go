package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Spec is a kernelspec: how to start a kernel, read from a kernel.json.
type Spec struct {
	// Name is the kernelspec name (its directory name, lower case).
	Name string
	// Dir is the directory holding kernel.json ({resource_dir}).
	Dir string
	// Argv is the command; "{connection_file}" and "{resource_dir}" are
	// substituted when the kernel starts.
	Argv        []string          `json:"argv"`
	DisplayName string            `json:"display_name"`
	Language    string            `json:"language"`
	Env         map[string]string `json:"env,omitempty"`
	// InterruptMode is "signal" (SIGINT to the kernel's process group, the
	// default) or "message" (interrupt_request on the control channel).
	InterruptMode string          `json:"interrupt_mode,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
}

// SpecDirs returns the directories searched for kernelspecs, in the order
// jupyter_client searches them: each of $JUPYTER_PATH, the user data dir
// ($JUPYTER_DATA_DIR, or $XDG_DATA_HOME/jupyter, or ~/.local/share/jupyter),
// the environment prefixes ($VIRTUAL_ENV, $CONDA_PREFIX), then
// /usr/local/share/jupyter and /usr/share/jupyter; each with "kernels"
// appended.
func SpecDirs() []string {
	var roots []string
	for _, p := range filepath.SplitList(os.Getenv("JUPYTER_PATH")) {
		if p != "" {
			roots = append(roots, p)
		}
	}
	switch {
	case os.Getenv("JUPYTER_DATA_DIR") != "":
		roots = append(roots, os.Getenv("JUPYTER_DATA_DIR"))
	case os.Getenv("XDG_DATA_HOME") != "":
		roots = append(roots, filepath.Join(os.Getenv("XDG_DATA_HOME"), "jupyter"))
	default:
		if home, err := os.UserHomeDir(); err == nil {
			roots = append(roots, filepath.Join(home, ".local", "share", "jupyter"))
		}
	}
	for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if p := os.Getenv(env); p != "" {
			roots = append(roots, filepath.Join(p, "share", "jupyter"))
		}
	}
	roots = append(roots, "/usr/local/share/jupyter", "/usr/share/jupyter")
	dirs := make([]string, 0, len(roots))
	seen := map[string]bool{}
	for _, r := range roots {
		d := filepath.Join(r, "kernels")
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// ErrNoSpec is returned (wrapped) by FindSpec when no kernelspec has the
// name.
var ErrNoSpec = errors.New("no such kernelspec")

// FindSpec returns the kernelspec called name (case-insensitive) from the
// first directory of SpecDirs that has it.
func FindSpec(name string) (*Spec, error) {
	want := strings.ToLower(name)
	for _, dir := range SpecDirs() {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if strings.ToLower(e.Name()) != want {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, e.Name(), "kernel.json")); err == nil {
				return ReadSpec(filepath.Join(dir, e.Name()))
			}
		}
	}
	names := ListSpecs()
	found := "none"
	if len(names) > 0 {
		found = strings.Join(names, ", ")
	}
	return nil, fmt.Errorf("runner: kernel %q: %w (found: %s; searched %s)", name, ErrNoSpec, found, strings.Join(SpecDirs(), ", "))
}

// ListSpecs returns the names of all kernelspecs in SpecDirs, sorted.
func ListSpecs() []string {
	seen := map[string]bool{}
	for _, dir := range SpecDirs() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if _, err := os.Stat(filepath.Join(dir, e.Name(), "kernel.json")); err == nil {
				seen[strings.ToLower(e.Name())] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// ReadSpec reads the kernelspec in dir (dir/kernel.json).
func ReadSpec(dir string) (*Spec, error) {
	data, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		return nil, fmt.Errorf("runner: kernelspec: %w", err)
	}
	s := &Spec{}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("runner: kernelspec %s: %w", dir, err)
	}
	s.Name = strings.ToLower(filepath.Base(dir))
	s.Dir = dir
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("runner: kernelspec %s: %w", dir, err)
	}
	return s, nil
}

func (s *Spec) validate() error {
	if len(s.Argv) == 0 {
		return errors.New("empty argv")
	}
	switch s.InterruptMode {
	case "", "signal", "message":
	default:
		return fmt.Errorf("interrupt_mode %q (want signal or message)", s.InterruptMode)
	}
	return nil
}

// command returns the kernel's argv and environment additions with
// {connection_file} and {resource_dir} substituted. An IPython kernel (the
// kernelspecs python, python2 and python3, as jupyter_client tells them)
// keeps its history in memory, as nbclient has it: a notebook run headless
// does not add to the user's IPython history, nor wait for its database on
// every cell.
func (s *Spec) command(connectionFile string) (argv, env []string) {
	r := strings.NewReplacer("{connection_file}", connectionFile, "{resource_dir}", s.Dir)
	histFile := false
	for _, a := range s.Argv {
		argv = append(argv, r.Replace(a))
		histFile = histFile || strings.HasPrefix(a, "--HistoryManager.hist_file")
	}
	if (s.Name == "python" || s.Name == "python2" || s.Name == "python3") && !histFile {
		argv = append(argv, "--HistoryManager.hist_file=:memory:")
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		env = append(env, k+"="+os.Expand(r.Replace(s.Env[k]), func(v string) string { return os.Getenv(v) }))
	}
	return argv, env
}
