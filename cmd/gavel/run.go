package main

import (
	"context"
	"errors"
	"fmt"
)

// runCmd runs the bot.
type runCmd struct{}

// errNoToken is what run says when the token is missing; it names the variable because the
// token is never read from a file.
var errNoToken = errors.New("DISCORD_TOKEN is not set: gavel reads the bot token only from the DISCORD_TOKEN environment variable")

func (runCmd) Run(ctx context.Context, rt *Runtime) error {
	cfg, st, err := rt.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	log := rt.logger(cfg)
	applied, err := st.MigrateUp(ctx)
	if err != nil {
		return err
	}
	log.Info("database ready", "database", st.Location.Redacted, "engine", st.Engine(), "migrations_applied", len(applied))
	if cfg.Discord.Token == "" {
		return errNoToken
	}
	// The Discord connection arrives with the moderation pipeline; until then a token is
	// accepted but there is nothing to connect, and saying so beats pretending to run.
	return fmt.Errorf("the Discord connection is not part of this build yet: the database at %s is ready", st.Location.Redacted)
}
