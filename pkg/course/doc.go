// Package course holds the few helpers the course notebook needs that are
// about the notebook itself, not about federated or split learning (those
// live in pkg/fl, pkg/fl/secagg, pkg/split and pkg/viz):
//
//   - [SVG] and [HTML] show a picture or an HTML fragment in the cell's
//     output when the program runs in GoNB, and a one-line note otherwise;
//     [Printf] writes a line of text in order with them;
//   - [Progress] is a status line that a long computation rewrites in place
//     (a GoNB display that is updated, or plain lines on a terminal);
//   - [Keep] keeps the result of an expensive computation for the rest of
//     the kernel session, since GoNB runs every cell as a new program and
//     only declarations, not values, survive from one cell to the next;
//   - [Yours] hands a student's function to the demonstrations, with the
//     reference in its place (and a line saying so) while the exercise is
//     not done;
//   - [Test] runs an exercise's checks and makes the cell fail with a
//     message that says what is wrong, or that the exercise is not written
//     yet.
//
// Every helper works outside a notebook too (in tests and command-line
// programs), so the notebook's cells can be exercised by go test.
package course
