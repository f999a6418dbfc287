// Package tools holds the commands that are not moderation actions: cases (read and amend
// the record), config (the server's settings and ranks), purge, slowmode, automod (the
// server's Discord AutoMod rules), and snippet and snippets (every member's named texts).
// Each is declared once as a commands.Spec, from which both the prefix and the slash
// front-end are generated, and run by a Tool; the app checks the caller's permission for
// the command (Args.Command) before it calls Run.
package tools

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/lockdown"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/raid"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/snippets"
)

// Discord is what the tools ask of Discord: reading guilds, members and channels, a
// channel's slowmode, and messages (purge, the audit-log posts, mod-log edits).
type Discord interface {
	discord.Guilds
	discord.Members
	discord.Channels
	discord.Messages
}

// Env is what the tools work with.
type Env struct {
	Port  Discord
	Cases *cases.Service
	// Expiry moves a case's scheduled lift when its expiry changes; nil in processes that
	// run none (cases modify then refuses -duration and -expires).
	Expiry   *expiry.Service
	Settings *settings.Service
	Perms    *permissions.Service
	// AutoMod manages the guild's Discord AutoMod rules; nil in processes without it (the
	// automod command then says so).
	AutoMod *automod.Service
	// Snippets keeps the guilds' snippets; nil in processes without them (the snippet
	// commands then say so).
	Snippets *snippets.Service
	Exec     *executor.Executor
	Log      *slog.Logger
	Now      func() time.Time
	// BotID is gavel's own user id.
	BotID discord.UserID
	// Lift ends the punishment of case number n now, through the moderation pipeline, as
	// the caller (moderation.Coordinator.LiftCase); nil in processes without one (cases
	// modify -lift then refuses).
	Lift func(ctx context.Context, call Call, n int64) moderation.Result
	// Mass plans and runs mass actions (massban, masskick, masstimeout); nil in processes
	// without a pipeline (the commands then say so).
	Mass MassRunner
	// Raid is raid defence (the raid command and its buttons); nil in processes without it.
	Raid *raid.Service
	// Lockdown locks and unlocks channels (lockdown, unlock); nil in processes without it.
	Lockdown *lockdown.Service
	// CommandNames are every command a rank can be required for (actions and tools), for
	// config's listings.
	CommandNames func() []string
	// Escalation keeps points and policies; nil in processes without it (points and
	// escalation then say so, and cases modify refuses -points).
	Escalation *Escalation
}

// Call is one use of a tool: who, where, and through which front-end.
type Call struct {
	GuildID   discord.GuildID
	ChannelID discord.ChannelID
	User      discord.User
	Roles     []discord.RoleID
	// GuildOwnerID and Permissions are what the permission check knew of the caller: the
	// guild's owner and the caller's Discord permissions (for a tool that treats moderators
	// differently, through permissions.Service.Standing).
	GuildOwnerID discord.UserID
	Permissions  permissions.Permission
	// Prefix is the guild's command prefix, for usage lines.
	Prefix string
	// Slash is true for a slash command or a component, whose replies only the caller sees.
	Slash bool
	// MessageID is the prefix command's own message; 0 for slash commands and components.
	MessageID discord.MessageID
	// Event is the gateway event the command came from (the message or the interaction);
	// its case records it (moderation.Request.Event).
	Event discord.EventID
	// At is when the command was given (the message's or the interaction's time).
	At time.Time
	// Members are the members the command's event carries beside their users, as of the
	// event: a message's mentioned members (gateway.MessageCreate.MentionMembers), a slash
	// command's resolved members. An action takes its target from them
	// (moderation.Request.TargetMember) instead of reading it from Discord.
	Members []discord.Member
}

// Outcome is how a command ended, the metric's label.
type Outcome string

// The outcomes.
const (
	OK      Outcome = "ok"
	Refused Outcome = "refused"
	Failed  Outcome = "failed"
)

// Reply is what a tool answers. Err, when set, is logged (the message already says what
// the moderator needs to know).
type Reply struct {
	Message discord.Message
	Outcome Outcome
	Err     error
	// Transient asks the app to delete a prefix reply after a few seconds (purge's
	// confirmation, which would otherwise sit in the channel just cleaned).
	Transient bool
	// Recorded says a case made by the command records its event (Call.Event), so the
	// event needs no record of its own.
	Recorded bool
	// Replayed says the command's event had been handled before (a gateway replay): there
	// is nothing to do and nothing to say.
	Replayed bool
	// Keep, on a click's answer, leaves the clicked message as it is and answers only the
	// one who clicked (a raid's buttons: the mod log re-renders the raid's message itself).
	Keep bool
}

