package actions

import (
	"context"
	"fmt"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Timeout times a member out. Discord applies at most 28 days at once: a longer timeout is
// applied for 28 days and renewed by the expiry poller until the case ends.
func Timeout() *moderation.Action {
	return &moderation.Action{
		Name: "timeout", Aliases: []string{"to", "mute"}, Description: "Time a member out: they cannot talk or react until it ends.",
		Case: cases.Timeout, Mirrored: true, Tone: modlog.Restriction, Rank: 2, Target: moderation.TargetMember, FreshMember: true,
		Flags: []moderation.FlagUse{required(time.Minute, duration.Year), silent}, DM: moderation.DMAfter, DMVerb: "timed out",
		Native: permissions.ModerateMembers, BotNeeds: permissions.ModerateMembers, Ops: []executor.Op{executor.OpTimeout}, Inverse: "untimeout",
		Expiry: expiry.TimeoutExpire, Renew: expiry.TimeoutRenew, Expire: expireTimeout, ByHand: timeoutByHand, LiftReason: "Timeout ended", Supersedes: []expiry.Kind{expiry.TimeoutRenew, expiry.TimeoutExpire},
		CheckTarget: notAdministrator, Check: timeoutToMove, Plan: planTimeout, Observe: moderation.NoObserve,
		Act: timeout, Reconcile: onMember(timedOut),
	}
}

// expireTimeout is the timeout's own expiry: Discord ends a timeout by itself, so nothing is
// lifted. Before the case ends it applies Discord's timeout again (a timeout longer than
// Discord allows) and schedules the next renewal or the end; when the case is over it marks
// it processed, ending Discord's timeout first if the case was shortened after it was applied.
func expireTimeout(ctx context.Context, e *moderation.Expiring) error {
	c := e.Case
	m, member, err := e.ReadMember(ctx)
	if err != nil {
		return fmt.Errorf("reading user %d: %s", c.UserID, moderation.FailureText(err))
	}
	if !member {
		return e.AlreadyDone(ctx, "they left the server, which ends a timeout")
	}
	now, end := e.Now(), c.ExpiresAt
	if !end.After(now.Add(time.Second)) {
		// Over. A case shortened after Discord's timeout was applied still has one running.
		if m.CommunicationDisabledUntil.After(now.Add(time.Second)) {
			if err := e.Do(ctx, executor.OpTimeout, func(ctx context.Context) error {
				return e.Port().Timeout(ctx, c.GuildID, c.UserID, time.Time{}, e.AuditReason(fmt.Sprintf("Timeout ended (case #%d)", c.Number)))
			}); err != nil {
				return fmt.Errorf("ending the timeout of user %d: %s", c.UserID, moderation.FailureText(err))
			}
		}
		return e.Finish(ctx, "expired", func(tx *cases.Tx, o cases.Case) error {
			_, err := tx.MarkProcessed(o, "the timeout expired")
			return err
		})
	}
	if !m.TimedOut(now) {
		return e.AlreadyDone(ctx, "the timeout was lifted in Discord")
	}
	horizon := e.TimeoutHorizon()
	until := now.Add(horizon)
	if !until.Before(end) {
		until = end
	}
	if err := e.Do(ctx, executor.OpTimeout, func(ctx context.Context) error {
		return e.Port().Timeout(ctx, c.GuildID, c.UserID, until, e.AuditReason(fmt.Sprintf("Timeout renewed (case #%d)", c.Number)))
	}); err != nil {
		return fmt.Errorf("renewing the timeout of user %d: %s", c.UserID, moderation.FailureText(err))
	}
	return e.Finish(ctx, "renewed until "+until.UTC().Format(time.RFC3339), func(tx *cases.Tx, o cases.Case) error {
		old := ""
		if !m.CommunicationDisabledUntil.IsZero() {
			old = m.CommunicationDisabledUntil.UTC().Format(time.RFC3339)
		}
		if err := tx.Record(o, cases.EventRenewed, old, until.UTC().Format(time.RFC3339),
			fmt.Sprintf("Discord's timeout applied again until %s; the case ends %s", until.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))); err != nil {
			return err
		}
		kind, at := expiry.TimeoutExpire, end
		if until.Before(end) {
			kind, at = expiry.TimeoutRenew, until.Add(-moderation.RenewLead(horizon))
		}
		return e.ScheduleTx(tx, o, kind, at)
	})
}

