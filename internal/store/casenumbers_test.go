package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// TestCaseNumbersAndTheCounter checks that case numbers and each guild's counter move
// together: numbered from the counter, consecutive within a batch, the counter left at the
// guild's last number, and a rolled-back insert taking its numbers back. No test said so
// before docs/benchmarks.md's session 11 tried moving SQLite's counter into the history
// trigger.
func TestCaseNumbersAndTheCounter(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		const g, h = 7101, 7102
		mk := func(guild int64) store.NewCase {
			return store.NewCase{GuildID: guild, UserID: 5, ModeratorID: 6, Type: "WARN", Status: "pending",
				Reason: "r", RoleIDs: "[]", Metadata: "{}", CreatedAt: time.Now().UnixMilli()}
		}
		counters := func() [2]int64 {
			t.Helper()
			var out [2]int64
			for i, guild := range []int64{g, h} {
				n, err := storetest.GuildCaseCount(ctx, st, guild)
				if err != nil {
					t.Fatal(err)
				}
				out[i] = n
			}
			return out
		}
		numbers := func(ks []store.CaseKey) []int64 {
			var out []int64
			for _, k := range ks {
				out = append(out, k.Number)
			}
			return out
		}

		var keys []store.CaseKey
		if err := st.InTx(ctx, func(tx *store.Tx) error {
			var err error
			keys, err = tx.InsertCases([]store.NewCase{mk(g), mk(h), mk(g), mk(g)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int64{1, 1, 2, 3}, numbers(keys)); diff != "" {
			t.Fatalf("numbers of the first batch (-want +got):\n%s", diff)
		}
		if got := counters(); got != [2]int64{3, 1} {
			t.Fatalf("counters after the first batch: %v, want [3 1]", got)
		}

		// Two inserts in one transaction, the second numbered after the first.
		if err := st.InTx(ctx, func(tx *store.Tx) error {
			for _, want := range []int64{4, 5} {
				ks, err := tx.InsertCases([]store.NewCase{mk(g)})
				if err != nil {
					return err
				}
				if ks[0].Number != want {
					t.Errorf("case numbered %d in the transaction, want %d", ks[0].Number, want)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}

		errRollback := errors.New("roll back")
		if err := st.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.InsertCases([]store.NewCase{mk(g), mk(h)}); err != nil {
				return err
			}
			return errRollback
		}); !errors.Is(err, errRollback) {
			t.Fatalf("rolled-back transaction: %v", err)
		}
		if got := counters(); got != [2]int64{5, 1} {
			t.Fatalf("counters after a rollback: %v, want [5 1]", got)
		}

		k, err := st.CreateCase(ctx, mk(h))
		if err != nil {
			t.Fatal(err)
		}
		if k.Number != 2 {
			t.Errorf("case after the rollback numbered %d, want 2", k.Number)
		}
		if got := counters(); got != [2]int64{5, 2} {
			t.Fatalf("counters at the end: %v, want [5 2]", got)
		}
	})
}
