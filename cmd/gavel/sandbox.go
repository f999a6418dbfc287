package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gavelbot/gavel/internal/sandbox"
)

// sandboxCmd runs gavel against the built-in fake Discord, with no token and no network.
type sandboxCmd struct {
	Addr string `default:"127.0.0.1:8077" placeholder:"HOST:PORT" help:"Where the panel and the dashboard listen (port 0 picks a free one)."`
	DB   string `name:"db" placeholder:"FILE" help:"SQLite file to keep the sandbox's cases in across runs; by default a fresh file in a temporary directory, removed at exit."`
}

// Run starts the fake Discord and gavel in this process, seeds the server, and prints the
// URL to open once gavel is connected and set up. It reads no configuration file and no
// DISCORD_TOKEN: the sandbox is self-contained.
func (c sandboxCmd) Run(ctx context.Context, rt *Runtime) error {
	level := slog.LevelWarn
	if rt.Globals.LogLevel != "" {
		if err := level.UnmarshalText([]byte(rt.Globals.LogLevel)); err != nil {
			return fmt.Errorf("--log-level %q: want debug, info, warn or error", rt.Globals.LogLevel)
		}
	}
	log := slog.New(slog.NewTextHandler(rt.Stderr, &slog.HandlerOptions{Level: level}))
	sb, err := sandbox.New(ctx, sandbox.Options{Addr: c.Addr, Database: rt.path(c.DB), Log: log})
	if err != nil {
		return err
	}
	return sb.Run(ctx, func() {
		fmt.Fprintf(rt.Stdout, "gavel sandbox is ready: open %s\n", sb.URL())
		fmt.Fprintln(rt.Stdout, "It runs against a fake Discord in this process (no token, nothing leaves this machine); pick who you are in the panel. Ctrl-C stops it.")
		fmt.Fprintf(rt.Stdout, "The fake Discord's control API (act as any member from a program; docs/testing.md): %s\n", sb.ControlURL())
	})
}
