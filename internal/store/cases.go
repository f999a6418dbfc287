package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gavelbot/gavel/internal/store/postgres"
	"github.com/gavelbot/gavel/internal/store/query"
	"github.com/gavelbot/gavel/internal/store/sqlite"
)

// NewCase is a case row to insert (see query.NewCase).
type NewCase = query.NewCase

// CaseKey is what the store allocated for a new case.
type CaseKey = query.CaseKey

// CreateCase inserts one case. Calls that arrive together are committed together (a group
// commit: one transaction on SQLite, one statement on PostgreSQL), which is what lets many
// moderators, or several processes, record cases at the rate of bare inserts; numbers stay
// dense and unique per guild across processes because they come from the guild's counter
// row, locked inside the transaction.
func (s *Store) CreateCase(ctx context.Context, n NewCase) (CaseKey, error) {
	return s.batch.submit(ctx, s, n)
}

// InsertCases inserts the cases in the transaction; each guild's cases get consecutive
// numbers in the order given.
func (t *Tx) InsertCases(ns []NewCase) ([]CaseKey, error) {
	if t.s.Location.Engine != SQLite {
		return t.s.insertCases(t.ctx, t.db, ns)
	}
	out := make([]CaseKey, len(ns))
	mark, err := sqlite.InsertCases(t.ctx, t.db, ns, out, t.s.reasonMark.Load())
	if err != nil {
		return nil, err
	}
	// Known once committed: a rollback leaves the mark where it was. The guilds' counts of
	// cases created move after the commit, and after the cases' events are remembered as
	// handled, so that an EventHandled whose read (or memory) missed these cases saw the
	// counts before they moved (eventChecks, handledEvents).
	t.AfterCommit(func() {
		t.s.raiseReasonMark(mark)
		for _, n := range ns {
			if n.SourceEventID.Valid {
				t.s.handled.add(n.GuildID, n.SourceEventID.Int64)
			}
		}
		t.s.checks.casesCreated(ns)
	})
	return out, nil
}

// raiseReasonMark records that the reason index's mark reached mark (see
// sqlite.InsertCases). The mark only moves up (a migration down and up again sets it to the
// highest case id), so a value seen once stays a lower bound.
func (s *Store) raiseReasonMark(mark int64) {
	for {
		cur := s.reasonMark.Load()
		if mark <= cur || s.reasonMark.CompareAndSwap(cur, mark) {
			return
		}
	}
}

