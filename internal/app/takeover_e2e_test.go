package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	ddiscord "github.com/disgoorg/disgo/discord"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/shards"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/store"
)

// TestReplayWhileARefusalIsAnsweredIsDropped: a refused command's event is recorded as
// handled before its answer goes out. The refusal's reply is held by Discord when the same
// event is delivered again (a replay): the replay is dropped, and the moderator gets one
// refusal. (Recorded after the answer, the replay was handled as a new command and
// refused a second time.)
func TestReplayWhileARefusalIsAnsweredIsDropped(t *testing.T) {
	t.Parallel()
	held := clock.NewManual(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	w := newWorld(t, discordtest.WithLatencyClock(held))
	a := w.runApp(t)
	const replyRoute = "POST /channels/{channel_id}/messages"
	delayed := func() int { return w.s.FaultStats().Routes[replyRoute].Delayed }
	w.s.SetLatency(replyRoute, time.Hour)

	// Warning the server's owner is refused.
	refused := w.s.SendMessage(w.general, w.mod, "$warn <@"+w.owner.String()+"> hi")
	waitFor(t, "the refusal's reply held by Discord", func() bool { return delayed() == 1 })
	if err := w.s.RedeliverMessage(refused.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replay to be dropped or refused again", func() bool {
		return commandCount(t, a, "warn", "replayed") == 1 || delayed() == 2
	})
	if n := delayed(); n != 1 {
		t.Errorf("%d replies on their way; want 1 (the replay was answered again)", n)
	}
	w.s.SetLatency(replyRoute, 0)
	held.Advance(time.Hour)
	waitFor(t, "the refusal", func() bool { return len(botContents(w)) >= 1 })
	if got := botContents(w); len(got) != 1 {
		t.Errorf("the bot said %q; want one refusal", got)
	}
}

