package store_test

import (
	"os"
	"testing"

	"github.com/gavelbot/gavel/internal/testmain"
)

// TestMain runs up to 4 of the package's tests at once, 2 under -race (testmain.Parallel):
// each has a SQLite file and a PostgreSQL schema of its own and mostly waits on them (the
// package's tests took 11-14 s one after another).
func TestMain(m *testing.M) {
	testmain.Parallel(4, 2)
	os.Exit(m.Run())
}
