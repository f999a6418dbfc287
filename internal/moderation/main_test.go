package moderation_test

import (
	"os"
	"testing"

	"github.com/gavelbot/gavel/internal/testmain"
)

// TestMain runs up to 8 of the package's tests at once, 2 under -race (testmain.Parallel):
// each runs a coordinator against a fake Discord of its own and a store of its own, and
// mostly waits on them (the package's 52 tests took 54 s one after another on 8 s of CPU).
//
// With benchFakeEnv set the binary is the expiry benchmarks' fake Discord instead
// (fake_process_test.go).
func TestMain(m *testing.M) {
	if spec := os.Getenv(benchFakeEnv); spec != "" {
		os.Exit(runBenchFake(spec, os.Stdin, os.Stdout, os.Stderr))
	}
	testmain.Parallel(8, 2)
	os.Exit(m.Run())
}
