package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// A write that PostgreSQL's deadlock detector ends is run again by GroupTx (its callers' work
// may run more than once), with and without group commit, instead of failing its command:
// two escalation evaluations on one member can deadlock (docs/escalation.md), and a case lost
// to that would be a case lost to gavel's own locking. The deadlock here is real: the write
// holds one advisory lock and waits for a second that another transaction holds while it
// waits for the first; the other transaction does not look for deadlocks for a minute, so
// the write is the one PostgreSQL ends (after deadlock_timeout, 1 s by default).
func TestGroupTxRunsADeadlockedWriteAgain(t *testing.T) {
	t.Parallel()
	for _, gc := range []struct {
		name string
		opt  store.GroupCommit
	}{{"default", store.GroupDefault}, {"group", store.GroupOn}} {
		t.Run(gc.name, func(t *testing.T) {
			st := storetest.OpenWith(t, store.Postgres, store.Options{GroupCommit: gc.opt})
			ctx := context.Background()
			// Advisory keys of this test alone, apart per subtest (they share a server).
			k1, k2 := int64(0x67617631)<<8|int64(gc.opt), int64(0x67617632)<<8|int64(gc.opt)
			const guild = 9101

			other, err := st.Writer().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Rollback()
			if _, err := other.ExecContext(ctx, "SET LOCAL deadlock_timeout = '60s'"); err != nil {
				t.Fatal(err)
			}
			if _, err := other.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", k2); err != nil {
				t.Fatal(err)
			}

			holdsK1 := make(chan struct{})
			otherDone := make(chan error, 1)
			go func() {
				<-holdsK1
				// Waits for the write's k1 while the write waits for k2: a deadlock, ended by
				// the write's side. Then this one gets k1 and commits, freeing k2.
				if _, err := other.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", k1); err != nil {
					otherDone <- err
					return
				}
				otherDone <- other.Commit()
			}()

			attempts := 0
			var firstErr error
			err = st.GroupTx(ctx, func(tx *store.Tx) error {
				attempts++
				db := store.DB(tx)
				if _, err := db.ExecContext(tx.Context(), "SELECT pg_advisory_xact_lock($1)", k1); err != nil {
					return err
				}
				if attempts == 1 {
					close(holdsK1)
				}
				if _, err := db.ExecContext(tx.Context(), "SELECT pg_advisory_xact_lock($1)", k2); err != nil {
					if attempts == 1 {
						firstErr = err
					}
					return err
				}
				return tx.EnsureGuild(guild, 1)
			})
			if err != nil {
				t.Fatalf("GroupTx: %v; want the deadlocked write run again and committed", err)
			}
			var pg *pgconn.PgError
			if !errors.As(firstErr, &pg) || pg.Code != "40P01" {
				t.Fatalf("the first run's error: %v; want PostgreSQL's deadlock_detected (40P01)", firstErr)
			}
			if attempts != 2 {
				t.Errorf("the write ran %d times; want 2 (the deadlocked run, then the one that committed)", attempts)
			}
			if err := <-otherDone; err != nil {
				t.Fatalf("the other transaction: %v", err)
			}
			var n int
			if err := st.Reader().QueryRowContext(ctx, "SELECT count(*) FROM guilds WHERE id = $1", guild).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("%d guild rows after the write; want 1", n)
			}
		})
	}
}

// A write that fails for its own reasons is not run again.
func TestGroupTxDoesNotRepeatAFailedWrite(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		attempts := 0
		mine := errors.New("refused")
		err := st.GroupTx(context.Background(), func(tx *store.Tx) error {
			attempts++
			return mine
		})
		if !errors.Is(err, mine) || attempts != 1 {
			t.Errorf("GroupTx = %v after %d runs; want the write's own error after 1", err, attempts)
		}
	})
}
