package discordtest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/omit"
	"github.com/disgoorg/snowflake/v2"
)

// TestBanRespectsHierarchy: the bot cannot ban a member at or above its highest role nor the
// owner, can ban a member below it, and gets Discord's 404s for unbanning someone not banned
// and for kicking someone not in the guild.
func TestBanRespectsHierarchy(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false)
	c := f.client(t)
	g := sf(f.guild)

	wantCode(t, c.AddBan(g, sf(f.alice), 0), 403, 50013)
	wantCode(t, c.AddBan(g, sf(f.owner), 0), 403, 50013)
	if _, banned := f.s.Banned(f.guild, f.alice); banned {
		t.Fatal("alice was banned although she is above the bot")
	}
	if _, ok := f.s.Member(f.guild, f.alice); !ok {
		t.Fatal("a refused ban removed alice from the guild")
	}

	// A member whose highest role sits at the bot's own position is not below it either.
	peer := f.s.AddUser("peer", false)
	f.s.AddMember(f.guild, peer, f.botRole)
	wantCode(t, c.AddBan(g, sf(peer), 0), 403, 50013)

	if err := c.AddBan(g, sf(f.bob), 0, rest.WithReason("spam")); err != nil {
		t.Fatalf("ban bob: %v", err)
	}
	ban, ok := f.s.Banned(f.guild, f.bob)
	if !ok || ban.Reason == nil || *ban.Reason != "spam" {
		t.Fatalf("Banned(bob) = %+v, %v", ban, ok)
	}
	if _, ok := f.s.Member(f.guild, f.bob); ok {
		t.Fatal("bob is still a member after his ban")
	}
	// Banning someone already banned succeeds and changes nothing, as on Discord.
	if err := c.AddBan(g, sf(f.bob), 0); err != nil {
		t.Fatalf("second ban: %v", err)
	}
	// A user who is not a member can be banned (a hackban).
	if err := c.AddBan(g, sf(f.dave), 0); err != nil {
		t.Fatalf("hackban: %v", err)
	}

	wantCode(t, c.DeleteBan(g, sf(f.carol)), 404, 10026)
	wantCode(t, c.RemoveMember(g, sf(f.dave)), 404, 10007)
	wantCode(t, c.RemoveMember(g, sf(f.alice)), 403, 50013)
	if err := c.DeleteBan(g, sf(f.bob)); err != nil {
		t.Fatalf("unban bob: %v", err)
	}

	var bans int
	for _, e := range f.s.AuditLog(f.guild) {
		if e.ActionType == AuditMemberBanAdd {
			bans++
		}
	}
	if bans != 2 {
		t.Fatalf("audit log has %d ban entries, want 2 (bob, dave)", bans)
	}
}

// TestBanDeletesRecentMessages: delete_message_seconds removes the banned user's messages of
// that window and keeps older ones and other people's.
func TestBanDeletesRecentMessages(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false)
	c := f.client(t)
	now := time.Now()
	f.s.AddMessage(f.general, f.bob, "old", now.Add(-2*time.Hour))
	f.s.AddMessage(f.general, f.bob, "recent", now.Add(-10*time.Minute))
	f.s.AddMessage(f.general, f.carol, "carol's", now)
	if err := c.AddBan(sf(f.guild), sf(f.bob), time.Hour); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, m := range f.s.Messages(f.general) {
		left = append(left, m.Content)
	}
	if len(left) != 2 || left[0] != "old" || left[1] != "carol's" {
		t.Fatalf("messages left = %q, want [old carol's]", left)
	}
}

// TestAuditLogReasonArrivesDecoded: disgo URL-encodes X-Audit-Log-Reason; the fake stores it
// decoded, with a literal plus kept a plus.
func TestAuditLogReasonArrivesDecoded(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false)
	c := f.client(t)
	const reason = "spam & ads: ünïcode + plus"
	if err := c.AddBan(sf(f.guild), sf(f.bob), 0, rest.WithReason(reason)); err != nil {
		t.Fatal(err)
	}
	ban, _ := f.s.Banned(f.guild, f.bob)
	if ban.Reason == nil || *ban.Reason != reason {
		t.Fatalf("ban reason = %v, want %q", ban.Reason, reason)
	}
	log := f.s.AuditLog(f.guild)
	if len(log) != 1 || log[0].Reason != reason || log[0].UserID != f.s.BotID() || log[0].TargetID != f.bob {
		t.Fatalf("audit log = %+v", log)
	}
	got, err := c.GetAuditLog(sf(f.guild), 0, discord.AuditLogEventMemberBanAdd, 0, 0, 10)
	if err != nil || len(got.AuditLogEntries) != 1 || got.AuditLogEntries[0].Reason == nil || *got.AuditLogEntries[0].Reason != reason {
		t.Fatalf("GetAuditLog = %+v, %v", got, err)
	}
}

