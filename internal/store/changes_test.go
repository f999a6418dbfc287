package store_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// A change announced in one process's transaction reaches another process's subscribers
// (two stores on one PostgreSQL schema, each with its own connections), only once the
// transaction commits, and not at all when it rolls back.
func TestChangesReachOtherProcesses(t *testing.T) {
	t.Parallel()
	url := storetest.URL(t, store.Postgres)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func() *store.Store {
		st, err := store.OpenURL(ctx, url, store.Options{MaxOpenConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, b := open(), open()
	if _, err := a.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	heard := make(chan store.Change, 10)
	b.OnChange(store.TopicSettings, func(g int64) { heard <- store.Change{Topic: store.TopicSettings, GuildID: g} })
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Listen(ctx, slog.New(slog.DiscardHandler), func() { close(ready) })
	}()
	defer func() { cancel(); <-done }()
	<-ready

	// Rolled back: never announced. Then committed: announced once.
	_ = a.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Announce(store.TopicSettings, 41); err != nil {
			return err
		}
		return context.Canceled
	})
	if err := a.InTx(ctx, func(tx *store.Tx) error { return tx.Announce(store.TopicSettings, 42) }); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-heard:
		if c.GuildID != 42 {
			t.Fatalf("heard guild %d; want 42 (41 was rolled back, and announcements arrive in commit order)", c.GuildID)
		}
	case <-time.After(30 * time.Second): // a bound on a broken listener, not a timing
		t.Fatal("the other process never heard of the change")
	}
}
