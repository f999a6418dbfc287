package modlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Run delivers the outbox until ctx ends: what is due at once (leftovers of an earlier run
// included), then whenever a commit wakes it, a retry falls due, or PollEvery passes. port
// is Discord; botID is gavel's user id, the actor of the links it records. It returns nil
// when ctx ends.
//
// While it runs, rows this process queues come to it already leased (CasesChanged), so a
// wake-up from a commit delivers them without a claim; it claims when a timer fires (a row
// fell due, or the poll) and when a commit queued a row that only a claim finds.
func (s *Service) Run(ctx context.Context, port Port, botID discord.UserID) error {
	if s.cases == nil {
		return errors.New("modlog: Run before Bind")
	}
	w := worker{s: s, port: port, botID: botID}
	s.running.Store(true)
	defer w.release()
	claim := true
	var next time.Time // when the next claimable row falls due, as last read
	nextOK := false
	for {
		claim = s.takeClaimDue() || claim
		if err := w.drain(ctx, claim); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Error("mod log: delivering", "err", err)
		}
		// The outbox's next due time changes only through a claim, a row handed back or
		// kept, or another process (which the poll covers): a drain of handed rows that all
		// went through leaves it as it was, and reading it again is a query per command.
		if reread := s.reread.Swap(false); claim || reread {
			n, ok, err := s.nextRunAt(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.log.Error("mod log: reading the outbox", "err", err)
				s.reread.Store(true)
			}
			next, nextOK = n, ok && err == nil
		}
		at := s.clk.Now().Add(s.cfg.PollEvery)
		if nextOK && next.Before(at) {
			at = next
		}
		t := s.clk.TimerAt(at)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.wake:
			t.Stop()
			claim = false
		case <-t.C():
			claim = true
		}
	}
}

// release ends the worker's run: rows handed to it and not delivered go back to the outbox,
// due now and with the attempt they were leased for uncounted, for the next worker (this
// process's next run or another's) instead of waiting for their lease to end. A row leased
// to it by a commit that lands after this still comes back when its lease ends.
func (w worker) release() {
	s := w.s
	s.running.Store(false)
	rows := s.takeHanded(math.MaxInt)
	if len(rows) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, r := range rows {
		if err := w.handBack(ctx, s.st.WriteQueries(), r.ModlogOutbox, s.clk.Now(), int(r.Attempts)-1, ""); err != nil {
			s.log.Warn("mod log: returning an undelivered row at shutdown; it comes back when its lease ends",
				"case_id", r.CaseID, "err", err)
		}
	}
}

func (s *Service) nextRunAt(ctx context.Context) (time.Time, bool, error) {
	at, err := s.st.Queries().NextModlogRunAt(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	return time.UnixMilli(at), true, nil
}

type worker struct {
	s     *Service
	port  Port
	botID discord.UserID
}

// drain delivers the rows handed to the worker and, when claim is set, claims and delivers
// batches, until nothing is left.
func (w worker) drain(ctx context.Context, claim bool) error {
	s := w.s
	for ctx.Err() == nil {
		rows := s.takeHanded(s.cfg.Batch)
		more := len(rows) == s.cfg.Batch
		if claim && len(rows) < s.cfg.Batch {
			want := s.cfg.Batch - len(rows)
			now := s.clk.Now()
			claimed, err := s.st.ClaimModlog(ctx, s.owner, want, now.Add(s.cfg.Lease).UnixMilli(), now.UnixMilli())
			if err != nil {
				s.hand(rows, false)
				return err
			}
			for _, r := range claimed {
				rows = append(rows, leased{ModlogOutbox: r})
			}
			more = more || len(claimed) == want
		}
		// The rows are distinct cases: their deliveries run side by side, and the round's
		// outcomes are written together (settle).
		done := make([]settlement, len(rows))
		sem := make(chan struct{}, s.cfg.Workers)
		var wg sync.WaitGroup
		for i, r := range rows {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if ctx.Err() == nil {
					done[i] = w.deliver(ctx, r)
				}
			})
		}
		wg.Wait()
		w.settle(ctx, done)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !more {
			return nil
		}
	}
	return ctx.Err()
}

