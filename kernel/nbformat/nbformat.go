// Package nbformat reads and writes Jupyter notebooks in the nbformat v4
// JSON format.
//
// Reading then writing a notebook loses nothing: fields this package does
// not model (at notebook, cell and output level) are kept as raw JSON and
// written back as they came, and metadata is kept as raw JSON. Multiline
// strings are accepted as a string or a list of lines and written as
// nbformat writes them, as a list of lines; files are written like
// nbformat.write: keys of every object sorted (metadata included), one-space
// indentation, a final newline, so a file written by nbformat comes back
// byte for byte.
package nbformat

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
)

// Major is the nbformat major version this package reads and writes.
const Major = 4

// Minor is the nbformat minor version of new notebooks (cells have ids).
const Minor = 5

// Cell types.
const (
	Code     = "code"
	Markdown = "markdown"
	Raw      = "raw"
)

// Notebook is an nbformat v4 notebook.
type Notebook struct {
	NBFormat      int
	NBFormatMinor int
	// Metadata is the notebook metadata as raw JSON (kernelspec,
	// language_info, ...).
	Metadata json.RawMessage
	Cells    []*Cell
	// Extra holds top-level fields other than the four above, untouched.
	Extra map[string]json.RawMessage
}

// Cell is one notebook cell. ExecutionCount and Outputs are used only by
// code cells.
type Cell struct {
	ID       string
	CellType string
	Metadata json.RawMessage
	Source   string
	// ExecutionCount is nil for a cell never executed (null in the file).
	ExecutionCount *int
	Outputs        []*Output
	// Extra holds the cell's other fields (attachments, ...), untouched.
	Extra map[string]json.RawMessage
}

// Output types.
const (
	Stream        = "stream"
	DisplayData   = "display_data"
	ExecuteResult = "execute_result"
	Error         = "error"
)

// Output is one output of a code cell. Which fields are used depends on
// OutputType: Name and Text for stream; Data and Metadata for display_data
// and execute_result (plus ExecutionCount); EName, EValue and Traceback for
// error.
type Output struct {
	OutputType     string
	Name           string
	Text           string
	Data           MimeBundle
	Metadata       json.RawMessage
	ExecutionCount *int
	EName          string
	EValue         string
	Traceback      []string
	// Extra holds fields not listed above, untouched.
	Extra map[string]json.RawMessage
}

// MimeBundle maps a MIME type to its value as JSON. Values of JSON types
// (application/json, */*+json) are kept as they came; values of other types
// are JSON strings, joined if they came as a list of lines.
type MimeBundle map[string]json.RawMessage

// IsJSONMime reports whether values of MIME type mime are JSON documents
// rather than text: application/json and any type ending in +json.
func IsJSONMime(mime string) bool {
	return mime == "application/json" || strings.HasSuffix(mime, "+json")
}

// Text returns the text value of mime, and whether there is one.
func (b MimeBundle) Text(mime string) (string, bool) {
	raw, ok := b[mime]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// SetText sets the value of mime to the text s.
func (b MimeBundle) SetText(mime, s string) {
	b[mime] = mustMarshal(s)
}

// New returns an empty notebook of the current format version.
func New() *Notebook {
	return &Notebook{NBFormat: Major, NBFormatMinor: Minor, Metadata: json.RawMessage("{}")}
}

// NewCell returns a cell of type cellType with source and a fresh id.
func NewCell(cellType, source string) *Cell {
	return &Cell{ID: NewCellID(), CellType: cellType, Source: source, Metadata: json.RawMessage("{}")}
}

// NewCellID returns a random cell id as nbformat makes them: 8 hex digits.
func NewCellID() string {
	var b [4]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return fmt.Sprintf("%x", b)
}

// ReadFile reads the notebook at path.
func ReadFile(path string) (*Notebook, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nbformat: %w", err)
	}
	nb, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return nb, nil
}

