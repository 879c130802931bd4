// Package front is the Go kernel the course ships: a thin front process that
// Jupyter starts, in front of a GoNB kernel that it runs as its child.
//
// The front binds the five sockets of the connection file Jupyter gives it,
// starts GoNB on sockets of its own on 127.0.0.1, and passes messages through,
// re-signed with each side's key. It adds what a student would miss in GoNB:
//
//   - is_complete_request, which GoNB leaves unanswered so that jupyter console
//     and kernel test suites hang, is answered by the front from Go's scanner
//     (see IsComplete); history_request is answered from the front's record
//     of the cells clients ran.
//   - Replies to control requests (shutdown, interrupt), which GoNB sends on
//     the shell socket, reach the client on the control socket.
//   - A panicking cell produces one error output, named "panic", whose value is
//     the panic's and whose traceback is the goroutine trace mapped to cell
//     lines, instead of stderr streams, an HTML block and an error that says
//     only "exit status 2"; its execute_reply says the same. A cell that does
//     not compile gets an error named "compile error" carrying the compiler's
//     messages mapped to cell lines, instead of "failed to run go build"
//     (GoNB's HTML listing of them stays).
//   - An inspect_reply in which GoNB has only an error text to show says
//     found=false.
//   - Messages passed through keep their header bytes (see package jupyter):
//     an empty username, as JupyterLab's client sends it, stays "".
//   - Before the first request, the notebook's module (GoNB's temporary
//     directory) is made to require the project, replaced by its checkout, and
//     the project's requirements, with the project's go.sum: every project
//     package, GoMLX and gonbui then resolve at the versions pinned by the
//     project's go.mod, without asking the module proxy for anything.
//   - GoNB builds cells with "go build -mod=mod" instead of running "go get"
//     before every cell, and without DWARF (see buildFlags), which more than
//     halves the compile time of the course's notebook.
//
// The GoNB child never outlives the front: it runs under a guardian (package
// internal/reaper) that stops it and kills all it started when the front
// dies, however it dies; the front stops it on every way out, and as a child
// subreaper the front also collects and kills what GoNB or its guardian
// leaves behind (cell programs, gopls).
package front
