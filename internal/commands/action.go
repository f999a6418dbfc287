package commands

import (
	"errors"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/moderation"
)

// DefaultReason is recorded when the moderator gives none.
const DefaultReason = "No reason provided"

// The parameters every action's spec has, besides its flags.
const (
	targetParam = "user"
	reasonParam = "reason"
)

// ActionSpec is the command of a catalogue action: its target, its reason (every word that
// is not a flag) and its flags, named and bounded as the action declares them, and the
// Discord permission it declares a moderator needs in a guild without ranks.
func ActionSpec(a *moderation.Action) *Spec {
	target := Param{Name: targetParam, Description: "Who", Kind: KindUser, Positional: true, Required: true, Single: true}
	if a.Target == moderation.TargetBanned {
		// A name is looked up in the ban list; an id or a mention is read from the text.
		target = Param{Name: targetParam, Description: "A banned user's id, mention or name", Kind: KindString,
			Positional: true, Required: true, Min: 1, Max: 100, Single: true}
	}
	// Quoted: a quotation in the reason keeps its quotes.
	reason := Param{Name: reasonParam, Description: "Why (recorded in the case)", Kind: KindString, Aliases: []string{"r"},
		Positional: true, Rest: true, Min: 1, Max: cases.MaxReasonLength, Quoted: true}
	// The order of the slash options: the target and the required flags, the reason, the
	// other flags.
	params := []Param{target}
	for _, f := range a.Flags {
		if f.Required {
			params = append(params, actionFlag(f))
		}
	}
	params = append(params, reason)
	for _, f := range a.Flags {
		if !f.Required {
			params = append(params, actionFlag(f))
		}
	}
	// The flags other actions take: "-d" on a kick is a duration kick does not take.
	elsewhere := map[string]string{}
	for _, f := range moderation.Flags() {
		if _, takes := a.Flag(f.ID); takes {
			continue
		}
		for _, n := range append([]string{f.Name}, f.Aliases...) {
			elsewhere[n] = f.Name
		}
	}
	return &Spec{Name: a.Name, Aliases: a.Aliases, Description: a.Description, Params: params,
		Check: checkAction, Native: a.Native, Rank: a.Rank, Action: a, Elsewhere: elsewhere}
}

// actionFlag is one of an action's flags as a parameter.
func actionFlag(f moderation.FlagUse) Param {
	spec := f.ID.Spec()
	p := Param{Name: spec.Name, Aliases: spec.Aliases, Description: upper(spec.Help), Required: f.Required}
	switch f.ID {
	case moderation.FlagSilent:
		p.Kind = KindBool
	case moderation.FlagPurge:
		p.Kind, p.Min, p.Max = KindInt, moderation.MinPurgeDays, moderation.MaxPurgeDays
	case moderation.FlagDuration:
		p.Kind, p.Bounds = KindDuration, f.Bounds
	}
	return p
}

// checkAction normalizes an action's reason, whichever front end read it: a leading
// "reason:" marker moderators carry over from other bots is dropped, and no reason is the
// default one.
func checkAction(args Args) error {
	r := cleanReason(args.String(reasonParam))
	if r == "" {
		r = DefaultReason
	}
	args.Values[reasonParam] = r
	return nil
}

// cleanReason drops a leading "reason:" marker ("-r spam", "?r spam", "reason: spam").
func cleanReason(r string) string {
	r = strings.TrimSpace(r)
	low := strings.ToLower(r)
	for _, m := range []string{"--reason ", "-reason ", "?reason ", "!reason ", "--r ", "-r ", "?r ", "!r ", "reason: ", "reason:"} {
		if strings.HasPrefix(low, m) {
			return strings.TrimSpace(r[len(m):])
		}
	}
	return r
}

// Target is who an invocation is aimed at: an id, or (for unban) a name to look up.
type Target struct {
	ID   discord.UserID
	Name string
}

// Invocation is one parsed moderation command, ready for the pipeline.
type Invocation struct {
	Action *moderation.Action
	Target Target
	Reason string
	Silent bool
	// PurgeDays is how many days of the target's messages to delete.
	PurgeDays int
	// Duration is zero when none was given.
	Duration time.Duration
}

// ErrNotAction is returned by InvocationOf for the args of a tool.
var ErrNotAction = errors.New("commands: not a moderation action")

// InvocationOf reads parsed args (from either front end) of an action's spec as the
// invocation of the action.
func InvocationOf(args Args) (Invocation, error) {
	a := args.Spec.Action
	if a == nil {
		return Invocation{}, ErrNotAction
	}
	inv := Invocation{Action: a, Reason: args.String(reasonParam), Silent: args.Bool("silent"),
		PurgeDays: int(args.Int("purge")), Duration: args.Duration("duration")}
	if a.Target == moderation.TargetBanned {
		ref := args.String(targetParam)
		if id, ok := ParseUserRef(ref); ok {
			inv.Target.ID = discord.UserID(id)
		} else {
			inv.Target.Name = strings.TrimPrefix(ref, "@")
		}
	} else {
		inv.Target.ID = discord.UserID(args.ID(targetParam))
	}
	return inv, nil
}

// Request is the invocation as the moderation pipeline takes it, from a moderator (and their
// role ids; nil lets the pipeline fetch them) in a guild.
func (inv Invocation) Request(guildID discord.GuildID, moderator discord.User, moderatorRoles []discord.RoleID) moderation.Request {
	return moderation.Request{
		GuildID: guildID, Moderator: moderator, ModeratorRoles: moderatorRoles,
		Action: inv.Action, Target: moderation.Target{ID: inv.Target.ID, Name: inv.Target.Name},
		Reason: inv.Reason, Silent: inv.Silent, PurgeDays: inv.PurgeDays, Duration: inv.Duration,
	}
}
