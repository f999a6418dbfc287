// Command fakediscord runs gavel's fake Discord (internal/discordtest: the REST API, the
// gateway and interactions) as a standalone server, to try gavel or any client by hand:
//
//	go run ./cmd/fakediscord --addr 127.0.0.1:8080 --state cmd/fakediscord/testdata/seed.json
//
// It prints the REST base URL, the gateway URL, the control API's URL (act as any member
// over HTTP; docs/testing.md) and the bot token, one key=value per line, then serves until
// SIGINT or SIGTERM. The address may also come from FAKEDISCORD_ADDR.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// Exit codes: 1 when the server cannot start, 2 for a command line that does not parse.
const (
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process, so a test can start the server and stop it by
// cancelling ctx.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fakediscord", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultAddr := "127.0.0.1:8080"
	if a := getenv("FAKEDISCORD_ADDR"); a != "" {
		defaultAddr = a
	}
	addr := fs.String("addr", defaultAddr, "address to listen on, for the REST API, the gateway and the control API (port 0 picks a free one; default from FAKEDISCORD_ADDR, else 127.0.0.1:8080)")
	statePath := fs.String("state", "", "seed file: a JSON discordtest.Seed (users and guilds with roles, members, channels)")
	appID := fs.Uint64("app-id", 0, "application and bot user id, which the token encodes (default 123456789012345678)")
	heartbeat := fs.Duration("heartbeat-interval", 0, "heartbeat interval announced in HELLO (default 41.25s)")
	identify := fs.Duration("identify-interval", -1, "minimum time between two IDENTIFYs (default 5s; 0 disables)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fakediscord: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "fakediscord: --log-level %q: want debug, info, warn or error\n", *logLevel)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	opts := []discordtest.Option{discordtest.WithLogger(log)}
	if *statePath != "" {
		seed, err := readSeed(*statePath)
		if err != nil {
			fmt.Fprintf(stderr, "fakediscord: %v\n", err)
			return exitFailure
		}
		opts = append(opts, discordtest.WithSeed(seed))
	}
	if *appID != 0 {
		opts = append(opts, discordtest.WithApplicationID(discordtest.ID(*appID)))
	}
	if *heartbeat > 0 {
		opts = append(opts, discordtest.WithHeartbeatInterval(*heartbeat))
	}
	if *identify >= 0 {
		opts = append(opts, discordtest.WithIdentifyInterval(*identify))
	}
	srv, err := discordtest.Start(*addr, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "fakediscord: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "api_url=%s\ngateway_url=%s\ncontrol_url=%s\ntoken=%s\n", srv.APIURL(), srv.GatewayURL, srv.URL+"/control", srv.Token())
	log.Info("serving", "api_url", srv.APIURL(), "gateway_url", srv.GatewayURL)

	<-ctx.Done()
	log.Info("stopping")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Close(shutdown)
	return 0
}

// readSeed reads a seed file strictly: a misspelt field is an error, not a silent zero.
func readSeed(path string) (discordtest.Seed, error) {
	var seed discordtest.Seed
	data, err := os.ReadFile(path)
	if err != nil {
		return seed, fmt.Errorf("read seed: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&seed); err != nil {
		return seed, fmt.Errorf("seed %s: %w", path, err)
	}
	return seed, nil
}
