package actions

import (
	"context"
	"fmt"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Unban lifts a ban; the expiry of a tempban runs it too.
func Unban() *moderation.Action {
	return &moderation.Action{
		Name: "unban", Aliases: []string{"ub"}, Description: "Lift a ban, by user id, mention or name in the ban list.",
		Case: cases.Unban, Mirrored: true, Tone: modlog.Lift, Rank: 3, Target: moderation.TargetBanned, DM: moderation.DMNone,
		Native: permissions.BanMembers, BotNeeds: permissions.BanMembers, Ops: []executor.Op{executor.OpUnban}, Inverse: "ban",
		Supersedes: []expiry.Kind{expiry.Unban},
		Check:      banned, Observe: observeBan, Act: unban, Reconcile: noBan,
	}
}

func banned(ctx context.Context, s *moderation.Step) error {
	banned, err := s.Banned(ctx)
	if err != nil {
		return err
	}
	if !banned {
		return moderation.Refuse("%s is not banned.", s.TargetName())
	}
	return nil
}

// observeBan finds the ban a tempban's expiry lifts; none means it was lifted in Discord.
func observeBan(ctx context.Context, s *moderation.Step) (string, error) {
	var ban discord.Ban
	var banned bool
	if err := s.Do(ctx, executor.OpRead, func(ctx context.Context) (err error) {
		ban, banned, err = s.Port().GetBan(ctx, s.Request.GuildID, s.Target.ID)
		return err
	}); err != nil {
		return "", fmt.Errorf("checking the ban of user %d: %s", s.Target.ID, moderation.FailureText(err))
	}
	if !banned {
		return "they were no longer banned (unbanned in Discord)", nil
	}
	if ban.User.ID != 0 {
		s.Target = ban.User
	}
	return "", nil
}

func unban(ctx context.Context, s *moderation.Step) (string, error) {
	return "", s.Do(ctx, executor.OpUnban, func(ctx context.Context) error {
		return s.Port().Unban(ctx, s.Request.GuildID, s.Target.ID, s.AuditReason())
	})
}

func noBan(ctx context.Context, s *moderation.Step) (bool, string, error) {
	banned, err := s.Banned(ctx)
	if err != nil {
		return false, "", err
	}
	if banned {
		return false, "the user is still banned, so the unban did not happen", nil
	}
	return true, "no ban exists on Discord", nil
}
