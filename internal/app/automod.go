package app

import (
	"context"
	"io"
	"time"

	"github.com/disgoorg/disgo/bot"
	ddiscord "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/events"
	dgw "github.com/disgoorg/disgo/gateway"
	dsnowflake "github.com/disgoorg/snowflake/v2"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/automod/enforcer"
	"github.com/gavelbot/gavel/internal/moderation"
)

// Defaults for AutoMod in the App (enforcer's).
const (
	DefaultExecutionWindow = enforcer.DefaultExecutionWindow
	DefaultGavelRulesCheck = enforcer.DefaultGavelRulesCheck
)

// WithAutoModTiming changes how long execution events are gathered and how often stored
// gavel-enforced rules are checked for changes (tests shorten both).
func WithAutoModTiming(window, check time.Duration) Option {
	return func(o *options) { o.automodWindow, o.automodCheck = window, check }
}

// newEnforcer builds AutoMod's runtime over the App's services; a.cached and a.cat are set.
func (a *App) newEnforcer(o options) *enforcer.Enforcer {
	return enforcer.New(enforcer.Config{Store: automod.NewStore(a.store), Port: a.port, Guilds: a.cached, Exec: a.exec,
		Settings: a.guilds, Cases: a.cases, Actions: a.cat, Work: enforcerWork{a}, Log: a.log, Timeout: a.commandTimeout,
		Window: o.automodWindow, Check: o.automodCheck})
}

// enforcerWork counts the enforcer's work among the App's work in flight.
type enforcerWork struct{ a *App }

func (w enforcerWork) Begin() (*moderation.Coordinator, bool) { return w.a.begin() }
func (w enforcerWork) End()                                   { w.a.end() }
func (w enforcerWork) Context() context.Context               { return w.a.work }

// automodListeners translates disgo's events for the enforcer.
func (a *App) automodListeners() []bot.ConfigOpt {
	am := a.automod
	message := func(gid *snowflakeID, msg ddiscord.Message, edit bool) {
		if gid == nil {
			return
		}
		in := enforcer.Message{GuildID: int64(*gid), ChannelID: int64(msg.ChannelID), ID: int64(msg.ID),
			Author: fromDisgoUser(msg.Author), FromBot: msg.Author.Bot || msg.Author.System, Content: msg.Content,
			MentionRoles: roleIDs(msg.MentionRoles), Edit: edit}
		for _, u := range msg.Mentions {
			in.Mentions = append(in.Mentions, int64(u.ID))
		}
		if msg.Member != nil {
			in.Roles, in.HasMember = roleIDs(msg.Member.RoleIDs), true
		}
		am.Message(in)
	}
	return []bot.ConfigOpt{
		bot.WithEventListenerFunc(func(e *events.Ready) { am.SetBot(fromDisgoUser(e.User.User)) }),
		bot.WithEventListenerFunc(func(e *events.Raw) {
			if e.EventType != dgw.EventTypeAutoModerationActionExecution {
				return
			}
			body, err := io.ReadAll(e.Payload)
			if err != nil {
				a.log.Error("automod execution: reading the event", "err", err)
				return
			}
			am.Execution(body)
		}),
		bot.WithEventListenerFunc(func(e *events.MessageCreate) { message(e.GuildID, e.Message, false) }),
		bot.WithEventListenerFunc(func(e *events.MessageUpdate) { message(e.GuildID, e.Message, true) }),
		bot.WithEventListenerFunc(func(e *events.AutoModerationRuleCreate) { a.ruleChanged(enforcer.RuleCreated, e.AutoModerationRule) }),
		bot.WithEventListenerFunc(func(e *events.AutoModerationRuleUpdate) { a.ruleChanged(enforcer.RuleUpdated, e.AutoModerationRule) }),
		bot.WithEventListenerFunc(func(e *events.AutoModerationRuleDelete) { a.ruleChanged(enforcer.RuleDeleted, e.AutoModerationRule) }),
	}
}

func (a *App) ruleChanged(change enforcer.RuleChange, r ddiscord.AutoModerationRule) {
	a.automod.RuleChanged(change, int64(r.GuildID), int64(r.ID), r.Name, int64(r.CreatorID))
}

// AutoMod returns the service the /automod commands use: Discord's rules, validated before
// every change, each change reported in the guild's audit-log channel; its Test also
// evaluates the guild's gavel-enforced rules.
func (a *App) AutoMod() *automod.Service {
	return automod.NewService(a.port, automod.WithExecutor(a.exec), automod.WithReporter(a.automod.ReportAudit),
		automod.WithGavelRules(a.automod.Store()))
}

type snowflakeID = dsnowflake.ID
