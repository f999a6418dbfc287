package app_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// TestCommandStopsWhenItsShardIsLost: gavel runs its only shard on a lease (shards =
// "auto" on PostgreSQL). A ban is in flight, its case recorded as pending and Discord's
// answer held back, when another process takes the shard (a newer epoch, as after this
// process's lease lapsed). At this process's next renewal, on its clock, the command is
// cancelled: the case stays pending for reconciliation, the moderator is told that the
// server moved to another process, and no more work on the guild starts here.
func TestCommandStopsWhenItsShardIsLost(t *testing.T) {
	t.Parallel()
	// Discord's answer to the ban waits on a clock nobody moves: the command is in flight
	// until something stops it.
	held := clock.NewManual(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	w, st, cfg := newLeasedWorld(t, held)
	// The bound only ends a hang (the waits inside have minutes each under load).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	clk := clock.NewManual(time.Now().UTC().Truncate(time.Millisecond))
	a, err := newTestApp(ctx, cfg, quietLogger(), app.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	if err := w.s.WaitReady(ctx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	waitFor(t, "the shard's lease", func() bool { _, ids := a.Leases().Shards(); return len(ids) == 1 })

	const banRoute = "PUT /guilds/{guild_id}/bans/{user_id}"
	w.s.SetLatency(banRoute, time.Hour)
	w.s.SendMessage(w.general, w.mod, "$ban <@"+w.target.String()+"> raid")
	cs := cases.NewService(st)
	waitFor(t, "the ban's pending case and its call held by Discord", func() bool {
		c, err := cs.GetByNumber(ctx, discord.GuildID(w.guild), 1)
		return err == nil && c.Status == cases.Pending && w.s.FaultStats().Routes[banRoute].Delayed == 1
	})

	// Another process takes the shard; this one finds out at its next renewal.
	if _, err := st.WriteDB().ExecContext(ctx, "UPDATE shard_leases SET owner = 'other', epoch = epoch + 1 WHERE shard_count = 1 AND shard_id = 0"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Second)
	var reply string
	waitFor(t, "the answer that the server moved", func() bool {
		m, ok := w.botReply(w.general, "moved to another gavel process")
		reply = m.Content
		return ok
	}, func() string { return strings.Join(botContents(w), " | ") })
	if !strings.Contains(reply, "Case #1 stays pending") {
		t.Errorf("the answer %q does not say that case #1 stays pending", reply)
	}
	c, err := cs.GetByNumber(ctx, discord.GuildID(w.guild), 1)
	if err != nil || c.Status != cases.Pending {
		t.Errorf("case #1: %+v (%v); want it pending, for reconciliation", c, err)
	}
	if _, ids := a.Leases().Shards(); len(ids) != 0 {
		t.Errorf("the process still holds shards %v after losing the lease", ids)
	}
	cancel()
	<-done
}

// botContents is what the bot said in the world's channel.
func botContents(w *world) []string {
	var out []string
	for _, m := range w.s.Messages(w.general) {
		if m.AuthorID == w.s.BotID() {
			out = append(out, m.Content)
		}
	}
	return out
}

// TestExplicitShardListsClaimTheirGuildsExpiries: two processes with explicit shard lists
// (shards = "0" and "1" of 2) on one PostgreSQL database, a tempban due in a guild of each
// shard. The first process alone lifts only its own guild's; the other guild's action
// stays unclaimed and, once more than 5 minutes overdue, is reported (the log and
// gavel_expiry_overdue). The second process, started for the missing shard, lifts it, and
// the report clears.
func TestExplicitShardListsClaimTheirGuildsExpiries(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.dbURL = storetest.MigratedURL(t, store.Postgres) // skips without PostgreSQL
	// The bound only ends a hang (the waits inside have minutes each under load).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	shardOf := func(g discordtest.ID) int { return int((uint64(g) >> 22) % 2) }
	// A second guild, on the other shard, with its owner, gavel and a member to ban.
	var other discordtest.ID
	for other == 0 || shardOf(other) == shardOf(w.guild) {
		other = w.s.AddGuild("other guild", w.owner)
	}
	w.s.AddMember(other, w.s.BotID(), w.s.AddRole(other, "gavel", 1, botPerms))
	w.s.AddMember(other, w.owner)
	w.s.AddMember(other, w.target)
	st := w.openStore(t)
	clk := clock.NewManual(time.Now().UTC().Truncate(time.Millisecond))
	// A tempban in each guild, made before gavel starts (so its ban is not news to gavel),
	// ending in a minute; the poller schedules the lifts when it starts (Reconcile).
	cs := cases.NewService(st, cases.WithClock(clk.Now))
	for _, g := range []discordtest.ID{w.guild, other} {
		if err := w.s.BanAs(g, w.owner, w.target, "raid"); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.Create(ctx, cases.New{GuildID: discord.GuildID(g), UserID: discord.UserID(w.target), ModeratorID: discord.UserID(w.owner),
			Type: cases.Tempban, Reason: "raid", ExpiresAt: clk.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	start := func(shard int) (*app.App, chan error) {
		cfg := w.config()
		cfg.Discord.ShardCount = "2"
		cfg.Discord.Shards = []string{"0", "1"}[shard]
		a, err := newTestApp(ctx, cfg, quietLogger(), app.WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		return a, done
	}
	banned := func(g discordtest.ID) bool { _, ok := w.s.Banned(g, w.target); return ok }
	overdue := func(a *app.App) float64 {
		families, err := a.Metrics().Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if f.GetName() == "gavel_expiry_overdue" {
				return f.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1
	}
	var otherAction struct {
		attempts int64
		owner    sql.NullString
	}
	readOther := func() {
		t.Helper()
		err := st.WriteDB().QueryRowContext(ctx, "SELECT attempts, lease_owner FROM scheduled_actions WHERE guild_id = $1", int64(other)).
			Scan(&otherAction.attempts, &otherAction.owner)
		if err != nil {
			t.Fatal(err)
		}
	}

	first, doneFirst := start(shardOf(w.guild))
	if err := w.s.WaitReady(ctx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	waitFor(t, "both lifts scheduled", func() bool {
		var n int
		return st.WriteDB().QueryRowContext(ctx, "SELECT count(*) FROM scheduled_actions").Scan(&n) == nil && n == 2
	})
	clk.Advance(2 * time.Minute)
	waitFor(t, "the first process's guild's unban", func() bool { return !banned(w.guild) })
	waitFor(t, "the first process's guild's lift recorded", func() bool {
		var done bool
		return st.WriteDB().QueryRowContext(ctx, "SELECT done_at IS NOT NULL FROM scheduled_actions WHERE guild_id = $1", int64(w.guild)).Scan(&done) == nil && done
	})
	// More than 5 minutes overdue and a minute later (the poller counts once a minute):
	// the other guild's action is reported, never having been claimed.
	clk.Advance(5 * time.Minute)
	waitFor(t, "gavel_expiry_overdue to report the other shard's action", func() bool { return overdue(first) == 1 })
	readOther()
	if otherAction.attempts != 0 || otherAction.owner.Valid {
		t.Errorf("the other shard's action was claimed (attempts %d, owner %v) by a process that does not run its shard", otherAction.attempts, otherAction.owner)
	}
	if !banned(other) {
		t.Error("the other guild's member was unbanned by a process that does not run its shard")
	}

	// The missing shard's process starts: it lifts its guild's tempban.
	second, doneSecond := start(shardOf(other))
	// Its first claims may come before it knows the shard count, and take nothing: it is
	// woken once it knows it (TestExpiryPollerLooksAgainOnceTheShardCountIsKnown), with
	// the test's clock standing still.
	waitFor(t, "the second process's guild's unban", func() bool { return !banned(other) })
	readOther()
	if otherAction.attempts != 1 {
		t.Errorf("the other shard's action ran %d times; want once", otherAction.attempts)
	}
	clk.Advance(time.Minute)
	waitFor(t, "gavel_expiry_overdue to clear", func() bool { return overdue(first) == 0 && overdue(second) == 0 })
	cancel()
	<-doneFirst
	<-doneSecond
}

// newLeasedWorld is a world on a migrated PostgreSQL schema of its own (the pool's) whose
// gavel takes its one shard on a lease (discord.shards "auto"), with Discord's answers
// delayed on held; st is the test's own store on that schema. It skips without PostgreSQL.
func newLeasedWorld(t *testing.T, held *clock.Manual) (*world, *store.Store, config.Config) {
	t.Helper()
	w := newWorld(t, discordtest.WithLatencyClock(held))
	w.dbURL = storetest.MigratedURL(t, store.Postgres)
	w.shards = "auto"
	st := w.openStore(t)
	cfg := w.config()
	cfg.Discord.ShardCount = "1"
	return w, st, cfg
}
