package cases

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gavelbot/gavel/internal/store"
)

// updater group-commits the write transactions that change existing cases (InTx, Modify,
// SetStatus, LinkModlog, Void, MarkProcessed): concurrent callers' transactions run one after
// the other inside one database transaction, each in a savepoint of its own, and share its
// commit. Each caller's work is still atomic and isolated from the others' failures: an error
// rolls back to the caller's savepoint, so the caller sees exactly what a transaction of its
// own would have given, and the others' changes commit. After a successful commit every
// caller's changes (case, history row, schedule) are durable together, as before.
//
// Like the creation batcher it has no goroutine: the first caller to find a slot free leads.
type updater struct {
	mu      sync.Mutex
	pending []*updateReq
	sem     chan struct{}
	// off runs every transaction on its own: the default on PostgreSQL (see NewService).
	off bool
	// shared counts the transactions that more than one caller shared, and those callers.
	shared, members atomic.Int64
}

type updateReq struct {
	ctx context.Context
	fn  func(tx *store.Tx) error
	// tx is the unit of work fn ran in inside a shared transaction, whose AfterCommit
	// functions run once that transaction commits.
	tx    *store.Tx
	state atomic.Int32 // reqQueued → reqTaken by a leader, or → reqAbandoned by its caller
	done  chan struct{}
	err   error
	// alone: run again in a transaction of its own after the batch (its first run was undone
	// by something that was not its own doing: a deadlock between batches, a failed commit).
	alone bool
}

// txTimeout bounds a batch, which outlives the contexts of the callers in it.
const txTimeout = 30 * time.Second

// write runs fn in a write transaction shared with concurrent callers; see updater. fn must
// only touch the database through tx and must not start another write (it would wait for the
// batch it is in). It may run more than once when its first run was rolled back for reasons
// not its own; it sees a context that is not cancelled with ctx once it has started, because
// an interrupted statement would break the shared transaction.
func (s *Service) write(ctx context.Context, fn func(tx *store.Tx) error) error {
	b := &s.upd
	if b.off {
		return s.st.InTx(ctx, fn)
	}
	r := &updateReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	b.mu.Unlock()
	for {
		select {
		case <-r.done:
			return r.err
		case b.sem <- struct{}{}:
			b.lead(ctx, s)
			<-b.sem
		case <-ctx.Done():
			if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
				return fmt.Errorf("write: %w", ctx.Err())
			}
			// A leader has it: the outcome is coming and must be reported.
			<-r.done
			return r.err
		}
	}
}

func (b *updater) lead(ctx context.Context, s *Service) {
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
		s.runAlone(batch[0])
		return
	}
	b.shared.Add(1)
	b.members.Add(int64(len(batch)))
	s.runBatch(ctx, batch)
	for _, r := range batch {
		if r.alone {
			s.runAlone(r)
		}
	}
}

func memberCtx(r *updateReq) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.ctx), txTimeout)
}

func (s *Service) runAlone(r *updateReq) {
	ctx, cancel := memberCtx(r)
	defer cancel()
	r.err = s.st.InTx(ctx, r.fn)
}

// runBatch runs the members in one transaction, each in a savepoint. Members whose work must
// be redone on its own are marked alone; the others get their outcome in err.
func (s *Service) runBatch(ctx context.Context, batch []*updateReq) {
	txCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), txTimeout)
	defer cancel()
	retryAll := func() {
		for _, r := range batch {
			r.err, r.alone = nil, true
		}
	}
	tx, err := s.st.Writer().BeginTx(txCtx, nil)
	if err != nil {
		retryAll()
		return
	}
	db := s.st.TxDB(tx) // the savepoint statements, prepared once
	for i, r := range batch {
		if _, err := db.ExecContext(txCtx, "SAVEPOINT case_write"); err != nil {
			_ = tx.Rollback()
			retryAll()
			return
		}
		mctx, mcancel := memberCtx(r)
		r.tx = s.st.BindTx(mctx, tx)
		r.err = r.fn(r.tx)
		mcancel()
		if r.err == nil {
			_, err = db.ExecContext(txCtx, "RELEASE SAVEPOINT case_write")
		} else {
			if transient(r.err) {
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
					m.alone = true
				}
			}
			for _, m := range batch[i+1:] {
				m.err, m.alone = nil, true
			}
			return
		}
	}
	if err := tx.Commit(); err != nil {
		for _, r := range batch {
			if r.err == nil {
				r.alone = true
			}
		}
		return
	}
	for _, r := range batch {
		if r.err == nil && !r.alone {
			r.tx.Committed()
		}
	}
}

// transient reports errors that come from sharing the transaction rather than from the
// member's own work: PostgreSQL's deadlock and serialization failures (two batches in
// flight may lock cases in opposite orders).
func transient(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}
