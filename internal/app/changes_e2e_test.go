package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// A prefix changed by another process on the same PostgreSQL database (here: the settings
// service on a store of its own, as gavel web or a second gavel run would) is used by a
// running gavel as soon as it hears the announcement, long before its cache's 30 seconds.
func TestSettingsChangedElsewhereAreUsedAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.dbURL = storetest.MigratedURL(t, store.Postgres)
	heard := make(chan store.Change, 16)
	listening := make(chan struct{})
	a := w.runApp(t, app.WithChangesListening(func() { close(listening) }),
		app.WithChangesHeard(func(c store.Change) { heard <- c }))
	<-listening
	// shards = "auto" on PostgreSQL runs the shard leases: the process, alone, takes the
	// shard (its events come to it) and keeps to the whole budget of 45 a second.
	if a.Leases() == nil {
		t.Fatal("no shard-lease provider for shards = \"auto\" on PostgreSQL")
	}

	// The running gavel reads (and caches) the prefix.
	if r := w.say(t, w.owner, "$warn <@"+w.target.String()+"> one"); !strings.Contains(r.Content, "Case #1") {
		t.Fatalf("warn: %q", r.Content)
	}
	if share, held := gauge(t, a, "gavel_rest_share"), gauge(t, a, "gavel_shard_leases_held"); share != 45 || held != 1 {
		t.Errorf("gavel_rest_share %v and gavel_shard_leases_held %v; want 45 and 1", share, held)
	}
	_, gs := w.services(t)
	if _, err := gs.SetPrefix(context.Background(), discord.GuildID(w.guild), discord.UserID(w.owner), "!"); err != nil {
		t.Fatal(err)
	}
	for c := range heard {
		if c.Topic == store.TopicSettings && c.GuildID == int64(w.guild) {
			break
		}
	}
	if r := w.say(t, w.owner, "!warn <@"+w.target.String()+"> two"); !strings.Contains(r.Content, "Case #2") {
		t.Fatalf("warn with the new prefix: %q", r.Content)
	}
}
