// Package moderation holds gavel's moderation actions: the declarative catalogue that both
// command front-ends (prefix and slash) are generated from, and (with the bot) the pipeline
// that runs them.
package moderation

import (
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/permissions"
)

// TargetKind says who an action may be aimed at.
type TargetKind int

const (
	// TargetMember: a current member of the guild (a mention or an id).
	TargetMember TargetKind = iota
	// TargetUser: a member, or any user id (a ban of a non-member is recorded as HACKBAN).
	TargetUser
	// TargetBanned: a banned user, by id, mention or name as it appears in the ban list.
	TargetBanned
)

// DMTiming says when the target is told.
type DMTiming int

const (
	// DMNone: the target is never messaged (notes, unbans of people who cannot be reached).
	DMNone DMTiming = iota
	// DMBefore: before the Discord action, while the bot still shares a server with them
	// (bans, kicks).
	DMBefore
	// DMAfter: once the action has happened.
	DMAfter
)

// FlagID names one of the options an action can take. Every front-end knows the same few,
// so their names, aliases and bounds are defined once (Flags).
type FlagID int

const (
	FlagSilent FlagID = iota
	FlagPurge
	FlagDuration
)

// FlagSpec is how a flag is written and what it accepts.
type FlagSpec struct {
	ID FlagID
	// Name is the long form (-purge, and the slash option's name); Aliases the short ones.
	Name    string
	Aliases []string
	// Boolean flags take no value in prefix commands.
	Boolean bool
	Help    string
}

// Flags returns the spelling of every flag.
func Flags() []FlagSpec {
	return []FlagSpec{
		{ID: FlagSilent, Name: "silent", Aliases: []string{"s", "quiet"}, Boolean: true,
			Help: "do not message the user about it"},
		{ID: FlagPurge, Name: "purge", Aliases: []string{"p"},
			Help: "days of their recent messages to delete, 0 to 7"},
		{ID: FlagDuration, Name: "duration", Aliases: []string{"d", "t", "e"},
			Help: "how long, like 90m, 1.5h, 1w2d or 2 weeks"},
	}
}

// Spec returns the spelling of flag id.
func (id FlagID) Spec() FlagSpec {
	for _, f := range Flags() {
		if f.ID == id {
			return f
		}
	}
	panic("moderation: unknown flag")
}

// FlagUse is a flag as one action takes it.
type FlagUse struct {
	ID       FlagID
	Required bool
	// Bounds limit a duration.
	Bounds duration.Bounds
}

// PurgeDays bounds -purge: Discord deletes at most a week of messages on a ban.
const (
	MinPurgeDays = 0
	MaxPurgeDays = 7
)

// Discord's own limits that bound the actions.
const (
	// MaxTimeout is the longest timeout Discord applies at once; longer ones are renewed.
	MaxTimeout = 28 * duration.Day
	// MaxAuditReason is the longest X-Audit-Log-Reason Discord keeps.
	MaxAuditReason = 512
)

// Action is one moderation command: everything the front-ends and the pipeline need to know
// about it, declared once.
type Action struct {
	Name        string
	Aliases     []string
	Description string
	Case        cases.Type
	// Rank is the rank gavel suggests for the command when a guild sets up ranks.
	Rank   int
	Target TargetKind
	Flags  []FlagUse
	DM     DMTiming
	// DMVerb completes "You have been … in <guild>".
	DMVerb string
	// BotNeeds is the Discord permission the bot must hold to carry the action out.
	BotNeeds permissions.Permission
	// Inverse is the action that undoes this one ("" when none).
	Inverse string
	// Removes says the action takes the target out of the guild (ban, kick): the DM goes
	// first and the target must be below the bot.
	Removes bool
}

// Flag returns how the action takes flag id, and whether it takes it at all.
func (a *Action) Flag(id FlagID) (FlagUse, bool) {
	for _, f := range a.Flags {
		if f.ID == id {
			return f, true
		}
	}
	return FlagUse{}, false
}

// Catalogue is the list of actions, looked up by name or alias.
type Catalogue struct {
	actions []*Action
	byName  map[string]*Action
}

// Lookup finds an action by name or alias, in any letter case.
func (c *Catalogue) Lookup(name string) (*Action, bool) {
	a, ok := c.byName[strings.ToLower(name)]
	return a, ok
}

// Actions lists the actions in catalogue order.
func (c *Catalogue) Actions() []*Action { return append([]*Action(nil), c.actions...) }

// Names lists every action's name, for the permission system's command list.
func (c *Catalogue) Names() []string {
	out := make([]string, len(c.actions))
	for i, a := range c.actions {
		out[i] = a.Name
	}
	return out
}

