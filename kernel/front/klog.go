package front

import (
	"bytes"
	"io"
	"regexp"
	"sync"
)

// klogHeader matches the header of a klog record: severity, date, time.
var klogHeader = regexp.MustCompile(`^[IWEF]\d{4} \d\d:\d\d:\d\d`)

// klogNoise matches GoNB's warnings that say nothing to a user: the samples
// its logging setup prints, and a kernel id it cannot find in the name of
// the connection file of a kernel started by hand.
var klogNoise = regexp.MustCompile(`\] .*(Warning message|Error message|Could not parse Jupyter KernelId)`)

// klogFilter passes GoNB's log to w line by line, dropping informational
// records (and the lines that continue them) unless verbose.
type klogFilter struct {
	mu      sync.Mutex
	w       io.Writer
	verbose bool
	partial []byte
	drop    bool // the current record is informational
}

func (f *klogFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.partial = append(f.partial, p...)
	for {
		i := bytes.IndexByte(f.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := f.partial[:i+1]
		if klogHeader.Match(line) {
			f.drop = !f.verbose && (line[0] == 'I' || klogNoise.Match(line))
		}
		if !f.drop {
			if _, err := f.w.Write(line); err != nil {
				return len(p), err
			}
		}
		f.partial = f.partial[i+1:]
	}
}
