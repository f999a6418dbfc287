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
		Case: cases.Timeout, Tone: modlog.Restriction, Rank: 2, Target: moderation.TargetMember,
		Flags: []moderation.FlagUse{required(time.Minute, duration.Year), silent}, DM: moderation.DMAfter, DMVerb: "timed out",
		Native: permissions.ModerateMembers, BotNeeds: permissions.ModerateMembers, Inverse: "untimeout",
		Expiry: expiry.TimeoutExpire, LiftReason: "Timeout ended", Supersedes: []expiry.Kind{expiry.TimeoutRenew, expiry.TimeoutExpire},
		CheckTarget: notAdministrator, Check: moderation.NoCheck, Plan: planTimeout, Observe: moderation.NoObserve,
		Act: timeout, Reconcile: onMember(timedOut),
	}
}

func notAdministrator(s *moderation.Step) error {
	if s.IsAdministrator() {
		return moderation.Refuse("%s is an administrator; Discord does not let anyone time out an administrator.", s.Target.Username)
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

func timeout(ctx context.Context, s *moderation.Step) (string, error) {
	err := s.Do(ctx, executor.OpTimeout, func(ctx context.Context) error {
		return s.Port().Timeout(ctx, s.Request.GuildID, s.Target.ID, s.Plan.TimeoutUntil, s.AuditReason())
	})
	if err != nil || !s.Plan.Capped {
		return "", err
	}
	horizon, full := duration.Format(s.TimeoutHorizon()), duration.Format(s.Request.Duration)
	if !s.Renews() {
		return fmt.Sprintf("Discord times out for at most %s, so the timeout ends %s; the case records the full %s, and gavel is not renewing it (no expiry schedule).",
			horizon, moderation.DiscordTime(s.Plan.TimeoutUntil), full), nil
	}
	return fmt.Sprintf("Discord times out for at most %s, so it is applied until %s and gavel renews it until the full %s has passed (%s).",
		horizon, moderation.DiscordTime(s.Plan.TimeoutUntil), full, moderation.DiscordTime(s.Plan.Expires)), nil
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
