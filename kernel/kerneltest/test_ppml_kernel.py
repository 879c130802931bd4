"""Jupyter's kernel test suite (Debian python3-jupyter-kernel-test) on the ppml-go kernel.

Run by kernel_test.go (go test ./kernel/kerneltest), which installs the kernelspec into a temporary
prefix and points JUPYTER_PATH at it. By hand:

    JUPYTER_PATH=PREFIX/share/jupyter python3 -m unittest -v test_ppml_kernel.py

Every wait has a timeout, so a reply the kernel never sends fails its test instead of hanging.
"""

import os
import unittest

import jupyter_kernel_test
from jupyter_client.manager import start_new_kernel

# A cell compiles and runs a Go program: give it more than the suite's 15 s on a busy machine.
jupyter_kernel_test.TIMEOUT = int(os.environ.get("PPML_KERNEL_TEST_TIMEOUT", "60"))

GONBUI = 'import "github.com/janpfeifer/gonb/gonbui"\n'


class PPMLKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = os.environ.get("PPML_KERNEL_NAME", "ppml-go")

    language_name = "go"
    file_extension = ".go"

    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name=cls.kernel_name, startup_timeout=60)

    def get_non_kernel_info_reply(self, timeout=None):
        # The suite calls this without a timeout in test_completion and test_is_complete,
        # where a missing reply would hang forever.
        return super().get_non_kernel_info_reply(timeout=timeout or jupyter_kernel_test.TIMEOUT)

    def execute_helper(self, code, timeout=None, **kwargs):
        return super().execute_helper(code, timeout=timeout or jupyter_kernel_test.TIMEOUT, **kwargs)

    # Statements go after %% (GoNB's main body); declarations and imports before it.
    code_hello_world = '%%\nfmt.Println("hello, world")'

    code_stderr = 'import "os"\n%%\nfmt.Fprintln(os.Stderr, "some error")'

    # A panic is the Go cell's exception: one error output, named "panic".
    code_generate_error = '%%\npanic("boom")'

    # gonbui.Sync() waits until GoNB has published what the cell displayed: without it, output
    # still in the pipe when the program exits can be lost (a race in GoNB; see kernel/README.md).
    code_display_data = [
        {"code": GONBUI + '%%\ngonbui.DisplayHTML("<b>federated</b>")\ngonbui.Sync()', "mime": "text/html"},
        {
            "code": GONBUI + '%%\ngonbui.DisplayMarkdown("**secure** aggregation")\ngonbui.Sync()',
            "mime": "text/markdown",
        },
    ]

    completion_samples = [
        # gopls matches fuzzily.
        {"text": "%%\nfmt.Printl", "matches": {"Println", "Fprintln", "Sprintln"}},
        {"text": 'import "strings"\n%%\nstrings.ToUpp', "matches": {"ToUpper", "ToUpperSpecial"}},
    ]

    code_inspect_sample = 'import "strings"\n%%\nstrings.ToUpper'

    complete_code_samples = [
        '%%\nfmt.Println("hello")',
        "func add(a, b int) int { return a + b }",
        "x := 1",
        "var weights []float64",
        "!echo hi",
        "%%bash\necho {",
    ]
    incomplete_code_samples = [
        "func add(a, b int) int {",
        "xs := []int{1, 2,",
        "y := 1 +",
        "s := `a raw string",
        "/* a comment",
        "!echo \\",
    ]
    invalid_code_samples = [
        "}",
        "f(x]",
        '%%\nfmt.Println("hello"))',
    ]


if __name__ == "__main__":
    unittest.main()
