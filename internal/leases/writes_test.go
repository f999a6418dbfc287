package leases_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/leases"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// TestFencedWritesAfterTheShardMoved: a command's writes run under its guild's fence
// (store.Enter over the provider, as the router, upkeep and AutoMod start their work).
// While process A holds the shard, its case write and its settings change commit. Another
// process then takes the shard (a newer epoch, as after A's lease lapsed): A's work is
// cancelled at A's next renewal, with ErrLeaseLost as its cause, and a write of that work
// already on its way (its context no longer cancellable) is refused inside its own
// transaction, case write and settings change alike, leaving nothing behind.
func TestFencedWritesAfterTheShardMoved(t *testing.T) {
	st := storetest.OpenWith(t, store.Postgres, store.Options{MaxOpenConns: 4}) // skips without PostgreSQL
	ctx, cancelAll := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelAll()
	const renew, ttl = 5 * time.Second, 30 * time.Second
	const guild = discord.GuildID(uint64(7) << 22) // shard 0 of 1
	const mod, member = discord.UserID(1001), discord.UserID(1002)
	clk := clock.NewManual(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC))
	a := leases.New(leases.Config{Store: st, Owner: "a", Renew: renew, TTL: ttl, Clock: clk})
	ra := newRunner("a")
	pctx, stopA := context.WithCancel(ctx)
	doneA := make(chan struct{})
	go func() {
		defer close(doneA)
		_ = a.Run(pctx, 1, ra)
	}()
	defer func() { stopA(); <-doneA }()
	if err := clk.WaitArmed(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cs := cases.NewService(st, cases.WithClock(clk.Now))
	sets := settings.NewService(st, settings.WithClock(clk.Now))
	warn := cases.New{GuildID: guild, UserID: member, ModeratorID: mod, Type: cases.Warn, Reason: "spam"}

	held, release, ok := store.Enter(ctx, affinity{a}, int64(guild))
	if !ok {
		t.Fatal("a does not hold its own shard's guild")
	}
	defer release()
	if _, err := cs.Create(held, warn); err != nil {
		t.Fatalf("a case written while a holds the lease: %v", err)
	}
	if _, err := sets.SetPrefix(held, guild, mod, "!"); err != nil {
		t.Fatalf("a settings change while a holds the lease: %v", err)
	}

	// Another process takes the shard, as it does once A's lease has lapsed.
	if _, err := st.WriteDB().ExecContext(ctx, "UPDATE shard_leases SET owner = 'b', epoch = epoch + 1 WHERE shard_count = 1 AND shard_id = 0"); err != nil {
		t.Fatal(err)
	}
	// A's next renewal finds the newer epoch: the shard is stopped and its work cancelled.
	clk.Advance(renew)
	select {
	case <-held.Done():
	case <-ctx.Done():
		t.Fatal("a's work on the guild was not cancelled after another process took the shard")
	}
	if cause := context.Cause(held); !errors.Is(cause, leases.ErrLeaseLost) || !errors.Is(cause, store.ErrFenced) {
		t.Errorf("the work's cause: %v; want ErrLeaseLost (a store.ErrFenced)", cause)
	}
	if _, _, ok := store.Enter(ctx, affinity{a}, int64(guild)); ok {
		t.Error("a starts new work on a guild whose shard another process holds")
	}

	// Writes of that work already on their way: refused in their own transactions.
	onItsWay := context.WithoutCancel(held)
	if _, err := cs.Create(onItsWay, warn); !errors.Is(err, store.ErrFenced) || !errors.Is(err, leases.ErrLeaseLost) {
		t.Errorf("a case write after the shard moved: %v; want ErrLeaseLost (store.ErrFenced)", err)
	}
	if _, err := sets.SetPrefix(onItsWay, guild, mod, "?"); !errors.Is(err, store.ErrFenced) {
		t.Errorf("a settings change after the shard moved: %v; want store.ErrFenced", err)
	}
	if n, err := cs.CountInGuild(ctx, guild); err != nil || n != 1 {
		t.Errorf("%d cases (%v); want only the one written while a held the shard", n, err)
	}
	if g, err := settings.NewService(st).Get(ctx, guild); err != nil || g.Prefix != "!" {
		t.Errorf("prefix %q (%v); want the change made while a held the shard, %q", g.Prefix, err, "!")
	}
	// Writes without a fence (another process's, the CLI's) are not this fence's business.
	if _, err := cs.Create(ctx, warn); err != nil {
		t.Errorf("an unfenced case write: %v", err)
	}
}

