package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/raid"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// TestRaidWorkStaysWithTheGuildsShard: gavel runs its only shard on a lease (shards =
// "auto" on PostgreSQL) and a raid starts while it holds it: the raid is recorded, its
// responses applied, its check armed. Another process then takes the shard (a newer
// epoch, for a day); before this process hears of it, the joins it still receives are
// counted into nothing: their raid-member writes are refused by the fence (store.ErrFenced)
// and no joiner is timed out. At its next renewal it stops the shard, and the raid's check,
// due 10 minutes after the last join, is not run here (it stays unclaimed, reported as
// overdue). When the other process stops and this one takes the shard again, the check
// runs here and ends raid mode, undoing its responses.
func TestRaidWorkStaysWithTheGuildsShard(t *testing.T) {
	t.Parallel()
	fenced := &fenceLog{news: make(chan struct{})}
	rw := newRaidWorldOn(t, raidSetup{dbURL: storetest.MigratedURL(t, store.Postgres), shards: "auto", shardCount: "1", log: slog.New(fenced)}, true, nil)
	ctx := context.Background()
	w := rw.world
	g := discord.GuildID(w.guild)
	a := rw.app
	waitFor(t, "the shard's lease", func() bool { _, ids := a.Leases().Shards(); return len(ids) == 1 })

	joiners := func(prefix string, n int) []discordtest.Joiner {
		out := make([]discordtest.Joiner, n)
		for i := range out {
			out[i] = discordtest.Joiner{Name: fmt.Sprintf("%s%02d", prefix, i), CreatedAt: rw.clk.Now().Add(-2 * 24 * time.Hour)}
		}
		return out
	}
	w.s.MassJoin(w.guild, joiners("raider", 12)...)
	lastJoin := rw.clk.Now()
	rw.waitStep(t, "started")
	rw.waitStep(t, "verification_raised")
	svc := rw.raids(t)
	var cur raid.Raid
	waitOn(t, "the 12 joiners in the raid", func() bool {
		var ok bool
		var err error
		cur, ok, err = svc.Current(ctx, g)
		return err == nil && ok && len(cur.Members) == 12 && cur.Counts()["candidate"]+cur.Counts()["timed_out"] == 12
	}, func() string { return fmt.Sprint(len(cur.Members), cur.Counts()) }, rw.newsOnce)
	checks := func(open bool) (n int) {
		t.Helper()
		q := "SELECT count(*) FROM scheduled_actions WHERE kind = 'raid_check' AND done_at IS NULL AND cancelled_at IS NULL"
		if !open {
			q = "SELECT count(*) FROM scheduled_actions WHERE kind = 'raid_check' AND done_at IS NOT NULL"
		}
		if err := rw.st.WriteDB().QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor(t, "the raid's check armed", func() bool { return checks(true) == 1 })

	// Another process takes the shard, for a day; this one has not renewed yet.
	if _, err := rw.st.WriteDB().ExecContext(ctx, "UPDATE shard_leases SET owner = 'other', epoch = epoch + 1, expires_at = $1 WHERE shard_count = 1 AND shard_id = 0",
		rw.clk.Now().Add(24*time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	late := w.s.MassJoin(w.guild, joiners("late", 3)...)
	waitOn(t, "the 3 late joins refused by the fence", func() bool { return fenced.count() >= 3 }, func() string { return fmt.Sprint(fenced.count()) }, fenced.newsOnce)
	if cur, _, err := svc.Current(ctx, g); err != nil || len(cur.Members) != 12 {
		t.Errorf("the raid has %d members (%v) after the shard moved; want the 12 recorded before", len(cur.Members), err)
	}
	for _, id := range late {
		if m, _ := w.s.Member(w.guild, id); m.CommunicationDisabledUntil != nil {
			t.Errorf("late joiner %d was timed out by a process that no longer holds the shard", id)
		}
	}

	// The quiet period ends, and with it this process's lease: at its renewal it stops the
	// shard; the raid's check is due but claimed by nobody (the other process holds the
	// shard), and once 5 minutes overdue it is reported.
	rw.clk.Set(lastJoin.Add(10*time.Minute + time.Second))
	waitFor(t, "the shard stopped", func() bool { _, ids := a.Leases().Shards(); return len(ids) == 0 })
	rw.clk.Advance(6 * time.Minute)
	waitFor(t, "the raid's check reported overdue", func() bool { return gauge(t, a, "gavel_expiry_overdue") == 1 })
	if _, open, err := svc.Current(ctx, g); err != nil || !open || checks(false) != 0 {
		t.Fatalf("raid mode ended (%v, open %v) while another process held the shard", err, open)
	}
	if lvl := w.s.VerificationLevel(w.guild); lvl != discordtest.VerificationHigh {
		t.Errorf("verification level = %d while another process holds the shard; want High still", lvl)
	}

	// The other process stops; this one takes the shard at its next renewal, and runs the
	// check: raid mode ends, its responses undone.
	if _, err := rw.st.WriteDB().ExecContext(ctx, "UPDATE shard_leases SET owner = NULL, expires_at = 0 WHERE shard_count = 1 AND shard_id = 0"); err != nil {
		t.Fatal(err)
	}
	rw.clk.Advance(5 * time.Second)
	waitFor(t, "the shard taken again", func() bool { _, ids := a.Leases().Shards(); return len(ids) == 1 })
	// The poller's next looks: the clock moves on in small steps (the leases renewed as it
	// goes), until the check has run.
	waitFor(t, "raid mode ended by its check", func() bool {
		rw.clk.Advance(500 * time.Millisecond)
		return checks(false) == 1
	}, func() string { return strings.Join(rw.stepKinds(), " ") })
	rw.waitStep(t, "ended")
	if lvl := w.s.VerificationLevel(w.guild); lvl != discordtest.VerificationNone {
		t.Errorf("verification level after the raid = %d; want the old None", lvl)
	}
}

// fenceLog is a log handler that counts the raid joins refused by the fence.
type fenceLog struct {
	mu   sync.Mutex
	n    int
	news chan struct{}
}

func (h *fenceLog) Enabled(context.Context, slog.Level) bool { return true }

func (h *fenceLog) Handle(ctx context.Context, r slog.Record) error {
	if os.Getenv("GAVEL_DEBUG_LOG") != "" {
		_ = quietLogger().Handler().Handle(ctx, r)
	}
	if !strings.HasPrefix(r.Message, "raid defence: a join") {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && errors.Is(err, store.ErrFenced) {
			h.mu.Lock()
			h.n++
			close(h.news)
			h.news = make(chan struct{})
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h *fenceLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *fenceLog) WithGroup(string) slog.Handler      { return h }

func (h *fenceLog) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func (h *fenceLog) newsOnce() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.news
}
