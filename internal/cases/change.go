package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Changes to a case. A nil field is left alone; a field equal to its current value is not a
// change. Every change that is made is a history row with the actor and the old and new value.
type Changes struct {
	Reason *string
	Status *Status
	// ExpiresAt sets (or, pointing at the zero time, clears) when the case expires.
	ExpiresAt *time.Time
	// Note explains a status or expiry change in the history (optional).
	Note string
}

// Modify applies changes to case number n of a guild as actor. Fields that differ from the
// current values are applied even when others do not; when none differs it returns
// input.ErrUnchanged and writes nothing.
func (s *Service) Modify(ctx context.Context, guildID discord.GuildID, n int64, actor discord.UserID, ch Changes) (Case, error) {
	if err := s.checkTarget(guildID, n, actor); err != nil {
		return Case{}, err
	}
	if ch.Reason != nil {
		if err := checkReason("reason", *ch.Reason); err != nil {
			return Case{}, err
		}
	}
	if ch.Status != nil {
		if _, err := ParseStatus(string(*ch.Status)); err != nil {
			return Case{}, err
		}
	}
	if len([]rune(ch.Note)) > MaxReasonLength {
		return Case{}, input.Invalid("note", fmt.Sprintf("is %d characters long; at most %d are accepted", len([]rune(ch.Note)), MaxReasonLength))
	}
	if ch.Reason == nil && ch.Status == nil && ch.ExpiresAt == nil {
		return Case{}, input.Invalid("changes", "none given; give a reason, a status or an expiry")
	}
	return s.change(ctx, lockByNumber(guildID, n), actor, func(c Case, q *changeTx) error {
		changed := false
		if ch.Reason != nil && *ch.Reason != c.Reason {
			if err := q.reason(c, *ch.Reason); err != nil {
				return err
			}
			changed = true
		}
		if ch.Status != nil && *ch.Status != c.Status {
			if err := q.status(c, *ch.Status, EventStatus, ch.Note); err != nil {
				return err
			}
			changed = true
		}
		if ch.ExpiresAt != nil && !sameMS(*ch.ExpiresAt, c.ExpiresAt) {
			if err := q.expiry(c, *ch.ExpiresAt, ch.Note); err != nil {
				return err
			}
			changed = true
		}
		if !changed {
			return fmt.Errorf("case #%d: the values given are the current ones: %w", c.Number, input.ErrUnchanged)
		}
		return nil
	})
}

// SetReason changes the reason of case number n.
func (s *Service) SetReason(ctx context.Context, guildID discord.GuildID, n int64, actor discord.UserID, reason string) (Case, error) {
	return s.Modify(ctx, guildID, n, actor, Changes{Reason: &reason})
}

// SetStatus changes the status of case number n. Allowed: pending → active or voided,
// active → voided, voided → active. A case never goes back to pending.
func (s *Service) SetStatus(ctx context.Context, guildID discord.GuildID, n int64, actor discord.UserID, st Status, note string) (Case, error) {
	return s.Modify(ctx, guildID, n, actor, Changes{Status: &st, Note: note})
}

// SetExpiry moves (or, with the zero time, clears) when case number n expires.
func (s *Service) SetExpiry(ctx context.Context, guildID discord.GuildID, n int64, actor discord.UserID, at time.Time, note string) (Case, error) {
	return s.Modify(ctx, guildID, n, actor, Changes{ExpiresAt: &at, Note: note})
}

// Void marks case number n voided, with the reason why. A voided case keeps its number and
// history but no longer counts.
func (s *Service) Void(ctx context.Context, guildID discord.GuildID, n int64, actor discord.UserID, why string) (Case, error) {
	if err := s.checkTarget(guildID, n, actor); err != nil {
		return Case{}, err
	}
	if err := checkReason("void reason", why); err != nil {
		return Case{}, err
	}
	return s.change(ctx, lockByNumber(guildID, n), actor, func(c Case, q *changeTx) error {
		if c.Status == Voided {
			return fmt.Errorf("case #%d is already voided: %w", c.Number, input.ErrUnchanged)
		}
		return q.status(c, Voided, EventVoided, why)
	})
}

// LinkModlog records the mod-log message that shows case number n, by its channel and id,
// so that it can be edited later wherever the guild's mod-log channel has moved since.
func (s *Service) LinkModlog(ctx context.Context, guildID discord.GuildID, n int64, actor discord.UserID, channelID discord.ChannelID, messageID discord.MessageID) (Case, error) {
	if err := s.checkTarget(guildID, n, actor); err != nil {
		return Case{}, err
	}
	if err := errors.Join(checkID("channel", channelID), checkID("message", messageID)); err != nil {
		return Case{}, err
	}
	return s.change(ctx, lockByNumber(guildID, n), actor, func(c Case, q *changeTx) error {
		return q.modlog(c, channelID, messageID)
	})
}

