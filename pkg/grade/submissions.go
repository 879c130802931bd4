package grade

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
)

// MaxSubmissionSize is the default limit on a submission file's size.
const MaxSubmissionSize = 20 << 20

// Submission is one student's notebook, as found by FindSubmissions.
type Submission struct {
	Student string
	// Path names the file: a path, or ZIP:ENTRY for a zip export's entry.
	Path string
	// Refused, when not "", is why the file is refused without being read
	// (a symbolic link, a device or FIFO, too big, several notebooks, ...).
	Refused string
	// zip is the entry of a zip export, nil for a file; max its size limit.
	zip *zip.File
	max int64
}

// read returns the submission's content, at most s.max bytes.
func (s Submission) read() ([]byte, error) {
	var r io.ReadCloser
	var err error
	if s.zip != nil {
		r, err = s.zip.Open()
	} else {
		// O_NOFOLLOW: a file replaced by a link since it was found is not read.
		var f *os.File
		f, err = os.OpenFile(s.Path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		r = f
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	limit := s.max
	if limit <= 0 {
		limit = MaxSubmissionSize
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("%w: over %d MiB", errTooBig, limit>>20) // a zip entry larger than it said
	}
	return data, err
}

// errTooBig is the error of reading a file over its size limit.
var errTooBig = errors.New("the submission is larger than the size limit")

// FindOptions are the options of FindSubmissions.
type FindOptions struct {
	// MaxSize is the largest file accepted (0: MaxSubmissionSize).
	MaxSize int64
	// IDPattern takes the student's id from the name of a zip export's file
	// (its first group); nil: DefaultIDPattern.
	IDPattern *regexp.Regexp
	// Assignment chooses the assignment in an nbgrader submitted/ tree
	// ("": the only one).
	Assignment string
}

// DefaultIDPattern takes the student id of a file in a zip export from its
// first field: NAME_ID_..._file.ipynb gives NAME.
var DefaultIDPattern = regexp.MustCompile(`^([^_]+)_`)

// FindSubmissions lists the submissions at path, one per student, in order
// of student, in any of the layouts courses hand them in:
//
//   - a directory of STUDENT.ipynb files or STUDENT/*.ipynb directories;
//   - nbgrader's tree: COURSE/submitted/STUDENT/ASSIGNMENT/*.ipynb (path is
//     COURSE or its submitted directory);
//   - a .zip export of a learning platform, whose files are named
//     NAME_ID_..._file.ipynb (the student id by opts.IDPattern).
//
// Nothing is read but directory entries and zip headers. A file that must
// not be graded is listed with the reason in Refused: a symbolic link, a
// device, FIFO or socket, a file over the size limit, a zip entry with ".."
// or an absolute path, a student with several notebooks where one is
// expected, a directory without a notebook.
func FindSubmissions(dir string, opts FindOptions) ([]Submission, error) {
	if opts.MaxSize <= 0 {
		opts.MaxSize = MaxSubmissionSize
	}
	if opts.IDPattern == nil {
		opts.IDPattern = DefaultIDPattern
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	var subs []Submission
	switch {
	case !st.IsDir() && strings.EqualFold(filepath.Ext(dir), ".zip"):
		subs, err = zipSubmissions(dir, opts)
	case !st.IsDir():
		return nil, fmt.Errorf("%s: not a directory or a .zip export", dir)
	default:
		if sd := filepath.Join(dir, "submitted"); isDir(sd) {
			dir = sd
		}
		subs, err = dirSubmissions(dir, opts)
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(subs, func(a, b Submission) int { return strings.Compare(a.Student, b.Student) })
	// One student, several submissions (alice.ipynb and alice/, or a
	// student's files in several places of an export): none is graded.
	var out []Submission
	for i := 0; i < len(subs); {
		j := i + 1
		for j < len(subs) && subs[j].Student == subs[i].Student {
			j++
		}
		if j > i+1 {
			var paths []string
			for _, s := range subs[i:j] {
				paths = append(paths, s.Path)
			}
			out = append(out, Submission{Student: subs[i].Student, Path: paths[0],
				Refused: fmt.Sprintf("refused: %d submissions (%s) where one is expected", j-i, strings.Join(paths, ", "))})
		} else {
			out = append(out, subs[i])
		}
		i = j
	}
	return out, nil
}

func isDir(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.IsDir()
}

// dirSubmissions lists the plain and nbgrader layouts.
func dirSubmissions(dir string, opts FindOptions) ([]Submission, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var subs []Submission
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), "."):
		case e.Type()&fs.ModeSymlink != 0:
			subs = append(subs, Submission{Student: strings.TrimSuffix(e.Name(), ".ipynb"), Path: p,
				Refused: "refused: the submission is a symbolic link, not a file (it was not read)"})
		case e.IsDir():
			subs = append(subs, studentDir(e.Name(), p, opts))
		case strings.HasSuffix(e.Name(), ".ipynb"):
			subs = append(subs, fileSubmission(strings.TrimSuffix(e.Name(), ".ipynb"), p, opts))
		}
	}
	return subs, nil
}