// TestCommandInFlightWhenTheLeaseIsLostIsAnsweredByTheNextOwner: process A runs the only
// shard on a lease; a $warn is in flight, nothing of it recorded yet (Discord holds its
// member lookup), when A renews its lease, saving the shard's session, and then loses the
// lease to another process. The session was saved from below the warn's event (the
// low-water mark of the events whose work is finished), so process B, taking the shard
// over, RESUMEs it and gets the warn replayed. A, whose command was stopped before it
// recorded anything, says nothing; B warns and answers: one case, one answer.
func TestCommandInFlightWhenTheLeaseIsLostIsAnsweredByTheNextOwner(t *testing.T) {
	t.Parallel()
	held := clock.NewManual(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	w, st, cfg := newLeasedWorld(t, held)
	// The bound only ends a hang (the waits inside have minutes each under load).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	clk := clock.NewManual(time.Now().UTC().Truncate(time.Millisecond))
	start := func() (*app.App, context.CancelFunc, chan error) {
		runCtx, stop := context.WithCancel(ctx)
		a, err := newTestApp(runCtx, cfg, quietLogger(), app.WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- a.Run(runCtx) }()
		return a, stop, done
	}
	exec := func(q string) {
		t.Helper()
		if _, err := st.WriteDB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var savedAt, savedSeq int64
	readLease := func() {
		t.Helper()
		if err := st.WriteDB().QueryRowContext(ctx, "SELECT updated_at, seq FROM shard_leases WHERE shard_count = 1 AND shard_id = 0").Scan(&savedAt, &savedSeq); err != nil {
			t.Fatal(err)
		}
	}

	a, stopA, doneA := start()
	if err := w.s.WaitReady(ctx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	waitFor(t, "A's lease", func() bool { _, ids := a.Leases().Shards(); return len(ids) == 1 })

	const memberRoute = "GET /guilds/{guild_id}/members/{user_id}"
	w.s.SetLatency(memberRoute, time.Hour)
	// The target typed as an id: a mention would bring their member with the message, and
	// the warn would make no lookup to hold.
	w.s.SendMessage(w.general, w.mod, "$warn "+w.target.String()+" spam")
	waitFor(t, "the warn's member lookup held by Discord", func() bool { return w.s.FaultStats().Routes[memberRoute].Delayed == 1 },
		func() string { return "the bot said: " + strings.Join(botContents(w), " | ") })

	// A renews its lease, saving the session, with the warn in flight.
	clk.Advance(5 * time.Second)
	waitFor(t, "A's renewal", func() bool { readLease(); return savedAt == clk.Now().UnixMilli() })
	// Another process takes the shard; A finds out at its next renewal and stops the warn.
	exec("UPDATE shard_leases SET owner = 'other', epoch = epoch + 1 WHERE shard_count = 1 AND shard_id = 0")
	clk.Advance(5 * time.Second)
	waitFor(t, "A to give the shard up", func() bool { _, ids := a.Leases().Shards(); return len(ids) == 0 })
	// A's Run returns once its commands in flight have.
	stopA()
	if err := <-doneA; err != nil {
		t.Errorf("A's Run: %v", err)
	}
	if got := botContents(w); len(got) != 0 {
		t.Errorf("A answered %q; want nothing (the shard's next owner answers the replayed warn)", got)
	}

	// The other process is B: the lease is free for it, with the session A saved.
	exec("UPDATE shard_leases SET owner = NULL, expires_at = 0 WHERE shard_count = 1 AND shard_id = 0")
	w.s.SetLatency(memberRoute, 0)
	resumes := w.s.GatewayStats().Resumes
	_, stopB, doneB := start()
	defer func() { stopB(); <-doneB }()
	waitFor(t, "B's answer to the replayed warn", func() bool { return len(botContents(w)) >= 1 },
		func() string { return strings.Join(botContents(w), " | ") })
	if got := botContents(w); len(got) != 1 || !strings.Contains(got[0], "#1") {
		t.Errorf("the bot said %q; want one answer, naming case #1", got)
	}
	if n := w.s.GatewayStats().Resumes - resumes; n != 1 {
		t.Errorf("B resumed %d sessions; want 1", n)
	}
	cs := cases.NewService(st)
	if n, err := cs.CountInGuild(ctx, discord.GuildID(w.guild)); err != nil || n != 1 {
		t.Errorf("%d cases (%v); want 1", n, err)
	}
	if c, err := cs.GetByNumber(ctx, discord.GuildID(w.guild), 1); err != nil || c.Type != cases.Warn || c.Status != cases.Active {
		t.Errorf("case #1: %+v (%v); want an active warn", c, err)
	}
}

// TestExpiryPollerLooksAgainOnceTheShardCountIsKnown: with an explicit shard list, the
// expiry poller claims only the listed shards' guilds' actions, and until the shard count
// is known (GET /gateway/bot, held here) it cannot tell which guilds those are, so its
// first claims take nothing although a lift is due, and it waits. Once the count is known
// it is woken at once: the lift runs with the test's clock standing still. (It used to
// wait for its next look on its clock.)
func TestExpiryPollerLooksAgainOnceTheShardCountIsKnown(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.shards = "0"
	// The bound only ends a hang (the waits inside have minutes each under load).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := store.OpenURL(ctx, w.dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(time.Now().UTC().Truncate(time.Millisecond))
	// A tempban made, and its lift scheduled, before gavel starts; due by the time it does.
	cs := cases.NewService(st, cases.WithClock(clk.Now))
	if err := w.s.BanAs(w.guild, w.owner, w.target, "raid"); err != nil {
		t.Fatal(err)
	}
	c, err := cs.Create(ctx, cases.New{GuildID: discord.GuildID(w.guild), UserID: discord.UserID(w.target), ModeratorID: discord.UserID(w.owner),
		Type: cases.Tempban, Reason: "raid", ExpiresAt: clk.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := expiry.NewService(st, cs, expiry.WithClock(clk)).Schedule(ctx, c.ID, discord.UserID(w.owner), expiry.Unban, c.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	st.Close()

	cfg := w.config()
	cfg.Discord.ShardCount = "1"
	counted := make(chan struct{})
	a, err := newTestApp(ctx, cfg, quietLogger(), app.WithClock(clk), app.WithShardConfig(func(c *shards.Config) {
		discover := c.Discover
		c.Discover = func(ctx context.Context) (ddiscord.GatewayBot, error) {
			select {
			case <-counted:
			case <-ctx.Done():
				return ddiscord.GatewayBot{}, ctx.Err()
			}
			return discover(ctx)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// The poller claimed nothing (the count unknown) and waits: the lift being due, it
	// would look again 20 ms later on its clock, which this test does not move.
	if err := clk.WaitArmedAt(ctx, clk.Now().Add(20*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.s.Banned(w.guild, w.target); !ok {
		t.Fatal("unbanned before the shard count was known")
	}
	close(counted)
	waitFor(t, "the unban", func() bool { _, ok := w.s.Banned(w.guild, w.target); return !ok })
}