// MarkProcessed records that the expiry of case id has been handled. It reports false, and
// writes nothing, when the case was already processed, so that two pollers racing on the
// same case can tell which one won.
func (s *Service) MarkProcessed(ctx context.Context, id int64, actor discord.UserID, note string) (bool, error) {
	if err := errors.Join(checkID("case id", id), checkID("actor", actor)); err != nil {
		return false, err
	}
	_, err := s.change(ctx, lockByID(id), actor, func(c Case, q *changeTx) error {
		if c.Processed {
			return input.ErrUnchanged
		}
		_, _, err := q.process(c.ID, note)
		return err
	})
	if errors.Is(err, input.ErrUnchanged) {
		return false, nil
	}
	return err == nil, err
}

func (s *Service) checkTarget(guildID discord.GuildID, n int64, actor discord.UserID) error {
	if err := checkID("guild", guildID); err != nil {
		return err
	}
	if n <= 0 {
		return input.Invalid("case number", fmt.Sprintf("%d is not a case number; numbers start at 1", n))
	}
	return checkID("actor", actor)
}

// locker reads a case for the rest of a write transaction (see store.Tx.LockCase).
type locker func(tx *store.Tx) (query.Case, error)

func lockByNumber(guildID discord.GuildID, n int64) locker {
	return func(tx *store.Tx) (query.Case, error) {
		row, err := tx.LockCase(int64(guildID), n)
		return row, notFound(err, fmt.Sprintf("case #%d in guild %d", n, guildID))
	}
}

func lockByID(id int64) locker {
	return func(tx *store.Tx) (query.Case, error) {
		row, err := tx.LockCaseByID(id)
		return row, notFound(err, fmt.Sprintf("case id %d", id))
	}
}

// change runs apply on the locked case inside one transaction (shared with concurrent
// writers: store.GroupTx) and returns the case as that transaction left it, read back inside
// it rather than by a second visit to the writer.
func (s *Service) change(ctx context.Context, lock locker, actor discord.UserID, apply func(Case, *changeTx) error) (Case, error) {
	var out Case
	err := s.st.GroupTx(ctx, func(tx *store.Tx) error {
		row, err := lock(tx)
		if err != nil {
			return err
		}
		c, err := fromRow(row)
		if err != nil {
			return err
		}
		var ev eventBuf
		if err := apply(c, &changeTx{ctx: tx.Context(), q: tx.Queries(), ev: &ev, actor: actor, now: s.nowMS()}); err != nil {
			return err
		}
		if err := ev.flush(tx); err != nil {
			return err
		}
		if err := s.observe(tx, &ev.changed); err != nil {
			return err
		}
		row, err = tx.Queries().GetCaseByID(tx.Context(), c.ID)
		if err != nil {
			return fmt.Errorf("reload case id %d: %w", c.ID, err)
		}
		out, err = fromRow(row)
		return err
	})
	if err != nil {
		return Case{}, err
	}
	return out, nil
}

// changeTx writes one field of a locked case and its history row.
type changeTx struct {
	ctx   context.Context
	q     query.Queries
	ev    *eventBuf
	actor discord.UserID
	now   int64
}

func (t *changeTx) reason(c Case, r string) error {
	if err := t.q.SetCaseReason(t.ctx, query.SetCaseReasonParams{ID: c.ID, Reason: r, UpdatedAt: t.now}); err != nil {
		return fmt.Errorf("case #%d reason: %w", c.Number, err)
	}
	return t.event(c, EventReason, c.Reason, r, "")
}

func (t *changeTx) status(c Case, st Status, kind EventKind, note string) error {
	allowed := map[Status][]Status{Pending: {Active, Voided}, Active: {Voided}, Voided: {Active}}
	ok := false
	for _, to := range allowed[c.Status] {
		ok = ok || to == st
	}
	if !ok {
		return input.Invalid("status", fmt.Sprintf("case #%d cannot go from %s to %s; allowed: pending to active or voided, active to voided, voided to active", c.Number, c.Status, st))
	}
	if err := t.q.SetCaseStatus(t.ctx, query.SetCaseStatusParams{ID: c.ID, Status: string(st), UpdatedAt: t.now}); err != nil {
		return fmt.Errorf("case #%d status: %w", c.Number, err)
	}
	return t.event(c, kind, string(c.Status), string(st), note)
}

func (t *changeTx) modlog(c Case, channelID discord.ChannelID, messageID discord.MessageID) error {
	if c.ModlogMessageID == messageID && c.ModlogChannelID == channelID {
		return fmt.Errorf("case #%d already links message %d: %w", c.Number, messageID, input.ErrUnchanged)
	}
	if err := t.q.SetCaseModlog(t.ctx, query.SetCaseModlogParams{ID: c.ID, ModlogChannelID: sql.NullInt64{Int64: int64(channelID), Valid: true},
		ModlogMessageID: sql.NullInt64{Int64: int64(messageID), Valid: true}, UpdatedAt: t.now}); err != nil {
		return fmt.Errorf("case #%d mod-log message: %w", c.Number, err)
	}
	return t.event(c, EventModlog, modlogText(c.ModlogChannelID, c.ModlogMessageID), modlogText(channelID, messageID), "")
}

