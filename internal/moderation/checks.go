package moderation

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/permissions"
)

// refusal is a check that said no: nothing has happened, and Problem tells the moderator why
// and, where there is something to do, what.
type refusal struct{ Problem string }

func (r *refusal) Error() string { return r.Problem }

// Refuse says no to an action before anything happened: the pipeline tells the moderator
// the problem, records no case and calls no one.
func Refuse(format string, args ...any) error {
	return &refusal{Problem: fmt.Sprintf(format, args...)}
}

func refuse(format string, args ...any) error { return Refuse(format, args...) }

// guildPermissions is a member's guild-wide permissions (discord.Guild.MemberPermissions).
func guildPermissions(g discord.Guild, userID discord.UserID, roleIDs []discord.RoleID) permissions.Permission {
	return permissions.Permission(g.MemberPermissions(userID, roleIDs))
}

// touchesMember says the action changes the member on Discord, so gavel must be able to.
func touchesMember(a *Action) bool { return a.BotNeeds != 0 && a.Target != TargetBanned }

// checkArguments refuses arguments outside the action's bounds. The front-ends check them
// too; the pipeline does again because it is the last thing before Discord.
func checkArguments(req Request) error {
	a := req.Action
	if use, ok := a.Flag(FlagDuration); ok {
		switch {
		case req.Duration == 0 && use.Required:
			// Worded for either front end (the pipeline does not know which one asked); both
			// refuse a missing duration first, naming the option as it is typed there.
			return refuse("%s needs a duration, like 90m, 1.5h, 1w2d or 2 weeks.", a.Name)
		case req.Duration != 0:
			if err := use.Bounds.Check(req.Duration); err != nil {
				return refuse("The duration %v.", err)
			}
		}
	} else if req.Duration != 0 {
		return refuse("%s takes no duration.", a.Name)
	}
	if _, ok := a.Flag(FlagPurge); ok {
		if req.PurgeDays < MinPurgeDays || req.PurgeDays > MaxPurgeDays {
			return refuse("purge %d is out of range: give a number of days from %d to %d.", req.PurgeDays, MinPurgeDays, MaxPurgeDays)
		}
	} else if req.PurgeDays != 0 {
		return refuse("%s deletes no messages.", a.Name)
	}
	return nil
}

// checkWho refuses actions on people gavel must not act on: the moderator themself, the
// owner, gavel, anyone at or above the moderator or gavel; and actions gavel lacks the
// permission for.
func (co *Coordinator) checkWho(req Request, a *Action, sc *Step, modRoles []discord.RoleID) error {
	name := sc.TargetName()
	switch {
	case sc.Target.ID == req.Moderator.ID:
		return refuse("You cannot %s yourself.", a.Name)
	case sc.Target.ID == sc.Guild.OwnerID:
		return refuse("%s is the owner of this server; nobody can %s them.", name, a.Name)
	case sc.Target.ID == co.botID:
		return refuse("gavel will not %s itself.", a.Name)
	}
	target := RankOf(sc.Guild, sc.Member.Roles)
	if sc.IsMember && req.Moderator.ID != sc.Guild.OwnerID && !RankOf(sc.Guild, modRoles).Above(target) {
		return refuse("%s's highest role is at or above yours; only someone above them can %s them.", name, a.Name)
	}
	if a.CheckTarget != nil {
		if err := a.CheckTarget(sc); err != nil {
			return err
		}
	}
	if sc.IsMember && touchesMember(a) && !sc.BotRank().Above(target) {
		return refuse("%s's highest role is at or above gavel's; move gavel's role above theirs in Server Settings → Roles.", name)
	}
	if a.BotNeeds != 0 && !guildPermissions(sc.Guild, co.botID, sc.Bot.Roles).Has(a.BotNeeds) {
		return refuse("gavel lacks the %s permission; give it to gavel's role in Server Settings → Roles.", a.BotNeeds)
	}
	return nil
}

