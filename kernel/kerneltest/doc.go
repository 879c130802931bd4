// Package kerneltest tests the kernel the course ships, the ppml-go
// kernelspec written by scripts/install-kernel.sh, from outside, as Jupyter
// uses it: Jupyter's own kernel test suite (test_ppml_kernel.py) and a cell
// importing each package of the project.
//
// The tests install the kernelspec into a temporary prefix and drive it with
// Python's jupyter_client; they are skipped with -short and when Debian's
// python3-jupyter-kernel-test (which brings python3-jupyter-client) is not
// installed.
package kerneltest
