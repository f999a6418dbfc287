// Package leasetest runs a shard-lease provider for tests of work fenced by the leases: a
// process that holds some shards of a count on a PostgreSQL database, the others held by
// another process, and a way to have another process take one of its shards.
package leasetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord/shards"
	"github.com/gavelbot/gavel/internal/leases"
	"github.com/gavelbot/gavel/internal/store"
)

// Elsewhere is the owner of the shards the test's process does not hold.
const Elsewhere = "elsewhere"

// elsewhereFor is how long, on the provider's clock, the other process's leases last.
const elsewhereFor = 24 * time.Hour

// Renew and TTL are the leases' timings in these tests (the defaults).
const (
	Renew = leases.DefaultRenew
	TTL   = leases.DefaultTTL
)

// Process is a gavel process's shard leases, as the app runs them with discord.shards =
// "auto": it holds the shards Start gave it.
type Process struct {
	Provider *leases.Provider
	st       *store.Store
	clk      *clock.Manual
	count    int
	// owned hears the shards held each time they change.
	owned chan []int
}

// Start runs a provider named owner on st and clk that holds the shards mine of count;
// every other shard is leased to Elsewhere for a day of clk first, so the provider
// takes only mine. It returns once the provider holds them, and stops it at the test's
// end.
func Start(t testing.TB, st *store.Store, clk *clock.Manual, owner string, count int, mine ...int) *Process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	now := clk.Now().UnixMilli()
	for id := range count {
		if slices.Contains(mine, id) {
			continue
		}
		if _, err := st.WriteDB().ExecContext(ctx, `INSERT INTO shard_leases (shard_count, shard_id, owner, epoch, expires_at, updated_at)
			VALUES ($1, $2, $3, 1, $4, $5)`, count, id, Elsewhere, now+elsewhereFor.Milliseconds(), now); err != nil {
			cancel()
			t.Fatalf("leasing shard %d elsewhere: %v", id, err)
		}
	}
	owned := make(chan []int, 64)
	p := leases.New(leases.Config{Store: st, Owner: owner, Renew: Renew, TTL: TTL, Clock: clk,
		Owned: func(_ int, ids []int) {
			select {
			case owned <- ids:
			default: // nobody waits for this change
			}
		}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(ctx, count, runner{})
	}()
	t.Cleanup(func() { cancel(); <-done })
	proc := &Process{Provider: p, st: st, clk: clk, count: count, owned: owned}
	proc.await(t, mine)
	return proc
}

// await returns once the provider holds exactly want.
func (p *Process) await(t testing.TB, want []int) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	if _, ids := p.Provider.Shards(); slices.Equal(ids, want) {
		return
	}
	timeout := time.NewTimer(30 * time.Second) // a bound on a failure, not a wait
	defer timeout.Stop()
	for {
		select {
		case ids := <-p.owned:
			if slices.Equal(ids, want) {
				return
			}
		case <-timeout.C:
			_, ids := p.Provider.Shards()
			t.Fatalf("the provider holds shards %v; want %v", ids, want)
		}
	}
}

// Renew moves the clock on to the provider's next renewal and returns once it holds
// exactly want: after Move, the shard lost; after Free, the shard taken.
func (p *Process) Renew(t testing.TB, want ...int) {
	t.Helper()
	p.clk.Advance(Renew)
	p.await(t, want)
}

// Free ends the lease another process holds on shard (it stopped): this process takes it
// at its next renewal (Renew).
func (p *Process) Free(t testing.TB, shard int) {
	t.Helper()
	if _, err := p.st.WriteDB().ExecContext(context.Background(),
		"UPDATE shard_leases SET owner = NULL, expires_at = 0 WHERE shard_count = $1 AND shard_id = $2", p.count, shard); err != nil {
		t.Fatalf("freeing shard %d: %v", shard, err)
	}
}

// Affinity is the process's hold on its guilds, as the app hands it to its work.
func (p *Process) Affinity() store.Affinity { return affinity{p.Provider} }

// Move has another process take shard from this one (a newer epoch, as once this
// process's lease lapsed): this process finds out at its next renewal (Renew on the
// clock); until then it still starts work on the shard's guilds, whose writes the fence
// refuses.
func (p *Process) Move(t testing.TB, shard int) {
	t.Helper()
	if _, err := p.st.WriteDB().ExecContext(context.Background(),
		"UPDATE shard_leases SET owner = $1, epoch = epoch + 1 WHERE shard_count = $2 AND shard_id = $3", Elsewhere, p.count, shard); err != nil {
		t.Fatalf("moving shard %d: %v", shard, err)
	}
}

// ShardOf is guild's shard of count (Discord's formula).
func ShardOf(guild uint64, count int) int { return int((guild >> 22) % uint64(count)) }

// GuildOn returns a guild id, from base up, whose shard of count is shard.
func GuildOn(base uint64, count, shard int) uint64 {
	g := base
	for ShardOf(g, count) != shard {
		g += 1 << 22
	}
	return g
}

type affinity struct{ p *leases.Provider }

func (a affinity) Hold(ctx context.Context, guildID int64) (context.Context, func(*store.Tx) error, func(), bool) {
	return a.p.Hold(ctx, uint64(guildID))
}

// runner is a shard runner with no gateway: the leases are what these tests fence on.
type runner struct{}

func (runner) Start(context.Context, int, shards.Session) error { return nil }
func (runner) Stop(context.Context, int, bool) shards.Session   { return shards.Session{} }
func (runner) Sessions() map[int]shards.Session                 { return map[int]shards.Session{} }

func (runner) Running() []int { return nil }