// NewCatalogue returns gavel's moderation actions.
func NewCatalogue() *Catalogue {
	silent := FlagUse{ID: FlagSilent}
	purge := FlagUse{ID: FlagPurge}
	temp := func(min, max time.Duration) FlagUse {
		return FlagUse{ID: FlagDuration, Required: true, Bounds: duration.Bounds{Min: min, Max: max}}
	}
	optionalFor := func(max time.Duration) FlagUse {
		return FlagUse{ID: FlagDuration, Bounds: duration.Bounds{Min: time.Minute, Max: max}}
	}
	const tenYears = 10 * duration.Year
	actions := []*Action{
		{Name: "ban", Aliases: []string{"b"}, Description: "Ban a member, or any user by id, and optionally delete their recent messages.",
			Case: cases.Ban, Rank: 3, Target: TargetUser, Flags: []FlagUse{purge, silent}, DM: DMBefore, DMVerb: "banned",
			BotNeeds: permissions.BanMembers, Inverse: "unban", Removes: true},
		{Name: "tempban", Aliases: []string{"tb"}, Description: "Ban a member or user for a while; gavel unbans them when it ends.",
			Case: cases.Tempban, Rank: 3, Target: TargetUser, Flags: []FlagUse{temp(time.Minute, tenYears), purge, silent}, DM: DMBefore,
			DMVerb: "temporarily banned", BotNeeds: permissions.BanMembers, Inverse: "unban", Removes: true},
		{Name: "softban", Aliases: []string{"sban"}, Description: "Ban and at once unban a member to delete their recent messages.",
			Case: cases.Softban, Rank: 3, Target: TargetMember, Flags: []FlagUse{purge, silent}, DM: DMBefore, DMVerb: "softbanned (removed, and your recent messages deleted)",
			BotNeeds: permissions.BanMembers, Removes: true},
		{Name: "unban", Aliases: []string{"ub"}, Description: "Lift a ban, by user id, mention or name in the ban list.",
			Case: cases.Unban, Rank: 3, Target: TargetBanned, DM: DMNone, BotNeeds: permissions.BanMembers, Inverse: "ban"},
		{Name: "kick", Aliases: []string{"k"}, Description: "Remove a member from the server; they can rejoin.",
			Case: cases.Kick, Rank: 3, Target: TargetMember, Flags: []FlagUse{silent}, DM: DMBefore, DMVerb: "kicked",
			BotNeeds: permissions.KickMembers, Removes: true},
		{Name: "timeout", Aliases: []string{"to", "mute"}, Description: "Time a member out: they cannot talk or react until it ends.",
			Case: cases.Timeout, Rank: 2, Target: TargetMember, Flags: []FlagUse{temp(time.Minute, duration.Year), silent}, DM: DMAfter,
			DMVerb: "timed out", BotNeeds: permissions.ModerateMembers, Inverse: "untimeout"},
		{Name: "untimeout", Aliases: []string{"uto", "unmute"}, Description: "End a member's timeout early.",
			Case: cases.Untimeout, Rank: 2, Target: TargetMember, Flags: []FlagUse{silent}, DM: DMAfter, DMVerb: "released from timeout",
			BotNeeds: permissions.ModerateMembers, Inverse: "timeout"},
		{Name: "warn", Aliases: []string{"w"}, Description: "Warn a member; the warning is recorded as a case.",
			Case: cases.Warn, Rank: 2, Target: TargetMember, Flags: []FlagUse{silent}, DM: DMAfter, DMVerb: "warned"},
		{Name: "note", Aliases: []string{"n"}, Description: "Record a note about a user; they are not told.",
			Case: cases.Note, Rank: 2, Target: TargetUser, DM: DMNone},
		{Name: "jail", Aliases: []string{"j"}, Description: "Take a member's roles and give them the jail role, optionally for a while.",
			Case: cases.Jail, Rank: 3, Target: TargetMember, Flags: []FlagUse{optionalFor(tenYears), silent}, DM: DMAfter, DMVerb: "jailed",
			BotNeeds: permissions.ManageRoles, Inverse: "unjail"},
		{Name: "unjail", Aliases: []string{"uj"}, Description: "Release a member from jail and give back their roles.",
			Case: cases.Unjail, Rank: 3, Target: TargetMember, Flags: []FlagUse{silent}, DM: DMAfter, DMVerb: "released from jail",
			BotNeeds: permissions.ManageRoles, Inverse: "jail"},
		{Name: "pollban", Aliases: []string{"pb"}, Description: "Stop a member from creating polls, optionally for a while.",
			Case: cases.Pollban, Rank: 3, Target: TargetMember, Flags: []FlagUse{optionalFor(tenYears), silent}, DM: DMAfter,
			DMVerb: "banned from creating polls", Inverse: "pollunban"},
		{Name: "pollunban", Aliases: []string{"pub"}, Description: "Let a member create polls again.",
			Case: cases.Pollunban, Rank: 3, Target: TargetMember, Flags: []FlagUse{silent}, DM: DMAfter,
			DMVerb: "allowed to create polls again", Inverse: "pollban"},
		{Name: "snippetban", Aliases: []string{"sb"}, Description: "Stop a member from creating snippets, optionally for a while.",
			Case: cases.Snippetban, Rank: 3, Target: TargetMember, Flags: []FlagUse{optionalFor(tenYears), silent}, DM: DMAfter,
			DMVerb: "banned from creating snippets", Inverse: "snippetunban"},
		{Name: "snippetunban", Aliases: []string{"sub"}, Description: "Let a member create snippets again.",
			Case: cases.Snippetunban, Rank: 3, Target: TargetMember, Flags: []FlagUse{silent}, DM: DMAfter,
			DMVerb: "allowed to create snippets again", Inverse: "snippetban"},
	}
	c := &Catalogue{actions: actions, byName: map[string]*Action{}}
	for _, a := range actions {
		for _, n := range append([]string{a.Name}, a.Aliases...) {
			if _, dup := c.byName[n]; dup {
				panic("moderation: duplicate command name " + n)
			}
			c.byName[n] = a
		}
	}
	return c
}
