package main

import (
	"io"
	"path/filepath"

	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/store"
)

// Globals are the flags every command accepts, before or after the command name.
type Globals struct {
	ConfigFile string `name:"config" short:"c" default:"gavel.toml" placeholder:"FILE" help:"Configuration file. The default is read if it exists; a file named here must exist."`
	Database   string `placeholder:"URL" help:"Database URL (overrides database.url): sqlite:PATH or postgres://user:pass@host:port/db."`
	LogLevel   string `placeholder:"LEVEL" help:"Log level (overrides log.level): debug, info, warn or error."`
	LogFormat  string `placeholder:"FORMAT" help:"Log format (overrides log.format): text or json."`
}

// Runtime is what a command's Run method receives besides the context: the global flags and
// the process's streams and environment. Commands use these instead of os.Stdout or
// os.Getenv, so that tests run them in-process.
type Runtime struct {
	Globals Globals
	// Dir is the directory relative paths are taken from: the configuration file, the files
	// a command reads or writes, and the SQLite file of the database URL. Empty means the
	// process's working directory, as in the binary; tests give each run a directory of its
	// own instead of changing the process's, which would keep them from running in parallel.
	Dir       string
	Stdout    io.Writer
	Stderr    io.Writer
	LookupEnv func(string) (string, bool)
	// Abort closes on a second interrupt: stop at once rather than let work finish.
	Abort <-chan struct{}

	// configRequired is true when --config was given: a file the user named must exist.
	configRequired bool
}

// LoadConfig builds the effective configuration (defaults, file, environment, then the
// global flags) and validates it.
func (rt *Runtime) LoadConfig() (config.Config, error) {
	cfg, err := config.Load(rt.path(rt.Globals.ConfigFile), rt.configRequired, rt.LookupEnv)
	if err != nil {
		return config.Config{}, err
	}
	if rt.Globals.Database != "" {
		cfg.Database.URL = rt.Globals.Database
	}
	if rt.Globals.LogLevel != "" {
		cfg.Log.Level = rt.Globals.LogLevel
	}
	if rt.Globals.LogFormat != "" {
		cfg.Log.Format = rt.Globals.LogFormat
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// path is p taken from rt.Dir: p itself when it is absolute, empty, "-" (standard output)
// or when Dir is empty.
func (rt *Runtime) path(p string) string {
	if rt.Dir == "" || p == "" || p == "-" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(rt.Dir, p)
}

// databaseURL is url with a relative SQLite path taken from rt.Dir; any other URL, or one
// that does not parse (opening it says why), is returned as it is.
func (rt *Runtime) databaseURL(url string) string {
	loc, err := store.ParseURL(url)
	if err != nil {
		return url
	}
	file, ok := loc.File()
	if rt.Dir == "" || !ok || filepath.IsAbs(file) {
		return url
	}
	return "sqlite:" + filepath.Join(rt.Dir, file)
}
