package front

import "github.com/ppml-go/ppml/kernel/gonbcell"

// Completeness is the status of an is_complete_reply.
type Completeness = gonbcell.Completeness

// The statuses of is_complete_reply that IsComplete returns.
const (
	Complete   = gonbcell.Complete   // the cell can run as it is
	Incomplete = gonbcell.Incomplete // more lines are needed (open bracket, trailing operator, ...)
	Invalid    = gonbcell.Invalid    // no continuation can make it valid Go
)

// IsComplete tells whether a GoNB cell is ready to run, as a console asks
// before it runs what the user typed; see gonbcell.IsComplete.
func IsComplete(code string) (status Completeness, indent string) {
	return gonbcell.IsComplete(code)
}
