package main

import (
	"context"
	"errors"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/config"
)

// runCmd runs the bot.
type runCmd struct {
	MetricsAddr string `name:"metrics-addr" placeholder:"HOST:PORT" help:"Serve Prometheus metrics at /metrics on this address (overrides metrics.addr), e.g. 127.0.0.1:9090."`
}

// errNoToken is what run says when the token is missing; it names the variable because the
// token is never read from a file.
var errNoToken = errors.New("DISCORD_TOKEN is not set: gavel reads the bot token only from the DISCORD_TOKEN environment variable; " + config.TokenHelp)

// Run connects to Discord and moderates until ctx ends (SIGINT or SIGTERM in the binary),
// then lets the actions in flight finish and returns.
func (r runCmd) Run(ctx context.Context, rt *Runtime) error {
	cfg, err := rt.LoadConfig()
	if err != nil {
		return err
	}
	if r.MetricsAddr != "" {
		cfg.Metrics.Addr = r.MetricsAddr
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	log := rt.logger(cfg)
	if cfg.Discord.Token == "" {
		// Migrating first still helps: the database is ready when the token arrives.
		_, st, err := rt.openStore(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.CheckWritable(ctx); err != nil {
			return err
		}
		applied, err := st.MigrateUp(ctx)
		if err != nil {
			return err
		}
		log.Info("database ready", "database", st.Location.Redacted, "engine", st.Engine(), "migrations_applied", len(applied))
		return errNoToken
	}
	// A token of the wrong shape is said in words before anything is opened; one Discord
	// refuses is caught by run (main.go) from the first call's 401.
	if err := config.CheckToken(cfg.Discord.Token); err != nil {
		return err
	}
	cfg.Database.URL = rt.databaseURL(cfg.Database.URL)
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	ran := make(chan struct{})
	defer close(ran)
	go func() {
		select {
		case <-rt.Abort:
			a.StopNow()
		case <-ran:
		}
	}()
	return a.Run(ctx)
}