// TestTimeouts: timeouts need MODERATE_MEMBERS, may not reach past 28 days, cannot touch
// administrators or the owner, and take a timed-out member's permissions away.
func TestTimeouts(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false)
	c := f.client(t)
	g := sf(f.guild)
	admin := f.s.AddRole(f.guild, "admin", 1, PermAdministrator)
	adm := f.s.AddUser("adm", false)
	f.s.AddMember(f.guild, adm, admin)

	until := time.Now().Add(10 * time.Minute).UTC().Truncate(time.Second)
	m, err := c.UpdateMember(g, sf(f.bob), discord.MemberUpdate{CommunicationDisabledUntil: omit.NewPtr(until)}, rest.WithReason("calm down"))
	if err != nil {
		t.Fatal(err)
	}
	if m.CommunicationDisabledUntil == nil || !m.CommunicationDisabledUntil.Equal(until) {
		t.Fatalf("response says the timeout ends %v, want %v", m.CommunicationDisabledUntil, until)
	}
	stored, _ := f.s.Member(f.guild, f.bob)
	if stored.CommunicationDisabledUntil == nil || !stored.CommunicationDisabledUntil.Equal(until) {
		t.Fatalf("stored timeout = %v", stored.CommunicationDisabledUntil)
	}
	f.s.mu.Lock()
	gg := f.s.st.guilds[f.guild]
	p := channelPermissions(gg, gg.Channels[f.general], f.bob, time.Now())
	f.s.mu.Unlock()
	if p != PermViewChannel|PermReadMessageHistory {
		t.Fatalf("a timed-out member has %b in #general, want VIEW_CHANNEL|READ_MESSAGE_HISTORY", p)
	}

	_, err = c.UpdateMember(g, sf(f.carol), discord.MemberUpdate{CommunicationDisabledUntil: omit.NewPtr(time.Now().Add(29 * 24 * time.Hour))})
	wantCode(t, err, 400, 50035)
	_, err = c.UpdateMember(g, sf(adm), discord.MemberUpdate{CommunicationDisabledUntil: omit.NewPtr(until)})
	wantCode(t, err, 403, 50013)
	_, err = c.UpdateMember(g, sf(f.owner), discord.MemberUpdate{CommunicationDisabledUntil: omit.NewPtr(until)})
	wantCode(t, err, 403, 50013)

	if _, err := c.UpdateMember(g, sf(f.bob), discord.MemberUpdate{CommunicationDisabledUntil: omit.NewNilPtr[time.Time]()}); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.s.Member(f.guild, f.bob); m.CommunicationDisabledUntil != nil {
		t.Fatalf("timeout not lifted: %v", m.CommunicationDisabledUntil)
	}
	var entries []AuditLogEntry
	for _, e := range f.s.AuditLog(f.guild) {
		if e.ActionType == AuditMemberUpdate {
			entries = append(entries, e)
		}
	}
	if len(entries) != 2 || entries[0].Reason != "calm down" {
		t.Fatalf("MEMBER_UPDATE entries = %+v", entries)
	}
	var changes []auditChange
	if err := json.Unmarshal(entries[0].Changes, &changes); err != nil || len(changes) != 1 || changes[0].Key != "communication_disabled_until" {
		t.Fatalf("changes = %s", entries[0].Changes)
	}
}

