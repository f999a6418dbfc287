package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// New history kinds for a case's expiry (see internal/expiry).
const (
	// EventScheduled: an expiry action was scheduled or moved (old and new run times).
	EventScheduled EventKind = "scheduled"
	// EventSuperseded: a later action made the case's pending expiry stale; it will not run.
	EventSuperseded EventKind = "superseded"
	// EventRenewed: a timeout longer than Discord allows was applied again.
	EventRenewed EventKind = "renewed"
	// EventLinked: a lift case and the case it lifts name each other.
	EventLinked EventKind = "linked"
	// EventGaveUp: the expiry failed for good; a human has to act.
	EventGaveUp EventKind = "gave_up"
)

// Tx is a write transaction over cases, for packages that keep state beside a case (the
// expiry schedule, the mod-log outbox) and must change both at once: every change still
// writes its history row. Those packages write their own tables through the unit of work it
// runs in (StoreTx), never through the cases package.
type Tx struct {
	tx    *store.Tx
	ctx   context.Context
	q     query.Queries
	actor discord.UserID
	now   int64
	// ev holds the history rows until fn returns (see eventBuf).
	ev eventBuf
}

// InTx runs fn in one write transaction as actor and commits when fn returns nil. The
// transaction may be shared with other callers' (a group commit, see store.GroupTx): fn's work is
// all or nothing and never sees theirs fail, but fn must use only tx for writes, and may run
// again when its first run was undone by something not its own (so keep it free of effects
// outside the database; use AfterCommit for those).
func (s *Service) InTx(ctx context.Context, actor discord.UserID, fn func(tx *Tx) error) error {
	if err := checkID("actor", actor); err != nil {
		return err
	}
	return s.st.GroupTx(ctx, func(stx *store.Tx) error {
		t := &Tx{tx: stx, ctx: stx.Context(), q: stx.Queries(), actor: actor, now: s.nowMS()}
		if err := fn(t); err != nil {
			return err
		}
		if err := t.ev.flush(stx); err != nil {
			return err
		}
		return s.observe(stx, &t.ev.changed)
	})
}

// AfterCommit runs f once the transaction has committed (never when it rolls back): for
// news that must not travel before the data it announces.
func (t *Tx) AfterCommit(f func()) { t.tx.AfterCommit(f) }

// StoreTx is the unit of work the transaction runs in: other packages write their own
// tables through it (expiry its schedule, the mod log its outbox), so that their rows commit
// or roll back with the case's.
func (t *Tx) StoreTx() *store.Tx { return t.tx }

// Context is the context the transaction runs in.
func (t *Tx) Context() context.Context { return t.ctx }

// NowMS is the transaction's clock reading, in Unix milliseconds.
func (t *Tx) NowMS() int64 { return t.now }

// Actor is who the transaction's history rows name.
func (t *Tx) Actor() discord.UserID { return t.actor }

// Lock locks case id for the rest of the transaction and returns it.
func (t *Tx) Lock(id int64) (Case, error) {
	row, err := lockByID(id)(t.tx)
	if err != nil {
		return Case{}, err
	}
	return fromRow(row)
}

// LockNumber locks case number n of a guild for the rest of the transaction and returns it.
func (t *Tx) LockNumber(guildID discord.GuildID, n int64) (Case, error) {
	row, err := lockByNumber(guildID, n)(t.tx)
	if err != nil {
		return Case{}, err
	}
	return fromRow(row)
}

func (t *Tx) change() *changeTx {
	return &changeTx{ctx: t.ctx, q: t.q, ev: &t.ev, actor: t.actor, now: t.now}
}

// SetStatus changes a locked case's status, with the same rules as Service.SetStatus.
func (t *Tx) SetStatus(c Case, st Status, note string) error {
	if st == c.Status {
		return fmt.Errorf("case #%d is already %s: %w", c.Number, st, input.ErrUnchanged)
	}
	kind := EventStatus
	if st == Voided {
		kind = EventVoided
	}
	return t.change().status(c, st, kind, note)
}

// SetStatusByHand changes a locked case's status as a moderator's amendment does (Modify):
// the history row is a "status" change, where SetStatus records a voiding as "voided".
func (t *Tx) SetStatusByHand(c Case, st Status, note string) error {
	if st == c.Status {
		return fmt.Errorf("case #%d is already %s: %w", c.Number, st, input.ErrUnchanged)
	}
	return t.change().status(c, st, EventStatus, note)
}

