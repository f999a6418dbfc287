package actions

import (
	"context"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Untimeout ends a member's timeout early.
func Untimeout() *moderation.Action {
	return &moderation.Action{
		Name: "untimeout", Aliases: []string{"uto", "unmute"}, Description: "End a member's timeout early.",
		Case: cases.Untimeout, Mirrored: true, Tone: modlog.Lift, Rank: 2, Target: moderation.TargetMember, FreshMember: true, Flags: []moderation.FlagUse{silent}, DM: moderation.DMAfter,
		DMVerb: "released from timeout", Native: permissions.ModerateMembers, BotNeeds: permissions.ModerateMembers, Ops: []executor.Op{executor.OpTimeout}, Inverse: "timeout",
		Supersedes: []expiry.Kind{expiry.TimeoutRenew, expiry.TimeoutExpire},
		Check:      timedOutNow, Observe: moderation.NoObserve, Act: untimeout, Reconcile: onMember(notTimedOut),
	}
}

func timedOutNow(_ context.Context, s *moderation.Step) error {
	if !s.Member.TimedOut(s.Now()) {
		return moderation.Refuse("%s is not timed out.", s.TargetName())
	}
	return nil
}

func untimeout(ctx context.Context, s *moderation.Step) (string, error) {
	return "", s.Do(ctx, executor.OpTimeout, func(ctx context.Context) error {
		return s.Port().Timeout(ctx, s.Request.GuildID, s.Target.ID, time.Time{}, s.AuditReason())
	})
}

func notTimedOut(s *moderation.Step, m discord.Member) (bool, string) {
	if m.TimedOut(s.Now()) {
		return false, "the member is still timed out, so the untimeout did not happen"
	}
	return true, "the member is not timed out"
}
