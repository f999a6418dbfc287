package escalation

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// NextWake is the next moment the escalation has something to do on its own: points that
// stop counting for a member with an open firing (its thresholds may re-arm), or an
// approval request that reaches its day. Both are read from the data itself (case_points,
// escalation_firings), so the schedule survives restarts and is shared by every process.
func (s *Service) NextWake(ctx context.Context) (time.Time, bool, error) {
	now := s.now().UnixMilli()
	at, err := s.read.NextPointsExpiry(ctx, now)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next points expiry: %w", err)
	}
	fired, err := s.read.NextApprovalFiredAt(ctx)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next approval deadline: %w", err)
	}
	var next int64
	if at > 0 {
		next = at
	}
	if fired > 0 {
		if d := fired + ApprovalWait.Milliseconds(); next == 0 || d < next {
			next = d
		}
	}
	if next == 0 {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(next).UTC(), true, nil
}

// RearmExpired re-arms the thresholds of the members some of whose points stopped counting
// in (after, upto]: each member's sum is read under the member's lock, as a case change does.
// It returns the firings re-armed. Each member is re-armed under aff (the shard leases,
// store.Enter: a member of a guild this process does not own is left to its owner, and the
// write is refused once the lease moved); nil: every guild is this process's.
func (s *Service) RearmExpired(ctx context.Context, after, upto time.Time, aff store.Affinity) ([]Firing, error) {
	members, err := s.read.MembersWithExpiredPoints(ctx, query.MembersWithExpiredPointsParams{After: after.UnixMilli(), Upto: upto.UnixMilli()})
	if err != nil {
		return nil, fmt.Errorf("members whose points expired: %w", err)
	}
	var out []Firing
	for _, m := range members {
		held, done, ok := store.Enter(ctx, aff, m.GuildID)
		if !ok {
			continue
		}
		fs, err := s.rearmMember(held, discord.GuildID(m.GuildID), discord.UserID(m.UserID))
		done()
		if err != nil {
			return out, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

func (s *Service) rearmMember(ctx context.Context, guildID discord.GuildID, userID discord.UserID) ([]Firing, error) {
	var out []Firing
	err := s.st.InTx(ctx, func(tx *store.Tx) error {
		q := tx.Queries()
		nowMS := s.now().UnixMilli()
		// Only whether the points are below an open firing's reset level matters here: no
		// threshold to cross (top 0), no change (delta 0).
		sum, err := lockMemberPoints(tx, guildID, userID, nowMS, false, 0, 0)
		if err != nil {
			return err
		}
		if sum.Points >= sum.OpenResetBelow {
			return nil // no open firing re-arms at these points
		}
		rows, err := q.RearmFirings(tx.Context(), query.RearmFiringsParams{Now: sql.NullInt64{Int64: nowMS, Valid: true}, GuildID: int64(guildID), UserID: int64(userID), Points: sum.Points})
		if err != nil {
			return err
		}
		out = firings(rows)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("re-arm the thresholds of user %d in guild %d: %w", userID, guildID, err)
	}
	return out, nil
}

// Serve keeps the escalation's own schedule until ctx ends: it wakes at NextWake (on c,
// the injected clock; at least every PollEvery, for what another process scheduled) and
// then re-arms the thresholds whose points stopped counting and expires the approval
// requests older than a day.
func (r *Runner) Serve(ctx context.Context, c clock.Clock, pollEvery time.Duration, woken func(time.Time)) {
	// The first round catches up with what happened while no process ran.
	last := time.UnixMilli(0)
	for {
		if ctx.Err() != nil {
			return // shutting down: nothing below would get through
		}
		select {
		case <-r.rewind:
			last = time.UnixMilli(0)
		default:
		}
		now := c.Now()
		if fs, err := r.svc.RearmExpired(ctx, last, now, r.affinity); err != nil {
			r.warn(ctx, "re-arming escalations", err)
		} else if len(fs) > 0 {
			r.log.Info("escalation thresholds re-armed as points stopped counting", "firings", len(fs))
		}
		if _, err := r.ExpireDue(ctx); err != nil {
			r.warn(ctx, "expiring escalation approvals", err)
		}
		// Firings another process made and left (it stopped, or it runs no pipeline, as
		// gavel web): a minute's grace lets their own process run them in order.
		r.resumeBefore(ctx, now.Add(-time.Minute))
		last = now
		if woken != nil {
			woken(now)
		}
		next := c.Now().Add(pollEvery)
		if at, ok, err := r.svc.NextWake(ctx); err != nil {
			r.warn(ctx, "escalation schedule", err)
		} else if ok && at.Before(next) {
			next = at
		}
		t := c.TimerAt(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		case <-r.rewind:
			t.Stop()
			r.Rewind() // read again at the round's start
		}
	}
}

// warn logs a failure of the schedule, unless it came from a shutdown (ctx ended).
func (r *Runner) warn(ctx context.Context, what string, err error) {
	if ctx.Err() == nil {
		r.log.Warn(what, "err", err)
	}
}
