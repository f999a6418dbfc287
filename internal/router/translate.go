package router

import (
	"encoding/json"
	"time"

	"github.com/disgoorg/disgo/bot"
	ddiscord "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/events"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/discord/guildstate"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/polls"
)

// User is a disgo user as gavel's services know it.
func User(u ddiscord.User) discord.User {
	out := discord.User{ID: discord.UserID(u.ID), Username: u.Username, Bot: u.Bot}
	if u.GlobalName != nil {
		out.GlobalName = *u.GlobalName
	}
	return out
}

// RoleIDs are disgo's snowflakes as gavel's ids.
func RoleIDs[T ~uint64](ids []T) []discord.RoleID {
	out := make([]discord.RoleID, len(ids))
	for i, id := range ids {
		out[i] = discord.RoleID(id)
	}
	return out
}

// resolvedMembers are the members a slash command's user options resolved to, each with
// its user. Discord's resolved members lack only user, deaf and mute (its documentation of
// the resolved data), so their roles are stated; a member whose user is missing is left
// out.
func resolvedMembers(r ddiscord.ResolvedData) []discord.Member {
	var out []discord.Member
	for id, rm := range r.Members {
		if _, ok := r.Users[id]; !ok {
			continue
		}
		out = append(out, discord.MemberOf(User(rm.User), RoleIDs(rm.RoleIDs), rm.Nick, rm.JoinedAt, rm.CommunicationDisabledUntil))
	}
	return out
}

// targetMember is the target's member among those the command's event carries; nil when
// it carries none for them (an id typed as a number, a user not in the guild, a button).
func targetMember(members []discord.Member, target discord.UserID) *discord.Member {
	if target == 0 {
		return nil
	}
	for i := range members {
		if members[i].User.ID == target {
			m := members[i]
			return &m
		}
	}
	return nil
}

// onAuditLogEntry hands a ban, unban, kick or timeout done outside gavel to upkeep, which
// records it as a case.
func (rt *Router) onAuditLogEntry(e *events.GuildAuditLogEntryCreate) {
	if ext, ok := externalAction(discord.GuildID(e.GuildID), e.AuditLogEntry, time.Now()); ok {
		rt.cfg.Upkeep.ExternalAction(ext)
	}
}

// onMemberJoin hands a member's arrival to upkeep (a member who left while jailed is
// jailed again).
func (rt *Router) onMemberJoin(e *events.GuildMemberJoin) {
	if e.Member.User.Bot {
		return
	}
	rt.cfg.Upkeep.MemberJoined(discord.GuildID(e.GuildID), discord.UserID(e.Member.User.ID))
}

// onPoll hands a message with a poll (Discord's native polls) to upkeep, which deletes it
// when its author is poll-banned. Messages without a poll cost this one check.
func (rt *Router) onPoll(e *gateway.MessageCreateEvent) {
	msg := e.MessageCreate
	if !msg.InGuild || !msg.Poll || msg.Author.Bot || msg.AuthorSystem || msg.Webhook {
		return
	}
	p := polls.Poll{GuildID: msg.GuildID, ChannelID: msg.ChannelID, MessageID: msg.ID, Author: msg.Author}
	if g, ok := rt.cfg.State.Guild(p.GuildID); ok {
		p.GuildName = g.Name
	}
	rt.cfg.Upkeep.PollPosted(rt.cfg.State.BotID(), p)
}

// onChannelCreate hands a new channel that can hold messages or voices to upkeep (the jail
// role is denied on it).
func (rt *Router) onChannelCreate(e *events.GuildChannelCreate) {
	if e.Channel == nil {
		return
	}
	switch e.Channel.Type() {
	case ddiscord.ChannelTypeGuildText, ddiscord.ChannelTypeGuildVoice, ddiscord.ChannelTypeGuildCategory,
		ddiscord.ChannelTypeGuildNews, ddiscord.ChannelTypeGuildStageVoice, ddiscord.ChannelTypeGuildForum, ddiscord.ChannelTypeGuildMedia:
	default:
		return
	}
	rt.cfg.Upkeep.ChannelCreated(discord.GuildID(e.GuildID), discord.ChannelID(e.ChannelID), e.Channel.Name())
}

// externalAction reads an audit-log entry as an action gavel mirrors: member ban add (22),
// ban remove (23), kick (20), and member update (24) that sets or clears a timeout. Other
// entries, and entries without a target, are not.
func externalAction(guildID discord.GuildID, e ddiscord.AuditLogEntry, now time.Time) (moderation.External, bool) {
	if e.TargetID == nil || *e.TargetID == 0 || e.UserID == 0 {
		return moderation.External{}, false
	}
	ext := moderation.External{GuildID: guildID, EntryID: int64(e.ID), ModeratorID: discord.UserID(e.UserID), UserID: discord.UserID(*e.TargetID)}
	if e.Reason != nil {
		ext.Reason = *e.Reason
	}
	switch int(e.ActionType) {
	case discord.AuditMemberBanAdd:
		ext.Type = cases.Ban
	case discord.AuditMemberBanRemove:
		ext.Type = cases.Unban
	case discord.AuditMemberKick:
		ext.Type = cases.Kick
	case discord.AuditMemberUpdate:
		until, found := timeoutChange(e.Changes)
		if !found {
			return moderation.External{}, false
		}
		// A timeout moved into the past lifts it, as clearing it does.
		if until.After(now) {
			ext.Type, ext.ExpiresAt = cases.Timeout, until
		} else {
			ext.Type = cases.Untimeout
		}
	default:
		return moderation.External{}, false
	}
	return ext, true
}

