package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

type versionCmd struct{}

func (versionCmd) Run(rt *Runtime) error {
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
	_, err := fmt.Fprintf(rt.Stdout, "version: %s\ncommit: %s\ngo: %s\n", v, commit, runtime.Version())
	return err
}
