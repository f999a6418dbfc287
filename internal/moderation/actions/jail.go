package actions

import (
	"context"
	"slices"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Jail takes a member's roles (kept on the case) and gives them the jail role, optionally
// for a while.
func Jail() *moderation.Action {
	return &moderation.Action{
		Name: "jail", Aliases: []string{"j"}, Description: "Take a member's roles and give them the jail role, optionally for a while.",
		Case: cases.Jail, Tone: modlog.Restriction, Rank: 3, Target: moderation.TargetMember, FreshMember: true, Flags: []moderation.FlagUse{optionalFor(tenYears), silent},
		DM: moderation.DMAfter, DMVerb: "jailed", Native: permissions.ManageRoles, BotNeeds: permissions.ManageRoles, Ops: []executor.Op{executor.OpRoles}, Inverse: "unjail",
		JailRole: true, Expiry: expiry.Unjail, LiftReason: "Jail expired", ByHand: liftByHand("release them", "unjail"), Supersedes: []expiry.Kind{expiry.Unjail},
		CheckTarget: moderation.CheckJailRole, Check: notJailed, Plan: planJail, Observe: moderation.NoObserve,
		Act: setRoles, Reconcile: onMember(hasJailRole),
	}
}

func notJailed(ctx context.Context, s *moderation.Step) error {
	return moderation.CheckRestriction(ctx, s, cases.Jail, false, "jailed")
}

// planJail takes only roles below gavel's own that no integration manages; the others stay,
// and the jail role joins them.
func planJail(s *moderation.Step) {
	botRank := s.BotRank()
	for _, id := range s.Member.Roles {
		r, ok := s.Guild.Role(id)
		switch {
		case id == s.JailRole || id == s.Guild.ID.EveryoneRole():
		case !ok:
		case r.Managed || !botRank.RoleBelow(r):
			s.Plan.Roles = append(s.Plan.Roles, id)
		default:
			s.Plan.SavedRoles = append(s.Plan.SavedRoles, id)
		}
	}
	s.Plan.Roles = append(s.Plan.Roles, s.JailRole)
}

// setRoles gives the member the role list the plan made (jail and unjail).
func setRoles(ctx context.Context, s *moderation.Step) (string, error) {
	return "", s.Do(ctx, executor.OpRoles, func(ctx context.Context) error {
		return s.Port().SetRoles(ctx, s.Request.GuildID, s.Target.ID, s.Plan.Roles, s.AuditReason())
	})
}

func hasJailRole(s *moderation.Step, m discord.Member) (bool, string) {
	if s.JailRole <= 0 {
		return false, "no jail role is configured, so the jail cannot be checked"
	}
	if slices.Contains(m.Roles, s.JailRole) {
		return true, "the member has the jail role"
	}
	return false, "the member does not have the jail role, so the jail did not happen"
}
