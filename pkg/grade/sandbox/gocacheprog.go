package sandbox

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CacheProg serves the go command's GOCACHEPROG protocol (package
// cmd/go/internal/cacheprog of the Go toolchain, Go 1.24 and later) on r and
// w: a Go build cache that looks up entries in the writable cache directory
// rw and then in the read-only ones, in order, and stores new entries in rw
// only. All directories have the layout of a GOCACHE directory (an action
// entry "XX/ACTIONID-a" naming an output "XX/OUTPUTID-d"), so the read-only
// layers are the teacher's warmed GOCACHE as it is; a sandboxed build reuses
// it without being able to change it.
func CacheProg(r io.Reader, w io.Writer, rw string, ro []string) error {
	in := json.NewDecoder(bufio.NewReader(r))
	bw := bufio.NewWriter(w)
	out := json.NewEncoder(bw)
	send := func(res *progResponse) error {
		if err := out.Encode(res); err != nil {
			return err
		}
		return bw.Flush()
	}
	if err := send(&progResponse{KnownCommands: []string{"get", "put", "close"}}); err != nil {
		return err
	}
	layers := append([]string{rw}, ro...)
	for {
		var req progRequest
		if err := in.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("request: %w", err)
		}
		var body []byte
		if req.BodySize > 0 {
			if err := in.Decode(&body); err != nil {
				return fmt.Errorf("body of request %d: %w", req.ID, err)
			}
		}
		res := &progResponse{ID: req.ID}
		switch req.Command {
		case "get":
			res.Miss = true
			for _, dir := range layers {
				if e, ok := readEntry(dir, req.ActionID); ok {
					res.Miss, res.OutputID, res.Size, res.Time, res.DiskPath = false, e.out, e.size, &e.time, e.path
					break
				}
			}
		case "put":
			if int64(len(body)) != req.BodySize {
				res.Err = fmt.Sprintf("body of %d bytes, want %d", len(body), req.BodySize)
			} else if path, err := writeEntry(rw, req.ActionID, req.OutputID, body); err != nil {
				res.Err = err.Error()
			} else {
				res.DiskPath = path
			}
		case "close":
			return send(res)
		default:
			res.Err = fmt.Sprintf("unknown command %q", req.Command)
		}
		if err := send(res); err != nil {
			return err
		}
	}
}

// progRequest and progResponse are cacheprog.Request and Response.
type progRequest struct {
	ID       int64
	Command  string
	ActionID []byte `json:",omitempty"`
	OutputID []byte `json:",omitempty"`
	BodySize int64  `json:",omitempty"`
}

type progResponse struct {
	ID            int64
	Err           string     `json:",omitempty"`
	KnownCommands []string   `json:",omitempty"`
	Miss          bool       `json:",omitempty"`
	OutputID      []byte     `json:",omitempty"`
	Size          int64      `json:",omitempty"`
	Time          *time.Time `json:",omitempty"`
	DiskPath      string     `json:",omitempty"`
}

// cacheEntry is an action entry of a GOCACHE directory.
type cacheEntry struct {
	out  []byte
	size int64
	time time.Time
	path string // the output file
}

// cacheFile is the path of a GOCACHE directory's file for id ("a" for an
// action entry, "d" for an output), as the go command's DiskCache names it.
func cacheFile(dir string, id []byte, kind string) string {
	h := hex.EncodeToString(id)
	if len(h) < 2 {
		return ""
	}
	return filepath.Join(dir, h[:2], h+"-"+kind)
}

// readEntry reads the action entry of id in dir: "v1 ACTION OUTPUT SIZE
// TIME" with the output file present and of that size.
func readEntry(dir string, id []byte) (cacheEntry, bool) {
	data, err := os.ReadFile(cacheFile(dir, id, "a"))
	if err != nil {
		return cacheEntry{}, false
	}
	f := strings.Fields(string(data))
	if len(f) != 5 || f[0] != "v1" || f[1] != hex.EncodeToString(id) {
		return cacheEntry{}, false
	}
	out, err1 := hex.DecodeString(f[2])
	size, err2 := strconv.ParseInt(f[3], 10, 64)
	nano, err3 := strconv.ParseInt(f[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return cacheEntry{}, false
	}
	path := cacheFile(dir, out, "d")
	if st, err := os.Stat(path); err != nil || st.Size() != size {
		return cacheEntry{}, false
	}
	return cacheEntry{out: out, size: size, time: time.Unix(0, nano), path: path}, true
}

// writeEntry stores body as the output out of action id in dir, as the go
// command's DiskCache would, and returns the output file's path.
func writeEntry(dir string, id, out, body []byte) (string, error) {
	path, entry := cacheFile(dir, out, "d"), cacheFile(dir, id, "a")
	if path == "" || entry == "" {
		return "", errors.New("empty action or output id")
	}
	line := fmt.Sprintf("v1 %x %x %20d %20d\n", id, out, len(body), time.Now().UnixNano())
	for _, f := range []struct {
		path string
		data []byte
	}{{path, body}, {entry, []byte(line)}} {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return "", err
		}
		tmp, err := os.CreateTemp(filepath.Dir(f.path), ".tmp-*")
		if err != nil {
			return "", err
		}
		_, err = tmp.Write(f.data)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), f.path)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return "", err
		}
	}
	return path, nil
}
