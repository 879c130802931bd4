package course

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

// keepDirEnv names the environment variable of the directory Keep stores
// results in. GoNB sets GONB_TMP_DIR to its per-kernel temporary directory,
// which it removes when the kernel stops.
const keepDirEnv = "GONB_TMP_DIR"

var keyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Keep returns the result of compute, computing it only the first time a
// key is asked for in a kernel session: GoNB runs each cell as a new
// program, so a cell that trains a model and a later cell that plots the
// training would otherwise train twice. The result is stored with
// encoding/gob in the kernel's temporary directory, which GoNB removes when
// the kernel stops: restarting the kernel starts afresh, and a result is
// never taken from another session or another version of the notebook.
// Outside GoNB, Keep just calls compute.
//
// Keys are names of letters, digits, '_', '.' and '-'. T must be
// gob-encodable (exported fields; no funcs or channels). An error from
// compute is returned, and nothing is kept.
//
// Unlike github.com/janpfeifer/gonb/cache, whose default storage outlives
// the kernel (it is keyed by the working directory), Keep's results live
// exactly as long as the kernel, and errors are returned, not panicked.
func Keep[T any](key string, compute func() (T, error)) (T, error) {
	var zero T
	if !keyRE.MatchString(key) {
		return zero, fmt.Errorf("course.Keep: key %q: want letters, digits, '_', '.' or '-'", key)
	}
	dir := os.Getenv(keepDirEnv)
	if dir == "" {
		return compute()
	}
	path := filepath.Join(dir, "ppml-keep", key+".gob")
	if data, err := os.ReadFile(path); err == nil {
		var v T
		if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&v); err != nil {
			return zero, fmt.Errorf("course.Keep: key %q: reading the kept result (its type changed? call course.Forget(%q)): %w", key, key, err)
		}
		return v, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return zero, fmt.Errorf("course.Keep: key %q: %w", key, err)
	}
	v, err := compute()
	if err != nil {
		return zero, err
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&v); err != nil {
		return zero, fmt.Errorf("course.Keep: key %q: %w", key, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return zero, fmt.Errorf("course.Keep: %w", err)
	}
	// Write then rename, so that an interrupted cell never leaves half a
	// result that a later cell would read.
	tmp, err := os.CreateTemp(filepath.Dir(path), key+".*.tmp")
	if err != nil {
		return zero, fmt.Errorf("course.Keep: %w", err)
	}
	_, werr := tmp.Write(buf.Bytes())
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return zero, fmt.Errorf("course.Keep: key %q: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return zero, fmt.Errorf("course.Keep: key %q: %w", key, err)
	}
	return v, nil
}

// Forget drops the result kept under key, if any, so that the next Keep
// with that key computes it again.
func Forget(key string) error {
	if !keyRE.MatchString(key) {
		return fmt.Errorf("course.Forget: key %q: want letters, digits, '_', '.' or '-'", key)
	}
	dir := os.Getenv(keepDirEnv)
	if dir == "" {
		return nil
	}
	err := os.Remove(filepath.Join(dir, "ppml-keep", key+".gob"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
