package moderation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
)

// Step is one run of the pipeline as an action's own code sees it: the request, what the
// pipeline read about the guild and the target, the plan, and the case. The action's hooks
// read and fill it; they reach Discord only through its methods, so every call goes through
// the executor (retries, breaker, metrics).
type Step struct {
	// Request is what was asked; for a lift or a reconciliation, the pipeline's own (the
	// bot as moderator).
	Request Request
	// standingDM is where the member stands after the case, for their DM (WithStanding).
	standingDM string
	// Action is the action being carried out.
	Action *Action
	// Type is the case type recorded: the action's, or its NonMember type.
	Type   cases.Type
	Guild  discord.Guild
	Target discord.User
	// Member is the target's membership; IsMember false when they are not in the guild.
	Member   discord.Member
	IsMember bool
	Bot      discord.Member
	// JailRole is the guild's jail role, read when the action declares JailRole.
	JailRole discord.RoleID
	// Lifts is the case this action ends, when it ends one: the JAIL an unjail releases
	// (its saved roles), found by the state check or given by the expiry.
	Lifts cases.Case
	// Case is the case being recorded, or (for Reconcile) the pending case being settled.
	Case cases.Case
	// Amends is the case whose state this action changes rather than sets anew, found by
	// the action's Check: the tempban a ban makes permanent, the ban a tempban sets an end
	// to, the timeout a new timeout moves. Zero otherwise.
	Amends cases.Case
	Plan   Plan

	// path is which of the pipeline's entries the step came by (PathCommand, …), for the
	// case metrics.
	path string
	// expiryRun says the step is an expiry's lift: the expiry it completes is the only open
	// one it could make stale, so finalize supersedes nothing.
	expiryRun bool
	// decidedLater says a later case decides the state this one set (a reconciled case
	// recorded before a crash): finalize neither schedules its expiry nor cancels others.
	decidedLater bool
	// liftOf is the case a moderator asked to lift now (LiftCase), linked to the new case
	// and processed when it is activated; zero otherwise.
	liftOf cases.Case
	// supersedeWhy replaces "a later <type> by <moderator>" in the history of the cases
	// whose expiries this one cancels.
	supersedeWhy string
	co           *Coordinator
}

// Plan is what an action will do on Discord, worked out before the case is recorded so that
// the case holds it (the expiry, the roles a jail takes).
type Plan struct {
	Expires time.Time
	// TimeoutUntil is when Discord's timeout ends: the expiry, capped at Discord's 28 days
	// (Capped then says so).
	TimeoutUntil time.Time
	Capped       bool
	// RenewAt, when set, schedules a renewal of what Discord applied (TimeoutRenew) before
	// the case's own expiry.
	RenewAt time.Time
	// SavedRoles are the roles a jail takes, kept on the case for the unjail.
	SavedRoles []discord.RoleID
	// Roles is the member's whole role list after a jail or unjail.
	Roles []discord.RoleID
	// RestoreSkipped counts saved roles an unjail cannot give back.
	RestoreSkipped int
	// NoCall says Discord already shows what the action does (a ban of a user a tempban
	// already banned changes only when the ban ends): Act makes no call, nobody is
	// messaged, and no open breaker refuses it.
	NoCall bool
}

// Port is Discord. Calls go through Do.
func (s *Step) Port() Discord { return s.co.port }

// Do runs a Discord call through the executor as operation op.
func (s *Step) Do(ctx context.Context, op executor.Op, fn func(ctx context.Context) error) error {
	return s.co.exec.Do(ctx, op, fn)
}

// Now is the pipeline's clock.
func (s *Step) Now() time.Time { return s.co.now() }

// BotID is gavel's own user id.
func (s *Step) BotID() discord.UserID { return s.co.botID }

// TimeoutHorizon is the longest timeout Discord applies at once (shortened in tests).
func (s *Step) TimeoutHorizon() time.Duration { return s.co.timeoutHorizon }

// Renews says whether gavel schedules expiries (and so renews timeouts longer than Discord
// allows).
func (s *Step) Renews() bool { return s.co.expiry != nil }

// AuditReason is the X-Audit-Log-Reason of the step's Discord calls.
func (s *Step) AuditReason() string { return AuditReason(s.Request.Moderator, s.Request.Reason) }

// Banned reports whether the target is banned.
func (s *Step) Banned(ctx context.Context) (bool, error) {
	return s.co.banned(ctx, s.Request.GuildID, s.Target.ID)
}

// ReadMember reads the target's membership: false, with no error, when they are not a
// member.
func (s *Step) ReadMember(ctx context.Context) (discord.Member, bool, error) {
	return s.co.member(ctx, s.Request.GuildID, s.Target.ID)
}

