package actions

import (
	"context"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Kick removes a member; they can rejoin.
func Kick() *moderation.Action {
	return &moderation.Action{
		Name: "kick", Aliases: []string{"k"}, Description: "Remove a member from the server; they can rejoin.",
		Case: cases.Kick, Mirrored: true, Tone: modlog.Removal, Rank: 3, Target: moderation.TargetMember, Flags: []moderation.FlagUse{silent}, DM: moderation.DMBefore, DMVerb: "kicked",
		Native: permissions.KickMembers, BotNeeds: permissions.KickMembers, Ops: []executor.Op{executor.OpKick}, Removes: true,
		Check: moderation.NoCheck, Observe: moderation.NoObserve, Act: kick, Reconcile: kicked,
	}
}

func kick(ctx context.Context, s *moderation.Step) (string, error) {
	return "", s.Do(ctx, executor.OpKick, func(ctx context.Context) error {
		return s.Port().Kick(ctx, s.Request.GuildID, s.Target.ID, s.AuditReason())
	})
}

func kicked(ctx context.Context, s *moderation.Step) (bool, string, error) {
	_, member, err := s.ReadMember(ctx)
	if err != nil {
		return false, "", err
	}
	if member {
		return false, "the user is still a member, so the kick did not happen", nil
	}
	return true, "the user is no longer a member", nil
}
