package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gavelbot/gavel/internal/store/query"
)

// A gateway RESUME replays the events a shard missed, and may repeat events that were
// already handled (by this process before a crash, or by the shard's previous owner). Each
// command is handled once whatever the replay:
//
//   - a case made by a command carries its event (cases.source_event_id, unique per guild),
//     so a replayed command cannot record a second case: the check is the case's own
//     insert, before any Discord call;
//   - a tool that writes claims its event in its first write transaction (processed_events,
//     one row per guild and event): the claim and the change commit together, and a replay
//     finds the claim and changes nothing (ErrReplayed);
//   - whatever else a command does (a refusal, a read, a tool that only talks to Discord)
//     is claimed before it answers (ClaimEvent: a replay arriving while the answer is on
//     its way is dropped, not answered twice), and EventHandled tells the router to drop
//     an event it has seen before any work.

// ErrReplayed is returned by a write transaction whose context carries an event (WithEvent)
// that was already handled: nothing of the transaction is kept.
var ErrReplayed = errors.New("store: this event was already handled")

// EventRetention is how long a handled event is remembered. Discord replays only what a
// session missed, and a session cannot be resumed for long after it dropped; a day is far
// beyond that.
const EventRetention = 24 * time.Hour

type eventKey struct{}

// eventClaim is the event a command came from, and whether a transaction has claimed it.
// A command runs on one goroutine, which is the only one to read and write claimed.
type eventClaim struct {
	guildID, eventID int64
	command          string
	claimed          bool
}

// WithEvent returns ctx carrying the event a command came from: the first write
// transaction run with it (InTx, GroupTx) claims the event in the same transaction, and
// fails with ErrReplayed when the event was already handled. guildID and eventID must be
// positive.
func WithEvent(ctx context.Context, guildID, eventID int64, command string) context.Context {
	return context.WithValue(ctx, eventKey{}, &eventClaim{guildID: guildID, eventID: eventID, command: command})
}

// withoutEvent is ctx with no event: for transactions that run other callers' work too (the
// case creations' group commit), which must not claim one caller's event.
func withoutEvent(ctx context.Context) context.Context {
	return context.WithValue(ctx, eventKey{}, (*eventClaim)(nil))
}

// EventClaimed says whether a write transaction run with ctx (WithEvent) committed the
// claim of its event.
func EventClaimed(ctx context.Context) bool {
	c, _ := ctx.Value(eventKey{}).(*eventClaim)
	return c != nil && c.claimed
}

// claimEvent claims the event of the transaction's context, once; ErrReplayed when another
// transaction already has.
func (t *Tx) claimEvent() error {
	c, _ := t.ctx.Value(eventKey{}).(*eventClaim)
	if c == nil || c.claimed {
		return nil
	}
	n, err := t.q.ClaimEvent(t.ctx, query.ClaimEventParams{GuildID: c.guildID, EventID: c.eventID,
		Command: c.command, CreatedAt: time.Now().UnixMilli()})
	if err != nil {
		return fmt.Errorf("record event %d as handled: %w", c.eventID, err)
	}
	if n == 0 {
		return ErrReplayed
	}
	s := t.s
	t.AfterCommit(func() {
		c.claimed = true
		s.handled.add(c.guildID, c.eventID)
	})
	return nil
}

// withClaim wraps fn so that the fence of the transaction's context is checked first
// (WithFence), and its event claimed (WithEvent).
func withClaim(fn func(tx *Tx) error) func(tx *Tx) error {
	return func(tx *Tx) error {
		if err := tx.checkFence(); err != nil {
			return err
		}
		if err := tx.claimEvent(); err != nil {
			return err
		}
		return fn(tx)
	}
}

// ClaimEvent records the event of ctx (WithEvent) as handled, unless a transaction already
// has; first is false when it had been handled before. For commands whose outcome wrote
// nothing: a refusal, a read, a tool that only talks to Discord.
func (s *Store) ClaimEvent(ctx context.Context) (first bool, err error) {
	c, _ := ctx.Value(eventKey{}).(*eventClaim)
	if c == nil || c.claimed {
		return c != nil, nil
	}
	err = s.InTx(ctx, func(*Tx) error { return nil })
	if errors.Is(err, ErrReplayed) {
		return false, nil
	}
	return err == nil, err
}

// ClaimAnswered is ClaimEvent without the fence of ctx (WithFence): for an interaction this
// process acknowledged and answers whatever happened, even once the guild's shard moved to
// another process. Discord refuses a second acknowledgment, so the shard's next owner must
// drop the interaction when a RESUME replays it; the record changes no guild state, so
// writing it after the move is safe.
func (s *Store) ClaimAnswered(ctx context.Context) (first bool, err error) {
	return s.ClaimEvent(withoutFence(ctx))
}

