package router

import (
	"time"

	"github.com/disgoorg/disgo/bot"
	ddiscord "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/events"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/raid"
)

// RaidEvents is raid defence's side of the gateway: every arrival, in order, and Discord's
// own raid signal.
type RaidEvents interface {
	MemberJoined(j raid.Join)
	DiscordReported(guildID discord.GuildID, at time.Time)
}

// raidListeners hand raid defence what it needs: each GUILD_MEMBER_ADD with the account's
// avatar and the member's flags, a GUILD_UPDATE whose incidents_data.raid_detected_at is
// set, and Discord's raid-report system message (type 38). None when cfg.Raid is nil.
func (rt *Router) raidListeners() []bot.ConfigOpt {
	if rt.cfg.Raid == nil {
		return nil
	}
	return []bot.ConfigOpt{
		bot.WithEventListenerFunc(func(e *events.GuildMemberJoin) {
			m := e.Member
			var joined time.Time
			if m.JoinedAt != nil {
				joined = *m.JoinedAt
			}
			rt.cfg.Raid.MemberJoined(raid.Join{GuildID: discord.GuildID(e.GuildID), UserID: discord.UserID(m.User.ID), Username: m.User.Username,
				JoinedAt: joined, DefaultAvatar: m.User.Avatar == nil, Rejoined: m.Flags.Has(ddiscord.MemberFlagDidRejoin),
				Bot: m.User.Bot, Bypass: m.Flags.Has(ddiscord.MemberFlagBypassesVerification)})
		}),
		bot.WithEventListenerFunc(func(e *events.GuildUpdate) {
			if d := e.Guild.IncidentsData; d != nil && d.RaidDetectedAt != nil {
				rt.cfg.Raid.DiscordReported(discord.GuildID(e.Guild.ID), *d.RaidDetectedAt)
			}
		}),
		bot.WithEventListenerFunc(func(e *gateway.MessageCreateEvent) {
			if e.InGuild && e.Type == int(ddiscord.MessageTypeGuildIncidentReportRaid) {
				rt.cfg.Raid.DiscordReported(e.GuildID, e.CreatedAt)
			}
		}),
	}
}
