package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// GroupCommit says whether concurrent write transactions share one database transaction.
type GroupCommit int

const (
	// GroupDefault is the engine's choice: on for SQLite, whose one writer connection would
	// otherwise run a transaction and a commit per write; off for PostgreSQL, which runs
	// concurrent transactions side by side and already shares WAL flushes between concurrent
	// commits (running a batch's writes one after the other measured slower there:
	// docs/benchmarks.md, "Follow-up writes").
	GroupDefault GroupCommit = iota
	// GroupOn shares transactions on either engine (the tests check its rules on both).
	GroupOn
	// GroupOff runs every GroupTx as a transaction of its own.
	GroupOff
)

// maxBatch bounds the requests one leader takes, for both group commits.
const maxBatch = 128

// txTimeout bounds a batch on PostgreSQL, which outlives the contexts of the callers in it.
const txTimeout = 30 * time.Second

// batchCtx is the context a batch (of either group commit) or one of its members runs its
// statements in: not cancelled with the callers' contexts. On PostgreSQL it ends after
// txTimeout, bounding a batch a server or a lock holds up. On SQLite it has no end: there a
// statement waits only for another process's lock, which busy_timeout already bounds (10 s,
// url.go), and a context that can end makes modernc's driver start a goroutine to watch it
// for every statement (and database/sql one more for every transaction and query), about
// twenty a command, where the deadline never fired.
func (s *Store) batchCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.Location.Engine == SQLite {
		return context.WithoutCancel(ctx), func() {}
	}
	return context.WithTimeout(context.WithoutCancel(ctx), txTimeout)
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

// takeBatch claims up to maxBatch queued requests for a leader and returns them, with the
// requests still queued; abandoned ones are dropped. Both group commits share it.
func takeBatch[R any](pending []*R, state func(*R) *atomic.Int32) (batch, rest []*R) {
	rest = pending[:0:0]
	for _, r := range pending {
		st := state(r)
		if len(batch) < maxBatch && st.CompareAndSwap(reqQueued, reqTaken) {
			batch = append(batch, r)
		} else if st.Load() == reqQueued {
			rest = append(rest, r)
		}
	}
	return batch, rest
}

// updater group-commits write transactions (GroupTx): concurrent callers' transactions run
// one after the other inside one database transaction, each in a savepoint of its own, and
// share its commit. Each caller's work is still atomic and isolated from the others'
// failures: an error rolls back to the caller's savepoint, so the caller sees exactly what a
// transaction of its own would have given, and the others' changes commit. After a
// successful commit every caller's changes are durable together.
//
// It has no goroutine: the first caller to find a slot free leads.
type updater struct {
	s       *Store
	mu      sync.Mutex
	pending []*updateReq
	sem     chan struct{}
	// transient reports errors that come from sharing the transaction rather than from the
	// member's own work (the engine's deadlock and serialization failures).
	transient func(error) bool
	// shared counts the transactions that more than one caller shared, and those callers.
	shared, members atomic.Int64
}

type updateReq struct {
	ctx   context.Context
	fn    func(tx *Tx) error
	state atomic.Int32 // reqQueued → reqTaken by a leader, or → reqAbandoned by its caller
	done  chan struct{}
	err   error
	// tx is the unit of work fn last ran in; its AfterCommit functions run once its
	// transaction commits.
	tx *Tx
	// alone: run again in a transaction of its own after the batch (its first run was undone
	// by something that was not its own doing: a deadlock between batches, a failed commit).
	alone bool
}

// GroupTx runs fn in a write transaction that may be shared with concurrent callers' (see
// Options.GroupCommit), commits it, and then runs what fn registered with AfterCommit. fn's
// work is all or nothing and never sees the others' fail, but fn must touch the database
// only through tx and must not start another write (it would wait for the batch it is in).
// It may run more than once when its first run was rolled back for reasons not its own, so
// it must keep effects outside the database for AfterCommit; and once started it sees a
// context that is not cancelled with ctx, because an interrupted statement would break the
// shared transaction.
func (s *Store) GroupTx(ctx context.Context, fn func(tx *Tx) error) error {
	b := s.upd
	if b == nil {
		return s.InTxRetrying(ctx, fn)
	}
	r := &updateReq{ctx: ctx, fn: withClaim(fn), done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	b.mu.Unlock()
	for {
		select {
		case <-r.done:
			if r.err == nil && r.tx != nil {
				r.tx.committed()
			}
			return r.err
		case b.sem <- struct{}{}:
			b.lead(ctx)
			<-b.sem
		case <-ctx.Done():
			if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
				return fmt.Errorf("write: %w", ctx.Err())
			}
			// A leader has it: the outcome is coming and must be reported.
			<-r.done
			if r.err == nil && r.tx != nil {
				r.tx.committed()
			}
			return r.err
		}
	}
}