// EventHandled says whether the event already made a case or was recorded as handled. Every
// command asks, so the statement comes from the cache (parsing it was 6% of gavel's CPU per
// command on SQLite).
//
// On SQLite an answer of "not handled" is remembered (eventChecks), so that
// CaseBySourceEvent can answer for the same event without a statement while no case of the
// guild has been created since. Once the process holds the database alone (LockRunner), an
// event created since is answered from what this store recorded (handledEvents), without a
// statement.
func (s *Store) EventHandled(ctx context.Context, guildID, eventID int64) (bool, error) {
	seq := s.checks.seq(guildID) // before the read: a case committed after it moves it
	if handled, known := s.handled.lookup(guildID, eventID); known {
		if !handled {
			s.checks.remember(guildID, eventID, seq)
		}
		return handled, nil
	}
	n, err := s.queries(s.ReadDB()).EventHandled(ctx, query.EventHandledParams{GuildID: guildID, EventID: eventID})
	if err != nil {
		return false, fmt.Errorf("read whether event %d was handled: %w", eventID, err)
	}
	if n == 0 && s.Location.Engine == SQLite {
		s.checks.remember(guildID, eventID, seq)
	}
	return n != 0, nil
}

// CaseBySourceEvent returns the key of the guild's case made by the event; ok is false when
// it made none.
//
// On SQLite it reads nothing when EventHandled found no case for the event and no case of
// the guild has been committed since (eventChecks): the pipeline asks it under the target's
// lock, right after the router asked EventHandled, and in the usual command nothing
// happened in between. SQLite serves one gavel process (LockRunner), so every case insert
// with the event is this process's own and counted.
func (s *Store) CaseBySourceEvent(ctx context.Context, guildID, eventID int64) (CaseKey, bool, error) {
	if s.Location.Engine == SQLite && s.checks.unchanged(guildID, eventID) {
		return CaseKey{}, false, nil
	}
	r, err := s.queries(s.WriteDB()).CaseBySourceEvent(ctx, query.CaseBySourceEventParams{GuildID: guildID, SourceEventID: sql.NullInt64{Int64: eventID, Valid: true}})
	if errors.Is(err, sql.ErrNoRows) {
		return CaseKey{}, false, nil
	}
	if err != nil {
		return CaseKey{}, false, fmt.Errorf("read the case of event %d: %w", eventID, err)
	}
	return CaseKey{ID: r.ID, Number: r.Number}, true, nil
}

// PurgeEvents forgets the handled events recorded before before (EventRetention).
func (s *Store) PurgeEvents(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.queries(s.write).PurgeEvents(ctx, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("purge handled events: %w", err)
	}
	return n, nil
}

// DuplicateEvent reports the error of a case insert refused because the guild already has
// a case made by the same event (the cases_source_event index).
func DuplicateEvent(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505" && pg.ConstraintName == "cases_source_event"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed: cases.guild_id, cases.source_event_id")
}

// eventChecks remembers, on SQLite, the events EventHandled last found unhandled, with how
// many case inserts of their guild had committed when it read (a count per stripe of guilds,
// which only moves up): while the count is the same, no case made by the event can exist
// that the read did not see. A guild sharing a stripe with a busy one only reads more often.
type eventChecks struct {
	created [eventStripes]atomic.Uint64
	mu      sync.Mutex
	checked map[[2]int64]uint64 // (guild, event) → created[stripe] before EventHandled's read
}

const (
	eventStripes = 1024
	// maxEventChecks bounds the events remembered: events that never reach
	// CaseBySourceEvent (tools, refusals) are forgotten all at once past it, which only
	// costs their next asking a read.
	maxEventChecks = 4096
)

func stripe(guildID int64) int { return int(uint64(guildID) % eventStripes) }

func (c *eventChecks) seq(guildID int64) uint64 { return c.created[stripe(guildID)].Load() }

func (c *eventChecks) remember(guildID, eventID int64, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checked == nil || len(c.checked) >= maxEventChecks {
		c.checked = make(map[[2]int64]uint64)
	}
	c.checked[[2]int64{guildID, eventID}] = seq
}

// unchanged reports, once, that the event was found unhandled and no case of its guild's
// stripe committed since.
func (c *eventChecks) unchanged(guildID, eventID int64) bool {
	c.mu.Lock()
	seq, ok := c.checked[[2]int64{guildID, eventID}]
	delete(c.checked, [2]int64{guildID, eventID})
	c.mu.Unlock()
	return ok && seq == c.seq(guildID)
}

// created counts committed case inserts, after their commit (see Tx.InsertCases).
func (c *eventChecks) casesCreated(ns []NewCase) {
	for _, n := range ns {
		c.created[stripe(n.GuildID)].Add(1)
	}
}