// TestModeratorActionsAsAnotherUser: BanAs, KickAs, TimeoutAs and UnbanAs follow the
// moderator's permissions and hierarchy and leave audit entries in the moderator's name.
func TestModeratorActionsAsAnotherUser(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false)
	// alice (mod, position 4) may act on bob; bob may act on nobody.
	var apiE *apiError
	if err := f.s.BanAs(f.guild, f.bob, f.carol, "no"); !errors.As(err, &apiE) || apiE.Code != 50013 {
		t.Fatalf("bob banning = %v, want 50013", err)
	}
	if err := f.s.BanAs(f.guild, f.alice, f.owner, "coup"); !errors.As(err, &apiE) || apiE.Code != 50013 {
		t.Fatalf("banning the owner = %v, want 50013", err)
	}
	if err := f.s.BanAs(f.guild, f.alice, f.bob, "raid"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.UnbanAs(f.guild, f.alice, f.bob, "appeal"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.UnbanAs(f.guild, f.alice, f.bob, "again"); !errors.As(err, &apiE) || apiE.Code != codeUnknownBan {
		t.Fatalf("second unban = %v, want 10026", err)
	}
	until := time.Now().Add(time.Hour)
	if err := f.s.TimeoutAs(f.guild, f.alice, f.carol, until, "shouting"); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.s.Member(f.guild, f.carol); m.CommunicationDisabledUntil == nil {
		t.Fatal("TimeoutAs did not time carol out")
	}
	if err := f.s.KickAs(f.guild, f.alice, f.carol, "bye"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.KickAs(f.guild, f.alice, f.dave, "who"); !errors.As(err, &apiE) || apiE.Code != codeUnknownMember {
		t.Fatalf("kicking a non-member = %v, want 10007", err)
	}
	if err := f.s.KickAs(f.guild, f.dave, f.bob, "outsider"); err == nil {
		t.Fatal("a non-member moderated the guild")
	}
	var got []int
	for _, e := range f.s.AuditLog(f.guild) {
		if e.UserID != f.alice {
			t.Errorf("entry %d is in the name of %s, want alice", e.ActionType, e.UserID)
		}
		got = append(got, e.ActionType)
	}
	want := []int{AuditMemberBanAdd, AuditMemberBanRemove, AuditMemberUpdate, AuditMemberKick}
	if len(got) != len(want) {
		t.Fatalf("audit actions = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("audit actions = %v, want %v", got, want)
		}
	}
}

// TestRolesFollowHierarchy: the bot grants and removes only roles below its own, never
// managed ones, and a refused PATCH changes nothing.
func TestRolesFollowHierarchy(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false)
	c := f.client(t)
	g := sf(f.guild)
	wantCode(t, c.AddMemberRole(g, sf(f.carol), sf(f.mod)), 403, 50013)
	wantCode(t, c.AddMemberRole(g, sf(f.carol), sf(f.botRole)), 403, 50013)
	wantCode(t, c.AddMemberRole(g, sf(f.carol), sf(f.managed)), 400, codeInvalidRole)
	wantCode(t, c.AddMemberRole(g, sf(f.carol), 42), 404, codeUnknownRole)
	wantCode(t, c.AddMemberRole(g, sf(f.dave), sf(f.member)), 404, codeUnknownMember)
	// alice is above the bot, but a role below the bot can still be given to her.
	if err := c.AddMemberRole(g, sf(f.alice), sf(f.member)); err != nil {
		t.Fatal(err)
	}
	_, err := c.UpdateMember(g, sf(f.bob), discord.MemberUpdate{Nick: omit.Ptr("b"), Roles: &[]snowflake.ID{sf(f.member), sf(f.mod)}})
	wantCode(t, err, 403, 50013)
	if m, _ := f.s.Member(f.guild, f.bob); m.Nick != nil || len(m.Roles) != 1 {
		t.Fatalf("a refused PATCH changed bob: %+v", m)
	}
	if _, err := c.UpdateMember(g, sf(f.bob), discord.MemberUpdate{Roles: &[]snowflake.ID{}}); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.s.Member(f.guild, f.bob); len(m.Roles) != 0 {
		t.Fatalf("bob kept roles %v", m.Roles)
	}
	log := f.s.AuditLog(f.guild)
	if len(log) != 2 || log[1].ActionType != AuditMemberRoleUpdate {
		t.Fatalf("audit log = %+v", log)
	}
	var changes []auditChange
	_ = json.Unmarshal(log[1].Changes, &changes)
	if len(changes) != 1 || changes[0].Key != "$remove" {
		t.Fatalf("changes = %s", log[1].Changes)
	}
}

// TestMessages: sending needs SEND_MESSAGES, DMs to a user who closed them fail with 50007,
// only the bot's own messages can be edited, others' need MANAGE_MESSAGES to delete, and
// bulk delete refuses messages older than two weeks.
func TestMessages(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false)
	c := f.client(t)
	muted := f.s.AddChannel(f.guild, ChannelGuildText, "announcements",
		Overwrite{ID: f.botRole, Type: 0, Deny: PermSendMessages})
	_, err := c.CreateMessage(sf(muted), discord.MessageCreate{Content: "hi"})
	wantCode(t, err, 403, 50013)
	_, err = c.CreateMessage(sf(f.cat), discord.MessageCreate{Content: "hi"})
	wantCode(t, err, 400, codeNonTextChannel)

	dm, err := c.CreateDMChannel(sf(f.carol))
	if err != nil {
		t.Fatal(err)
	}
	f.s.SetDMsClosed(f.carol, true)
	_, err = c.CreateMessage(dm.ID(), discord.MessageCreate{Content: "You were banned."})
	wantCode(t, err, 403, codeCannotSendToUser)
	f.s.SetDMsClosed(f.carol, false)
	if _, err := c.CreateMessage(dm.ID(), discord.MessageCreate{Content: "You were warned."}); err != nil {
		t.Fatal(err)
	}
	// A user who shares no server with the bot gets no DM, as on Discord.
	stranger := f.s.AddUser("stranger", false)
	sdm, err := c.CreateDMChannel(sf(stranger))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateMessage(sdm.ID(), discord.MessageCreate{Content: "You were banned."})
	wantCode(t, err, 403, codeCannotSendToUser)
	if id, ok := f.s.DMChannel(f.carol); !ok || snowflake.ID(id) != dm.ID() {
		t.Fatalf("DMChannel(carol) = %v, %v", id, ok)
	}
	if ms := f.s.Messages(ID(dm.ID())); len(ms) != 1 || ms[0].Content != "You were warned." || ms[0].AuthorID != f.s.BotID() {
		t.Fatalf("DM messages = %+v", ms)
	}

	mine, err := c.CreateMessage(sf(f.general), discord.MessageCreate{Content: "@everyone look",
		AllowedMentions: &discord.AllowedMentions{Parse: []discord.AllowedMentionType{}}})
	if err != nil {
		t.Fatal(err)
	}
	var am struct{ Parse []string }
	if ms := f.s.Messages(f.general); len(ms) != 1 || json.Unmarshal(ms[0].AllowedMentions, &am) != nil || am.Parse == nil || len(am.Parse) != 0 {
		t.Fatalf("stored allowed_mentions = %s, want them as sent (parse nothing)", ms[0].AllowedMentions)
	}
	// With a file, disgo sends multipart/form-data and the message in payload_json.
	if _, err := c.CreateMessage(sf(f.general), discord.MessageCreate{Content: "evidence",
		Files: []*discord.File{discord.NewFile("log.txt", "", strings.NewReader("spam spam"))}}); err != nil {
		t.Fatalf("CreateMessage with a file: %v", err)
	}
	if ms := f.s.Messages(f.general); len(ms) != 2 || ms[1].Content != "evidence" {
		t.Fatalf("messages = %+v", ms)
	}
	bobs := f.s.AddMessage(f.general, f.bob, "bob's", time.Now())
	_, err = c.UpdateMessage(sf(f.general), sf(bobs), discord.MessageUpdate{Content: omit.Ptr("x")})
	wantCode(t, err, 403, codeCannotEditOthers)
	if err := c.DeleteMessage(sf(f.general), sf(bobs), rest.WithReason("off topic")); err != nil {
		t.Fatal(err)
	}
	log := f.s.AuditLog(f.guild)
	if len(log) != 1 || log[0].ActionType != AuditMessageDelete || log[0].TargetID != f.bob || log[0].Reason != "off topic" {
		t.Fatalf("audit log = %+v", log)
	}
	if err := c.DeleteMessage(sf(f.general), mine.ID); err != nil {
		t.Fatal(err)
	}
	if len(f.s.AuditLog(f.guild)) != 1 {
		t.Fatal("deleting its own message left an audit entry")
	}

	old := f.s.AddMessage(f.general, f.bob, "old", time.Now().Add(-15*24*time.Hour))
	recent := f.s.AddMessage(f.general, f.bob, "recent", time.Now())
	wantCode(t, c.BulkDeleteMessages(sf(f.general), []snowflake.ID{sf(old), sf(recent)}), 400, codeMessageTooOld)
	if len(f.s.Messages(f.general)) != 3 {
		t.Fatal("a refused bulk delete deleted messages")
	}

	// Pagination: newest first, before and after exclusive.
	var ids []ID
	for i := 0; i < 5; i++ {
		ids = append(ids, f.s.AddMessage(f.general, f.carol, "m", time.Now()))
	}
	page, err := c.GetMessages(sf(f.general), 0, sf(ids[3]), 0, 2)
	if err != nil || len(page) != 2 || page[0].ID != sf(ids[2]) || page[1].ID != sf(ids[1]) {
		t.Fatalf("before page = %v, %v", page, err)
	}
	page, err = c.GetMessages(sf(f.general), 0, 0, sf(ids[1]), 2)
	if err != nil || len(page) != 2 || page[0].ID != sf(ids[3]) || page[1].ID != sf(ids[2]) {
		t.Fatalf("after page = %v, %v", page, err)
	}
}

