package disgoport_test

import (
	"os"
	"testing"

	"github.com/gavelbot/gavel/internal/testmain"
)

// TestMain runs up to 4 of the package's tests at once, 2 under -race (testmain.Parallel):
// each test has a fake Discord (or a limiter) of its own; the ones on a clock run in a synctest bubble.
func TestMain(m *testing.M) {
	testmain.Parallel(4, 2)
	os.Exit(m.Run())
}
