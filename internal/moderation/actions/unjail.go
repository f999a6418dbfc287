package actions

import (
	"context"
	"fmt"
	"slices"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/modlog"
	"github.com/gavelbot/gavel/internal/permissions"
)

// Unjail releases a member from jail and gives back the roles the jail took; the expiry of a
// timed jail runs it too.
func Unjail() *moderation.Action {
	return &moderation.Action{
		Name: "unjail", Aliases: []string{"uj"}, Description: "Release a member from jail and give back their roles.",
		Case: cases.Unjail, Tone: modlog.Lift, Rank: 3, Target: moderation.TargetMember, FreshMember: true, Flags: []moderation.FlagUse{silent}, DM: moderation.DMAfter,
		DMVerb: "released from jail", Native: permissions.ManageRoles, BotNeeds: permissions.ManageRoles, Ops: []executor.Op{executor.OpRoles}, Inverse: "jail",
		JailRole: true, Supersedes: []expiry.Kind{expiry.Unjail},
		CheckTarget: moderation.CheckJailRole, Check: jailed, Plan: planUnjail, Observe: observeJailed,
		Act: unjail, Reconcile: onMember(lacksJailRole),
	}
}

func jailed(ctx context.Context, s *moderation.Step) error {
	return moderation.CheckRestriction(ctx, s, cases.Jail, true, "jailed")
}

// planUnjail takes the jail role away and gives back the saved roles gavel still can.
func planUnjail(s *moderation.Step) {
	for _, id := range s.Member.Roles {
		if id != s.JailRole {
			s.Plan.Roles = append(s.Plan.Roles, id)
		}
	}
	botRank := s.BotRank()
	for _, id := range s.Lifts.RoleIDs {
		r, ok := s.Guild.Role(id)
		if !ok || r.Managed || id == s.JailRole || id == s.Guild.ID.EveryoneRole() || !botRank.RoleBelow(r) {
			s.Plan.RestoreSkipped++
			continue
		}
		if !slices.Contains(s.Plan.Roles, id) {
			s.Plan.Roles = append(s.Plan.Roles, id)
		}
	}
}

// observeJailed reads the server and the member for a timed jail's release; a member who
// left is released in gavel's records only.
func observeJailed(ctx context.Context, s *moderation.Step) (string, error) {
	if err := s.ReadGuild(ctx); err != nil {
		return "", err
	}
	m, member, err := s.ReadMember(ctx)
	if err != nil {
		return "", fmt.Errorf("reading user %d: %s", s.Target.ID, moderation.FailureText(err))
	}
	if member {
		s.Member, s.IsMember, s.Target = m, true, m.User
	}
	return "", nil
}

func unjail(ctx context.Context, s *moderation.Step) (string, error) {
	if !s.IsMember {
		return "They are not in the server; no roles were given back.", nil
	}
	if _, err := setRoles(ctx, s); err != nil {
		return "", err
	}
	if s.Plan.RestoreSkipped > 0 {
		return restoreSkippedText(s.Plan.RestoreSkipped), nil
	}
	return "", nil
}

// restoreSkippedText says how many saved roles could not be given back, the verbs agreeing
// with the count (one role "no longer exists", two "no longer exist").
func restoreSkippedText(n int) string {
	if n == 1 {
		return "1 of their saved roles no longer exists or is not below gavel's role, and was not given back."
	}
	return fmt.Sprintf("%d of their saved roles no longer exist or are not below gavel's role, and were not given back.", n)
}

func lacksJailRole(s *moderation.Step, m discord.Member) (bool, string) {
	if s.JailRole <= 0 {
		return false, "no jail role is configured, so the jail cannot be checked"
	}
	if slices.Contains(m.Roles, s.JailRole) {
		return false, "the member still has the jail role, so the unjail did not happen"
	}
	return true, "the member no longer has the jail role"
}