// settlement is what one delivery leaves for its round to write: the row, how it went, and
// for a post the case as send read it and the message to link to it.
type settlement struct {
	row     query.ModlogOutbox
	outcome Outcome
	c       cases.Case
	// channelID and messageID are the message posted; 0 when none was.
	channelID discord.ChannelID
	messageID discord.MessageID
	// retryAt and cause are set for a delivery that failed: the row comes back at retryAt.
	retryAt time.Time
	cause   string
}

// deliver posts or edits one case's message and returns what its row's settling writes.
func (w worker) deliver(ctx context.Context, r leased) settlement {
	s := w.s
	outcome, c, msgCh, msgID, err := w.send(ctx, r)
	if err != nil {
		s.log.Warn("mod log: delivery failed; trying again later", "guild", r.GuildID, "case_id", r.CaseID, "attempt", r.Attempts, "err", err)
		wait := s.cfg.Backoff(int(r.Attempts))
		if permanent(err) {
			wait = s.cfg.BackoffMax
		}
		cause := err.Error()
		if len(cause) > 500 {
			cause = cause[:500]
		}
		return settlement{row: r.ModlogOutbox, outcome: Retry, retryAt: s.clk.Now().Add(wait), cause: cause}
	}
	return settlement{row: r.ModlogOutbox, outcome: outcome, c: c, channelID: discord.ChannelID(msgCh), messageID: discord.MessageID(msgID)}
}