// Read reads a notebook from r.
func Read(r io.Reader) (*Notebook, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("nbformat: %w", err)
	}
	return Parse(data)
}

// ErrMalformed is returned (wrapped) for input that is not an nbformat v4
// notebook.
var ErrMalformed = errors.New("nbformat: malformed notebook")

// Parse decodes a notebook from its JSON. It fails, with an error wrapping
// ErrMalformed that names the problem, on input that is not JSON, whose
// nbformat is not 4, that has no cells list, or whose cells or outputs are
// not of the expected shapes.
func Parse(data []byte) (*Notebook, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", ErrMalformed, err)
	}
	nb := &Notebook{}
	raw, ok := take(fields, "nbformat")
	if !ok {
		return nil, fmt.Errorf("%w: no nbformat version", ErrMalformed)
	}
	if err := json.Unmarshal(raw, &nb.NBFormat); err != nil {
		return nil, fmt.Errorf("%w: nbformat: %v", ErrMalformed, err)
	}
	if nb.NBFormat != Major {
		return nil, fmt.Errorf("%w: nbformat %d, only %d is supported (convert it with jupyter nbconvert --to notebook)", ErrMalformed, nb.NBFormat, Major)
	}
	if raw, ok := take(fields, "nbformat_minor"); ok {
		if err := json.Unmarshal(raw, &nb.NBFormatMinor); err != nil {
			return nil, fmt.Errorf("%w: nbformat_minor: %v", ErrMalformed, err)
		}
	}
	nb.Metadata, _ = take(fields, "metadata")
	if nb.Metadata == nil {
		nb.Metadata = json.RawMessage("{}")
	} else if !isObject(nb.Metadata) {
		return nil, fmt.Errorf("%w: metadata is not an object", ErrMalformed)
	}
	raw, ok = take(fields, "cells")
	if !ok {
		return nil, fmt.Errorf("%w: no cells", ErrMalformed)
	}
	var cells []json.RawMessage
	if err := json.Unmarshal(raw, &cells); err != nil {
		return nil, fmt.Errorf("%w: cells is not a list", ErrMalformed)
	}
	for i, rc := range cells {
		c, err := parseCell(rc)
		if err != nil {
			return nil, fmt.Errorf("%w: cell %d: %v", ErrMalformed, i+1, err)
		}
		nb.Cells = append(nb.Cells, c)
	}
	if len(fields) > 0 {
		nb.Extra = fields
	}
	return nb, nil
}

func parseCell(data json.RawMessage) (*Cell, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, errors.New("not an object")
	}
	c := &Cell{}
	if err := takeString(fields, "cell_type", &c.CellType); err != nil {
		return nil, err
	}
	switch c.CellType {
	case Code, Markdown, Raw:
	case "":
		return nil, errors.New("no cell_type")
	default:
		return nil, fmt.Errorf("unknown cell_type %q", c.CellType)
	}
	if err := takeString(fields, "id", &c.ID); err != nil {
		return nil, err
	}
	c.Metadata, _ = take(fields, "metadata")
	if c.Metadata == nil {
		c.Metadata = json.RawMessage("{}")
	} else if !isObject(c.Metadata) {
		return nil, errors.New("metadata is not an object")
	}
	if raw, ok := take(fields, "source"); ok {
		s, err := multiline(raw)
		if err != nil {
			return nil, fmt.Errorf("source: %v", err)
		}
		c.Source = s
	}
	if c.CellType == Code {
		if raw, ok := take(fields, "execution_count"); ok {
			if err := json.Unmarshal(raw, &c.ExecutionCount); err != nil {
				return nil, fmt.Errorf("execution_count: %v", err)
			}
		}
		if raw, ok := take(fields, "outputs"); ok {
			var outs []json.RawMessage
			if err := json.Unmarshal(raw, &outs); err != nil {
				return nil, errors.New("outputs is not a list")
			}
			for j, ro := range outs {
				o, err := parseOutput(ro)
				if err != nil {
					return nil, fmt.Errorf("output %d: %v", j+1, err)
				}
				c.Outputs = append(c.Outputs, o)
			}
		}
	}
	if len(fields) > 0 {
		c.Extra = fields
	}
	return c, nil
}

