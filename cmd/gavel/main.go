// Command gavel is the Discord moderation engine's binary. Each command is a kong struct:
// the groups and their commands are fields of cli, and a command's Run method does the work.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord"
)

// version is set at link time with -ldflags "-X main.version=v1.2.3". It is the binary's
// only package-level state, because a linker flag can set nothing else.
var version = "dev"

// Exit codes: 1 for a command that failed, 2 for a command line kong could not parse.
const (
	exitFailure = 1
	exitUsage   = 2
)

// cli is the whole command line. A command group is a field tagged cmd:"" whose type holds
// its commands as further cmd:"" fields; a command is a type with a Run method, whose
// parameters kong fills by type from what run binds: context.Context and *Runtime.
type cli struct {
	Globals
	VersionFlag versionFlag `name:"version" help:"Print the version, the commit and the Go version, and exit."`

	Run        runCmd        `cmd:"" help:"Open and migrate the database, then run the bot (needs DISCORD_TOKEN)."`
	Web        webCmd        `cmd:"" help:"Serve only the dashboard, beside gavel run on the same PostgreSQL database (needs DISCORD_TOKEN; no gateway)."`
	Sandbox    sandboxCmd    `cmd:"" help:"Try gavel in a browser with no token: gavel against a built-in fake Discord, with a seeded server, the dashboard and a Discord-like panel."`
	Migrate    migrateCmd    `cmd:"" help:"Apply, roll back or list the database migrations."`
	Cases      casesCmd      `cmd:"" help:"List, show and export cases."`
	Automod    automodCmd    `cmd:"" help:"AutoMod rules as code: export, plan, apply and test rules files."`
	Escalation escalationCmd `cmd:"" help:"Escalation settings (points, policies, thresholds) as code: export, plan and apply files."`
	Config     configCmd     `cmd:"" help:"Inspect the configuration."`
	Version    versionCmd    `cmd:"" help:"Print the version, the commit and the Go version."`
}

func main() {
	// The first SIGINT or SIGTERM asks for a clean stop (the commands in flight finish);
	// the second stops at once (they are cancelled, their cases stay pending and the next
	// start settles them); a third, should the process still be running, exits on the spot.
	ctx, cancel := context.WithCancel(context.Background())
	abort := make(chan struct{})
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		<-sigs
		close(abort)
		sig := <-sigs
		fmt.Fprintln(os.Stderr, "gavel: stopped by a third interrupt; cases in flight stay pending and are settled at the next start")
		code := 128 + int(syscall.SIGINT)
		if s, ok := sig.(syscall.Signal); ok {
			code = 128 + int(s)
		}
		os.Exit(code)
	}()
	code := run(ctx, abort, "", os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	signal.Stop(sigs)
	cancel()
	os.Exit(code)
}

// run is main without the process: everything it touches comes in as an argument, so tests
// call it directly and read the exit code. ctx ends on the first interrupt; abort closes on
// the second. dir is the directory relative paths are taken from (Runtime.Dir): "" for the
// process's working directory, as in the binary.
func run(ctx context.Context, abort <-chan struct{}, dir string, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	var cmdline cli
	exited := -1
	parser, err := kong.New(&cmdline,
		kong.Name("gavel"),
		kong.Description("gavel is a Discord moderation engine."),
		kong.Writers(stdout, stderr),
		// kong calls Exit after printing --help. Recording the code instead of exiting keeps
		// run testable; Parse then returns without a command to run.
		kong.Exit(func(code int) {
			if exited < 0 {
				exited = code
			}
		}),
		kong.BindTo(ctx, (*context.Context)(nil)),
	)
	if err != nil {
		return fail(stderr, exitFailure, fmt.Errorf("building the command line: %w", err))
	}
	if len(args) == 0 {
		// Without a command there is nothing to run: show what there is, as --help does.
		args = []string{"--help"}
	}
	kctx, err := parser.Parse(args)
	if exited >= 0 {
		return exited
	}
	if err != nil {
		return fail(stderr, exitUsage, err)
	}
	rt := &Runtime{
		Globals:        cmdline.Globals,
		Dir:            dir,
		Stdout:         stdout,
		Stderr:         stderr,
		LookupEnv:      lookupEnv,
		Abort:          abort,
		configRequired: flagGiven(kctx, "config"),
	}
	if err := kctx.Run(rt); err != nil {
		// A 401 means the token, whichever call met it first: say so rather than quote
		// Discord's "401: Unauthorized".
		if discord.IsStatus(err, http.StatusUnauthorized) {
			err = config.ErrTokenRefused
		}
		return fail(stderr, exitFailure, err)
	}
	return 0
}

// fail prints err as the single line "gavel: <message>" and returns code. Joined errors
// are put on the one line too, so that a log collector sees one event per failure.
func fail(stderr io.Writer, code int, err error) int {
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	fmt.Fprintf(stderr, "gavel: %s\n", msg)
	return code
}

// flagGiven reports whether the flag was on the command line, as opposed to left at its
// default.
func flagGiven(kctx *kong.Context, name string) bool {
	for _, p := range kctx.Path {
		if p.Flag != nil && p.Flag.Name == name {
			return true
		}
	}
	return false
}