// TestCommandIDsStayStable: overwriting commands keeps the id of a command that keeps its
// name and bumps its version only when it changed; dropped commands disappear.
func TestCommandIDsStayStable(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false)
	c := f.client(t)
	app := sf(f.s.appID)
	first, err := c.SetGuildCommands(app, sf(f.guild), []discord.ApplicationCommandCreate{
		discord.SlashCommandCreate{Name: "ban", Description: "Ban"},
		discord.SlashCommandCreate{Name: "kick", Description: "Kick"},
	})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.SetGuildCommands(app, sf(f.guild), []discord.ApplicationCommandCreate{
		discord.SlashCommandCreate{Name: "ban", Description: "Ban a member"},
		discord.SlashCommandCreate{Name: "warn", Description: "Warn"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if second[0].ID() != first[0].ID() || second[0].Version() == first[0].Version() {
		t.Fatalf("ban: first %v v%v, then %v v%v; want the same id and a new version",
			first[0].ID(), first[0].Version(), second[0].ID(), second[0].Version())
	}
	stored := f.s.Commands(f.guild)
	if len(stored) != 2 || stored[0].Name != "ban" || stored[1].Name != "warn" {
		t.Fatalf("stored commands = %+v", stored)
	}
	if len(f.s.Commands(0)) != 0 {
		t.Fatal("guild commands leaked into the global ones")
	}
	third, err := c.SetGuildCommands(app, sf(f.guild), []discord.ApplicationCommandCreate{
		discord.SlashCommandCreate{Name: "ban", Description: "Ban a member"},
	})
	if err != nil || third[0].Version() != second[0].Version() {
		t.Fatalf("unchanged command got version %v, want %v (%v)", third[0].Version(), second[0].Version(), err)
	}
}

// TestAutoModRules: Discord's rules for rules: one spam rule per guild, the trigger type is
// fixed once created, alert channels must exist, and the fake stores only the metadata that
// fits the trigger.
func TestAutoModRules(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false)
	c := f.client(t)
	g := sf(f.guild)
	spam := discord.AutoModerationRuleCreate{Name: "spam", EventType: discord.AutoModerationEventTypeMessageSend,
		TriggerType: discord.AutoModerationTriggerTypeSpam,
		Actions:     []discord.AutoModerationAction{{Type: discord.AutoModerationActionTypeBlockMessage}}}
	rule, err := c.CreateAutoModerationRule(g, spam)
	if err != nil {
		t.Fatal(err)
	}
	if rule.Enabled {
		t.Fatal("a rule created without enabled is enabled; Discord defaults to false")
	}
	_, err = c.CreateAutoModerationRule(g, spam)
	wantCode(t, err, 400, 50035)

	mention := discord.AutoModerationRuleCreate{Name: "mentions", EventType: discord.AutoModerationEventTypeMessageSend,
		TriggerType:     discord.AutoModerationTriggerTypeMentionSpam,
		TriggerMetadata: &discord.AutoModerationTriggerMetadata{MentionTotalLimit: 5, KeywordFilter: []string{"ignored"}},
		Actions: []discord.AutoModerationAction{{Type: discord.AutoModerationActionTypeSendAlertMessage,
			Metadata: &discord.AutoModerationActionMetadata{ChannelID: 42}}}}
	_, err = c.CreateAutoModerationRule(g, mention)
	wantCode(t, err, 400, 50035)
	mention.Actions[0].Metadata.ChannelID = sf(f.general)
	created, err := c.CreateAutoModerationRule(g, mention)
	if err != nil {
		t.Fatal(err)
	}
	rules := f.s.AutoModRules(f.guild)
	if len(rules) != 2 || string(rules[1].TriggerMetadata) != `{"mention_raid_protection_enabled":false,"mention_total_limit":5}` {
		t.Fatalf("stored metadata = %s", rules[1].TriggerMetadata)
	}
	if _, err := c.UpdateAutoModerationRule(g, created.ID, discord.AutoModerationRuleUpdate{Enabled: omit.Ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteAutoModerationRule(g, rule.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetAutoModerationRule(g, rule.ID)
	wantCode(t, err, 404, codeUnknownAutoModRule)
	var actions []int
	for _, e := range f.s.AuditLog(f.guild) {
		actions = append(actions, e.ActionType)
	}
	if len(actions) != 4 || actions[0] != AuditAutoModRuleCreate || actions[2] != AuditAutoModRuleUpdate || actions[3] != AuditAutoModRuleDelete {
		t.Fatalf("audit actions = %v", actions)
	}
}
