package discordtest_test

import (
	"os"
	"testing"

	"github.com/gavelbot/gavel/internal/testmain"
)

// TestMain runs up to 4 of the package's tests at once, 2 under -race (testmain.Parallel):
// each test runs a fake of its own on a port of its own and mostly waits on its HTTP and WebSocket round trips.
func TestMain(m *testing.M) {
	testmain.Parallel(4, 2)
	os.Exit(m.Run())
}
