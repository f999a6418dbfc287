package sandbox

import (
	"fmt"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// World names the seeded server's people, roles and channels. The ids are fixed, so that a
// sandbox started again on the same database (-db) finds the cases it made last time
// attached to the same members.
type World struct {
	Guild                                    discordtest.ID
	Owner, Senior, Moderator, Helper         discordtest.ID
	Members                                  []discordtest.ID
	BotRole, SeniorRole, ModRole, HelperRole discordtest.ID
	JailRole, MemberRole                     discordtest.ID
	General, ModLog, AuditLog, Jail, Appeals discordtest.ID
}

// The ranks the seed gives the moderators' roles (config ranks init creates 0 to 7; see
// docs/commands.md "Default ranks": 5 runs config and automod, 4 edits cases, 3 bans and
// jails, 2 times out, warns and reads cases).
const (
	seniorRank = 5
	modRank    = 3
	helperRank = 2
)

const (
	// idBase keeps the seed's ids apart from the ones the fake hands out (which are
	// snowflakes of the current time, far larger).
	idBase discordtest.ID = 100000000000000000
)

// newWorld is the seeded server and the seed the fake loads.
func newWorld() (World, discordtest.Seed) {
	id := func(kind, n int) discordtest.ID { return idBase + discordtest.ID(kind)*1000 + discordtest.ID(n) }
	w := World{
		Guild: id(1, 1),
		Owner: id(2, 1), Senior: id(2, 2), Moderator: id(2, 3), Helper: id(2, 4),
		Members: []discordtest.ID{id(2, 10), id(2, 11), id(2, 12), id(2, 13)},
		BotRole: id(3, 1), SeniorRole: id(3, 2), ModRole: id(3, 3), HelperRole: id(3, 4), JailRole: id(3, 5), MemberRole: id(3, 6),
		General: id(4, 1), ModLog: id(4, 2), AuditLog: id(4, 3), Jail: id(4, 4), Appeals: id(4, 5),
	}
	name := func(s string) *string { return &s }
	users := []discordtest.User{
		{ID: w.Owner, Username: "olivia", GlobalName: name("Olivia (owner)")},
		{ID: w.Senior, Username: "sam", GlobalName: name("Sam (senior moderator)")},
		{ID: w.Moderator, Username: "mia", GlobalName: name("Mia (moderator)")},
		{ID: w.Helper, Username: "hugo", GlobalName: name("Hugo (helper)")},
		{ID: w.Members[0], Username: "member", GlobalName: name("A member")},
		{ID: w.Members[1], Username: "nina"},
		{ID: w.Members[2], Username: "leo"},
		{ID: w.Members[3], Username: "spammer", DMsClosed: true},
	}
	const (
		modPerms = discordtest.PermBanMembers | discordtest.PermKickMembers | discordtest.PermModerateMembers |
			discordtest.PermManageMessages | discordtest.PermViewAuditLog | discordtest.PermManageNicknames
	)
	roles := []discordtest.Role{
		{ID: w.BotRole, Name: "gavel", Position: 10, Permissions: discordtest.PermAdministrator, Managed: true},
		{ID: w.SeniorRole, Name: "Senior Moderator", Position: 8, Permissions: modPerms | discordtest.PermManageGuild | discordtest.PermManageRoles, Hoist: true, Color: 0xe67e22},
		{ID: w.ModRole, Name: "Moderator", Position: 7, Permissions: modPerms, Hoist: true, Color: 0x3498db},
		{ID: w.HelperRole, Name: "Helper", Position: 6, Permissions: discordtest.PermModerateMembers | discordtest.PermManageMessages, Hoist: true, Color: 0x2ecc71},
		{ID: w.MemberRole, Name: "Regular", Position: 2},
		{ID: w.JailRole, Name: "Jailed", Position: 1, Color: 0x95a5a6},
	}
	staffOnly := func() []discordtest.Overwrite {
		return []discordtest.Overwrite{
			{ID: w.Guild, Type: 0, Deny: discordtest.PermViewChannel},
			{ID: w.SeniorRole, Type: 0, Allow: discordtest.PermViewChannel},
			{ID: w.ModRole, Type: 0, Allow: discordtest.PermViewChannel},
			{ID: w.HelperRole, Type: 0, Allow: discordtest.PermViewChannel},
		}
	}
	topic := func(s string) *string { return &s }
	seed := discordtest.Seed{
		Users: users,
		Guilds: []discordtest.SeedGuild{{
			ID: w.Guild, Name: "gavel sandbox", OwnerID: w.Owner, Roles: roles, BotRoles: []discordtest.ID{w.BotRole},
			Members: []discordtest.SeedMember{
				{UserID: w.Senior, Roles: []discordtest.ID{w.SeniorRole}},
				{UserID: w.Moderator, Roles: []discordtest.ID{w.ModRole}},
				{UserID: w.Helper, Roles: []discordtest.ID{w.HelperRole}},
				{UserID: w.Members[0], Roles: []discordtest.ID{w.MemberRole}},
				{UserID: w.Members[1], Roles: []discordtest.ID{w.MemberRole}},
				{UserID: w.Members[2]},
				{UserID: w.Members[3]},
			},
			Channels: []discordtest.Channel{
				{ID: w.General, Type: discordtest.ChannelGuildText, Name: "general", Position: 1, Topic: topic("Try $ban @member spam, $warn @nina be nice, $cases, or /config show")},
				{ID: w.Appeals, Type: discordtest.ChannelGuildText, Name: "appeals", Position: 2},
				{ID: w.ModLog, Type: discordtest.ChannelGuildText, Name: "mod-log", Position: 3, PermissionOverwrites: staffOnly(), Topic: topic("gavel posts every case here")},
				{ID: w.AuditLog, Type: discordtest.ChannelGuildText, Name: "audit-log", Position: 4, PermissionOverwrites: staffOnly(), Topic: topic("gavel's configuration changes")},
				{ID: w.Jail, Type: discordtest.ChannelGuildText, Name: "jail", Position: 5, Topic: topic("Jailed members see only this channel")},
			},
		}},
	}
	return w, seed
}

// setupCommands are what the owner types once gavel is up: the mod-log, audit-log and jail
// channels, the jail role, the default ranks and a rank for each moderators' role. They
// run as slash commands through gavel itself, so the server's configuration history and
// #audit-log show them as an owner's setup would.
func (w World) setupCommands() []string {
	return []string{
		fmt.Sprintf("/config channel setting:modlog channel:<#%s>", w.ModLog),
		fmt.Sprintf("/config channel setting:auditlog channel:<#%s>", w.AuditLog),
		fmt.Sprintf("/config jailrole role:<@&%s>", w.JailRole),
		fmt.Sprintf("/config channel setting:jail channel:<#%s>", w.Jail),
		"/config ranks init",
		fmt.Sprintf("/config roles assign role:<@&%s> rank:%d", w.SeniorRole, seniorRank),
		fmt.Sprintf("/config roles assign role:<@&%s> rank:%d", w.ModRole, modRank),
		fmt.Sprintf("/config roles assign role:<@&%s> rank:%d", w.HelperRole, helperRank),
	}
}
