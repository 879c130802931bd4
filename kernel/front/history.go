package front

import (
	"regexp"
	"slices"
	"strings"
	"sync"
)

// history is the front's record of the cells clients ran, for
// history_request: GoNB keeps none. It lives as long as the front (a restart
// starts a new one), in session historySession.
type history struct {
	mu      sync.Mutex
	entries []historyEntry
}

// historySession is the session number of every entry: one front process,
// one session.
const historySession = 1

type historyEntry struct {
	line  int    // the cell's execution_count
	input string // its code
}

// historyRequest is the content of a history_request.
type historyRequest struct {
	Output         bool   `json:"output"`
	HistAccessType string `json:"hist_access_type"`
	Session        int    `json:"session"`
	Start          int    `json:"start"`
	Stop           int    `json:"stop"`
	N              *int   `json:"n"`
	Pattern        string `json:"pattern"`
	Unique         bool   `json:"unique"`
}

// cells returns the cells recorded, oldest first.
func (h *history) cells() []ranCell {
	h.mu.Lock()
	defer h.mu.Unlock()
	cells := make([]ranCell, len(h.entries))
	for i, e := range h.entries {
		cells[i] = ranCell{count: e.line, code: e.input}
	}
	return cells
}

// add records a cell that ran as execution_count line.
func (h *history) add(line int, input string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries = append(h.entries, historyEntry{line: line, input: input})
}

// answer returns the history entries req asks for, as history_reply lists
// them: [session, line, input], or [session, line, [input, output]] with
// req.Output (the output is always "": the front keeps none).
func (h *history) answer(req historyRequest) []any {
	h.mu.Lock()
	entries := slices.Clone(h.entries)
	h.mu.Unlock()

	var picked []historyEntry
	switch req.HistAccessType {
	case "range":
		if req.Session > 0 && req.Session != historySession {
			break
		}
		for _, e := range entries {
			if e.line >= req.Start && (req.Stop <= 0 || e.line < req.Stop) {
				picked = append(picked, e)
			}
		}
	case "search":
		re := globRegexp(req.Pattern)
		for _, e := range entries {
			if re.MatchString(e.input) {
				picked = append(picked, e)
			}
		}
		if req.Unique { // keep the last run of each input
			seen := map[string]bool{}
			var unique []historyEntry
			for i := len(picked) - 1; i >= 0; i-- {
				if !seen[picked[i].input] {
					seen[picked[i].input] = true
					unique = append(unique, picked[i])
				}
			}
			slices.Reverse(unique)
			picked = unique
		}
		picked = last(picked, req.N)
	default: // "tail"
		picked = last(entries, req.N)
	}
	out := make([]any, 0, len(picked))
	for _, e := range picked {
		if req.Output {
			out = append(out, []any{historySession, e.line, []any{e.input, ""}})
		} else {
			out = append(out, []any{historySession, e.line, e.input})
		}
	}
	return out
}

// last returns the last *n entries, or all if n is nil or not positive.
func last(entries []historyEntry, n *int) []historyEntry {
	if n != nil && *n > 0 && *n < len(entries) {
		return entries[len(entries)-*n:]
	}
	return entries
}

// globRegexp turns a history search pattern (IPython's: * any text, ? one
// character, the whole input must match; "" matches all) into a regexp.
func globRegexp(pattern string) *regexp.Regexp {
	if pattern == "" {
		pattern = "*"
	}
	quoted := regexp.QuoteMeta(pattern)
	quoted = strings.ReplaceAll(quoted, `\*`, `.*`)
	quoted = strings.ReplaceAll(quoted, `\?`, `.`)
	return regexp.MustCompile(`(?s)^` + quoted + `$`)
}