// Tool runs one command family.
type Tool struct {
	// Spec declares the command, including the Discord permission a moderator needs for it
	// in a guild without ranks (Native; its subcommands inherit it).
	Spec *commands.Spec
	Run  func(ctx context.Context, call Call, args commands.Args) Reply
	// ComponentPrefix routes the clicks on buttons whose custom_id starts with it to Click.
	// "" when the tool has no components.
	ComponentPrefix string
	// ClickCommand is the command whose permission a click needs ("cases list").
	ClickCommand string
	// Click answers a click with the new content of the clicked message.
	Click func(ctx context.Context, call Call, customID string) Reply
	// ClickDefers says Click does slow work before it answers (approving an escalation runs
	// its action, DMs and Discord calls included): the router acknowledges the click first
	// (DEFERRED_UPDATE_MESSAGE) instead of risking Discord's 3 seconds, then edits the
	// clicked message with the answer or sends it as a follow-up.
	ClickDefers bool
	// Suggest, when set, answers autocomplete: the choices for the option focused of the
	// leaf command, given what has been typed in it so far (at most discord.MaxChoices).
	Suggest func(ctx context.Context, call Call, leaf *commands.Spec, focused, typed string) []discord.Choice
}

// Set is every tool, by name.
type Set struct {
	tools []*Tool
}

// NewSet builds the tools over env.
func NewSet(env *Env) *Set {
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	// One constructor per tool, each in the tool's own file.
	s := &Set{tools: []*Tool{newCases(env), newConfig(env), newPurge(env), newSlowmode(env), newAutoMod(env),
		newSnippet(env), newSnippets(env), newEscalation(env), newPoints(env), newRaid(env)}}
	s.tools = append(s.tools, newMassTools(env)...)
	s.tools = append(s.tools, newLockdownTools(env)...)
	for _, t := range s.tools {
		t.Spec.Link()
	}
	return s
}

// Specs returns the tools' specs, for the front-ends.
func (s *Set) Specs() []*commands.Spec {
	out := make([]*commands.Spec, len(s.tools))
	for i, t := range s.tools {
		out[i] = t.Spec
	}
	return out
}

// Names returns every command and subcommand the tools define, for permissions.
func (s *Set) Names() []string {
	var out []string
	for _, t := range s.tools {
		out = append(out, t.Spec.Names()...)
	}
	return out
}

// Run runs the command args names.
func (s *Set) Run(ctx context.Context, call Call, args commands.Args) Reply {
	root := args.Spec.Root()
	for _, t := range s.tools {
		if t.Spec == root {
			return t.Run(ctx, call, args)
		}
	}
	return Reply{Message: discord.Message{Content: fmt.Sprintf("%s is not one of gavel's commands.", args.Command())}, Outcome: Refused}
}

// Suggest answers autocomplete for the slash command path (command, group, subcommand):
// no choices when the command has none to offer.
func (s *Set) Suggest(ctx context.Context, call Call, path []string, focused, typed string) []discord.Choice {
	if len(path) == 0 {
		return nil
	}
	for _, t := range s.tools {
		if t.Spec.Name != path[0] || t.Suggest == nil {
			continue
		}
		leaf := t.Spec
		for _, name := range path[1:] {
			sub, ok := leaf.Sub(name)
			if !ok {
				return nil
			}
			leaf = sub
		}
		out := t.Suggest(ctx, call, leaf, focused, typed)
		if len(out) > discord.MaxChoices {
			out = out[:discord.MaxChoices]
		}
		return out
	}
	return nil
}

// Component finds the tool whose buttons carry customID.
func (s *Set) Component(customID string) (*Tool, bool) {
	for _, t := range s.tools {
		if t.ComponentPrefix != "" && strings.HasPrefix(customID, t.ComponentPrefix) {
			return t, true
		}
	}
	return nil, false
}

// count says n things in words, singular or plural: "1 rule match", "3 rule matches".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Text is a reply of plain text; mentions in it never ping.
func Text(outcome Outcome, format string, args ...any) Reply {
	return Reply{Message: discord.Message{Content: fmt.Sprintf(format, args...), AllowedMentions: &discord.AllowedMentions{}}, Outcome: outcome}
}
