package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/alecthomas/kong"
)

type versionCmd struct{}

func (versionCmd) Run(rt *Runtime) error {
	return writeVersion(rt.Stdout)
}

// versionFlag is --version, which prints what the version command prints and stops, as
// users of other tools expect.
type versionFlag bool

// BeforeReset runs while kong parses, before any command: like --help, the flag answers
// and exits whatever else the command line holds.
func (versionFlag) BeforeReset(app *kong.Kong) error {
	if err := writeVersion(app.Stdout); err != nil {
		return err
	}
	app.Exit(0)
	return nil
}

// writeVersion prints the version (from -ldflags, else from the module's build info), the
// commit the binary was built from, and the Go version.
func writeVersion(w io.Writer) error {
	v, commit := version, "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		// `go install …@v1.2.3` records the module version; a -X flag still wins over it.
		if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified {
			commit += " (modified)"
		}
	}
	_, err := fmt.Fprintf(w, "version: %s\ncommit: %s\ngo: %s\n", v, commit, runtime.Version())
	return err
}