// insertCases allocates numbers for ns and inserts them. Whatever the batch size, PostgreSQL
// gets one statement (a round trip is the cost that matters there) and SQLite two prepared
// statements per row (parsing is the cost that matters there).
func (s *Store) insertCases(ctx context.Context, db query.DBTX, ns []NewCase) ([]CaseKey, error) {
	out := make([]CaseKey, len(ns))
	if s.Location.Engine == Postgres {
		for start := 0; start < len(ns); start += maxBatch {
			end := min(start+maxBatch, len(ns))
			if err := postgres.InsertCases(ctx, db, ns[start:end], out[start:end]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	_, err := sqlite.InsertCases(ctx, db, ns, out, 0)
	return out, err
}

// batcher is a leader/follower group commit: whoever holds sem commits everything queued so
// far in one transaction, while later arrivals queue for the next one. No goroutine of its
// own, so there is nothing to start or stop.
type batcher struct {
	mu      sync.Mutex
	pending []*createReq
	sem     chan struct{}
}

type createReq struct {
	n NewCase
	// fence is the caller's (WithFence): checked in the transaction that inserts n; lease
	// is what it checks, when known (WithLease).
	fence func(*Tx) error
	lease *Lease
	state atomic.Int32 // reqQueued → reqTaken by a leader, or → reqAbandoned by its caller
	done  chan struct{}
	key   CaseKey
	err   error
}

func (b *batcher) submit(ctx context.Context, s *Store, n NewCase) (CaseKey, error) {
	r := &createReq{n: n, fence: fenceOf(ctx), lease: leaseOf(ctx), done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	b.mu.Unlock()
	for {
		select {
		case <-r.done:
			return r.key, r.err
		case b.sem <- struct{}{}:
			b.lead(ctx, s)
			<-b.sem
		case <-ctx.Done():
			if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
				return CaseKey{}, fmt.Errorf("create case: %w", ctx.Err())
			}
			// A leader has it: its outcome is coming and must be reported, because a case
			// may now exist.
			<-r.done
			return r.key, r.err
		}
	}
}

func (b *batcher) lead(ctx context.Context, s *Store) {
	b.mu.Lock()
	var batch []*createReq
	batch, b.pending = takeBatch(b.pending, func(r *createReq) *atomic.Int32 { return &r.state })
	b.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	// The transaction outlives any one caller's context: callers that gave up are still told.
	// The batch holds other callers' cases: it claims no caller's event (WithEvent) and
	// checks each caller's fence itself (WithFence).
	txCtx, cancel := s.batchCtx(withoutFence(withoutEvent(ctx)))
	defer cancel()
	// finish inserts rs's cases and tells each its outcome; it returns the error that
	// failed them all (a caller's fence refusing it fails only that caller).
	finish := func(rs []*createReq) error {
		fenced := false
		for _, r := range rs {
			r.err, r.key = nil, CaseKey{}
			fenced = fenced || r.fence != nil
		}
		var err error
		lease, leased := oneLease(rs)
		switch {
		case leased && s.Location.Engine == Postgres:
			// Every case of the batch is fenced by the same shard lease: the check is part of
			// the insert's one statement (autocommit, as unfenced batches are), locking the
			// lease's row as the check does. Refused, it writes nothing; the checks then run
			// the usual way, for each caller's own error (or its write, had the lease been
			// renewed meanwhile).
			ns := make([]NewCase, len(rs))
			for i, r := range rs {
				ns[i] = r.n
			}
			out := make([]CaseKey, len(rs))
			var ok bool
			ok, err = postgres.InsertCasesLeased(txCtx, s.WriteDB(), ns, out, postgres.Lease{Count: lease.Count, Shard: lease.Shard,
				Owner: lease.Owner, Epoch: lease.Epoch, Now: lease.Now()})
			if err == nil && ok {
				for i, r := range rs {
					r.key = out[i]
				}
				break
			}
			if err != nil {
				break
			}
			fallthrough
		case fenced:
			// The fences' checks and the insert in one transaction: a case is written only
			// while its process holds its guild's shard (the check locks the lease's row).
			refused := make([]error, len(rs))
			err = s.InTx(txCtx, func(tx *Tx) error {
				var ns []NewCase
				var at []int
				for i, r := range rs {
					if r.fence != nil {
						if refused[i] = r.fence(tx); refused[i] != nil {
							continue
						}
					}
					ns = append(ns, r.n)
					at = append(at, i)
				}
				if len(ns) == 0 {
					return nil
				}
				out, err := tx.InsertCases(ns)
				if err != nil {
					return err
				}
				for j, i := range at {
					rs[i].key = out[j]
				}
				return nil
			})
			for i, r := range rs {
				if refused[i] != nil {
					r.err, r.key = fmt.Errorf("create case: %w", refused[i]), CaseKey{}
				}
			}
		case s.Location.Engine == Postgres:
			// One statement, atomic by itself: autocommit saves the BEGIN and COMMIT round
			// trips.
			var out []CaseKey
			ns := make([]NewCase, len(rs))
			for i, r := range rs {
				ns[i] = r.n
			}
			if out, err = s.insertCases(txCtx, s.WriteDB(), ns); err == nil {
				for i, r := range rs {
					r.key = out[i]
				}
			}
		default:
			ns := make([]NewCase, len(rs))
			for i, r := range rs {
				ns[i] = r.n
			}
			err = s.InTx(txCtx, func(tx *Tx) error {
				out, err := tx.InsertCases(ns)
				if err == nil {
					for i, r := range rs {
						r.key = out[i]
					}
				}
				return err
			})
		}
		if err != nil {
			for _, r := range rs {
				if r.err == nil {
					r.err, r.key = fmt.Errorf("create case: %w", err), CaseKey{}
				}
			}
		}
		return err
	}
	if err := finish(batch); err != nil && len(batch) > 1 {
		// One bad request must not fail its neighbours: retry each on its own.
		for _, r := range batch {
			_ = finish([]*createReq{r})
		}
	}
	for _, r := range batch {
		close(r.done)
	}
}

// oneLease returns the lease that fences every request of rs, if they all have the same
// known one (WithLease).
func oneLease(rs []*createReq) (*Lease, bool) {
	var l *Lease
	for _, r := range rs {
		if r.fence == nil || r.lease == nil {
			return nil, false
		}
		if l == nil {
			l = r.lease
			continue
		}
		if r.lease.Count != l.Count || r.lease.Shard != l.Shard || r.lease.Owner != l.Owner || r.lease.Epoch != l.Epoch {
			return nil, false
		}
	}
	return l, l != nil
}

// CaseEvent is one history row to append.
type CaseEvent struct {
	CaseID, GuildID int64
	Kind            string
	ActorID         int64
	// Old, New and Note are stored as NULL when empty.
	Old, New, Note string
	CreatedAt      int64
}

const eventColumns = "case_id, guild_id, kind, actor_id, old_value, new_value, note, created_at"

// maxEventRows bounds one INSERT, and so the number of statement texts the store caches.
const maxEventRows = 8

// AppendCaseEvents writes history rows in the order given, with one multi-row INSERT per
// eight rows: a lift records five, and each statement costs more than its rows (SQLite's
// statement work, PostgreSQL's round trip).
func (t *Tx) AppendCaseEvents(rows []CaseEvent) error {
	for len(rows) > 0 {
		n := min(len(rows), maxEventRows)
		var b strings.Builder
		b.WriteString("INSERT INTO case_events (" + eventColumns + ") VALUES ")
		args := make([]any, 0, 8*n)
		for i, r := range rows[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for j := range 8 {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString("$" + strconv.Itoa(len(args)+j+1))
			}
			b.WriteString(")")
			args = append(args, r.CaseID, r.GuildID, r.Kind, r.ActorID, nullText(r.Old), nullText(r.New), nullText(r.Note), r.CreatedAt)
		}
		if _, err := t.db.ExecContext(t.ctx, b.String(), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func nullText(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// LockCase reads case number n of a guild for the rest of the transaction: with a row lock
// on PostgreSQL (SELECT ... FOR UPDATE), so the history records the true old value even when
// two moderators edit at once; as a plain read on SQLite, whose write transactions begin
// IMMEDIATE and hold the whole database (each engine's queries/cases.sql).
func (t *Tx) LockCase(guildID, n int64) (query.Case, error) {
	return t.q.LockCase(t.ctx, query.LockCaseParams{GuildID: guildID, Number: n})
}

// LockCaseByID is LockCase by the case's id.
func (t *Tx) LockCaseByID(id int64) (query.Case, error) {
	return t.q.LockCaseByID(t.ctx, id)
}
