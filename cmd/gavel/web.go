package main

import (
	"context"
	"errors"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/store"
)

// webCmd serves the dashboard as a process of its own, without a gateway.
type webCmd struct {
	Addr string `name:"addr" placeholder:"HOST:PORT" help:"Serve the dashboard on this address (overrides web.addr)."`
}

// errWebNoToken: gavel web reads Discord over REST (guilds, members' roles, sign-in), so it
// needs the bot token as gavel run does.
var errWebNoToken = errors.New("DISCORD_TOKEN is not set: gavel web reads the servers and the signed-in members' roles from Discord over REST with the bot token, read only from the DISCORD_TOKEN environment variable; " + config.TokenHelp)

// Run serves the dashboard on PostgreSQL until ctx ends. On SQLite it refuses: that
// database belongs to the one gavel run process, which serves the dashboard itself.
func (c webCmd) Run(ctx context.Context, rt *Runtime) error {
	cfg, err := rt.LoadConfig()
	if err != nil {
		return err
	}
	if c.Addr != "" {
		cfg.Web.Addr = c.Addr
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	if loc, err := store.ParseURL(cfg.Database.URL); err == nil && !loc.Shared() {
		return app.ErrWebNeedsPostgres
	}
	if cfg.Web.Addr == "" {
		return errors.New("web.addr is not set: gavel web serves the dashboard on web.addr (or GAVEL_WEB_ADDR, or --addr), e.g. 127.0.0.1:8080, with web.public_url and web.client_secret as for gavel run (docs/dashboard.md)")
	}
	if cfg.Discord.Token == "" {
		return errWebNoToken
	}
	if err := config.CheckToken(cfg.Discord.Token); err != nil {
		return err
	}
	w, err := app.NewWebOnly(ctx, cfg, rt.logger(cfg))
	if err != nil {
		return err
	}
	return w.Run(ctx)
}