// GroupStats is what the group commit of GroupTx has done: for tests and benchmarks.
type GroupStats struct {
	// Queued writes wait for a leader.
	Queued int
	// Shared transactions held more than one write; Members is how many writes they held.
	Shared, Members int64
	// Slots is how many shared transactions may be in flight at once (0 when off).
	Slots int
}

// GroupStats reports the group commit's counters.
func (s *Store) GroupStats() GroupStats {
	b := s.upd
	if b == nil {
		return GroupStats{}
	}
	b.mu.Lock()
	q := len(b.pending)
	b.mu.Unlock()
	return GroupStats{Queued: q, Shared: b.shared.Load(), Members: b.members.Load(), Slots: cap(b.sem)}
}

func (b *updater) lead(ctx context.Context) {
	b.mu.Lock()
	var batch []*updateReq
	batch, b.pending = takeBatch(b.pending, func(r *updateReq) *atomic.Int32 { return &r.state })
	b.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	if len(batch) == 1 {
		// No savepoint needed: the transaction is the caller's own.
		b.runAlone(batch[0])
		return
	}
	b.shared.Add(1)
	b.members.Add(int64(len(batch)))
	b.runBatch(ctx, batch)
	for _, r := range batch {
		if r.alone {
			b.runAlone(r)
		}
	}
}

// runAlone runs r in a transaction of its own; its AfterCommit functions run in GroupTx.
// A run the engine undid for reasons not its own (a deadlock, a serialization failure) is
// run again, at most transientAttempts times in all.
func (b *updater) runAlone(r *updateReq) {
	for attempt := 1; ; attempt++ {
		b.runAloneOnce(r)
		if r.err == nil || b.transient == nil || !b.transient(r.err) || attempt >= transientAttempts {
			return
		}
	}
}

func (b *updater) runAloneOnce(r *updateReq) {
	ctx, cancel := b.s.batchCtx(r.ctx)
	defer cancel()
	r.tx = nil
	tx, err := b.s.write.BeginTx(ctx, nil)
	if err != nil {
		r.err = fmt.Errorf("begin: %w", err)
		return
	}
	t := b.s.bindTx(ctx, tx)
	if err := r.fn(t); err != nil {
		_ = tx.Rollback()
		r.err = err
		return
	}
	if err := tx.Commit(); err != nil {
		r.err = fmt.Errorf("commit: %w", err)
		return
	}
	r.err, r.tx = nil, t
}

// runBatch runs the members in one transaction, each in a savepoint. Members whose work must
// be redone on its own are marked alone; the others get their outcome in err.
func (b *updater) runBatch(ctx context.Context, batch []*updateReq) {
	txCtx, cancel := b.s.batchCtx(ctx)
	defer cancel()
	retryAll := func() {
		for _, r := range batch {
			r.err, r.alone, r.tx = nil, true, nil
		}
	}
	tx, err := b.s.write.BeginTx(txCtx, nil)
	if err != nil {
		retryAll()
		return
	}
	db := b.s.TxDB(tx) // the savepoint statements, prepared once
	for i, r := range batch {
		if _, err := db.ExecContext(txCtx, "SAVEPOINT case_write"); err != nil {
			_ = tx.Rollback()
			retryAll()
			return
		}
		mctx, mcancel := b.s.batchCtx(r.ctx)
		r.tx = b.s.bindTx(mctx, tx)
		r.err = r.fn(r.tx)
		mcancel()
		if r.err == nil {
			_, err = db.ExecContext(txCtx, "RELEASE SAVEPOINT case_write")
		} else {
			r.tx = nil
			if b.transient != nil && b.transient(r.err) {
				r.err, r.alone = nil, true
			}
			_, err = db.ExecContext(txCtx, "ROLLBACK TO SAVEPOINT case_write")
			if err == nil {
				_, err = db.ExecContext(txCtx, "RELEASE SAVEPOINT case_write")
			}
		}
		if err != nil {
			// The transaction is gone (SQLite rolls it back itself on some errors): nothing
			// of it commits, so the members run so far are redone, and the rest run alone.
			_ = tx.Rollback()
			for _, m := range batch[:i+1] {
				if m.err == nil {
					m.alone, m.tx = true, nil
				}
			}
			for _, m := range batch[i+1:] {
				m.err, m.alone, m.tx = nil, true, nil
			}
			return
		}
	}
	if err := tx.Commit(); err != nil {
		for _, r := range batch {
			if r.err == nil {
				r.alone, r.tx = true, nil
			}
		}
	}
}