// timeoutChange finds the communication_disabled_until change of a member update: the new
// end of the timeout, the zero time when it was cleared.
func timeoutChange(changes []ddiscord.AuditLogChange) (time.Time, bool) {
	for _, ch := range changes {
		if ch.Key != "communication_disabled_until" {
			continue
		}
		var until *time.Time
		if len(ch.NewValue) > 0 {
			if err := json.Unmarshal(ch.NewValue, &until); err != nil {
				return time.Time{}, false
			}
		}
		if until == nil {
			return time.Time{}, true
		}
		return *until, true
	}
	return time.Time{}, false
}

// stateListeners keep st up to date from the gateway. disgo runs listeners on the
// goroutine that reads the gateway, in the order of the events (asynchronous events stay
// off), so a command's event is handled after every change dispatched before it: the
// reasoning in package guildstate depends on that order.
func stateListeners(st *guildstate.State) []bot.ConfigOpt {
	putGuild := func(g ddiscord.GatewayGuild) {
		botID := st.BotID()
		var botRoles []discord.RoleID
		botKnown := false
		for _, m := range g.Members {
			if botID != 0 && discord.UserID(m.User.ID) == botID {
				botRoles, botKnown = RoleIDs(m.RoleIDs), true
			}
		}
		st.PutGuild(fromDisgoGuild(g.ID, g.Name, g.OwnerID, g.Roles), botRoles, botKnown)
	}
	return []bot.ConfigOpt{
		// READY starts a shard's session; its guilds follow as GUILD_CREATE. The other
		// shards' guilds stay.
		bot.WithEventListenerFunc(func(e *events.Ready) {
			st.ResetShard(discord.UserID(e.User.ID), e.Shard[0], e.Shard[1])
		}),
		bot.WithEventListenerFunc(func(e *events.GuildReady) { putGuild(e.Guild) }),
		bot.WithEventListenerFunc(func(e *events.GuildAvailable) { putGuild(e.Guild) }),
		bot.WithEventListenerFunc(func(e *events.GuildJoin) { putGuild(e.Guild) }),
		bot.WithEventListenerFunc(func(e *events.GuildUpdate) {
			st.UpdateGuild(discord.GuildID(e.Guild.ID), e.Guild.Name, discord.UserID(e.Guild.OwnerID))
		}),
		bot.WithEventListenerFunc(func(e *events.GuildLeave) { st.Forget(discord.GuildID(e.GuildID)) }),
		bot.WithEventListenerFunc(func(e *events.GuildUnavailable) { st.Forget(discord.GuildID(e.GuildID)) }),
		bot.WithEventListenerFunc(func(e *events.RoleCreate) { st.PutRole(discord.GuildID(e.GuildID), fromDisgoRole(e.Role)) }),
		bot.WithEventListenerFunc(func(e *events.RoleUpdate) { st.PutRole(discord.GuildID(e.GuildID), fromDisgoRole(e.Role)) }),
		bot.WithEventListenerFunc(func(e *events.RoleDelete) { st.DeleteRole(discord.GuildID(e.GuildID), discord.RoleID(e.RoleID)) }),
		bot.WithEventListenerFunc(func(e *events.GuildMemberJoin) {
			st.SetMemberRoles(discord.GuildID(e.GuildID), discord.UserID(e.Member.User.ID), RoleIDs(e.Member.RoleIDs))
		}),
		bot.WithEventListenerFunc(func(e *events.GuildMemberUpdate) {
			st.SetMemberRoles(discord.GuildID(e.GuildID), discord.UserID(e.Member.User.ID), RoleIDs(e.Member.RoleIDs))
		}),
		bot.WithEventListenerFunc(func(e *events.GuildMemberLeave) {
			st.MemberLeft(discord.GuildID(e.GuildID), discord.UserID(e.User.ID))
		}),
	}
}

func fromDisgoGuild[ID ~uint64](id ID, name string, owner ID, roles []ddiscord.Role) discord.Guild {
	g := discord.Guild{ID: discord.GuildID(id), Name: name, OwnerID: discord.UserID(owner), Roles: make([]discord.Role, len(roles))}
	for i, r := range roles {
		g.Roles[i] = fromDisgoRole(r)
	}
	return g
}

func fromDisgoRole(r ddiscord.Role) discord.Role {
	return discord.Role{ID: discord.RoleID(r.ID), Name: r.Name, Position: r.Position, Permissions: uint64(r.Permissions),
		Managed: r.Managed, Color: r.Color}
}
