package tools_test

import (
	"os"
	"testing"

	"github.com/gavelbot/gavel/internal/testmain"
)

// TestMain runs up to 4 of the package's tests at once, 2 under -race (testmain.Parallel):
// the tests that touch a database or the fake Discord have their own and wait on them.
func TestMain(m *testing.M) {
	testmain.Parallel(4, 2)
	os.Exit(m.Run())
}
