// Package testmain holds what the TestMain of gavel's slower test packages share: how many
// of their parallel tests run at once.
package testmain

import (
	"flag"
	"strconv"
)

// Parallel makes n the default of -test.parallel, how many tests that call t.Parallel run
// at once, or underRace when the tests are built with -race; the command line (go test
// -parallel) still decides when it says. Call it in TestMain before m.Run.
//
// go test's default is GOMAXPROCS, 2 on the shared machine, which suits tests that compute.
// gavel's end-to-end tests mostly wait (on the fake Discord's rate limits, gateway
// handshakes, PostgreSQL, processes starting): internal/app's ran 173 s one after another
// on 23 s of CPU. Under -race they compute (the race detector costs each several times its
// CPU), and eight of them at once on two cores starved the fake until gavel's requests to
// it timed out: underRace keeps to about the cores.
func Parallel(n, underRace int) {
	if raceEnabled {
		n = underRace
	}
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
