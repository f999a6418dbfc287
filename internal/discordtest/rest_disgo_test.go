package discordtest

import (
	"testing"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/omit"
	"github.com/disgoorg/snowflake/v2"
)

// TestDisgoDrivesEveryEndpoint sends disgo's real requests to every REST route the fake
// serves. The server's reporter is t.Errorf, so any request disgo builds that Discord's spec
// refuses, or any response of the fake that the spec does not allow, fails the test.
func TestDisgoDrivesEveryEndpoint(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false)
	c := f.client(t)
	g := sf(f.guild)

	me, err := c.GetCurrentUser("")
	if err != nil || me.ID != sf(f.s.BotID()) {
		t.Fatalf("GetCurrentUser = %v, %v", me, err)
	}
	if u, err := c.GetUser(sf(f.bob)); err != nil || u.Username != "bob" {
		t.Fatalf("GetUser = %v, %v", u, err)
	}
	dm, err := c.CreateDMChannel(sf(f.bob))
	if err != nil {
		t.Fatalf("CreateDMChannel: %v", err)
	}
	if again, err := c.CreateDMChannel(sf(f.bob)); err != nil || again.ID() != dm.ID() {
		t.Fatalf("second CreateDMChannel = %v, %v; want the same channel %v", again, err, dm.ID())
	}

	ch, err := c.GetChannel(sf(f.general))
	if err != nil || ch.Name() != "general" {
		t.Fatalf("GetChannel = %v, %v", ch, err)
	}
	if _, err := c.UpdateChannel(sf(f.general), discord.GuildTextChannelUpdate{
		Topic: omit.Ptr("rules"), RateLimitPerUser: omit.Ptr(30), ParentID: ptrID(f.cat),
	}, rest.WithReason("tidy")); err != nil {
		t.Fatalf("UpdateChannel: %v", err)
	}
	if err := c.UpdatePermissionOverwrite(sf(f.general), sf(f.member), discord.RolePermissionOverwriteUpdate{
		Deny: omit.Ptr(discord.PermissionSendMessages),
	}); err != nil {
		t.Fatalf("UpdatePermissionOverwrite: %v", err)
	}

	msg, err := c.CreateMessage(sf(f.general), discord.MessageCreate{
		Content: "case #1", Embeds: []discord.Embed{{Title: "Ban", Description: "bob was banned"}},
		AllowedMentions: &discord.AllowedMentions{},
	})
	if err != nil {
		t.Fatalf("CreateMessage: %v", err)
	}
	if _, err := c.GetMessage(sf(f.general), msg.ID); err != nil {
		t.Fatalf("GetMessage: %v", err)
	}
	if _, err := c.UpdateMessage(sf(f.general), msg.ID, discord.MessageUpdate{Content: omit.Ptr("case #1 (edited)")}); err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	if ms, err := c.GetMessages(sf(f.general), 0, 0, 0, 10); err != nil || len(ms) != 1 {
		t.Fatalf("GetMessages = %d messages, %v", len(ms), err)
	}
	if _, err := c.CreateMessage(dm.ID(), discord.MessageCreate{Content: "You were warned."}); err != nil {
		t.Fatalf("CreateMessage in DM: %v", err)
	}
	a := f.s.AddMessage(f.general, f.bob, "spam 1", time.Now())
	b := f.s.AddMessage(f.general, f.bob, "spam 2", time.Now())
	if err := c.BulkDeleteMessages(sf(f.general), []snowflake.ID{sf(a), sf(b)}); err != nil {
		t.Fatalf("BulkDeleteMessages: %v", err)
	}
	if err := c.DeleteMessage(sf(f.general), msg.ID); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}

	if gg, err := c.GetGuild(g, true); err != nil || gg.Name != "test guild" {
		t.Fatalf("GetGuild = %v, %v", gg, err)
	}
	if roles, err := c.GetRoles(g); err != nil || len(roles) != 5 {
		t.Fatalf("GetRoles = %d roles, %v", len(roles), err)
	}
	if ms, err := c.GetMembers(g, 1000, 0); err != nil || len(ms) != 5 {
		t.Fatalf("GetMembers = %d members, %v", len(ms), err)
	}
	if m, err := c.GetMember(g, sf(f.bob)); err != nil || m.User.ID != sf(f.bob) {
		t.Fatalf("GetMember = %v, %v", m, err)
	}
	until := time.Now().Add(time.Hour)
	if m, err := c.UpdateMember(g, sf(f.bob), discord.MemberUpdate{
		Nick: omit.Ptr("bobby"), CommunicationDisabledUntil: omit.NewPtr(until),
	}, rest.WithReason("cool off")); err != nil || m.Nick == nil || *m.Nick != "bobby" {
		t.Fatalf("UpdateMember = %v, %v", m, err)
	}
	if _, err := c.UpdateMember(g, sf(f.bob), discord.MemberUpdate{CommunicationDisabledUntil: omit.NewNilPtr[time.Time]()}); err != nil {
		t.Fatalf("UpdateMember clearing the timeout: %v", err)
	}
	if err := c.AddMemberRole(g, sf(f.carol), sf(f.member)); err != nil {
		t.Fatalf("AddMemberRole: %v", err)
	}
	if err := c.RemoveMemberRole(g, sf(f.carol), sf(f.member)); err != nil {
		t.Fatalf("RemoveMemberRole: %v", err)
	}

	if err := c.AddBan(g, sf(f.bob), time.Hour, rest.WithReason("spam")); err != nil {
		t.Fatalf("AddBan: %v", err)
	}
	if ban, err := c.GetBan(g, sf(f.bob)); err != nil || ban.Reason == nil || *ban.Reason != "spam" {
		t.Fatalf("GetBan = %v, %v", ban, err)
	}
	if bans, err := c.GetBans(g, 0, 0, 100); err != nil || len(bans) != 1 {
		t.Fatalf("GetBans = %v, %v", bans, err)
	}
	if err := c.DeleteBan(g, sf(f.bob)); err != nil {
		t.Fatalf("DeleteBan: %v", err)
	}
	res, err := c.BulkBan(g, discord.BulkBan{UserIDs: []snowflake.ID{sf(f.dave), sf(f.alice)}, DeleteMessageSeconds: 60})
	if err != nil || len(res.BannedUsers) != 1 || len(res.FailedUsers) != 1 {
		t.Fatalf("BulkBan = %+v, %v", res, err)
	}
	if err := c.RemoveMember(g, sf(f.carol), rest.WithReason("bye")); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	log, err := c.GetAuditLog(g, 0, 0, 0, 0, 100)
	if err != nil || len(log.AuditLogEntries) == 0 {
		t.Fatalf("GetAuditLog = %v, %v", log, err)
	}

	rule, err := c.CreateAutoModerationRule(g, discord.AutoModerationRuleCreate{
		Name: "no cats", EventType: discord.AutoModerationEventTypeMessageSend, TriggerType: discord.AutoModerationTriggerTypeKeyword,
		TriggerMetadata: &discord.AutoModerationTriggerMetadata{KeywordFilter: []string{"cat*"}, RegexPatterns: []string{"(b|c)at"}, AllowList: []string{"catalog"}},
		Actions: []discord.AutoModerationAction{
			{Type: discord.AutoModerationActionTypeBlockMessage, Metadata: &discord.AutoModerationActionMetadata{CustomMessage: omit.Ptr("no")}},
			{Type: discord.AutoModerationActionTypeSendAlertMessage, Metadata: &discord.AutoModerationActionMetadata{ChannelID: sf(f.general)}},
			{Type: discord.AutoModerationActionTypeTimeout, Metadata: &discord.AutoModerationActionMetadata{DurationSeconds: 60}},
		},
		Enabled: omit.Ptr(true),
	})
	if err != nil {
		t.Fatalf("CreateAutoModerationRule: %v", err)
	}
	if _, err := c.GetAutoModerationRule(g, rule.ID); err != nil {
		t.Fatalf("GetAutoModerationRule: %v", err)
	}
	if rules, err := c.GetAutoModerationRules(g); err != nil || len(rules) != 1 {
		t.Fatalf("GetAutoModerationRules = %v, %v", rules, err)
	}
	if r, err := c.UpdateAutoModerationRule(g, rule.ID, discord.AutoModerationRuleUpdate{Name: omit.Ptr("no dogs")}); err != nil || r.Name != "no dogs" {
		t.Fatalf("UpdateAutoModerationRule = %v, %v", r, err)
	}
	if err := c.DeleteAutoModerationRule(g, rule.ID); err != nil {
		t.Fatalf("DeleteAutoModerationRule: %v", err)
	}

	app := sf(f.s.appID)
	cmds := []discord.ApplicationCommandCreate{
		discord.SlashCommandCreate{Name: "ban", Description: "Ban a member", Options: []discord.ApplicationCommandOption{
			discord.ApplicationCommandOptionUser{Name: "user", Description: "who", Required: true},
			discord.ApplicationCommandOptionString{Name: "reason", Description: "why"},
		}, DefaultMemberPermissions: omit.NewPtr(discord.PermissionBanMembers)},
		discord.UserCommandCreate{Name: "Ban user"},
	}
	got, err := c.SetGlobalCommands(app, cmds)
	if err != nil || len(got) != 2 {
		t.Fatalf("SetGlobalCommands = %v, %v", got, err)
	}
	if list, err := c.GetGlobalCommands(app, false); err != nil || len(list) != 2 {
		t.Fatalf("GetGlobalCommands = %v, %v", list, err)
	}
	if _, err := c.SetGuildCommands(app, g, cmds[:1]); err != nil {
		t.Fatalf("SetGuildCommands: %v", err)
	}
	if list, err := c.GetGuildCommands(app, g, false); err != nil || len(list) != 1 {
		t.Fatalf("GetGuildCommands = %v, %v", list, err)
	}
}

func ptrID(id ID) *snowflake.ID {
	v := snowflake.ID(id)
	return &v
}
