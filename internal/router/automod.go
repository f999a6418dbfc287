package router

import (
	"io"

	"github.com/disgoorg/disgo/bot"
	ddiscord "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/events"
	dgw "github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/snowflake/v2"

	"github.com/gavelbot/gavel/internal/automod/enforcer"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/gateway"
)

// autoModListeners translate disgo's events for the enforcer.
func (rt *Router) autoModListeners() []bot.ConfigOpt {
	am := rt.cfg.AutoMod
	message := func(gid *snowflake.ID, msg ddiscord.Message, edit bool) {
		if gid == nil {
			return
		}
		in := enforcer.Message{GuildID: int64(*gid), ChannelID: int64(msg.ChannelID), ID: int64(msg.ID),
			Author: User(msg.Author), FromBot: msg.Author.Bot || msg.Author.System, Content: msg.Content,
			MentionRoles: RoleIDs(msg.MentionRoles), Edit: edit}
		for _, u := range msg.Mentions {
			in.Mentions = append(in.Mentions, discord.UserID(u.ID))
		}
		if msg.Member != nil {
			in.Roles, in.HasMember = RoleIDs(msg.Member.RoleIDs), true
		}
		am.Message(in)
	}
	return []bot.ConfigOpt{
		bot.WithEventListenerFunc(func(e *events.Ready) { am.SetBot(User(e.User.User)) }),
		bot.WithEventListenerFunc(func(e *events.Raw) {
			if e.EventType != dgw.EventTypeAutoModerationActionExecution {
				return
			}
			body, err := io.ReadAll(e.Payload)
			if err != nil {
				rt.log.Error("automod execution: reading the event", "err", err)
				return
			}
			am.Execution(body)
		}),
		bot.WithEventListenerFunc(func(e *gateway.MessageCreateEvent) {
			m := e.MessageCreate
			if !m.InGuild {
				return
			}
			am.Message(enforcer.Message{GuildID: int64(m.GuildID), ChannelID: int64(m.ChannelID), ID: int64(m.ID), Author: m.Author,
				FromBot: m.Author.Bot || m.AuthorSystem, Content: m.Content, Mentions: m.Mentions, MentionRoles: m.MentionRoles,
				Roles: m.Roles, HasMember: m.HasMember})
		}),
		bot.WithEventListenerFunc(func(e *events.MessageUpdate) { message(e.GuildID, e.Message, true) }),
		bot.WithEventListenerFunc(func(e *events.AutoModerationRuleCreate) { rt.ruleChanged(enforcer.RuleCreated, e.AutoModerationRule) }),
		bot.WithEventListenerFunc(func(e *events.AutoModerationRuleUpdate) { rt.ruleChanged(enforcer.RuleUpdated, e.AutoModerationRule) }),
		bot.WithEventListenerFunc(func(e *events.AutoModerationRuleDelete) { rt.ruleChanged(enforcer.RuleDeleted, e.AutoModerationRule) }),
	}
}

func (rt *Router) ruleChanged(change enforcer.RuleChange, r ddiscord.AutoModerationRule) {
	rt.cfg.AutoMod.RuleChanged(change, discord.GuildID(r.GuildID), int64(r.ID), r.Name, int64(r.CreatorID))
}

// SkipEvent reports the dispatches no listener acts on, so that the gateway drops them
// before decoding them (gateway.WithSkip): messages posted or edited by a bot or the system.
// Neither the commands (onMessage) nor AutoMod (enforcer.Message, FromBot) look at them, and
// they are most of the messages gavel receives: its own replies, DMs and mod-log posts come
// back over the gateway, the mod-log embeds the largest payloads of all. An edit that comes
// without its author is kept. Also bans and unbans: every ban gavel makes comes back as one
// of them, and nothing in gavel listens to them (bans made by others are found through their
// audit-log entries, and disgo's caches are off). A listener added for one of them must take
// it out of this switch. (Members leaving are kept: the guild state tells the dashboard's
// member cache.)
func SkipEvent(t dgw.EventType, d []byte) bool {
	switch t {
	case dgw.EventTypeGuildBanAdd, dgw.EventTypeGuildBanRemove:
		return true
	}
	if t != dgw.EventTypeMessageCreate && t != dgw.EventTypeMessageUpdate {
		return false
	}
	// A look at two fields, not a decoding: d has been checked to be JSON, and
	// encoding/json's peek (validate d, then decode it) was a quarter of the gateway's time.
	author, ok := gateway.Field(d, "author")
	if !ok {
		return false
	}
	isTrue := func(key string) bool {
		v, ok := gateway.Field(author, key)
		return ok && string(v) == "true"
	}
	return isTrue("bot") || isTrue("system")
}
