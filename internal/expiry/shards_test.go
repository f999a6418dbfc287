package expiry_test

import (
	"context"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// With shard leases each process claims only the expiries of the guilds whose shard it
// holds ((guild_id >> 22) % count): the lift runs where the guild's commands run, under the
// same per-target lock, so it cannot interleave with a command on the same member in
// another process. A process holding no shard claims nothing.
func TestClaimsFollowTheShards(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		const count = 4
		guildOf := func(shard int64) discord.GuildID { return discord.GuildID((1000*count + shard) << 22) }
		for shard := range int64(count) {
			for u := range int64(3) {
				c, err := f.cs.Create(ctx, cases.New{GuildID: guildOf(shard), UserID: discord.UserID(600 + u), ModeratorID: mod,
					Type: cases.Tempban, Reason: "spam", ExpiresAt: f.clk.Now().Add(time.Minute)})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.svc.Schedule(ctx, c.ID, mod, expiry.Unban, c.ExpiresAt); err != nil {
					t.Fatal(err)
				}
			}
		}
		f.clk.Advance(time.Hour)
		process := func(ids ...int) *expiry.Service {
			return expiry.NewService(st, f.cs, expiry.WithRules(actions.Catalogue().ExpiryRules()), expiry.WithClock(f.clk),
				expiry.WithShards(func() (int, []int) { return count, ids }))
		}
		idle := process()
		if got, err := idle.Claim(ctx, "idle", 100, time.Minute); err != nil || len(got) != 0 {
			t.Fatalf("a process with no shard claimed %d actions (%v)", len(got), err)
		}
		for _, p := range []struct {
			owner  string
			shards []int
		}{{"a", []int{0, 2}}, {"b", []int{1}}, {"c", []int{3}}} {
			got, err := process(p.shards...).Claim(ctx, p.owner, 100, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3*len(p.shards) {
				t.Errorf("process %s (shards %v) claimed %d actions; want %d", p.owner, p.shards, len(got), 3*len(p.shards))
			}
			for _, cl := range got {
				shard := int((int64(cl.GuildID) >> 22) % count)
				mine := false
				for _, s := range p.shards {
					mine = mine || s == shard
				}
				if !mine {
					t.Errorf("process %s (shards %v) claimed an action of guild %d on shard %d", p.owner, p.shards, cl.GuildID, shard)
				}
			}
		}
	})
}