// settle writes a round's outcomes in one write transaction: each new message linked to its
// case, each delivered row removed (or kept, due at once, for a change that arrived during
// its delivery), each failed one handed back for its retry. One transaction, and one commit,
// for the round where a transaction per delivery measured a commit per command.
//
// Should that transaction fail, each row is settled in one of its own, so that a row the
// database refuses does not hold the others back. A row that still fails keeps its lease
// until the lease ends: then the delivery runs again, and an edit shows the case as it then
// is (a post already linked is edited, not posted again).
//
// The deliveries are made: their outcomes are written even when ctx ends meanwhile (a
// stopping worker), within a bound, so that a message posted is linked rather than posted
// again by the next worker.
func (w worker) settle(ctx context.Context, done []settlement) {
	s := w.s
	done = slices.DeleteFunc(done, func(d settlement) bool { return d.outcome == "" })
	if len(done) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	failed := make([]error, len(done))
	var err error
	if len(done) == 1 && done[0].messageID == 0 {
		// One statement, autocommitted: a group transaction measured dearer for it (its
		// savepoint and a transaction of its own when alone, which it mostly is).
		err = w.settleRow(ctx, s.st.WriteQueries(), nil, done[0])
	} else {
		err = s.cases.InTx(ctx, w.botID, func(tx *cases.Tx) error {
			for _, d := range done {
				if err := w.settleRow(ctx, tx.StoreTx().Queries(), tx, d); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && len(done) > 1 {
			s.log.Warn("mod log: recording a round of deliveries; recording them one by one", "rows", len(done), "err", err)
			err = nil
			for i, d := range done {
				failed[i] = s.cases.InTx(ctx, w.botID, func(tx *cases.Tx) error {
					return w.settleRow(ctx, tx.StoreTx().Queries(), tx, d)
				})
			}
		}
	}
	if err != nil {
		failed[0] = err
	}
	for i, d := range done {
		o := d.outcome
		if failed[i] != nil {
			// The lease is kept until it ends (see above).
			s.reread.Store(true)
			s.log.Error("mod log: recording a delivery", "case_id", d.row.CaseID, "err", failed[i])
			o = Retry
		}
		w.tell(d.row.CaseID, o)
	}
}

func (w worker) tell(caseID int64, o Outcome) {
	if w.s.delivered != nil {
		w.s.delivered(caseID, o)
	}
}

// send makes the Discord call a row asks for. It returns the case as it read it (or as the
// row's snapshot gave it) and the message it posted (0 when it posted none), or an error when
// the delivery must be tried again.
func (w worker) send(ctx context.Context, r leased) (Outcome, cases.Case, int64, int64, error) {
	s := w.s
	var c cases.Case
	if r.snap != nil {
		c = *r.snap
	} else {
		var err error
		if c, err = s.cases.Get(ctx, r.CaseID); err != nil {
			return "", cases.Case{}, 0, 0, fmt.Errorf("reading case id %d: %w", r.CaseID, err)
		}
	}
	if c.ModlogMessageID == 0 && c.Status != cases.Active {
		// A pending case is shown once it is settled; one voided before it was ever shown
		// (its action failed) is not news for the mod log.
		return Skipped, c, 0, 0, nil
	}
	channel := c.ModlogChannelID
	if c.ModlogMessageID == 0 {
		g, err := s.settings.Get(ctx, c.GuildID)
		if err != nil {
			return "", cases.Case{}, 0, 0, fmt.Errorf("reading the settings of guild %d: %w", c.GuildID, err)
		}
		if g.ModlogChannelID == 0 {
			return Skipped, c, 0, 0, nil
		}
		channel = g.ModlogChannelID
	} else if channel == 0 {
		// Linked before messages kept their channel, in a guild with no mod-log channel when
		// the migration ran: there is no knowing where it is.
		return Gone, c, 0, 0, nil
	}
	v, err := w.view(ctx, c)
	if err != nil {
		return "", cases.Case{}, 0, 0, err
	}
	msg := Message(v)
	if s.decorate != nil {
		if err := s.decorate(ctx, c, &msg); err != nil {
			return "", cases.Case{}, 0, 0, fmt.Errorf("rendering case #%d: %w", c.Number, err)
		}
	}
	if c.ModlogMessageID != 0 {
		err := w.port.EditMessage(ctx, channel, c.ModlogMessageID, msg)
		if gone(err) {
			s.log.Warn("mod log: the case's message is gone; it is not edited again", "guild", c.GuildID, "case", c.Number,
				"channel", channel, "message", c.ModlogMessageID, "err", err)
			return Gone, c, 0, 0, nil
		}
		if err != nil {
			return "", cases.Case{}, 0, 0, fmt.Errorf("editing the message of case #%d: %w", c.Number, err)
		}
		return Edited, c, 0, 0, nil
	}
	id, err := w.port.SendMessage(ctx, channel, msg)
	if gone(err) {
		s.log.Warn("mod log: the mod-log channel is gone; the case is not posted", "guild", c.GuildID, "case", c.Number, "channel", channel, "err", err)
		return Gone, c, 0, 0, nil
	}
	if err != nil {
		return "", cases.Case{}, 0, 0, fmt.Errorf("posting case #%d: %w", c.Number, err)
	}
	return Posted, c, int64(channel), int64(id), nil
}

// gone reports Discord saying the message or its channel does not exist.
func gone(err error) bool {
	return discord.IsCode(err, discord.CodeUnknownMessage) || discord.IsCode(err, discord.CodeUnknownChannel)
}

// view gathers what the embed shows.
func (w worker) view(ctx context.Context, c cases.Case) (View, error) {
	evs, err := w.s.cases.Events(ctx, c.ID)
	if err != nil {
		return View{}, err
	}
	v := View{Case: c, Events: evs}
	if w.s.tone != nil {
		v.Tone = w.s.tone(c.Type)
	}
	if c.Processed {
		if n := EndedByNumber(evs); n != 0 {
			if l, err := w.s.cases.GetByNumber(ctx, c.GuildID, n); err == nil {
				v.EndedBy = l
			} else {
				v.EndedBy = cases.Case{Number: n}
			}
		}
	}
	v.Target = w.user(ctx, c.GuildID, c.UserID, c.Metadata[cases.MetaTargetName], true)
	v.Moderator = w.user(ctx, c.GuildID, c.ModeratorID, c.Metadata[cases.MetaModeratorName], false)
	if ev, ok := LastUpdate(evs); ok {
		v.UpdatedBy = v.Moderator
		if ev.ActorID != c.ModeratorID {
			v.UpdatedBy = w.user(ctx, c.GuildID, ev.ActorID, "", false)
		}
	}
	return v, nil
}

// user names a user: gavel itself, or by the name the case recorded (recorded; see
// cases.MetaTargetName), or, for a case recorded without one (before names were recorded, or
// a user the pipeline knew only by id), from their membership or their ban, or by id alone
// when Discord says neither (a lifted tempban's user is neither).
func (w worker) user(ctx context.Context, guildID discord.GuildID, userID discord.UserID, recorded string, banned bool) discord.User {
	if userID == w.botID {
		return discord.User{ID: userID, Username: "gavel"}
	}
	if recorded != "" {
		return discord.User{ID: userID, Username: recorded}
	}
	if m, err := w.port.Member(ctx, guildID, userID); err == nil && m.User.ID != 0 {
		return m.User
	}
	if banned {
		if b, ok, err := w.port.GetBan(ctx, guildID, userID); err == nil && ok && b.User.ID != 0 {
			return b.User
		}
	}
	return discord.User{ID: userID, Username: strconv.FormatInt(int64(userID), 10)}
}

// settleRow writes one delivery's outcome through q, the queries of tx when tx is not nil.
// A failed delivery's row is handed back for its retry. A delivered row goes, with the new
// message linked to its case (d.c, as send read it) when one was posted, which needs tx. A
// change that arrived during the delivery (another generation) keeps the row, due at once,
// so the message catches up with it.
func (w worker) settleRow(ctx context.Context, q query.Queries, tx *cases.Tx, d settlement) error {
	s := w.s
	r := d.row
	if s.settleFault != nil {
		if err := s.settleFault(r.CaseID); err != nil {
			return err
		}
	}
	if d.outcome == Retry {
		return w.handBack(ctx, q, r, d.retryAt, int(r.Attempts), d.cause)
	}
	if d.messageID != 0 {
		// No wake-up follows: a row kept for a newer change is due now, and Run reads when the
		// next row falls due once the drain is over, so it is delivered at once. Waking the
		// worker here made it run one more (empty) claim, a write transaction, per post.
		// The link is written on the case as send read it, unless it changed meanwhile (one
		// statement where locking it first takes two); then as the case now is.
		linked, err := tx.LinkModlogIfUnchanged(d.c, d.channelID, d.messageID)
		if err != nil && !errors.Is(err, input.ErrUnchanged) {
			return err
		}
		if !linked {
			now, err := tx.Lock(r.CaseID)
			if err != nil {
				return err
			}
			if err := tx.LinkModlog(now, d.channelID, d.messageID); err != nil {
				return err
			}
		}
	}
	n, err := q.FinishModlog(ctx, query.FinishModlogParams{CaseID: r.CaseID, Generation: r.Generation, Owner: r.LeaseOwner, Attempts: r.Attempts})
	if err != nil {
		return fmt.Errorf("finish the delivery of case id %d: %w", r.CaseID, err)
	}
	if n == 1 {
		return nil
	}
	s.reread.Store(true)
	_, err = q.RetryModlog(ctx, query.RetryModlogParams{RunAt: s.clk.Now().UnixMilli(), NewAttempts: 0, Now: s.clk.Now().UnixMilli(),
		CaseID: r.CaseID, Owner: r.LeaseOwner, Attempts: r.Attempts})
	if err != nil {
		return fmt.Errorf("requeue the delivery of case id %d: %w", r.CaseID, err)
	}
	return nil
}

// handBack returns a claimed row to the outbox through q, due at runAt.
func (w worker) handBack(ctx context.Context, q query.Queries, r query.ModlogOutbox, runAt time.Time, attempts int, cause string) error {
	s := w.s
	s.reread.Store(true)
	_, err := q.RetryModlog(ctx, query.RetryModlogParams{RunAt: runAt.UnixMilli(), NewAttempts: int64(attempts),
		LastError: sql.NullString{String: cause, Valid: cause != ""}, Now: s.clk.Now().UnixMilli(),
		CaseID: r.CaseID, Owner: r.LeaseOwner, Attempts: r.Attempts})
	return err
}

// permanent reports a refusal that no retry will change: gavel may not post in the channel.
// It is still retried (with the longest backoff) because a moderator may fix the permission.
func permanent(err error) bool {
	de := discord.AsError(err)
	return de != nil && de.Status == http.StatusForbidden
}
