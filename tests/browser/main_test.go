package browser

import (
	"testing"

	"github.com/ppml-go/ppml/internal/reaper"
)

// TestMain lets the kernels these tests start run under their guardian, as
// under ppml.
func TestMain(m *testing.M) { reaper.RunTests(m) }
