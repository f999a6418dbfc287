package escalation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/leases/leasetest"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// TestEscalationWorkStaysWithTheGuildsShard: the escalation runner's own work on a guild
// (expiring approval requests, re-arming thresholds whose points stopped counting) runs
// only in the process holding the guild's shard lease (PostgreSQL, 2 shards, one guild on
// each; the test's process holds one of them). A day after both guilds' firings asked for
// approval, only this process's guild's request is expired here. Then another process
// takes that shard too: before this process has heard of it, its re-arming of the member
// whose points stopped counting is refused by the fence and changes nothing; once it has,
// it no longer tries, and the other guild's firing is never touched here.
func TestEscalationWorkStaysWithTheGuildsShard(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.Postgres) // skips without PostgreSQL
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const count = 2
	mine := discord.GuildID(leasetest.GuildOn(uint64(guild), count, 0))
	theirs := discord.GuildID(leasetest.GuildOn(uint64(guild), count, 1))
	// The leases run on a clock of their own: the escalation's moves on by days.
	proc := leasetest.Start(t, st, clock.NewManual(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)), "a", count, 0)
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	clockNow := func() time.Time { return now }
	esc := escalation.NewService(st, escalation.WithClock(clockNow))
	cs := cases.NewService(st, cases.WithClock(clockNow), cases.WithChangeObserver(esc))
	runner := escalation.NewRunner(escalation.RunnerConfig{Service: esc, Cases: cs, Settings: settings.NewService(st), Affinity: proc.Affinity()})
	yes := true
	u := discord.UserID(900000000000000100)
	for _, g := range []discord.GuildID{mine, theirs} {
		if _, _, _, err := esc.Update(ctx, g, mod, -1, func(c *escalation.Config) error {
			*c = escalation.Preset()
			c.Policies[0].Enabled = true
			c.Policies[0].Thresholds = []escalation.Threshold{{At: 3, Action: escalation.Timeout, Duration: time.Hour, Approval: &yes}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := cs.Create(ctx, cases.New{GuildID: g, UserID: u, ModeratorID: mod, Type: cases.Warn, Reason: "spam"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	firing := func(g discord.GuildID) escalation.Firing {
		t.Helper()
		fs, err := esc.FiringsOfMember(ctx, g, u, 10)
		if err != nil || len(fs) != 1 {
			t.Fatalf("firings of the member in guild %d: %+v, %v; want one", g, fs, err)
		}
		return fs[0]
	}
	for _, g := range []discord.GuildID{mine, theirs} {
		if f := firing(g); f.State != escalation.StateAwaiting {
			t.Fatalf("guild %d's firing is %s; want it waiting for approval", g, f.State)
		}
	}

	// A day later: the request of this process's guild expires here, the other's is left
	// to the process holding its shard.
	now = now.Add(escalation.ApprovalWait + time.Minute)
	if n, err := runner.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireDue: %d, %v; want 1 (this process's guild only)", n, err)
	}
	if f := firing(mine); f.State != escalation.StateExpired {
		t.Errorf("this process's guild's firing is %s; want expired", f.State)
	}
	if f := firing(theirs); f.State != escalation.StateAwaiting {
		t.Errorf("the other process's guild's firing is %s; want it left waiting", f.State)
	}

	// The member's points stop counting after 30 days: their thresholds re-arm, in the
	// process holding the guild. Another process has just taken this one's shard.
	now = now.Add(31 * 24 * time.Hour)
	proc.Move(t, 0)
	if _, err := esc.RearmExpired(ctx, time.UnixMilli(0), now, proc.Affinity()); !errors.Is(err, store.ErrFenced) {
		t.Errorf("re-arming after the shard moved: %v; want store.ErrFenced", err)
	}
	for _, g := range []discord.GuildID{mine, theirs} {
		if !firing(g).Open() {
			t.Errorf("guild %d's firing was re-armed by a process that does not hold its shard", g)
		}
	}
	// At its renewal this process finds out: it no longer works on the guild.
	proc.Renew(t)
	if fs, err := esc.RearmExpired(ctx, time.UnixMilli(0), now, proc.Affinity()); err != nil || len(fs) != 0 {
		t.Errorf("re-arming once the lease is lost: %+v, %v; want nothing tried", fs, err)
	}
	// Without leases (one process), the same call re-arms both.
	if fs, err := esc.RearmExpired(ctx, time.UnixMilli(0), now, nil); err != nil || len(fs) != 2 {
		t.Errorf("re-arming without leases: %+v, %v; want both guilds' firings", fs, err)
	}
}