func parseOutput(data json.RawMessage) (*Output, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, errors.New("not an object")
	}
	o := &Output{}
	if err := takeString(fields, "output_type", &o.OutputType); err != nil {
		return nil, err
	}
	switch o.OutputType {
	case Stream:
		if err := takeString(fields, "name", &o.Name); err != nil {
			return nil, err
		}
		if raw, ok := take(fields, "text"); ok {
			s, err := multiline(raw)
			if err != nil {
				return nil, fmt.Errorf("text: %v", err)
			}
			o.Text = s
		}
	case DisplayData, ExecuteResult:
		if raw, ok := take(fields, "data"); ok {
			b, err := parseMimeBundle(raw)
			if err != nil {
				return nil, err
			}
			o.Data = b
		}
		o.Metadata, _ = take(fields, "metadata")
		if o.OutputType == ExecuteResult {
			if raw, ok := take(fields, "execution_count"); ok {
				if err := json.Unmarshal(raw, &o.ExecutionCount); err != nil {
					return nil, fmt.Errorf("execution_count: %v", err)
				}
			}
		}
	case Error:
		if err := takeString(fields, "ename", &o.EName); err != nil {
			return nil, err
		}
		if err := takeString(fields, "evalue", &o.EValue); err != nil {
			return nil, err
		}
		if raw, ok := take(fields, "traceback"); ok {
			if err := json.Unmarshal(raw, &o.Traceback); err != nil {
				return nil, fmt.Errorf("traceback: %v", err)
			}
		}
	case "":
		return nil, errors.New("no output_type")
	}
	if len(fields) > 0 {
		o.Extra = fields
	}
	return o, nil
}

// ParseMimeBundle decodes a mime bundle as found in a notebook or in a
// display_data or execute_result message: text values may be strings or
// lists of lines.
func ParseMimeBundle(raw json.RawMessage) (MimeBundle, error) {
	return parseMimeBundle(raw)
}

func parseMimeBundle(raw json.RawMessage) (MimeBundle, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errors.New("data is not an object")
	}
	b := make(MimeBundle, len(m))
	for mime, v := range m {
		if IsJSONMime(mime) {
			b[mime] = v
			continue
		}
		s, err := multiline(v)
		if err != nil {
			b[mime] = v // not text after all: keep it as it came
			continue
		}
		b[mime] = mustMarshal(s)
	}
	return b, nil
}

// multiline decodes a string given as a JSON string or list of strings.
func multiline(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return "", errors.New("neither a string nor a list of strings")
	}
	return strings.Join(lines, ""), nil
}

// splitLines splits s into lines that keep their "\n", as Python's
// str.splitlines(True) does for notebook text; "" gives no lines.
func splitLines(s string) []string {
	lines := []string{}
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}

func take(fields map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	v, ok := fields[key]
	delete(fields, key)
	return v, ok
}

func takeString(fields map[string]json.RawMessage, key string, dst *string) error {
	raw, ok := take(fields, key)
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%s is not a string", key)
	}
	return nil
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{' && json.Valid(raw)
}

// MarshalJSON encodes the notebook with sorted keys.
func (nb *Notebook) MarshalJSON() ([]byte, error) {
	f := cloneFields(nb.Extra)
	f["nbformat"] = mustMarshal(nb.NBFormat)
	f["nbformat_minor"] = mustMarshal(nb.NBFormatMinor)
	f["metadata"] = objectOrEmpty(nb.Metadata)
	cells := make([]json.RawMessage, len(nb.Cells))
	for i, c := range nb.Cells {
		b, err := c.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("cell %d: %w", i+1, err)
		}
		cells[i] = b
	}
	f["cells"] = mustMarshal(cells)
	return marshal(f)
}