// timeoutByHand says what to do when a timeout's renewal or end gave up.
func timeoutByHand(k expiry.Kind, _ discord.UserID) string {
	if k == expiry.TimeoutRenew {
		return "time them out again by hand if the timeout should continue"
	}
	return "check their timeout by hand"
}

func notAdministrator(s *moderation.Step) error {
	if s.IsAdministrator() {
		return moderation.Refuse("%s is an administrator; Discord does not let anyone time out an administrator.", s.TargetName())
	}
	return nil
}

// planTimeout caps what Discord applies at its horizon; the rest is renewed.
func planTimeout(s *moderation.Step) {
	d := s.Request.Duration
	start := s.Plan.Expires.Add(-d)
	horizon := s.TimeoutHorizon()
	if d > horizon {
		d, s.Plan.Capped = horizon, true
	}
	s.Plan.TimeoutUntil = start.Add(d)
	if s.Plan.Capped {
		s.Plan.RenewAt = s.Plan.TimeoutUntil.Add(-moderation.RenewLead(horizon))
	}
}

// timeoutToMove finds the timeout a timeout of a timed-out member replaces: gavel's newest
// timeout case still running, whose end the new case moves (the new case's activation
// supersedes its renewal or end).
func timeoutToMove(ctx context.Context, s *moderation.Step) error {
	if !s.Member.TimedOut(s.Now()) {
		return nil
	}
	last, ok, err := s.LatestActive(ctx, cases.Timeout)
	if err != nil {
		return err
	}
	if ok && !last.Processed {
		s.Amends = last
	}
	return nil
}

func timeout(ctx context.Context, s *moderation.Step) (string, error) {
	// What the member's timeout was before this one, for the reply.
	moved := ""
	if s.Member.TimedOut(s.Now()) {
		was, by := s.Member.CommunicationDisabledUntil, "(outside gavel, no case)"
		if a := s.Amends; a.ID != 0 {
			by = fmt.Sprintf("by case #%d", a.Number)
			if !a.ExpiresAt.IsZero() {
				was = a.ExpiresAt
			}
		}
		moved = fmt.Sprintf("They were already timed out until %s %s; the timeout now ends %s instead.", moderation.DiscordTime(was), by, moderation.DiscordTime(s.Plan.Expires))
	}
	err := s.Do(ctx, executor.OpTimeout, func(ctx context.Context) error {
		return s.Port().Timeout(ctx, s.Request.GuildID, s.Target.ID, s.Plan.TimeoutUntil, s.AuditReason())
	})
	if err != nil || !s.Plan.Capped {
		return moved, err
	}
	horizon, full := duration.Format(s.TimeoutHorizon()), duration.Format(s.Request.Duration)
	note := ""
	if !s.Renews() {
		note = fmt.Sprintf("Discord times out for at most %s, so the timeout ends %s; the case records the full %s, and gavel is not renewing it (no expiry schedule).",
			horizon, moderation.DiscordTime(s.Plan.TimeoutUntil), full)
	} else {
		note = fmt.Sprintf("Discord times out for at most %s, so it is applied until %s and gavel renews it until the full %s has passed (%s).",
			horizon, moderation.DiscordTime(s.Plan.TimeoutUntil), full, moderation.DiscordTime(s.Plan.Expires))
	}
	if moved != "" {
		note = moved + " " + note
	}
	return note, nil
}

// timedOut reconciles a timeout; when Discord's timeout ends before the case does (a long
// timeout), the renewal is what finalize schedules.
func timedOut(s *moderation.Step, m discord.Member) (bool, string) {
	if !m.TimedOut(s.Now()) {
		return false, "the member is not timed out, so the timeout did not happen"
	}
	// Discord keeps the timeout to the second; a timeout that ends well before the case
	// does was capped at Discord's limit.
	if until := m.CommunicationDisabledUntil; until.Before(s.Case.ExpiresAt.Add(-time.Minute)) {
		s.Plan.RenewAt = until.Add(-moderation.RenewLead(s.TimeoutHorizon()))
	}
	return true, "the member is timed out"
}
