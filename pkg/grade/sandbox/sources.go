package sandbox

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
)

// under reports whether path p is one of dirs or inside one of them.
func under(p string, dirs []string) bool {
	p, _ = filepath.Abs(p)
	for _, d := range dirs {
		d, _ = filepath.Abs(d)
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// moduleSources lists what building against the Go module checked out at
// root needs: its go.mod and go.sum, and the .go files of its packages but
// tests, skipping directories named testdata or starting with "." or "_"
// (which the go command ignores too) and nested modules; and the same of the
// modules its go.mod replaces by local directories.
func moduleSources(root string) []string {
	return moduleSourcesOnce(root, map[string]bool{})
}

func moduleSourcesOnce(root string, seen map[string]bool) []string {
	root, err := filepath.Abs(root)
	if err != nil || seen[root] {
		return nil
	}
	seen[root] = true
	var out []string
	if data, err := os.ReadFile(filepath.Join(root, "go.mod")); err == nil {
		if mod, err := modfile.Parse("go.mod", data, nil); err == nil {
			for _, r := range mod.Replace {
				if r.New.Version == "" && modfile.IsDirectoryPath(r.New.Path) {
					dir := r.New.Path
					if !filepath.IsAbs(dir) {
						dir = filepath.Join(root, dir)
					}
					out = append(out, moduleSourcesOnce(dir, seen)...)
				}
			}
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if st, err := os.Stat(filepath.Join(root, f)); err == nil && st.Mode().IsRegular() {
			out = append(out, filepath.Join(root, f))
		}
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); p != root && err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			out = append(out, p)
		}
		return nil
	})
	return out
}