// IsAdministrator says whether the target holds Administrator in the guild.
func (s *Step) IsAdministrator() bool {
	return guildPermissions(s.Guild, s.Target.ID, s.Member.Roles).Has(permissions.Administrator)
}

// CheckJailRole refuses a jail or unjail when the guild's jail role is missing or out of
// gavel's reach.
func CheckJailRole(s *Step) error {
	if s.JailRole == 0 {
		return refuse("No jail role is configured; set one with `config jailrole @role` first.")
	}
	r, ok := s.Guild.Role(s.JailRole)
	if !ok {
		return refuse("The configured jail role (%d) no longer exists; set another with `config jailrole @role`.", s.JailRole)
	}
	if r.Managed || !s.BotRank().RoleBelow(r) {
		return refuse("The jail role %s is managed by an integration or not below gavel's highest role; move it below gavel's role.", r.Name)
	}
	return nil
}

// CheckRestriction refuses restricting (on) someone already under restriction on, and lifting
// (!on) it from someone not under it; word says what being under it is ("jailed"). The case
// that decides it becomes s.Lifts, for the lift.
func CheckRestriction(ctx context.Context, s *Step, restriction cases.Type, lifting bool, word string) error {
	if lifting && s.liftOf.Type == restriction {
		// A moderator lifts this very case (LiftCase), which may be voided: voided cases do
		// not decide the restriction, but its effect on the member is what is lifted.
		s.Lifts = s.liftOf
		return nil
	}
	restricted, deciding, err := s.Restricted(ctx, restriction)
	if err != nil {
		return err
	}
	switch {
	case !lifting && restricted:
		return refuse("%s is already %s (case #%d).", s.TargetName(), word, deciding.Number)
	case lifting && !restricted:
		return refuse("%s is not %s.", s.TargetName(), word)
	}
	if lifting {
		s.Lifts = deciding
	}
	return nil
}

func (co *Coordinator) banned(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (bool, error) {
	var banned bool
	err := co.exec.Do(ctx, executor.OpRead, func(ctx context.Context) error {
		var err error
		_, banned, err = co.port.GetBan(ctx, guildID, userID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("checking the ban of user %d: %w", userID, err)
	}
	return banned, nil
}

// findBanned looks a name up in the guild's ban list: the username or display name, in any
// letter case, must match exactly one ban.
func (co *Coordinator) findBanned(ctx context.Context, guildID discord.GuildID, name string) (discord.User, error) {
	want := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(name), "@"))
	var found []discord.User
	var after int64
	for {
		var page []discord.Ban
		err := co.exec.Do(ctx, executor.OpRead, func(ctx context.Context) error {
			var err error
			page, err = co.port.ListBans(ctx, guildID, discord.UserID(after), 1000)
			return err
		})
		if err != nil {
			return discord.User{}, fmt.Errorf("reading the ban list: %w", err)
		}
		for _, b := range page {
			if strings.ToLower(b.User.Username) == want || (b.User.GlobalName != "" && strings.ToLower(b.User.GlobalName) == want) {
				found = append(found, b.User)
			}
		}
		if len(page) < 1000 {
			break
		}
		after = int64(page[len(page)-1].User.ID)
	}
	switch len(found) {
	case 0:
		return discord.User{}, refuse("No banned user is named %q; give their user id instead (Server Settings → Bans lists them).", name)
	case 1:
		return found[0], nil
	}
	var list []string
	for i, u := range found {
		if i == 10 {
			list = append(list, fmt.Sprintf("and %d more", len(found)-10))
			break
		}
		list = append(list, fmt.Sprintf("%s (%d)", discord.EscapeMarkdown(u.Username), u.ID))
	}
	return discord.User{}, refuse("%d banned users match %q: %s. Give the user id of the one to unban.", len(found), name, strings.Join(list, ", "))
}

func isRefusal(err error) (*refusal, bool) {
	var r *refusal
	ok := errors.As(err, &r)
	return r, ok
}
