package actions

import (
	"context"
	"fmt"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Tempban bans for a while; the expiry poller unbans when it ends (the unban action, with a
// case of its own). A tempban of a user already banned sets (or moves) the end of that ban.
func Tempban() *moderation.Action {
	return &moderation.Action{
		Name: "tempban", Aliases: []string{"tb"}, Description: "Ban a member or user for a while; gavel unbans them when it ends.",
		Case: cases.Tempban, Tone: modlog.Removal, Rank: 3, Target: moderation.TargetUser,
		Flags: []moderation.FlagUse{required(time.Minute, tenYears), purge, silent}, DM: moderation.DMBefore,
		DMVerb: "temporarily banned", Native: permissions.BanMembers, BotNeeds: permissions.BanMembers, Ops: []executor.Op{executor.OpBan},
		Inverse: "unban", Removes: true,
		Expiry: expiry.Unban, LiftReason: "Temporary ban expired", ByHand: liftByHand("unban them", "unban"), Supersedes: []expiry.Kind{expiry.Unban},
		Check: endOfBan, Observe: moderation.NoObserve, Act: tempban, Reconcile: banExists,
	}
}

// endOfBan lets a tempban of a banned user through as a change of the ban's end: Discord
// already bans them (Plan.NoCall), the TEMPBAN case schedules the unban, and its activation
// supersedes the unban an earlier tempban scheduled. The ban it amends is the tempban whose
// unban is pending, else gavel's newest ban of them (none when the ban was made outside
// gavel and not recorded).
func endOfBan(ctx context.Context, s *moderation.Step) error {
	banned, err := s.Banned(ctx)
	if err != nil || !banned {
		return err
	}
	s.Plan.NoCall = true
	_, temp, ok, err := s.OpenExpiry(ctx, expiry.Unban)
	if err != nil {
		return err
	}
	if ok {
		s.Amends = temp
		return nil
	}
	last, ok, err := s.LatestActive(ctx, cases.Ban, cases.Hackban, cases.Tempban)
	if err != nil {
		return err
	}
	if ok {
		s.Amends = last
	}
	return nil
}

func tempban(ctx context.Context, s *moderation.Step) (string, error) {
	if !s.Plan.NoCall {
		return ban(ctx, s)
	}
	end := moderation.DiscordTime(s.Plan.Expires)
	switch a := s.Amends; {
	case a.ID != 0 && !a.ExpiresAt.IsZero() && !a.Processed:
		return fmt.Sprintf("They were already banned until %s by case #%d; the ban now ends %s instead.", moderation.DiscordTime(a.ExpiresAt), a.Number, end), nil
	case a.ID != 0:
		return fmt.Sprintf("They were already banned by case #%d, with no end; the ban now ends %s.", a.Number, end), nil
	}
	return fmt.Sprintf("They were already banned (outside gavel, no case); the ban now ends %s.", end), nil
}