// modlogIfUnchanged is modlog for a case that may have changed since c was read: the
// update's condition stands for the lock.
func (t *changeTx) modlogIfUnchanged(c Case, channelID discord.ChannelID, messageID discord.MessageID) (bool, error) {
	if c.ModlogMessageID == messageID && c.ModlogChannelID == channelID {
		return false, fmt.Errorf("case #%d already links message %d: %w", c.Number, messageID, input.ErrUnchanged)
	}
	n, err := t.q.SetCaseModlogIfUnchanged(t.ctx, query.SetCaseModlogIfUnchangedParams{ID: c.ID,
		ModlogChannelID: sql.NullInt64{Int64: int64(channelID), Valid: true}, ModlogMessageID: sql.NullInt64{Int64: int64(messageID), Valid: true},
		UpdatedAt:    t.now,
		OldChannelID: sql.NullInt64{Int64: int64(c.ModlogChannelID), Valid: c.ModlogChannelID != 0},
		OldMessageID: sql.NullInt64{Int64: int64(c.ModlogMessageID), Valid: c.ModlogMessageID != 0}})
	if err != nil {
		return false, fmt.Errorf("case #%d mod-log message: %w", c.Number, err)
	}
	if n != 1 {
		return false, nil
	}
	return true, t.event(c, EventModlog, modlogText(c.ModlogChannelID, c.ModlogMessageID), modlogText(channelID, messageID), "")
}

// modlogText is a mod-log message in the history: "channel/message", "" for none.
func modlogText(channelID discord.ChannelID, messageID discord.MessageID) string {
	if messageID == 0 {
		return ""
	}
	return idText(int64(channelID)) + "/" + idText(int64(messageID))
}

// process marks case id processed with its history row, in one statement that needs no lock
// before it; false, and nothing written, when it already was or does not exist.
func (t *changeTx) process(id int64, note string) (Case, bool, error) {
	row, err := t.q.ProcessCase(t.ctx, query.ProcessCaseParams{ID: id, UpdatedAt: t.now})
	if errors.Is(err, sql.ErrNoRows) {
		return Case{}, false, nil
	}
	if err != nil {
		return Case{}, false, fmt.Errorf("case id %d processed: %w", id, err)
	}
	c, err := fromRow(row)
	if err != nil {
		return Case{}, false, err
	}
	return c, true, t.event(c, EventProcessed, "false", "true", note)
}

func (t *changeTx) expiry(c Case, at time.Time, note string) error {
	if err := t.q.SetCaseExpiry(t.ctx, query.SetCaseExpiryParams{ID: c.ID, ExpiresAt: nullMS(at), UpdatedAt: t.now}); err != nil {
		return fmt.Errorf("case #%d expiry: %w", c.Number, err)
	}
	return t.event(c, EventExpiry, timeText(c.ExpiresAt), timeText(at), note)
}

func (t *changeTx) event(c Case, kind EventKind, old, new, note string) error {
	if kind != EventModlog {
		// Linking the mod-log message is the mod log's own bookkeeping, not news for it.
		t.ev.changed.add(c, c.Status)
	}
	// Every change of a case's row writes a history row: after this one, the case as the
	// transaction leaves it is known only if the caller says so (changedSet.current).
	t.ev.changed.unknown(c.ID)
	t.ev.rows = append(t.ev.rows, eventRow{number: c.Number, CaseEvent: store.CaseEvent{CaseID: c.ID, GuildID: int64(c.GuildID),
		Kind: string(kind), ActorID: int64(t.actor), Old: old, New: new, Note: note, CreatedAt: t.now}})
	return nil
}

// eventBuf holds a transaction's history rows until flush writes them, in the order they
// were recorded, in as few statements as the store can (see store.Tx.AppendCaseEvents). A
// transaction flushes before it commits, so no row is lost with it or survives without it.
type eventBuf struct {
	rows []eventRow
	// changed are the cases the rows change, for the ChangeObserver.
	changed changedSet
}

// eventRow is one history row and its case's number (for errors).
type eventRow struct {
	number int64
	store.CaseEvent
}

func (e *eventBuf) flush(tx *store.Tx) error {
	if len(e.rows) == 0 {
		return nil
	}
	rows := make([]store.CaseEvent, len(e.rows))
	for i, r := range e.rows {
		rows[i] = r.CaseEvent
	}
	if err := tx.AppendCaseEvents(rows); err != nil {
		return fmt.Errorf("history of case #%d: %w", e.rows[0].number, err)
	}
	e.rows = nil
	return nil
}

func idText(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// timeText renders an expiry for the history: RFC 3339 in UTC, "" for none.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func sameMS(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	return a.UnixMilli() == b.UnixMilli()
}