// studentDir is the submission in a student's directory: its notebook, or
// in nbgrader's layout its assignment directory's notebook.
func studentDir(student, dir string, opts FindOptions) Submission {
	nbs, _ := filepath.Glob(filepath.Join(dir, "*.ipynb"))
	if len(nbs) == 0 {
		var assignments []string
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && (opts.Assignment == "" || e.Name() == opts.Assignment) {
				assignments = append(assignments, e.Name())
			}
		}
		switch len(assignments) {
		case 0:
			if opts.Assignment != "" {
				return Submission{Student: student, Path: dir, Refused: fmt.Sprintf("no submission of assignment %s", opts.Assignment)}
			}
		case 1:
			nbs, _ = filepath.Glob(filepath.Join(dir, assignments[0], "*.ipynb"))
			dir = filepath.Join(dir, assignments[0])
		default:
			return Submission{Student: student, Path: dir,
				Refused: fmt.Sprintf("several assignments (%s): choose one with --assignment", strings.Join(assignments, ", "))}
		}
	}
	switch len(nbs) {
	case 0:
		return Submission{Student: student, Path: dir, Refused: "no .ipynb file in the submission"}
	case 1:
		return fileSubmission(student, nbs[0], opts)
	}
	names := make([]string, len(nbs))
	for i, n := range nbs {
		names[i] = filepath.Base(n)
	}
	return Submission{Student: student, Path: dir,
		Refused: fmt.Sprintf("refused: %d notebooks (%s) where one is expected: leave one", len(nbs), strings.Join(names, ", "))}
}

// fileSubmission checks a file without reading it.
func fileSubmission(student, p string, opts FindOptions) Submission {
	s := Submission{Student: student, Path: p, max: opts.MaxSize}
	st, err := os.Lstat(p)
	switch {
	case err != nil:
		s.Refused = "cannot read the submission: " + err.Error()
	case st.Mode()&fs.ModeSymlink != 0:
		s.Refused = "refused: the submission is a symbolic link, not a file (it was not read)"
	case !st.Mode().IsRegular():
		s.Refused = fmt.Sprintf("refused: the submission is not a regular file but a %s (it was not read)", fileKind(st.Mode()))
	case st.Size() > opts.MaxSize:
		s.Refused = tooBig(st.Size(), opts.MaxSize)
	}
	return s
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	case m.IsDir():
		return "directory"
	}
	return m.Type().String()
}

func tooBig(size, limit int64) string {
	return fmt.Sprintf("refused: the submission is %.1f MiB, over the %d MiB limit (clear the outputs and submit again)",
		float64(size)/(1<<20), limit>>20)
}

// zipSubmissions lists the notebooks of a zip export, by student id.
func zipSubmissions(file string, opts FindOptions) ([]Submission, error) {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	// The reader stays open for the grader's life: its entries are read
	// when graded.
	byStudent := map[string][]*zip.File{}
	var order []string
	var bad []Submission
	for _, f := range zr.File {
		name := f.Name
		if f.FileInfo().IsDir() || !strings.HasSuffix(strings.ToLower(name), ".ipynb") {
			continue
		}
		base := path.Base(name)
		id := base
		if m := opts.IDPattern.FindStringSubmatch(base); len(m) > 1 && m[1] != "" {
			id = m[1]
		} else {
			id = strings.TrimSuffix(base, path.Ext(base))
		}
		if !fs.ValidPath(strings.TrimPrefix(name, "./")) || strings.HasPrefix(name, "/") || strings.Contains(name, `\`) {
			bad = append(bad, Submission{Student: id, Path: file + ":" + name,
				Refused: fmt.Sprintf("refused: the zip entry %q has an absolute path or \"..\" (it was not read)", name)})
			continue
		}
		if _, ok := byStudent[id]; !ok {
			order = append(order, id)
		}
		byStudent[id] = append(byStudent[id], f)
	}
	subs := bad
	for _, id := range order {
		files := byStudent[id]
		s := Submission{Student: id, Path: file + ":" + files[0].Name, zip: files[0], max: opts.MaxSize}
		switch {
		case len(files) > 1:
			var names []string
			for _, f := range files {
				names = append(names, f.Name)
			}
			s.Refused = fmt.Sprintf("refused: %d notebooks (%s) where one is expected", len(files), strings.Join(names, ", "))
		case files[0].Mode()&zipSpecial != 0:
			s.Refused = "refused: the zip entry is a symbolic link or special file, not a file (it was not read)"
		case files[0].UncompressedSize64 > uint64(opts.MaxSize):
			s.Refused = tooBig(int64(min(files[0].UncompressedSize64, 1<<62)), opts.MaxSize)
		}
		subs = append(subs, s)
	}
	if len(subs) == 0 {
		zr.Close()
		return nil, errors.New(file + ": no .ipynb file in the zip export")
	}
	return subs, nil
}

// zipSpecial are the modes of zip entries that are not plain files.
const zipSpecial = fs.ModeSymlink | fs.ModeDevice | fs.ModeNamedPipe | fs.ModeSocket | fs.ModeCharDevice | fs.ModeIrregular
