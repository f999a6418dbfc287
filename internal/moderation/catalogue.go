// Package moderation is gavel's one case pipeline: checks, lock, record, act, finalize,
// notify, for commands, expiry lifts, actions seen in the audit log, re-jails,
// reconciliation and AutoMod alike. What differs per case type is declared by the Action
// (one file per action in moderation/actions).
package moderation

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/modlog"
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
	// Boolean flags stand alone in prefix commands, or take a yes/no value right after them.
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

// Action is one case type: the command that makes it (everything the front-ends need,
// declared once) and what the pipeline does for it. Each action is declared in its own file
// in moderation/actions; the pipeline has no switch on the case type, it calls these.
//
// A case type no command makes (HACKBAN, a ban of a non-member; AUTOMOD) is an Action
// without a Name: it has no command spec, only its behaviour.
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
	// Native is the Discord permission a moderator needs for the command in a guild without
	// ranks.
	Native permissions.Permission
	// BotNeeds is the Discord permission the bot must hold to carry the action out.
	BotNeeds permissions.Permission
	// Ops are the executor operations Act calls Discord with: while the circuit breaker of
	// one is open, the action is refused before anything happens (no case, no DM).
	Ops []executor.Op
	// Inverse is the action that undoes this one ("" when none).
	Inverse string
	// Mirrored says the action done in Discord's own interface (seen in the audit log) is
	// recorded as a case of this type (RecordExternal).
	Mirrored bool
	// Tone is what the action does to its target (removal, restriction, lift, record): the
	// colour of its case in the mod log and in the DM.
	Tone modlog.Tone
	// Removes says the action takes the target out of the guild (ban, kick): the DM goes
	// first and the target must be below the bot.
	Removes bool

	// NonMember is the case type recorded when the target is not a member of the guild (a
	// ban of a non-member is a HACKBAN); "" records Case.
	NonMember cases.Type
	// JailRole says the action needs the guild's jail role: the pipeline reads it before
	// the checks.
	JailRole bool
	// FreshMember says the action's checks or plan read more of the target's membership
	// than its user and its roles' rank: its timeout, or the role list the action writes
	// back whole. The pipeline then reads the member from Discord, under the target's lock,
	// instead of taking it from the command's event (Request.TargetMember; resolve says
	// why per field).
	FreshMember bool
	// Expiry is the scheduled action that ends a case of this type when it expires; ""
	// when it never does.
	Expiry expiry.Kind
	// Renew is the scheduled action that applies the action again on Discord before what
	// Discord applied ends, for an action Discord applies for a bounded time (a timeout
	// longer than 28 days); "" when Discord applies it whole. Plan sets Step.Plan.RenewAt when
	// a renewal is due.
	Renew expiry.Kind
	// Expire runs the action's own expiry (Expiry or Renew) instead of a lift by its inverse:
	// a timeout ends by itself on Discord, so its expiry applies it again or marks the case
	// ended. Nil lifts the case with the Inverse action, which records a case of its own.
	Expire func(ctx context.Context, e *Expiring) error
	// ByHand says what a moderator does by hand when the expiry of kind k of the action's
	// case, for user userID, has failed for good ("unban them by hand (`unban 42`)"): the
	// mod log's warning ends with it. Every action that expires says it.
	ByHand func(k expiry.Kind, userID discord.UserID) string
	// LiftReason starts the reason of the case that lifts this one when it expires
	// ("Temporary ban expired"); the case number follows.
	LiftReason string
	// Supersedes are the open expiries a case of this type makes stale: a later ban
	// decides whether the user is banned, so a pending unban must not undo it.
	Supersedes []expiry.Kind

	// CheckTarget refuses (with Refuse) a target or a guild the action cannot work on, from
	// what the pipeline read (an administrator cannot be timed out; a jail needs a jail
	// role gavel can give). Nil when the common checks are enough.
	CheckTarget func(s *Step) error
	// Check refuses (with Refuse) an action the target's state makes pointless: banning the
	// banned, lifting what is not there. It runs before the case is recorded, before the
	// lock and again under it when the target was found by name. NoCheck when there is
	// nothing to check.
	Check func(ctx context.Context, s *Step) error
	// Plan works out, before the case is recorded, what the action will do on Discord
	// (s.Plan): the roles a jail takes, when Discord's timeout ends. Nil when the expiry is
	// all there is to plan.
	Plan func(s *Step)
	// Observe reads what the action needs from Discord when the pipeline runs it on its own
	// (an expiry's lift) instead of from a moderator's command. It returns why nothing needs
	// doing when Discord already shows the result ("" otherwise). NoObserve when nothing is
	// read.
	Observe func(ctx context.Context, s *Step) (done string, err error)
	// Act makes the Discord calls through the executor (Step.Do). It returns a note for the
	// moderator about anything they should know beyond "done". RecordOnly for actions that
	// make no Discord call.
	Act func(ctx context.Context, s *Step) (note string, err error)
	// Reconcile tells from Discord's state whether a pending case's action (s.Case) took
	// place, and says how it knows; reconciliation activates or voids the case by it.
	Reconcile func(ctx context.Context, s *Step) (happened bool, why string, err error)
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

// Catalogue is the list of actions: the commands, looked up by name or alias, and the
// behaviour of every case type.
type Catalogue struct {
	actions []*Action
	byName  map[string]*Action
	byCase  map[cases.Type]*Action
}