// SetExpiry changes a locked case's expiry (the zero time clears it).
func (t *Tx) SetExpiry(c Case, at time.Time, note string) error {
	if sameMS(at, c.ExpiresAt) {
		return fmt.Errorf("case #%d: the expiry given is the current one: %w", c.Number, input.ErrUnchanged)
	}
	return t.change().expiry(c, at, note)
}

// MarkProcessed records that a locked case's expiry has been handled; false (and nothing
// written) when it already was.
func (t *Tx) MarkProcessed(c Case, note string) (bool, error) {
	if c.Processed {
		return false, nil
	}
	_, ok, err := t.change().process(c.ID, note)
	return ok, err
}

// LinkModlog records the mod-log message that shows a locked case, with the same rules as
// Service.LinkModlog.
func (t *Tx) LinkModlog(c Case, channelID discord.ChannelID, messageID discord.MessageID) error {
	if err := errors.Join(checkID("channel", channelID), checkID("message", messageID)); err != nil {
		return err
	}
	return t.change().modlog(c, channelID, messageID)
}

// LinkModlogIfUnchanged is LinkModlog for case c as the caller read it before the
// transaction, without locking it: one statement where Lock and LinkModlog take two. The
// link is written only while the case still links what c says (a case's id, guild and number
// never change); false, and nothing written, when it no longer does, and the caller then
// locks the case and decides again.
func (t *Tx) LinkModlogIfUnchanged(c Case, channelID discord.ChannelID, messageID discord.MessageID) (bool, error) {
	if err := errors.Join(checkID("channel", channelID), checkID("message", messageID)); err != nil {
		return false, err
	}
	return t.change().modlogIfUnchanged(c, channelID, messageID)
}

// Activate makes pending case id active, with its history row: one statement where Lock
// and SetStatus take two. It reports false, and writes nothing, when the case is no longer
// pending (another writer got there first); the caller then takes the general path, whose
// rules decide.
func (t *Tx) Activate(id int64, note string) (Case, bool, error) {
	row, err := t.q.ActivatePendingCase(t.ctx, query.ActivatePendingCaseParams{ID: id, UpdatedAt: t.now})
	if errors.Is(err, sql.ErrNoRows) {
		return Case{}, false, nil
	}
	if err != nil {
		return Case{}, false, fmt.Errorf("activate case id %d: %w", id, err)
	}
	c, err := fromRow(row)
	if err != nil {
		return Case{}, false, err
	}
	// The history and the observers see the case as it was (pending) before this change.
	was := c
	was.Status = Pending
	if err := t.change().event(was, EventStatus, string(Pending), string(Active), note); err != nil {
		return Case{}, false, err
	}
	// The row the statement returned is the case as it now stands.
	t.ev.changed.current(c)
	return c, true, nil
}

// Process marks case id processed, with its history row: one statement where Lock and
// MarkProcessed take two. It reports false, and writes nothing, when the case already was
// processed or does not exist.
func (t *Tx) Process(id int64, note string) (Case, bool, error) {
	return t.change().process(id, note)
}

// Record writes one history row on case c.
func (t *Tx) Record(c Case, kind EventKind, old, new, note string) error {
	return t.change().event(c, kind, old, new, note)
}

// Create records cases in the transaction (numbers allocated in it, in the order given): a
// mass action writes a chunk's child cases with its own record of the chunk, so both commit
// or neither does. Cases created active are news for the observer, as with Service.Create.
func (t *Tx) Create(ns []New) ([]Case, error) {
	rows := make([]store.NewCase, len(ns))
	for i := range ns {
		if err := ns[i].check(); err != nil {
			return nil, fmt.Errorf("case %d of %d: %w", i+1, len(ns), err)
		}
		rows[i] = ns[i].row(t.now)
	}
	keys, err := t.tx.InsertCases(rows)
	if err != nil {
		return nil, fmt.Errorf("create %d cases: %w", len(ns), err)
	}
	out := make([]Case, len(ns))
	for i := range ns {
		out[i] = ns[i].created(rows[i], keys[i])
		if ns[i].Status == Active {
			t.ev.changed.add(out[i], "")
		}
	}
	return out, nil
}
