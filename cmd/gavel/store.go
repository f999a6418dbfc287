package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/store"
)

// openStore loads the configuration and opens its database, unmigrated.
func (rt *Runtime) openStore(ctx context.Context) (config.Config, *store.Store, error) {
	cfg, err := rt.LoadConfig()
	if err != nil {
		return config.Config{}, nil, err
	}
	st, err := store.OpenURL(ctx, cfg.Database.URL, store.Options{MaxOpenConns: cfg.Database.MaxOpenConns})
	if err != nil {
		return config.Config{}, nil, err
	}
	return cfg, st, nil
}

// openMigratedStore opens the database and refuses to go on while migrations are pending,
// so that a read command never runs against a schema it does not know.
func (rt *Runtime) openMigratedStore(ctx context.Context) (*store.Store, error) {
	cfg, err := rt.LoadConfig()
	if err != nil {
		return nil, err
	}
	// Opening a SQLite file creates it: a read command must not leave an empty database
	// behind because of a typo in the path.
	if loc, err := store.ParseURL(cfg.Database.URL); err == nil && loc.Engine == store.SQLite && loc.Path != ":memory:" {
		if _, err := os.Stat(loc.Path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("database file %s does not exist: run 'gavel migrate up' (or 'gavel run') to create it", loc.Path)
		}
	}
	_, st, err := rt.openStore(ctx)
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
