package store_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// waitPrepared waits until st holds n prepared texts.
func waitPrepared(t *testing.T, st *store.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for store.PreparedTexts(st) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d texts prepared after 10 s; want %d", store.PreparedTexts(st), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The writer has one connection: a text first seen inside a transaction that holds it must
// run (unprepared) without waiting for its own preparation, and be prepared once the
// transaction ends; later runs, in and out of transactions, give the same answers.
func TestStatementCacheOnTheSingleWriter(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	const q = `SELECT CAST($1 AS INTEGER) + 1`
	for round := range 3 {
		done := make(chan error, 1)
		go func() {
			done <- st.InTx(ctx, func(tx *store.Tx) error {
				for i := range int64(3) {
					var got int64
					if err := store.DB(tx).QueryRowContext(ctx, q, i).Scan(&got); err != nil {
						return err
					}
					if got != i+1 {
						t.Errorf("round %d: %d + 1 = %d", round, i, got)
					}
				}
				_, err := store.DB(tx).ExecContext(ctx, `INSERT INTO guilds (id, case_count, joined_at) VALUES ($1, 0, 0)`, 700000000000000000+int64(round))
				return err
			})
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the transaction waited for its own statement's preparation", round)
		}
		waitPrepared(t, st, 2)
	}
	var n int
	if err := st.WriteDB().QueryRowContext(ctx, `SELECT COUNT(*) FROM guilds WHERE id >= $1`, 700000000000000000).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d guilds (%v); want the 3 inserted through the cache", n, err)
	}
	var got int64
	if err := st.ReadDB().QueryRowContext(ctx, q, 41).Scan(&got); err != nil || got != 42 {
		t.Fatalf("reader: %d, %v; want 42", got, err)
	}
}

// A text run again and again in the transaction that first sees it (a batch's rows, with
// the cache's own preparation waiting for the writer this transaction holds) is prepared on
// the transaction from its second run, and gives the same answers; a text the engine cannot
// prepare keeps failing with the engine's error, unprepared.
func TestStatementCachePreparesOnTheTransaction(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	const q = `SELECT CAST($1 AS INTEGER) * 2`
	err := st.InTx(ctx, func(tx *store.Tx) error {
		for i := range int64(5) {
			var got int64
			if err := store.DB(tx).QueryRowContext(ctx, q, i).Scan(&got); err != nil {
				return err
			}
			if got != 2*i {
				t.Errorf("%d * 2 = %d", i, got)
			}
			if want := min(int(i), 1); store.TxStatements(tx) != want {
				t.Errorf("after run %d: %d statements on the transaction; want %d", i+1, store.TxStatements(tx), want)
			}
		}
		for range 3 {
			_, err := store.DB(tx).ExecContext(ctx, `SELECT id FROM guilds FOR UPDATE SKIP LOCKED`)
			if err == nil || !strings.Contains(err.Error(), "syntax error") {
				t.Errorf("err = %v; want SQLite's syntax error", err)
			}
		}
		if n := store.TxStatements(tx); n != 1 {
			t.Errorf("%d statements on the transaction; want the one that prepares", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A text SQLite cannot prepare (PostgreSQL's row locking) is never cached, and fails each
// time with the engine's own error.
func TestStatementCacheLeavesUnpreparableTexts(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	for range 3 {
		_, err := st.WriteDB().QueryContext(ctx, `SELECT id FROM guilds FOR UPDATE SKIP LOCKED`)
		if err == nil || !strings.Contains(err.Error(), "syntax error") {
			t.Fatalf("err = %v; want SQLite's syntax error", err)
		}
		store.WaitPreparations(st)
	}
	if n := store.PreparedTexts(st); n != 0 {
		t.Fatalf("%d texts prepared; want none", n)
	}
}

// Closing the store while a preparation waits for the writer's connection returns, without
// waiting for the transaction that holds the connection.
func TestStatementCacheClose(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	tx, err := st.Writer().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var one int
	if err := st.TxDB(tx).QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		t.Fatal(err)
	}
	// The text's preparation runs in the background and queues for the one connection.
	deadline := time.Now().Add(10 * time.Second)
	for st.Writer().Stats().WaitCount < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the preparation never waited for the writer's connection")
		}
		runtime.Gosched()
	}
	closed := make(chan error, 1)
	go func() { closed <- st.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while a transaction held the writer")
	}
	_ = tx.Rollback() // the store is closed: only the connection's release matters
}

// PostgreSQL keeps its own statement cache (pgx): the store's wrappers pass queries through.
func TestStatementCachePostgresPassesThrough(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.Postgres)
	ctx := context.Background()
	var got int64
	if err := st.ReadDB().QueryRowContext(ctx, `SELECT CAST($1 AS BIGINT) + 1`, 1).Scan(&got); err != nil || got != 2 {
		t.Fatalf("%d, %v; want 2", got, err)
	}
	if n := store.PreparedTexts(st); n != 0 {
		t.Fatalf("%d texts prepared on PostgreSQL; want none", n)
	}
}

// On SQLite a read on the reading pool runs without its context's end (no goroutine to
// watch it per statement): a context that has ended refuses the statement before it runs,
// one that ends while its rows are read leaves them readable to the end.
func TestReadsRunWithoutTheirContextsEnd(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	const q = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) SELECT i FROM n`
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for round := range 2 { // unprepared, then (once the cache holds it) prepared
		if round == 1 {
			waitPrepared(t, st, 1)
		}
		var n int64
		if err := st.ReadDB().QueryRowContext(ended, q).Scan(&n); err != context.Canceled {
			t.Errorf("round %d: a read with an ended context: %v; want context.Canceled", round, err)
		}
		live, stop := context.WithCancel(context.Background())
		rows, err := st.ReadDB().QueryContext(live, q)
		if err != nil {
			t.Fatal(err)
		}
		stop()
		count := 0
		for rows.Next() {
			count++
		}
		if err := rows.Err(); err != nil || count != 50 {
			t.Errorf("round %d: rows read after the context ended: %d, %v; want 50, nil", round, count, err)
		}
		rows.Close()
	}
}