// MarshalJSON encodes the cell with sorted keys and source as a list of
// lines.
func (c *Cell) MarshalJSON() ([]byte, error) {
	f := cloneFields(c.Extra)
	if c.ID != "" {
		f["id"] = mustMarshal(c.ID)
	}
	f["cell_type"] = mustMarshal(c.CellType)
	f["metadata"] = objectOrEmpty(c.Metadata)
	f["source"] = mustMarshal(splitLines(c.Source))
	if c.CellType == Code {
		f["execution_count"] = mustMarshal(c.ExecutionCount)
		outs := make([]json.RawMessage, len(c.Outputs))
		for i, o := range c.Outputs {
			b, err := o.MarshalJSON()
			if err != nil {
				return nil, fmt.Errorf("output %d: %w", i+1, err)
			}
			outs[i] = b
		}
		f["outputs"] = mustMarshal(outs)
	}
	return marshal(f)
}

// MarshalJSON encodes the output with sorted keys and text as lists of
// lines.
func (o *Output) MarshalJSON() ([]byte, error) {
	f := cloneFields(o.Extra)
	f["output_type"] = mustMarshal(o.OutputType)
	switch o.OutputType {
	case Stream:
		f["name"] = mustMarshal(o.Name)
		f["text"] = mustMarshal(splitLines(o.Text))
	case DisplayData, ExecuteResult:
		data := make(map[string]json.RawMessage, len(o.Data))
		for mime, v := range o.Data {
			if s, ok := o.Data.Text(mime); ok && !IsJSONMime(mime) {
				data[mime] = mustMarshal(splitLines(s))
			} else {
				data[mime] = v
			}
		}
		f["data"] = mustMarshal(data)
		f["metadata"] = objectOrEmpty(o.Metadata)
		if o.OutputType == ExecuteResult {
			f["execution_count"] = mustMarshal(o.ExecutionCount)
		}
	case Error:
		f["ename"] = mustMarshal(o.EName)
		f["evalue"] = mustMarshal(o.EValue)
		tb := o.Traceback
		if tb == nil {
			tb = []string{}
		}
		f["traceback"] = mustMarshal(tb)
	}
	return marshal(f)
}

// cloneFields returns a copy of m, never nil (maps.Clone keeps a nil map
// nil), with room for the fields the marshalers add.
func cloneFields(m map[string]json.RawMessage) map[string]json.RawMessage {
	f := make(map[string]json.RawMessage, len(m)+6)
	maps.Copy(f, m)
	return f
}

func objectOrEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("{}")
	}
	return raw
}

// marshal encodes v without escaping <, > and &, as Python's json does.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func mustMarshal(v any) json.RawMessage {
	b, err := marshal(v)
	if err != nil {
		panic(fmt.Sprintf("nbformat: marshal %T: %v", v, err))
	}
	return b
}

// Write writes nb to w as nbformat does: sorted keys, one-space
// indentation, a final newline.
func Write(w io.Writer, nb *Notebook) error {
	data, err := Marshal(nb)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// Marshal returns the file content of nb (see Write).
func Marshal(nb *Notebook) ([]byte, error) {
	compact, err := nb.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("nbformat: %w", err)
	}
	// Sort the keys of every object, raw metadata included, as nbformat
	// does; json.Number keeps numbers as written.
	dec := json.NewDecoder(bytes.NewReader(compact))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("nbformat: %w", err)
	}
	if compact, err = marshal(doc); err != nil {
		return nil, fmt.Errorf("nbformat: %w", err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, compact, "", " "); err != nil {
		return nil, fmt.Errorf("nbformat: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// WriteFile writes nb to path (see Write), atomically: through a temporary
// file in the same directory renamed over path.
func WriteFile(path string, nb *Notebook) error {
	data, err := Marshal(nb)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("nbformat: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("nbformat: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("nbformat: %w", err)
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	os.Chmod(tmp.Name(), mode)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("nbformat: %w", err)
	}
	return nil
}
