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

// Ban bans a member, or any user by id. A ban of someone who is not a member (a "hackban")
// is the same command and the same Discord call, recorded as a HACKBAN case (see Hackban),
// so that the case list tells pre-emptive bans apart; there is no hackban command.
func Ban() *moderation.Action {
	return &moderation.Action{
		Name: "ban", Aliases: []string{"b"}, Description: "Ban a member, or any user by id, and optionally delete their recent messages.",
		Case: cases.Ban, Mirrored: true, Tone: modlog.Removal, NonMember: cases.Hackban, Rank: 3, Target: moderation.TargetUser,
		Flags: []moderation.FlagUse{purge, silent}, DM: moderation.DMBefore, DMVerb: "banned",
		Native: permissions.BanMembers, BotNeeds: permissions.BanMembers, Ops: []executor.Op{executor.OpBan}, Inverse: "unban", Removes: true,
		Supersedes: []expiry.Kind{expiry.Unban},
		Check:      notBannedForGood, Observe: moderation.NoObserve, Act: ban, Reconcile: banExists,
	}
}

// Hackban is the case of a ban of a user who is not a member: made by the ban command, it
// behaves as a ban in every step.
func Hackban() *moderation.Action {
	return &moderation.Action{
		Case: cases.Hackban, Tone: modlog.Removal, Target: moderation.TargetUser, BotNeeds: permissions.BanMembers, Ops: []executor.Op{executor.OpBan}, Inverse: "unban",
		Supersedes: []expiry.Kind{expiry.Unban},
		Check:      notBanned, Observe: moderation.NoObserve, Act: ban, Reconcile: banExists,
	}
}

func notBanned(ctx context.Context, s *moderation.Step) error {
	// A member is not banned: Discord removes whoever it bans from the server, so the
	// membership just read under the target's lock answers without asking for the ban.
	if s.IsMember {
		return nil
	}
	banned, err := s.Banned(ctx)
	if err != nil {
		return err
	}
	if banned {
		return moderation.Refuse("%s is already banned.", s.TargetName())
	}
	return nil
}

// notBannedForGood refuses a ban of the permanently banned. A ban of a user a tempban
// banned makes that ban permanent: Discord already bans them, so there is no call to make
// (Plan.NoCall); the BAN case's activation supersedes the scheduled unban (Supersedes). The
// case is a BAN, not a HACKBAN, though they are no member: gavel banned them itself.
func notBannedForGood(ctx context.Context, s *moderation.Step) error {
	if s.IsMember {
		return nil // not banned: see notBanned
	}
	banned, err := s.Banned(ctx)
	if err != nil || !banned {
		return err
	}
	_, temp, ok, err := s.OpenExpiry(ctx, expiry.Unban)
	if err != nil {
		return err
	}
	if !ok {
		return moderation.Refuse("%s is already banned, with no end set; to set one, use tempban.", s.TargetName())
	}
	s.Amends, s.Plan.NoCall, s.Type = temp, true, s.Action.Case
	return nil
}

func ban(ctx context.Context, s *moderation.Step) (string, error) {
	if s.Plan.NoCall {
		return fmt.Sprintf("They were banned until %s by case #%d; the ban is now permanent, and that unban will not happen.",
			moderation.DiscordTime(s.Amends.ExpiresAt), s.Amends.Number), nil
	}
	return "", s.Do(ctx, executor.OpBan, func(ctx context.Context) error {
		return s.Port().Ban(ctx, s.Request.GuildID, s.Target.ID, s.Request.PurgeDays*86400, s.AuditReason())
	})
}

func banExists(ctx context.Context, s *moderation.Step) (bool, string, error) {
	banned, err := s.Banned(ctx)
	if err != nil {
		return false, "", err
	}
	if banned {
		return true, "the ban exists on Discord", nil
	}
	return false, "no ban exists on Discord, so the ban did not happen", nil
}
