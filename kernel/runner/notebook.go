package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ppml-go/ppml/kernel/nbformat"
)

// RunOptions configure RunNotebook.
type RunOptions struct {
	Options
	// Spec is the kernel to use; if nil, the kernelspec named KernelName,
	// or else the one named in the notebook's metadata.kernelspec.name, is
	// looked up with FindSpec.
	Spec       *Spec
	KernelName string
	// Timeout bounds each cell (0: no bound).
	Timeout time.Duration
	// AllowErrors keeps executing after a cell fails (error, timeout, dead
	// kernel: the kernel is then restarted); otherwise the remaining code
	// cells are skipped.
	AllowErrors bool
	// Progress, if not nil, is called when a code cell starts (Status
	// StatusRunning) and when it ends.
	Progress func(CellReport)
}

// CellReport is the outcome of one code cell.
type CellReport struct {
	// Index is the cell's position in the notebook (0-based); Number is its
	// position among the code cells (1-based) of Total.
	Index, Number, Total int
	ID                   string
	Status               Status
	ExecutionCount       int
	EName, EValue        string
	Traceback            []string
	// Message explains a status other than ok.
	Message  string
	Duration time.Duration
}

// Report is the outcome of RunNotebook.
type Report struct {
	Kernel   string
	Cells    []CellReport // one per non-empty code cell, in order
	Duration time.Duration
}

// Failed returns the reports of the cells that did not end ok (skipped
// cells excluded).
func (r *Report) Failed() []CellReport {
	var f []CellReport
	for _, c := range r.Cells {
		if c.Status != StatusOK && c.Status != StatusSkipped {
			f = append(f, c)
		}
	}
	return f
}

// CellError is the error of a cell that did not end ok.
type CellError struct{ Cell CellReport }

func (e *CellError) Error() string {
	c := e.Cell
	name := fmt.Sprintf("cell %d", c.Index+1)
	if c.ID != "" {
		name += " (id " + c.ID + ")"
	}
	return fmt.Sprintf("%s: %s: %s", name, c.Status, c.Message)
}

// Err returns a *CellError for the first failed cell, or nil.
func (r *Report) Err() error {
	if f := r.Failed(); len(f) > 0 {
		return &CellError{f[0]}
	}
	return nil
}

// KernelName returns the kernelspec name in the notebook metadata, or "".
func KernelName(nb *nbformat.Notebook) string {
	var md struct {
		Kernelspec struct {
			Name string `json:"name"`
		} `json:"kernelspec"`
	}
	json.Unmarshal(nb.Metadata, &md)
	return md.Kernelspec.Name
}

// RunNotebook starts a kernel, executes the notebook's code cells in order,
// writing their outputs and execution counts into nb as nbclient does
// (empty cells are left alone), and shuts the kernel down. The report says
// how each cell ended; the error is for failures to run at all (no kernel,
// ctx done). Cells that failed are not errors: see Report.Err.
func RunNotebook(ctx context.Context, nb *nbformat.Notebook, opts RunOptions) (*Report, error) {
	spec := opts.Spec
	if spec == nil {
		name := opts.KernelName
		if name == "" {
			name = KernelName(nb)
		}
		if name == "" {
			return nil, errors.New("runner: the notebook names no kernel (metadata.kernelspec.name): choose one")
		}
		var err error
		if spec, err = FindSpec(name); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	rep := &Report{Kernel: spec.Name}
	var code []int
	for i, c := range nb.Cells {
		if c.CellType == nbformat.Code && strings.TrimSpace(c.Source) != "" {
			code = append(code, i)
		}
	}
	k, err := Start(ctx, spec, opts.Options)
	if err != nil {
		return nil, err
	}
	defer k.Shutdown()
	setLanguageInfo(nb, k.Info())
	progress := func(cr CellReport) {
		if opts.Progress != nil {
			opts.Progress(cr)
		}
	}
	stopped := false
	for n, i := range code {
		cell := nb.Cells[i]
		cr := CellReport{Index: i, Number: n + 1, Total: len(code), ID: cell.ID}
		if stopped {
			cr.Status = StatusSkipped
			cr.Message = "not executed: an earlier cell failed"
			rep.Cells = append(rep.Cells, cr)
			continue
		}
		cr.Status = StatusRunning
		progress(cr)
		cell.Outputs, cell.ExecutionCount = nil, nil
		res, err := k.Execute(ctx, cell.Source, opts.Timeout)
		if err != nil {
			if errors.Is(err, ErrDead) && opts.AllowErrors {
				// Died in an earlier cell and the restart failed then.
				cr.Status, cr.Message = StatusDied, err.Error()
				rep.Cells = append(rep.Cells, cr)
				progress(cr)
				stopped = true
				continue
			}
			rep.Duration = time.Since(start)
			return rep, err
		}
		cell.Outputs = res.Outputs
		if res.ExecutionCount > 0 {
			ec := res.ExecutionCount
			cell.ExecutionCount = &ec
		}
		cr.Status, cr.ExecutionCount, cr.Duration = res.Status, res.ExecutionCount, res.Duration
		cr.EName, cr.EValue, cr.Traceback, cr.Message = res.EName, res.EValue, res.Traceback, res.Message
		rep.Cells = append(rep.Cells, cr)
		progress(cr)
		if res.Status == StatusOK {
			continue
		}
		if !opts.AllowErrors {
			stopped = true
			continue
		}
		if res.Status == StatusDied {
			if err := k.Restart(ctx); err != nil {
				stopped = true
			}
		}
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// setLanguageInfo copies language_info from the kernel_info_reply into the
// notebook metadata, as nbclient does.
func setLanguageInfo(nb *nbformat.Notebook, info json.RawMessage) {
	var reply struct {
		LanguageInfo json.RawMessage `json:"language_info"`
	}
	if json.Unmarshal(info, &reply) != nil || len(reply.LanguageInfo) == 0 {
		return
	}
	md := map[string]json.RawMessage{}
	if json.Unmarshal(nb.Metadata, &md) != nil || md == nil {
		md = map[string]json.RawMessage{}
	}
	md["language_info"] = reply.LanguageInfo
	if b, err := json.Marshal(md); err == nil {
		nb.Metadata = b
	}
}