// ReadGuild fills Guild and Bot: the server, and gavel's membership in it.
func (s *Step) ReadGuild(ctx context.Context) error {
	if err := s.co.read(ctx, func(ctx context.Context) (err error) {
		s.Guild, err = s.co.port.Guild(ctx, s.Request.GuildID)
		return err
	}); err != nil {
		return fmt.Errorf("reading the server: %s", FailureText(err))
	}
	if err := s.co.read(ctx, func(ctx context.Context) (err error) {
		s.Bot, err = s.co.port.Member(ctx, s.Request.GuildID, s.co.botID)
		return err
	}); err != nil {
		return fmt.Errorf("reading gavel's own membership: %s", FailureText(err))
	}
	return nil
}

// OpenExpiry returns the target's open scheduled action of kind and the case it ends;
// false when there is none (or gavel schedules no expiries).
func (s *Step) OpenExpiry(ctx context.Context, kind expiry.Kind) (expiry.Action, cases.Case, bool, error) {
	if s.co.expiry == nil {
		return expiry.Action{}, cases.Case{}, false, nil
	}
	open, err := s.co.expiry.OpenOfTarget(ctx, s.Request.GuildID, s.Target.ID)
	if err != nil {
		return expiry.Action{}, cases.Case{}, false, fmt.Errorf("reading the scheduled expiries of %s: %w", s.TargetName(), err)
	}
	for _, a := range open {
		if a.Kind != kind {
			continue
		}
		c, err := s.co.cases.Get(ctx, a.CaseID)
		if err != nil {
			return expiry.Action{}, cases.Case{}, false, fmt.Errorf("reading case id %d: %w", a.CaseID, err)
		}
		return a, c, true, nil
	}
	return expiry.Action{}, cases.Case{}, false, nil
}

// LatestActive returns the target's newest active case among types; false when none.
func (s *Step) LatestActive(ctx context.Context, types ...cases.Type) (cases.Case, bool, error) {
	c, err := s.co.cases.LatestActiveOfUser(ctx, s.Request.GuildID, s.Target.ID, types...)
	switch {
	case err == nil:
		return c, true, nil
	case errors.Is(err, cases.ErrNotFound):
		return cases.Case{}, false, nil
	}
	return cases.Case{}, false, fmt.Errorf("reading the cases of %s: %w", s.TargetName(), err)
}

// TargetName is the target's username as a reply shows it (markdown escaped).
func (s *Step) TargetName() string { return discord.EscapeMarkdown(s.Target.Username) }

// Restricted reports whether the target is under restriction on (JAIL, POLLBAN,
// SNIPPETBAN), and the case that decides it.
func (s *Step) Restricted(ctx context.Context, on cases.Type) (bool, cases.Case, error) {
	restricted, deciding, err := s.co.cases.Restricted(ctx, s.Request.GuildID, s.Target.ID, on)
	if err != nil {
		return false, cases.Case{}, fmt.Errorf("reading %s's %s state: %w", s.TargetName(), on, err)
	}
	return restricted, deciding, nil
}

// BotRank is gavel's place in the role hierarchy.
func (s *Step) BotRank() Rank {
	return RankOf(s.Guild, s.Bot.Roles)
}

// Rank is a member's place in the role hierarchy: their highest role.
type Rank struct {
	ok       bool
	position int
	id       int64
}

// RankOf is the rank of a member with roleIDs in guild g.
func RankOf(g discord.Guild, roleIDs []discord.RoleID) Rank {
	var best Rank
	for _, id := range roleIDs {
		r, found := g.Role(id)
		if !found || r.ID == g.ID.EveryoneRole() {
			continue
		}
		if !best.ok || roleAbove(r.Position, int64(r.ID), best.position, best.id) {
			best = Rank{ok: true, position: r.Position, id: int64(r.ID)}
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

// Above reports whether a is strictly above b: having no role is the bottom, and equal
// highest roles are not above each other.
func (a Rank) Above(b Rank) bool {
	switch {
	case !a.ok:
		return false
	case !b.ok:
		return true
	}
	return roleAbove(a.position, a.id, b.position, b.id)
}

// RoleBelow reports whether role r sits strictly below rank a.
func (a Rank) RoleBelow(r discord.Role) bool {
	return a.Above(Rank{ok: true, position: r.Position, id: int64(r.ID)})
}

// NoCheck is the Check of an action the target's state never makes pointless.
func NoCheck(context.Context, *Step) error { return nil }

// NoObserve is the Observe of an action that needs nothing read from Discord.
func NoObserve(context.Context, *Step) (string, error) { return "", nil }

// RecordOnly is the Act of an action that makes no Discord call: the case is the action
// (gavel enforces poll and snippet bans itself).
func RecordOnly(context.Context, *Step) (string, error) { return "", nil }

// RecordedIsDone is the Reconcile of an action that makes no Discord call: a recorded case
// is a done one.
func RecordedIsDone(context.Context, *Step) (bool, string, error) {
	return true, "this action makes no Discord call", nil
}