// ByCase returns the action of case type t.
func (c *Catalogue) ByCase(t cases.Type) (*Action, bool) {
	a, ok := c.byCase[t]
	return a, ok
}

// All lists every action, commands and case types no command makes alike.
func (c *Catalogue) All() []*Action {
	out := make([]*Action, 0, len(c.byCase))
	for _, t := range cases.Types() {
		if a, ok := c.byCase[t]; ok {
			out = append(out, a)
		}
	}
	return out
}

// Tone returns what the action of case type t does (its colour): the mod log asks it
// (modlog.WithTones). An unknown type is a record.
func (c *Catalogue) Tone(t cases.Type) modlog.Tone {
	if a, ok := c.byCase[t]; ok {
		return a.Tone
	}
	return modlog.Record
}

// ExpiryRules is how each case type expires, as its action declares it (Expiry, Renew): the
// schedule's table (expiry.WithRules).
func (c *Catalogue) ExpiryRules() expiry.Rules {
	r := expiry.Rules{}
	for t, a := range c.byCase {
		if a.Expiry != "" {
			r[t] = expiry.Rule{Lift: a.Expiry, Renew: a.Renew}
		}
	}
	return r
}

// mirrored lists the case types RecordExternal records, for messages.
func (c *Catalogue) mirrored() string {
	var ts []string
	for _, t := range cases.Types() {
		if a, ok := c.byCase[t]; ok && a.Mirrored {
			ts = append(ts, string(t))
		}
	}
	return strings.Join(ts, ", ")
}

// deciding returns the case types whose newest active case decides the state a case of
// type t set: every type that supersedes t's expiry (a tempban's expiry is stale once a later
// ban, tempban or unban decides the ban).
func (c *Catalogue) deciding(t cases.Type) []cases.Type {
	a, ok := c.byCase[t]
	if !ok || a.Expiry == "" {
		return []cases.Type{t}
	}
	var out []cases.Type
	for _, typ := range cases.Types() {
		if b, ok := c.byCase[typ]; ok && slices.Contains(b.Supersedes, a.Expiry) {
			out = append(out, typ)
		}
	}
	return out
}

// Lookup finds an action by name or alias, in any letter case.
func (c *Catalogue) Lookup(name string) (*Action, bool) {
	a, ok := c.byName[strings.ToLower(name)]
	return a, ok
}

// Actions lists the commands in catalogue order.
func (c *Catalogue) Actions() []*Action { return append([]*Action(nil), c.actions...) }

// NewCatalogue returns a catalogue of actions (moderation/actions.All gives gavel's), in
// the order the commands are listed. It panics when two share a name or a case type, or when
// one lacks any of its behaviour: both are mistakes in the declarations, found at start-up
// and by the actions' tests.
func NewCatalogue(actions ...*Action) *Catalogue {
	c := &Catalogue{byName: map[string]*Action{}, byCase: map[cases.Type]*Action{}}
	for _, a := range actions {
		if err := a.Complete(); err != nil {
			panic("moderation: " + err.Error())
		}
		if _, dup := c.byCase[a.Case]; dup {
			panic("moderation: two actions for case type " + string(a.Case))
		}
		c.byCase[a.Case] = a
		if a.Name == "" {
			continue
		}
		c.actions = append(c.actions, a)
		for _, n := range append([]string{a.Name}, a.Aliases...) {
			if _, dup := c.byName[n]; dup {
				panic("moderation: duplicate command name " + n)
			}
			c.byName[n] = a
		}
	}
	return c
}

// Complete says what an action lacks: its behaviour, and for a command its description and
// native permission.
func (a *Action) Complete() error {
	var missing []string
	if !a.Case.Valid() {
		missing = append(missing, fmt.Sprintf("a valid case type (has %q)", a.Case))
	}
	for what, ok := range map[string]bool{"Check": a.Check != nil, "Observe": a.Observe != nil, "Act": a.Act != nil, "Reconcile": a.Reconcile != nil} {
		if !ok {
			missing = append(missing, what)
		}
	}
	if a.Name != "" {
		if a.Description == "" {
			missing = append(missing, "Description")
		}
		if a.Native == 0 {
			missing = append(missing, "Native (the permission a moderator needs without ranks)")
		}
		if (a.DM == DMNone) != (a.DMVerb == "") {
			missing = append(missing, "DM wording that matches its DM timing")
		}
	}
	if !slices.Contains(modlog.Tones(), a.Tone) {
		missing = append(missing, fmt.Sprintf("a Tone (has %q)", a.Tone))
	}
	if (a.Expiry == "") != (a.LiftReason == "") {
		missing = append(missing, "a LiftReason for its Expiry")
	}
	if a.Expiry != "" && a.ByHand == nil {
		missing = append(missing, "ByHand (what to do when its expiry gives up)")
	}
	if a.Renew != "" && a.Expire == nil {
		missing = append(missing, "Expire (its own expiry, which renews it)")
	}
	if a.Expire != nil && a.Expiry == "" {
		missing = append(missing, "an Expiry for its Expire")
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	name := a.Name
	if name == "" {
		name = string(a.Case)
	}
	return fmt.Errorf("action %s lacks %s", name, strings.Join(missing, ", "))
}

// Catalogue is the coordinator's catalogue of actions, for paths that pick an action by its
// command's name (escalation).
func (co *Coordinator) Catalogue() *Catalogue { return co.cat }