// affinity is the provider as the app hands it to its work (store.Affinity).
type affinity struct{ p *leases.Provider }

func (a affinity) Hold(ctx context.Context, guildID int64) (context.Context, func(*store.Tx) error, func(), bool) {
	return a.p.Hold(ctx, uint64(guildID))
}

// TestFencedCaseInsertWaitsForAClaim: a case written under a lease's fence on PostgreSQL
// checks the lease within its insert's own statement (store.WithLease). While another
// process's claim of the lease is under way (its UPDATE not committed), the insert waits
// for it; once the claim commits, the insert is refused (ErrLeaseLost) and writes nothing.
// Had the insert locked the row first, the claim would have waited for it: either way a
// case is written only while its process holds the lease.
func TestFencedCaseInsertWaitsForAClaim(t *testing.T) {
	url := storetest.MigratedURL(t, store.Postgres) // skips without PostgreSQL; the raw connection below shares it
	ctx, cancelAll := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelAll()
	st, err := store.OpenURL(ctx, url, store.Options{MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const guild = discord.GuildID(uint64(9) << 22) // shard 0 of 1
	clk := clock.NewManual(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC))
	a := leases.New(leases.Config{Store: st, Owner: "a", Clock: clk})
	pctx, stopA := context.WithCancel(ctx)
	doneA := make(chan struct{})
	go func() {
		defer close(doneA)
		_ = a.Run(pctx, 1, newRunner("a"))
	}()
	defer func() { stopA(); <-doneA }()
	if err := clk.WaitArmed(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cs := cases.NewService(st, cases.WithClock(clk.Now))
	warn := cases.New{GuildID: guild, UserID: 1002, ModeratorID: 1001, Type: cases.Warn, Reason: "spam"}
	held, release, ok := store.Enter(ctx, affinity{a}, int64(guild))
	if !ok {
		t.Fatal("a does not hold its own shard's guild")
	}
	defer release()
	if _, err := cs.Create(held, warn); err != nil {
		t.Fatalf("a case written while a holds the lease: %v", err)
	}

	// Another process claims the lease; its transaction is still open.
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	claim, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = claim.Rollback() }()
	if _, err := claim.ExecContext(ctx, "UPDATE shard_leases SET owner = 'b', epoch = epoch + 1 WHERE shard_count = 1 AND shard_id = 0"); err != nil {
		t.Fatal(err)
	}
	created := make(chan error, 1)
	go func() {
		_, err := cs.Create(held, warn)
		created <- err
	}()
	// The insert waits for the claim's row lock (seen in pg_stat_activity).
	bound := time.After(30 * time.Second)
	for waiting := false; !waiting; {
		if err := st.WriteDB().QueryRowContext(ctx, `SELECT count(*) > 0 FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE '%shard_leases%' AND query LIKE '%INSERT INTO cases%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-created:
			t.Fatalf("the insert returned (%v) while a claim of its lease was under way; want it to wait", err)
		case <-bound:
			t.Fatal("the insert never waited for the claim")
		default:
		}
	}
	if err := claim.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-created; !errors.Is(err, leases.ErrLeaseLost) {
		t.Errorf("the insert after the claim committed: %v; want ErrLeaseLost", err)
	}
	if n, err := cs.CountInGuild(ctx, guild); err != nil || n != 1 {
		t.Errorf("%d cases (%v); want only the one written before the claim", n, err)
	}
}
