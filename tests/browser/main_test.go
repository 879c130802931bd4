package browser

import (
	"os"
	"testing"

	"github.com/ppml-go/ppml/internal/reaper"
)

// TestMain lets the kernels these tests start run under their guardian
// (internal/reaper), as they do under ppml: the test binary is re-executed as
// the guardian between the runner and each kernel.
func TestMain(m *testing.M) {
	reaper.Main()
	os.Exit(m.Run())
}
