// Package testmain holds what the TestMain of gavel's slower test packages share: how many
// of their parallel tests run at once.
package testmain

import (
	"flag"
	"strconv"
)

// Parallel makes n the default of -test.parallel, how many tests that call t.Parallel run
// at once, unless the command line set it (go test -parallel). Call it in TestMain before
// m.Run.
//
// go test's default is GOMAXPROCS, 2 on the shared machine, which suits tests that compute.
// gavel's end-to-end tests mostly wait (on the fake Discord's rate limits, gateway
// handshakes, PostgreSQL, processes starting): internal/app's ran 173 s one after another
// on 23 s of CPU.
func Parallel(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if err := flag.Set("test.parallel", strconv.Itoa(n)); err != nil {
			panic("testmain: " + err.Error())
		}
	}
}
