package moderation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/leases/leasetest"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/store"
)

// TestMassActionsStayWithTheGuildsShard: a mass kick's work runs only in the process that
// holds its guild's shard lease (PostgreSQL, 2 shards; the test's process holds the shard
// that is not the guild's). Started here, it records nothing and kicks nobody. A mass
// kick its guild's previous owner left running (recorded, no target tried) is not resumed
// here while another process holds the shard; once this process takes the shard, it
// resumes it and kicks its targets. And once another process has taken the shard back, a
// mass kick this process has not yet heard of losing is refused by the fence: its record
// is never written and nobody is kicked.
func TestMassActionsStayWithTheGuildsShard(t *testing.T) {
	t.Parallel()
	w := massWorld(t, store.Postgres) // skips without PostgreSQL
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const count = 2
	shard := leasetest.ShardOf(uint64(w.guild), count)
	proc := leasetest.Start(t, w.st, clock.NewManual(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)), "a", count, 1-shard)
	co := moderation.NewCoordinator(actions.Catalogue(), w.port, w.cases, w.settings, w.exec, moderation.WithBotUserID(discord.UserID(w.s.BotID())),
		moderation.WithStore(w.st), moderation.WithDMTimeout(testDMTimeout), moderation.WithAffinity(proc.Affinity()))
	ids := func(us []discordtest.ID) []discord.UserID {
		out := make([]discord.UserID, len(us))
		for i, u := range us {
			out[i] = discord.UserID(u)
		}
		return out
	}
	members := func(us []discordtest.ID) (n int) {
		for _, u := range us {
			if _, ok := w.s.Member(w.guild, u); ok {
				n++
			}
		}
		return n
	}
	massActions := func(state string) (n int) {
		t.Helper()
		if err := w.st.WriteDB().QueryRowContext(ctx, "SELECT count(*) FROM mass_actions WHERE state = $1", state).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Another process holds the guild's shard: a mass kick started here does nothing.
	first := w.crowd[:3]
	res := co.ExecuteMass(ctx, w.massReq(moderation.MassKick, ids(first)))
	if !errors.Is(res.Err, store.ErrFenced) || res.Parent != nil {
		t.Fatalf("a mass kick in a guild of another process's shard: %+v; want refused with store.ErrFenced, no parent case", res)
	}
	if n := massActions("running") + massActions("done"); n != 0 || members(first) != 3 {
		t.Fatalf("%d mass actions recorded, %d of 3 targets still members; want none recorded, nobody kicked", n, members(first))
	}

	// The guild's previous owner recorded a mass kick and stopped before trying a target:
	// its record as such a stop leaves it (recorded by a coordinator without leases, as a
	// process alone would, then set back to where the stop left it).
	left := w.massReq(moderation.MassKick, ids(first))
	left.Cancelled = func() bool { return true }
	if r := w.co.ExecuteMass(ctx, left); r.Parent == nil {
		t.Fatalf("recording the mass kick: %+v", r)
	}
	if _, err := w.st.WriteDB().ExecContext(ctx, "UPDATE mass_actions SET state = 'running'"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.WriteDB().ExecContext(ctx, "UPDATE mass_targets SET state = 'queued'"); err != nil {
		t.Fatal(err)
	}
	got, err := co.ResumeMass(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("resuming while another process holds the shard: %+v, %v; want nothing resumed", got, err)
	}
	if massActions("running") != 1 || members(first) != 3 {
		t.Fatalf("the left mass kick was run by a process that does not hold its guild's shard")
	}

	// The other process stops; this one takes the shard and resumes the mass kick.
	proc.Free(t, shard)
	proc.Renew(t, 0, 1)
	got, err = co.ResumeMass(ctx)
	if err != nil || len(got) != 1 || got[0].Progress.Done != 3 {
		t.Fatalf("resuming once this process holds the shard: %+v, %v; want the mass kick resumed, 3 kicked", got, err)
	}
	if massActions("running") != 0 || members(first) != 0 {
		t.Fatalf("%d mass actions still running, %d of 3 targets still members; want it done", massActions("running"), members(first))
	}
	// A second resume (as the app runs one each time it takes shards) finds nothing to do.
	if got, err := co.ResumeMass(ctx); err != nil || len(got) != 0 {
		t.Fatalf("a second resume: %+v, %v; want nothing", got, err)
	}

	// Another process takes the shard; this one has not renewed yet, so it still starts
	// the work, and the fence refuses its record.
	proc.Move(t, shard)
	second := w.crowd[3:6]
	res = co.ExecuteMass(ctx, w.massReq(moderation.MassKick, ids(second)))
	if !errors.Is(res.Err, store.ErrFenced) || res.Parent != nil {
		t.Fatalf("a mass kick after the shard moved: %+v; want its record refused with store.ErrFenced", res)
	}
	if massActions("running") != 0 || members(second) != 3 {
		t.Fatalf("%d mass actions running, %d of 3 targets still members; want no record and nobody kicked", massActions("running"), members(second))
	}
	// At its renewal it finds out, and starts no more work on the guild.
	proc.Renew(t, 1-shard)
	if res := co.ExecuteMass(ctx, w.massReq(moderation.MassKick, ids(second))); !errors.Is(res.Err, store.ErrFenced) || res.Parent != nil {
		t.Fatalf("a mass kick after the lease was lost: %+v; want refused", res)
	}
}
