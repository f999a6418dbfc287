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

func refuse(format string, args ...any) error { return &refusal{Problem: fmt.Sprintf(format, args...)} }

// scene is what the checks and the Discord steps know about the guild and the target.
type scene struct {
	guild  discord.Guild
	target discord.User
	// member is the target's membership; isMember false when they are not in the guild.
	member   discord.Member
	isMember bool
	bot      discord.Member
	// caseType is the action's case type, or HACKBAN for a ban of a non-member.
	caseType cases.Type
	jailRole int64
	// jailCase is the JAIL case an unjail lifts.
	jailCase cases.Case
}

// rank is a member's place in the role hierarchy: their highest role.
type rank struct {
	ok       bool
	position int
	id       int64
}

func rankOf(g discord.Guild, roleIDs []int64) rank {
	var best rank
	for _, id := range roleIDs {
		r, found := g.Role(id)
		if !found || r.ID == g.ID {
			continue
		}
		if !best.ok || roleAbove(r.Position, r.ID, best.position, best.id) {
			best = rank{ok: true, position: r.Position, id: r.ID}
		}
	}
	return best
}

// roleAbove orders roles as Discord does: higher position first, then the lower id.
func roleAbove(pos int, id int64, otherPos int, otherID int64) bool {
	if pos != otherPos {
		return pos > otherPos
	}
	return id < otherID
}

// above reports whether a is strictly above b: having no role is the bottom, and equal
// highest roles are not above each other.
func (a rank) above(b rank) bool {
	switch {
	case !a.ok:
		return false
	case !b.ok:
		return true
	}
	return roleAbove(a.position, a.id, b.position, b.id)
}

// roleBelow reports whether role r sits strictly below rank a.
func (a rank) roleBelow(r discord.Role) bool {
	return a.above(rank{ok: true, position: r.Position, id: r.ID})
}

// guildPermissions is a member's guild-wide permissions (discord.Guild.MemberPermissions).
func guildPermissions(g discord.Guild, userID int64, roleIDs []int64) permissions.Permission {
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
			return refuse("%s needs a duration (-%s), like 90m, 1.5h, 1w2d or 2 weeks.", a.Name, FlagDuration.Spec().Name)
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
		return refuse("%s deletes no messages (-purge).", a.Name)
	}
	return nil
}

// checkWho refuses actions on people gavel must not act on: the moderator themself, the
// owner, gavel, anyone at or above the moderator or gavel; and actions gavel lacks the
// permission for.
func (co *Coordinator) checkWho(req Request, a *Action, sc *scene, modRoles []int64) error {
	name := sc.target.Username
	switch {
	case sc.target.ID == req.Moderator.ID:
		return refuse("You cannot %s yourself.", a.Name)
	case sc.target.ID == sc.guild.OwnerID:
		return refuse("%s is the owner of this server; nobody can %s them.", name, a.Name)
	case sc.target.ID == co.botID:
		return refuse("gavel will not %s itself.", a.Name)
	}
	botRank := rankOf(sc.guild, sc.bot.Roles)
	if sc.isMember {
		target := rankOf(sc.guild, sc.member.Roles)
		if req.Moderator.ID != sc.guild.OwnerID && !rankOf(sc.guild, modRoles).above(target) {
			return refuse("%s's highest role is at or above yours; only someone above them can %s them.", name, a.Name)
		}
		if a.Case == cases.Timeout && guildPermissions(sc.guild, sc.target.ID, sc.member.Roles).Has(permissions.Administrator) {
			return refuse("%s is an administrator; Discord does not let anyone time out an administrator.", name)
		}
		if touchesMember(a) && !botRank.above(target) {
			return refuse("%s's highest role is at or above gavel's; move gavel's role above theirs in Server Settings → Roles.", name)
		}
	}
	if a.BotNeeds != 0 && !guildPermissions(sc.guild, co.botID, sc.bot.Roles).Has(a.BotNeeds) {
		return refuse("gavel lacks the %s permission; give it to gavel's role in Server Settings → Roles.", a.BotNeeds)
	}
	if a.Case == cases.Jail || a.Case == cases.Unjail {
		if sc.jailRole == 0 {
			return refuse("No jail role is configured; set one with `config jailrole @role` first.")
		}
		r, ok := sc.guild.Role(sc.jailRole)
		if !ok {
			return refuse("The configured jail role (%d) no longer exists; set another with `config jailrole @role`.", sc.jailRole)
		}
		if r.Managed || !botRank.roleBelow(r) {
			return refuse("The jail role %s is managed by an integration or not below gavel's highest role; move it below gavel's role.", r.Name)
		}
	}
	return nil
}

// checkState refuses actions the target's current state makes pointless: banning the
// banned, unbanning the unbanned, lifting a timeout or restriction that is not there,
// restricting twice. It runs before the lock and again under it.
func (co *Coordinator) checkState(ctx context.Context, req Request, a *Action, sc *scene) error {
	name := sc.target.Username
	switch a.Case {
	case cases.Ban, cases.Tempban:
		banned, err := co.banned(ctx, req.GuildID, sc.target.ID)
		if err != nil {
			return err
		}
		if banned {
			return refuse("%s is already banned.", name)
		}
	case cases.Unban:
		banned, err := co.banned(ctx, req.GuildID, sc.target.ID)
		if err != nil {
			return err
		}
		if !banned {
			return refuse("%s is not banned.", name)
		}
	case cases.Untimeout:
		if !sc.member.TimedOut(co.now()) {
			return refuse("%s is not timed out.", name)
		}
	}
	if on, ok := restrictionOf(a.Case); ok {
		restricted, deciding, err := co.cases.Restricted(ctx, req.GuildID, sc.target.ID, on)
		if err != nil {
			return fmt.Errorf("reading %s's %s state: %w", name, strings.ToLower(string(on)), err)
		}
		lifting := a.Case != on
		switch {
		case !lifting && restricted:
			return refuse("%s is already %s (case #%d).", name, restrictedWord(on), deciding.Number)
		case lifting && !restricted:
			return refuse("%s is not %s.", name, restrictedWord(on))
		}
		if a.Case == cases.Unjail {
			sc.jailCase = deciding
		}
	}
	return nil
}

// restrictionOf returns the restriction a case type applies or lifts.
func restrictionOf(t cases.Type) (cases.Type, bool) {
	for _, on := range []cases.Type{cases.Jail, cases.Pollban, cases.Snippetban} {
		off, _ := on.Lift()
		if t == on || t == off {
			return on, true
		}
	}
	return "", false
}

func restrictedWord(on cases.Type) string {
	switch on {
	case cases.Jail:
		return "jailed"
	case cases.Pollban:
		return "banned from creating polls"
	default:
		return "banned from creating snippets"
	}
}

func (co *Coordinator) banned(ctx context.Context, guildID, userID int64) (bool, error) {
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
func (co *Coordinator) findBanned(ctx context.Context, guildID int64, name string) (discord.User, error) {
	want := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(name), "@"))
	var found []discord.User
	var after int64
	for {
		var page []discord.Ban
		err := co.exec.Do(ctx, executor.OpRead, func(ctx context.Context) error {
			var err error
			page, err = co.port.ListBans(ctx, guildID, after, 1000)
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
		after = page[len(page)-1].User.ID
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
		list = append(list, fmt.Sprintf("%s (%d)", u.Username, u.ID))
	}
	return discord.User{}, refuse("%d banned users match %q: %s. Give the user id of the one to unban.", len(found), name, strings.Join(list, ", "))
}

func isRefusal(err error) (*refusal, bool) {
	var r *refusal
	ok := errors.As(err, &r)
	return r, ok
}
