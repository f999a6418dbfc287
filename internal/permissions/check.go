package permissions

import (
	"context"
	"errors"
	"fmt"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
)

// Subject is a request to use a command: who, where, and with what.
type Subject struct {
	GuildID      discord.GuildID
	GuildOwnerID discord.UserID
	UserID       discord.UserID
	// RoleIDs are the member's roles. @everyone (the guild's id) is implied.
	RoleIDs []discord.RoleID
	// NativePermissions are the member's computed permissions in the guild, used only while
	// the guild has no ranks.
	NativePermissions Permission
	// Command is the command's full name: "ban", "cases modify".
	Command string
}

// Decision is Check's answer.
type Decision struct {
	Allowed bool
	// Reason is the sentence shown to the user when refused; empty when allowed.
	Reason string
	// Via names the rule that decided: ViaOwner, ViaBotOwner, ViaRank or ViaDiscordPermission.
	Via string
	// UserRank and RequiredRank are set when Via is ViaRank. RequiredRank is NoRank when the
	// command has no rank configured, even through a parent.
	UserRank, RequiredRank int
	// RankFrom is the command whose rank applied: Command itself or the parent it fell back to.
	RankFrom string
	// Permission is the Discord permission required when Via is ViaDiscordPermission.
	Permission Permission
}

// Check decides whether sub may use its command, in this order:
//
//  1. Bot owners and the guild owner always may.
//  2. A command open to every member (WithOpenCommands: using a snippet) is allowed, unless
//     the guild requires a rank for it or one of its parents (then 4 decides).
//  3. A guild with no ranks and no role ranks is judged by Discord's permissions: the command
//     needs its entry in the fallback table (Administrator grants everything).
//  4. Otherwise the user's rank (the highest rank of their roles, @everyone included; 0 when
//     none has one) must reach the rank the command requires, or, when it has none of its
//     own, the rank of its nearest parent. A command with no rank anywhere in that chain is
//     refused: a new command is closed until the guild opens it.
//
// Errors are for bad input (unknown command, bad ids) and database failures, never for a
// refusal.
func (s *Service) Check(ctx context.Context, sub Subject) (Decision, error) {
	if err := errors.Join(checkID("guild", sub.GuildID), checkID("user", sub.UserID)); err != nil {
		return Decision{}, err
	}
	if err := checkCommandName(sub.Command); err != nil {
		return Decision{}, err
	}
	if !s.known[sub.Command] {
		return Decision{}, input.Invalid("command", fmt.Sprintf("%q is not a gavel command", sub.Command))
	}
	if s.botOwners[sub.UserID] {
		return Decision{Allowed: true, Via: ViaBotOwner}, nil
	}
	if sub.GuildOwnerID > 0 && sub.UserID == sub.GuildOwnerID {
		return Decision{Allowed: true, Via: ViaOwner}, nil
	}
	snap, err := s.snapshot(ctx, sub.GuildID)
	if err != nil {
		return Decision{}, fmt.Errorf("check %s for user %d: %w", sub.Command, sub.UserID, err)
	}

	if s.open[sub.Command] && !hasCommandRank(snap, sub.Command) {
		return Decision{Allowed: true, Via: ViaEveryone}, nil
	}
	if len(snap.ranks) == 0 && len(snap.roles) == 0 {
		need := s.NativePermission(sub.Command)
		d := Decision{Allowed: sub.NativePermissions.Has(need), Via: ViaDiscordPermission, Permission: need}
		if !d.Allowed {
			noun := "permission"
			if len(splitBits(need)) > 1 {
				noun = "permissions"
			}
			d.Reason = fmt.Sprintf("You need the %s %s to use `%s`.", need, noun, sub.Command)
		}
		return d, nil
	}

	user := userRank(snap, sub)
	d := Decision{Via: ViaRank, UserRank: user, RequiredRank: NoRank}
	for _, c := range chain(sub.Command) {
		if r, ok := snap.byName[c]; ok {
			d.RequiredRank, d.RankFrom = r, c
			break
		}
	}
	switch {
	case d.RequiredRank == NoRank:
		d.Reason = fmt.Sprintf("`%s` has no required rank yet, so only the server owner can use it. Set one with `config commands set`.", sub.Command)
	case user >= d.RequiredRank:
		d.Allowed = true
	default:
		d.Reason = fmt.Sprintf("You need rank %s to use `%s`; your rank is %s.",
			rankLabel(d.RequiredRank, snap.byNumber), sub.Command, rankLabel(user, snap.byNumber))
	}
	return d, nil
}

// userRank is the highest rank of the member's roles, @everyone included; 0 when none has one.
func userRank(snap *snapshot, sub Subject) int {
	user := 0
	if r, ok := snap.byRole[discord.RoleID(sub.GuildID)]; ok {
		user = r
	}
	for _, role := range sub.RoleIDs {
		if r, ok := snap.byRole[role]; ok && r > user {
			user = r
		}
	}
	return user
}

// hasCommandRank reports whether the guild requires a rank for command or one of its parents.
func hasCommandRank(snap *snapshot, command string) bool {
	for _, c := range chain(command) {
		if _, ok := snap.byName[c]; ok {
			return true
		}
	}
	return false
}

// Standing reports whether sub's member stands at rank or above, for a feature that treats
// its moderators differently (snippets: Tux's "rank 2 or above"): the bot owners and the
// guild owner always do; in a guild with ranks, the member's rank (as Check computes it)
// must reach rank; in a guild without, the member needs the Discord permission native
// instead. sub.Command is not used.
func (s *Service) Standing(ctx context.Context, sub Subject, rank int, native Permission) (bool, error) {
	if err := errors.Join(checkID("guild", sub.GuildID), checkID("user", sub.UserID), checkRank(rank)); err != nil {
		return false, err
	}
	if s.botOwners[sub.UserID] || sub.GuildOwnerID > 0 && sub.UserID == sub.GuildOwnerID {
		return true, nil
	}
	snap, err := s.snapshot(ctx, sub.GuildID)
	if err != nil {
		return false, fmt.Errorf("standing of user %d: %w", sub.UserID, err)
	}
	if len(snap.ranks) == 0 && len(snap.roles) == 0 {
		return sub.NativePermissions.Has(native), nil
	}
	return userRank(snap, sub) >= rank, nil
}

func splitBits(p Permission) []Permission {
	var out []Permission
	for bit := Permission(1); bit != 0; bit <<= 1 {
		if p&bit != 0 {
			out = append(out, bit)
		}
	}
	return out
}
