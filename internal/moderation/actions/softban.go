package actions

import (
	"context"
	"fmt"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Softban bans and at once unbans, to delete a member's recent messages.
func Softban() *moderation.Action {
	return &moderation.Action{
		Name: "softban", Aliases: []string{"sban"}, Description: "Ban and at once unban a member to delete their recent messages.",
		Case: cases.Softban, Tone: modlog.Removal, Rank: 3, Target: moderation.TargetMember, Flags: []moderation.FlagUse{purge, silent}, DM: moderation.DMBefore,
		DMVerb: "softbanned (removed, and your recent messages deleted)",
		Native: permissions.BanMembers, BotNeeds: permissions.BanMembers, Ops: []executor.Op{executor.OpBan, executor.OpUnban}, Removes: true,
		Supersedes: []expiry.Kind{expiry.Unban},
		Check:      moderation.NoCheck, Observe: moderation.NoObserve, Act: softban, Reconcile: moderation.SoftbanHappened,
	}
}

func softban(ctx context.Context, s *moderation.Step) (string, error) {
	g, u, reason := s.Request.GuildID, s.Target.ID, s.AuditReason()
	// A softban exists to delete messages: with no -purge it deletes a day of them.
	days := max(s.Request.PurgeDays, 1)
	if err := s.Do(ctx, executor.OpBan, func(ctx context.Context) error {
		return s.Port().Ban(ctx, g, u, days*86400, reason)
	}); err != nil {
		return "", err
	}
	if err := s.Do(ctx, executor.OpUnban, func(ctx context.Context) error {
		return s.Port().Unban(ctx, g, u, reason)
	}); err != nil {
		// The ban happened and its messages are gone; only the lifting failed.
		return fmt.Sprintf("⚠️ The ban was not lifted afterwards (%s): they are still banned; unban them with the unban command.", moderation.FailureText(err)), nil
	}
	return "", nil
}
