package sandbox_test

import (
	"os"
	"testing"

	"github.com/gavelbot/gavel/internal/testmain"
)

// TestMain runs up to 4 of the package's tests at once, 2 under -race (testmain.Parallel):
// each starts a sandbox of its own on a port of its own, and the browser tests a Chromium
// of their own (chromedp gives each a profile directory of its own); they mostly wait on
// the page (the raids page's join rate is refreshed every 5 seconds). One after another
// they took 28 s.
func TestMain(m *testing.M) {
	testmain.Parallel(4, 2)
	os.Exit(m.Run())
}
