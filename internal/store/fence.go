package store

import (
	"context"
	"errors"

	"github.com/gavelbot/gavel/internal/store/query"
)

// Several processes sharing one PostgreSQL database each run some shards, and everything
// about a guild runs in the process that owns the guild's shard (internal/leases). When a
// shard moves, the process that lost it must not write anything more for its guilds once
// the new owner may have started: its work in flight is cancelled, and, because a
// cancelled context does not stop a statement already on its way, every write transaction
// of that work also checks, inside itself, that the process still holds the shard's lease
// at the epoch the work began under. On PostgreSQL that check locks the lease's row, so
// another process taking the shard waits for the transaction: the write is committed
// before the next owner starts, or refused.

// ErrFenced is what a write transaction of work on a guild returns when its process no
// longer holds the guild's shard (the check of WithFence failed): nothing of it is kept.
var ErrFenced = errors.New("store: this process no longer owns the guild's shard")

type fenceKey struct{}

// fence is a context's fence: its check, and the lease it checks when that is known
// (WithLease), which PostgreSQL's case inserts fold into their own statement.
type fence struct {
	check func(*Tx) error
	lease *Lease
}

// Lease is the shard lease a fence's check verifies (the shard leases set it with
// WithLease on the context of the work they hold): owner holds shard of count at epoch,
// not run out at Now (Unix milliseconds, read at each write).
type Lease struct {
	Count, Shard int64
	Owner        string
	Epoch        int64
	Now          func() int64
}

type leaseKey struct{}

// WithLease returns ctx that says which lease the fence WithFence adds to it next checks:
// a case's insert on PostgreSQL then checks it within its own statement (one round trip)
// instead of a transaction around the check and the insert (four). The check itself must
// be that lease's (leases.Provider.Hold sets both).
func WithLease(ctx context.Context, l Lease) context.Context {
	return context.WithValue(ctx, leaseKey{}, &l)
}

// WithFence returns ctx whose write transactions (InTx, GroupTx, the case creations of
// CreateCase) run check first, inside the transaction, and are rolled back with its error
// when it fails. check must return an error wrapping ErrFenced when the work's process no
// longer holds its guild, and may lock rows (the lease's) for the rest of the transaction.
func WithFence(ctx context.Context, check func(*Tx) error) context.Context {
	if check == nil {
		return ctx
	}
	l, _ := ctx.Value(leaseKey{}).(*Lease)
	return context.WithValue(ctx, fenceKey{}, fence{check: check, lease: l})
}

// withoutFence is ctx with no fence: for transactions that run other callers' work too
// (the case creations' group commit), which check each caller's fence themselves.
func withoutFence(ctx context.Context) context.Context {
	return context.WithValue(ctx, fenceKey{}, fence{})
}

// FenceFrom returns ctx with the fence of from (WithFence), when from has one: for work
// that runs under its caller's context but on behalf of a hold taken elsewhere (a guild's
// queue), whose writes must be checked against that hold's lease.
func FenceFrom(ctx, from context.Context) context.Context {
	if f, _ := from.Value(fenceKey{}).(fence); f.check != nil {
		return context.WithValue(ctx, fenceKey{}, f)
	}
	return ctx
}

func fenceOf(ctx context.Context) func(*Tx) error {
	f, _ := ctx.Value(fenceKey{}).(fence)
	return f.check
}

// leaseOf is the lease the fence of ctx checks, nil when not known.
func leaseOf(ctx context.Context) *Lease {
	f, _ := ctx.Value(fenceKey{}).(fence)
	if f.check == nil {
		return nil
	}
	return f.lease
}

// checkFence runs the fence of the transaction's context, if any.
func (t *Tx) checkFence() error {
	if f := fenceOf(t.ctx); f != nil {
		return f(t)
	}
	return nil
}

// Affinity keeps the work on a guild in the process that owns the guild's shard (the shard
// leases). Hold returns ok false when this process does not own guildID now: the work is
// not done here (the guild's owner does it). Otherwise the work runs under held, which ends
// when the process loses the shard (or is about to), its writes are fenced by check
// (WithFence), and done is called once it has returned: a shard is handed back only once
// the work holding it has returned.
type Affinity interface {
	Hold(ctx context.Context, guildID int64) (held context.Context, check func(*Tx) error, done func(), ok bool)
}

// Enter starts work on guildID under a (nil: no affinity, every guild is this process's):
// the returned context carries the fence of its writes and ends when the guild's shard is
// lost; done must be called when the work returns. ok is false when this process does
// not own the guild: the work must not run.
func Enter(ctx context.Context, a Affinity, guildID int64) (held context.Context, done func(), ok bool) {
	if a == nil || guildID == 0 {
		return ctx, func() {}, true
	}
	held, check, done, ok := a.Hold(ctx, guildID)
	if !ok {
		return nil, nil, false
	}
	return WithFence(held, check), done, true
}

// WriteFenced runs fn, one write statement (or a few) on the writer, under the fence of ctx
// (WithFence): in a transaction that checks the fence first when ctx has one, so that a
// write of work on a guild is refused once its process lost the guild's shard; directly,
// as before, when it has none (a single process, the CLI).
func (s *Store) WriteFenced(ctx context.Context, fn func(ctx context.Context, q query.Queries) error) error {
	if fenceOf(ctx) == nil {
		return fn(ctx, s.WriteQueries())
	}
	return s.InTx(ctx, func(tx *Tx) error { return fn(tx.Context(), tx.Queries()) })
}
