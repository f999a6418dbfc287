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
	w := newWorld(t)
	w.dbURL = storetest.URL(t, store.Postgres)
	heard := make(chan store.Change, 16)
	listening := make(chan struct{})
	a := w.runApp(t, app.WithChangesListening(func() { close(listening) }),
		app.WithChangesHeard(func(c store.Change) { heard <- c }))
	<-listening
	// shards = "auto" on PostgreSQL builds the shard leases; until they run, the process
	// holds none and keeps to the whole global limit.
	if a.Leases() == nil {
		t.Error("no shard-lease provider for shards = \"auto\" on PostgreSQL")
	}
	if share, held := gauge(t, a, "gavel_rest_share"), gauge(t, a, "gavel_shard_leases_held"); share != 50 || held != 0 {
		t.Errorf("gavel_rest_share %v and gavel_shard_leases_held %v; want 50 and 0", share, held)
	}

	// The running gavel reads (and caches) the prefix.
	if r := w.say(t, w.owner, "$warn <@"+w.target.String()+"> one"); !strings.Contains(r.Content, "Case #1") {
		t.Fatalf("warn: %q", r.Content)
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
