// Package grade is the course's autograder: it makes the student release of
// a notebook, checks a student's notebook, and grades a class's submissions
// in a sandbox, with nbgrader's notebook format so that courses move between
// the two.
//
// Cells have nbgrader's roles (metadata.nbgrader, schema 3): answer cells
// (solution), tests (grade cells of code, with points) and locked cells.
// In the teacher's source, "// BEGIN SOLUTION" / "// END SOLUTION" mark the
// answers and "// BEGIN HIDDEN TESTS" / "// END HIDDEN TESTS" the tests
// students do not see. Assign makes the release (`ppml assign`): answers
// replaced by a stub that compiles and panics with "not implemented yet",
// hidden tests removed, checksums recorded.
//
// A Grader (`ppml autograde`) grades each submission in a fresh kernel of
// its own (KernelExecutor, through kernel/runner, sandboxed by package
// sandbox, as root or as a normal user; SANDBOX.md says what that
// guarantees): Restore puts back the
// source's locked cells and tests, hidden tests included, and reports
// tampering; a test scores its points when its cell runs to its end without
// error. Validate (`ppml validate`) runs a student's own notebook and
// grades its visible tests.
//
// What runs. A GoNB kernel keeps nothing of a cell but its declarations, so
// by default the grader runs the test cells whole and, of the other code
// cells above the last test, only their declarations (the part before
// "%%"): the demonstrations and training runs of the notebook, which cannot
// change a test's result, are not run for every student (Grader.RunAll runs
// everything, as nbgrader does). The cells of declarations before a test
// (the course's helpers, the answer) are built with the test as one program,
// since a build is most of what a cell costs; they run one by one only when
// that does not compile.
//
// An answer that does not compile. GoNB drops the declarations of a cell
// that does not compile, so every later cell that uses them would fail to
// compile too. The grader runs the release's stub of that cell in its
// place: its tests get status "compile-error" with the compiler's message,
// the cells after it compile, the exercises that do not use it are graded
// as usual, and those that call it fail with a message naming the cell to
// fix. The teacher's solution is never substituted: a broken answer must
// not be worth more than a wrong one.
//
// Submissions come as courses hand them in (FindSubmissions): a directory
// of notebooks or of students' directories, nbgrader's submitted/ tree, or
// a learning platform's zip export; files that must not be read (links,
// FIFOs, devices, over the size limit, two notebooks for one student) are
// refused unread.
//
// A failure of the grader is never a student's zero. When the kernel does
// not start, the sandbox fails, the disk is full or the notebook's own
// cells fail before any student code ran, the submission is not graded
// (Grade.NotGraded says why) and no score is recorded; Grader.Check runs
// the student release first, so that a class is not graded on a broken
// kernel, and Resume grades again only what was not graded.
//
// Results go to a gradebook (WriteGradebook: gradebook.csv, one row per
// student with a column of points per test; gradebook-tests.csv, one row
// per student and test; gradebook.json) and one HTML feedback page per
// student, and Summary tells the teacher how the run went.
//
// Programs that grade in the sandbox call sandbox.Main first thing in main
// (and TestMain): the sandbox runs the program itself as its helpers.
package grade
