package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/store"
)

// openStore loads the configuration and opens its database, unmigrated.
func (rt *Runtime) openStore(ctx context.Context) (config.Config, *store.Store, error) {
	return rt.open(ctx, false)
}

// open loads the configuration and opens its database; existing refuses to create one.
func (rt *Runtime) open(ctx context.Context, existing bool) (config.Config, *store.Store, error) {
	cfg, err := rt.LoadConfig()
	if err != nil {
		return config.Config{}, nil, err
	}
	st, err := store.OpenURL(ctx, rt.databaseURL(cfg.Database.URL), store.Options{MaxOpenConns: cfg.Database.MaxOpenConns, MustExist: existing})
	if errors.Is(err, store.ErrNotExist) {
		return config.Config{}, nil, fmt.Errorf("%w: run 'gavel migrate up' (or 'gavel run') to create it", err)
	}
	if err != nil {
		return config.Config{}, nil, err
	}
	return cfg, st, nil
}

// openMigratedStore opens the database and refuses to go on while migrations are pending,
// so that a read command never runs against a schema it does not know.
func (rt *Runtime) openMigratedStore(ctx context.Context) (*store.Store, error) {
	// A read command must not leave an empty database behind because of a typo in the path.
	_, st, err := rt.open(ctx, true)
	if err != nil {
		return nil, err
	}
	status, err := st.MigrationStatus(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	for _, m := range status {
		if !m.Applied {
			st.Close()
			return nil, fmt.Errorf("database %s is not migrated (migration %d is pending): run 'gavel migrate up' first", st.Location.Redacted, m.Version)
		}
	}
	return st, nil
}

// logger builds the process logger from the configuration.
func (rt *Runtime) logger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level)) // validated by LoadConfig
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(rt.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(rt.Stderr, opts))
}
