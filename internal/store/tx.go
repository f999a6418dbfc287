package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gavelbot/gavel/internal/store/postgres"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Tx is the unit of work: one write transaction that every domain package writes its own
// tables through. cases writes a case and its history, expiry its schedule, the mod log its
// outbox, all in the same Tx, so a change that spans them commits or rolls back as one. It is
// for one goroutine at a time.
type Tx struct {
	s     *Store
	ctx   context.Context
	db    query.DBTX
	q     query.Queries
	after []func()
	// once holds the results of Once, by key.
	once map[any]error
}

// Once runs f the first time key is given in this transaction, and returns that result
// then and every time after: for a check that the work of several callers sharing one
// transaction would repeat (the lease fences of a batch of cases on one shard: one round
// trip for the batch, not one per case). key must be comparable.
func (t *Tx) Once(key any, f func() error) error {
	if err, ok := t.once[key]; ok {
		return err
	}
	err := f()
	if t.once == nil {
		t.once = map[any]error{}
	}
	t.once[key] = err
	return err
}

// Context is the context the transaction runs in.
func (t *Tx) Context() context.Context { return t.ctx }

// Queries runs the store's queries in the transaction (through the statement cache on
// SQLite). A package uses only the queries on its own tables.
func (t *Tx) Queries() query.Queries { return t.q }

// EnsureGuild makes sure the guild's row exists. The guilds table is the store's: every
// package's rows reference it, and the engines' case insert allocates numbers from its
// counter.
func (t *Tx) EnsureGuild(guildID, nowMS int64) error {
	return t.q.EnsureGuild(t.ctx, query.EnsureGuildParams{ID: guildID, JoinedAt: nowMS})
}

// AfterCommit runs f once the transaction has committed, never when it rolls back: for news
// that must not travel before the data it announces.
func (t *Tx) AfterCommit(f func()) { t.after = append(t.after, f) }

// committed runs the AfterCommit functions, in the order they were added. The store calls
// it after a commit; a group commit that runs several units of work in one transaction
// calls it for each of them once the shared transaction has committed.
func (t *Tx) committed() {
	after := t.after
	t.after = nil
	for _, f := range after {
		f()
	}
}

// bindTx makes a unit of work of tx, a transaction begun on the writing pool, for a group
// commit that runs several units of work in one database transaction.
func (s *Store) bindTx(ctx context.Context, tx *sql.Tx) *Tx {
	db := s.TxDB(tx)
	return &Tx{s: s, ctx: ctx, db: db, q: s.queries(db)}
}

// InTx runs fn in a write transaction and commits it when fn returns nil, then runs what fn
// registered with AfterCommit. On SQLite the transaction begins IMMEDIATE (see sqliteDSN),
// so it holds the write lock from the start.
// transientAttempts bounds how many times GroupTx runs a write the engine undid for reasons
// not its own: PostgreSQL's deadlock detector ends one of two transactions that wait for
// each other (a member's escalation lock taken in share mode and then exclusively, by two
// writes at once: docs/escalation.md), and the write it ended is as good as the other's.
const transientAttempts = 3

// InTxRetrying is InTx for callers whose fn may run more than once (it keeps its effects
// outside the database for AfterCommit): a run ended by a deadlock or a serialization failure
// (PostgreSQL) is run again in a new transaction, at most transientAttempts times in all,
// unless ctx has ended. GroupTx without group commit is this.
func (s *Store) InTxRetrying(ctx context.Context, fn func(tx *Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.InTx(ctx, fn)
		if err == nil || s.Location.Engine != Postgres || !postgres.Transient(err) || attempt >= transientAttempts || ctx.Err() != nil {
			return err
		}
	}
}

func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := s.bindTx(ctx, tx)
	if err := withClaim(fn)(t); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	t.committed()
	return nil
}
