package app

import (
	"github.com/disgoorg/disgo/bot"
	ddiscord "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/events"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/guildstate"
)

// guildStateListeners keep st up to date from the gateway. disgo runs listeners on the
// goroutine that reads the gateway, in the order of the events (asynchronous events stay
// off), so a command's event is handled after every change dispatched before it: the
// reasoning in package guildstate depends on that order.
func guildStateListeners(st *guildstate.State) []bot.ConfigOpt {
	putGuild := func(g ddiscord.GatewayGuild) {
		botID := st.BotID()
		var botRoles []int64
		botKnown := false
		for _, m := range g.Members {
			if botID != 0 && int64(m.User.ID) == botID {
				botRoles, botKnown = roleIDs(m.RoleIDs), true
			}
		}
		st.PutGuild(fromDisgoGuild(g.ID, g.Name, g.OwnerID, g.Roles), botRoles, botKnown)
	}
	return []bot.ConfigOpt{
		// READY starts a session; the guilds follow as GUILD_CREATE.
		bot.WithEventListenerFunc(func(e *events.Ready) { st.Reset(int64(e.User.ID)) }),
		bot.WithEventListenerFunc(func(e *events.GuildReady) { putGuild(e.Guild) }),
		bot.WithEventListenerFunc(func(e *events.GuildAvailable) { putGuild(e.Guild) }),
		bot.WithEventListenerFunc(func(e *events.GuildJoin) { putGuild(e.Guild) }),
		bot.WithEventListenerFunc(func(e *events.GuildUpdate) {
			st.UpdateGuild(int64(e.Guild.ID), e.Guild.Name, int64(e.Guild.OwnerID))
		}),
		bot.WithEventListenerFunc(func(e *events.GuildLeave) { st.Forget(int64(e.GuildID)) }),
		bot.WithEventListenerFunc(func(e *events.GuildUnavailable) { st.Forget(int64(e.GuildID)) }),
		bot.WithEventListenerFunc(func(e *events.RoleCreate) { st.PutRole(int64(e.GuildID), fromDisgoRole(e.Role)) }),
		bot.WithEventListenerFunc(func(e *events.RoleUpdate) { st.PutRole(int64(e.GuildID), fromDisgoRole(e.Role)) }),
		bot.WithEventListenerFunc(func(e *events.RoleDelete) { st.DeleteRole(int64(e.GuildID), int64(e.RoleID)) }),
		bot.WithEventListenerFunc(func(e *events.GuildMemberJoin) {
			st.SetMemberRoles(int64(e.GuildID), int64(e.Member.User.ID), roleIDs(e.Member.RoleIDs))
		}),
		bot.WithEventListenerFunc(func(e *events.GuildMemberUpdate) {
			st.SetMemberRoles(int64(e.GuildID), int64(e.Member.User.ID), roleIDs(e.Member.RoleIDs))
		}),
	}
}

func fromDisgoGuild[ID ~uint64](id ID, name string, owner ID, roles []ddiscord.Role) discord.Guild {
	g := discord.Guild{ID: int64(id), Name: name, OwnerID: int64(owner), Roles: make([]discord.Role, len(roles))}
	for i, r := range roles {
		g.Roles[i] = fromDisgoRole(r)
	}
	return g
}

func fromDisgoRole(r ddiscord.Role) discord.Role {
	return discord.Role{ID: int64(r.ID), Name: r.Name, Position: r.Position, Permissions: uint64(r.Permissions),
		Managed: r.Managed, Color: r.Color}
}
