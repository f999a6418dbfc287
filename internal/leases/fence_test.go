package leases_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/leases"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// TestFenceStopsWorkBeforeTheNextOwner: process A holds the only shard and a lift runs
// under its fence when A loses the database (its store closed: renewals fail, as in a
// network partition). A's fence ends the lift at lease end minus the margin, on A's clock,
// before the lease runs out; B takes the shard only after the lease ran out, and then a
// completion A attempts under its old fence is refused inside the transaction. And while a
// completion holds the fence's check in a transaction, B's claim of the lease waits for it
// to end: a lift's outcome is recorded before the next owner starts, or never.
func TestFenceStopsWorkBeforeTheNextOwner(t *testing.T) {
	url := storetest.URL(t, store.Postgres) // skips without PostgreSQL
	ctx, cancelAll := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelAll()
	open := func() *store.Store {
		st, err := store.OpenURL(ctx, url, store.Options{MaxOpenConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	stA, stB := open(), open()
	if _, err := stA.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	const renew, ttl = 5 * time.Second, 30 * time.Second
	const guild = uint64(1) << 22 // shard 0 of 1
	clk := clock.NewManual(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC))
	run := func(st *store.Store, name string) (*leases.Provider, *runner, context.CancelFunc, chan struct{}) {
		p := leases.New(leases.Config{Store: st, Owner: name, Renew: renew, TTL: ttl, Clock: clk})
		r := newRunner(name)
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = p.Run(pctx, 1, r)
		}()
		return p, r, cancel, done
	}
	a, ra, stopA, doneA := run(stA, "a")
	if err := clk.WaitArmed(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := ra.Running(); len(got) != 1 {
		t.Fatalf("a runs %v; want shard 0", got)
	}
	held, check, done, ok := a.Hold(ctx, guild)
	if !ok {
		t.Fatal("a does not hold its own shard's guild")
	}
	// A completion under the fence passes while A holds the lease.
	if err := stA.InTx(ctx, check); err != nil {
		t.Fatalf("check while holding the lease: %v", err)
	}

	// The lift: it runs until its fence ends it, and returns then.
	go func() {
		<-held.Done()
		done()
	}()

	// A loses the database; its clock moves on, renewal after renewal failing.
	stA.Close()
	leaseEnd := clk.Now().Add(ttl)
	var cancelledAt time.Time
	for cancelledAt.IsZero() {
		if !clk.Now().Before(leaseEnd) {
			t.Fatal("the lift was still running when a's lease ran out")
		}
		clk.Advance(time.Second)
		if err := clk.WaitArmedAfter(ctx, clk.Now()); err != nil {
			t.Fatal(err)
		}
		// The provider ends a fence before it waits on the clock again.
		if held.Err() != nil {
			cancelledAt = clk.Now()
		}
	}
	if margin := leaseEnd.Sub(cancelledAt); margin < ttl/5 {
		t.Errorf("the lift was stopped %v before the lease's end; want at least the margin %v", margin, ttl/5)
	}
	if _, _, _, ok := a.Hold(ctx, guild); ok {
		t.Error("a lets new work hold a guild whose lease is about to run out")
	}

	// A stays cut off (its loop ends here); B starts once the lease ran out and takes the
	// shard.
	stopA()
	<-doneA
	clk.Set(leaseEnd.Add(time.Millisecond))
	b, rb, stopB, doneB := run(stB, "b")
	_ = b
	if err := clk.WaitArmedAfter(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := rb.Running(); len(got) != 1 {
		t.Fatalf("b runs %v after a's lease ran out; want shard 0", got)
	}
	// A's completion, had it gone on, is refused by the fence (checked through B's
	// connection: A has none).
	if err := stB.InTx(ctx, check); !errors.Is(err, leases.ErrLeaseLost) {
		t.Errorf("a's completion after b took the shard: %v; want ErrLeaseLost", err)
	}

	// A completion holding B's fence makes a claim of the lease wait for its transaction.
	_, checkB, doneB2, ok := b.Hold(ctx, guild)
	if !ok {
		t.Fatal("b does not hold its shard's guild")
	}
	defer doneB2()
	inTx := make(chan struct{})
	finish := make(chan struct{})
	txDone := make(chan error, 1)
	go func() {
		txDone <- stB.InTx(ctx, func(tx *store.Tx) error {
			if err := checkB(tx); err != nil {
				return err
			}
			close(inTx)
			<-finish
			return nil
		})
	}()
	<-inTx
	// Another process tries to take the shard meanwhile: its UPDATE of the lease waits for
	// the fenced transaction (FOR SHARE); told to wait at most 300 ms, it gives up.
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	take := func(lockTimeout string) error {
		tx, err := raw.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		if _, err := tx.ExecContext(ctx, "SET LOCAL lock_timeout = '"+lockTimeout+"'"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE shard_leases SET owner = 'c', epoch = epoch + 1 WHERE shard_count = 1 AND shard_id = 0"); err != nil {
			return err
		}
		return tx.Commit()
	}
	var pgErr *pgconn.PgError
	if err := take("300ms"); !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
		t.Fatalf("taking the lease while a completion held its fence: %v; want to wait (lock_not_available)", err)
	}
	close(finish)
	if err := <-txDone; err != nil {
		t.Fatalf("the fenced completion: %v", err)
	}
	if err := take("10s"); err != nil {
		t.Fatalf("taking the lease after the completion: %v", err)
	}
	if err := stB.InTx(ctx, checkB); !errors.Is(err, leases.ErrLeaseLost) {
		t.Errorf("b's completion after c took the shard: %v; want ErrLeaseLost", err)
	}
	stopB()
	<-doneB
}

// TestWorkResumesWhenALateRenewalSucceeds: the lease's table is out of reach for a while
// (renamed away: every renewal fails at once, as when the database refuses), long enough
// for the fence to end the work on the shard's guilds at lease end minus the margin. Then
// the table is back and the next renewal, before the lease ran out, succeeds at the same
// epoch: no other process can have taken the shard, so new work may hold its guilds again
// and its outcome commits; the shard is resumed, so that the events of the stopped work are
// sent again. Before, the fence stayed ended and every later command, lift or
// check on those guilds was refused as if the shard were lost, while the process still ran
// it.
func TestWorkResumesWhenALateRenewalSucceeds(t *testing.T) {
	st := storetest.OpenWith(t, store.Postgres, store.Options{MaxOpenConns: 4}) // skips without PostgreSQL
	ctx, cancelAll := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelAll()
	rename := func(from, to string) {
		t.Helper()
		if _, err := st.Writer().ExecContext(ctx, "ALTER TABLE "+from+" RENAME TO "+to); err != nil {
			t.Fatal(err)
		}
	}
	const renew, ttl = 5 * time.Second, 30 * time.Second
	const guild = uint64(1) << 22 // shard 0 of 1
	clk := clock.NewManual(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC))
	p := leases.New(leases.Config{Store: st, Owner: "a", Renew: renew, TTL: ttl, Clock: clk})
	r := newRunner("a")
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(pctx, 1, r)
	}()
	defer func() { stop(); <-done }()
	if err := clk.WaitArmed(ctx, 1); err != nil {
		t.Fatal(err)
	}
	held, _, release, ok := p.Hold(ctx, guild)
	if !ok {
		t.Fatal("the process does not hold its own shard's guild")
	}
	defer release()

	rename("shard_leases", "shard_leases_away")
	leaseEnd := clk.Now().Add(ttl)
	for held.Err() == nil {
		if !clk.Now().Before(leaseEnd) {
			t.Fatal("the work was still running when the lease ran out")
		}
		clk.Advance(time.Second)
		if err := clk.WaitArmedAfter(ctx, clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, ok := p.Hold(ctx, guild); ok {
		t.Fatal("new work holds a guild whose lease is about to run out unrenewed")
	}

	// The table is back; the next renewal comes before the lease's end (the margin is
	// longer than the renewal interval) and succeeds.
	rename("shard_leases_away", "shard_leases")
	for {
		if !clk.Now().Before(leaseEnd) {
			t.Fatal("no renewal before the lease ran out")
		}
		clk.Advance(time.Second)
		if err := clk.WaitArmedAfter(ctx, clk.Now()); err != nil {
			t.Fatal(err)
		}
		if p.Holds(0) {
			break
		}
	}
	if got := r.Running(); len(got) != 1 {
		t.Fatalf("the process runs shards %v; want shard 0 still", got)
	}
	// The work the fence stopped had its events handled already: the shard is resumed from
	// its saved session, so Discord sends them again.
	r.mu.Lock()
	started, resumed, stops := r.started, len(r.resumed), len(r.stopKeep)
	r.mu.Unlock()
	if started != 2 || resumed != 1 || stops != 1 {
		t.Fatalf("the shard was started %d times (%d resumed) and stopped %d times; want started again once, resuming its session", started, resumed, stops)
	}
	held2, check, release2, ok := p.Hold(ctx, guild)
	if !ok {
		t.Fatal("after a successful renewal, work cannot hold the shard's guild")
	}
	defer release2()
	if held2.Err() != nil {
		t.Fatalf("the new work's context has ended: %v", context.Cause(held2))
	}
	if err := st.InTx(ctx, check); err != nil {
		t.Fatalf("the new work's outcome: %v; want it committed", err)
	}
}
