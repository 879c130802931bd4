// Package notebooks holds the course notebook and its checks; it has no
// code of its own.
//
//   - source/ppml-course.ipynb is the teachers' notebook: the exercises'
//     solutions between "// BEGIN SOLUTION" and "// END SOLUTION", hidden
//     tests between "// BEGIN HIDDEN TESTS" and "// END HIDDEN TESTS", and
//     nbgrader metadata on the cells.
//
//   - ppml-course.ipynb is the students' release, made from the source by
//     "ppml assign" and never edited by hand:
//
//     ppml assign notebooks/source/ppml-course.ipynb -o notebooks/ppml-course.ipynb
//
// The tests check that the release is exactly what assign makes of the
// source, and run both notebooks on the course's Go kernel (installed by
// scripts/install-kernel.sh): the source with every exercise's test
// passing, the release to the end with every exercise reported as not
// implemented yet. Helpers the notebook's cells use live in pkg/course.
package notebooks
