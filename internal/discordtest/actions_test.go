package discordtest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/gateway"

	"github.com/gavelbot/gavel/internal/discordtest"
)

func TestSendMessagePayload(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	c, _ := connect(t, s, intentsAll)

	outsider := s.AddUser("outsider", false)
	text := "hey <@" + w.mod.String() + "> and <@&" + w.guild.String() + "> and <@" + outsider.String() + ">"
	m := s.SendMessage(w.channel, w.member, text)
	p := c.dispatch("MESSAGE_CREATE")
	var ev gateway.EventMessageCreate
	if err := json.Unmarshal(p.D, &ev); err != nil {
		t.Fatalf("disgo cannot decode MESSAGE_CREATE: %v", err)
	}
	if ev.ID != snow(m.ID) || ev.Content != text || ev.Author.ID != snow(w.member) || ev.GuildID == nil || *ev.GuildID != snow(w.guild) ||
		ev.Member == nil || ev.ChannelID != snow(w.channel) {
		t.Errorf("MESSAGE_CREATE decoded as %+v", ev.Message)
	}
	if len(ev.Mentions) != 2 || ev.Mentions[0].ID != snow(w.mod) || ev.Mentions[1].ID != snow(outsider) {
		t.Errorf("mentions = %+v", ev.Mentions)
	}
	// A mentioned member comes with their partial member (no user), a user who is not a
	// member of the guild without one.
	var raw struct {
		Mentions []struct {
			Member map[string]json.RawMessage `json:"member"`
		} `json:"mentions"`
		MentionRoles []discordtest.ID `json:"mention_roles"`
		ChannelType  *int             `json:"channel_type"`
	}
	if err := json.Unmarshal(p.D, &raw); err != nil || len(raw.Mentions) != 2 || raw.Mentions[0].Member == nil || raw.Mentions[0].Member["roles"] == nil ||
		raw.Mentions[0].Member["user"] != nil || raw.Mentions[1].Member != nil || len(raw.MentionRoles) != 1 ||
		raw.ChannelType == nil || *raw.ChannelType != 0 {
		t.Errorf("MESSAGE_CREATE extras = %s", p.D)
	}
	if msgs := s.Messages(w.channel); len(msgs) != 1 || msgs[0].Content != text || msgs[0].AuthorID != w.member {
		t.Errorf("stored messages = %+v", msgs)
	}

	// A DM: no guild_id, no member; DIRECT_MESSAGES.
	s.SendMessage(s.OpenDM(w.member), w.member, "appeal")
	var dm map[string]json.RawMessage
	if err := json.Unmarshal(c.dispatch("MESSAGE_CREATE").D, &dm); err != nil {
		t.Fatal(err)
	}
	if _, ok := dm["guild_id"]; ok {
		t.Errorf("DM MESSAGE_CREATE has guild_id %s", dm["guild_id"])
	}
	if _, ok := dm["member"]; ok {
		t.Errorf("DM MESSAGE_CREATE has member %s", dm["member"])
	}
}

func TestTrySendMessageRefusals(t *testing.T) {
	t.Parallel()
	clock := newStepClock()
	s := newFake(t, discordtest.WithClock(clock.Now))
	w := newWorld(s)
	if err := s.TimeoutAs(w.guild, w.mod, w.member, clock.Now().Add(time.Hour), "cool down"); err != nil {
		t.Fatalf("TimeoutAs: %v", err)
	}
	if _, err := s.TrySendMessage(w.channel, w.member, "let me talk"); err == nil || !strings.Contains(err.Error(), "50013") {
		t.Errorf("timed-out member sending: %v, want 50013", err)
	}
	clock.Advance(2 * time.Hour)
	if _, err := s.TrySendMessage(w.channel, w.member, "back"); err != nil {
		t.Errorf("after the timeout: %v", err)
	}
	outsider := s.AddUser("outsider", false)
	if _, err := s.TrySendMessage(w.channel, outsider, "hi"); err == nil || !strings.Contains(err.Error(), "50001") {
		t.Errorf("non-member sending: %v, want 50001", err)
	}
	locked := s.AddChannel(w.guild, discordtest.ChannelGuildText, "read-only",
		discordtest.Overwrite{ID: w.guild, Type: 0, Deny: discordtest.PermSendMessages})
	if _, err := s.TrySendMessage(locked, w.member, "hi"); err == nil {
		t.Error("sending where @everyone may not: no error")
	}
	if _, err := s.TrySendMessage(w.channel, w.member, ""); err == nil || !strings.Contains(err.Error(), "50006") {
		t.Errorf("empty message: %v, want 50006", err)
	}
}

func TestUserJoinsAndLeaves(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	c, _ := connect(t, s, discordtest.IntentGuildMembers)
	u := s.AddUser("joiner", false)
	if err := s.UserJoins(w.guild, u); err != nil {
		t.Fatal(err)
	}
	var add gateway.EventGuildMemberAdd
	if err := json.Unmarshal(c.dispatch("GUILD_MEMBER_ADD").D, &add); err != nil {
		t.Fatalf("disgo cannot decode GUILD_MEMBER_ADD: %v", err)
	}
	if add.GuildID != snow(w.guild) || add.User.ID != snow(u) {
		t.Errorf("GUILD_MEMBER_ADD = %+v", add.Member)
	}
	if _, ok := s.Member(w.guild, u); !ok {
		t.Error("joined user is not a member")
	}

	s.UserLeaves(w.guild, u)
	var rm gateway.EventGuildMemberRemove
	if err := json.Unmarshal(c.dispatch("GUILD_MEMBER_REMOVE").D, &rm); err != nil || rm.GuildID != snow(w.guild) || rm.User.ID != snow(u) {
		t.Errorf("GUILD_MEMBER_REMOVE = %+v, %v", rm, err)
	}
	if _, ok := s.Member(w.guild, u); ok {
		t.Error("user is still a member after leaving")
	}
	s.UserLeaves(w.guild, u) // not a member: nothing happens
	c.sync()

	// A banned user cannot join.
	if err := s.BanAs(w.guild, w.mod, u, "raid"); err != nil {
		t.Fatal(err)
	}
	if err := s.UserJoins(w.guild, u); err == nil || !strings.Contains(err.Error(), "40007") {
		t.Errorf("banned user joining: %v, want 40007", err)
	}
}

func TestAutoModExecutionPayload(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	withContent, _ := connect(t, s, discordtest.IntentAutoModerationExecution|discordtest.IntentMessageContent)
	without, _ := connect(t, s, discordtest.IntentAutoModerationExecution)

	kw, matched := "free nitro*", "free nitro"
	exec := discordtest.AutoModExecution{
		GuildID: w.guild, RuleID: 991, RuleTriggerType: 1, UserID: w.member, ChannelID: w.channel,
		Action:  discordtest.AutoModAction{Type: 1, Metadata: map[string]any{"custom_message": "no scams"}},
		Content: "get free nitro here", MatchedKeyword: &kw, MatchedContent: &matched,
	}
	s.AutoModExecution(exec)

	var full map[string]json.RawMessage
	if err := json.Unmarshal(withContent.dispatch("AUTO_MODERATION_ACTION_EXECUTION").D, &full); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"guild_id": `"` + w.guild.String() + `"`, "rule_id": `"991"`, "rule_trigger_type": `1`,
		"user_id": `"` + w.member.String() + `"`, "channel_id": `"` + w.channel.String() + `"`,
		"content": `"get free nitro here"`, "matched_keyword": `"free nitro*"`, "matched_content": `"free nitro"`,
		"action": `{"metadata":{"custom_message":"no scams"},"type":1}`,
	}
	for k, v := range want {
		if string(full[k]) != v {
			t.Errorf("%s = %s, want %s", k, full[k], v)
		}
	}
	for _, k := range []string{"matched_keywords", "message_id", "alert_system_message_id"} {
		if _, ok := full[k]; ok {
			t.Errorf("payload has %q: %s", k, full[k])
		}
	}

	// Without MESSAGE_CONTENT: content and matched_content are empty; the keyword stays.
	var blank map[string]json.RawMessage
	if err := json.Unmarshal(without.dispatch("AUTO_MODERATION_ACTION_EXECUTION").D, &blank); err != nil {
		t.Fatal(err)
	}
	if string(blank["content"]) != `""` || string(blank["matched_content"]) != `""` || string(blank["matched_keyword"]) != `"free nitro*"` {
		t.Errorf("without MESSAGE_CONTENT: content %s matched_content %s matched_keyword %s",
			blank["content"], blank["matched_content"], blank["matched_keyword"])
	}

	// disgo reads the event too (except matched_keyword, its known bug).
	var ev gateway.EventAutoModerationActionExecution
	exec.MessageID, exec.Action = 77, discordtest.AutoModAction{Type: 3, Metadata: map[string]any{"duration_seconds": 60}}
	s.AutoModExecution(exec)
	if err := json.Unmarshal(withContent.dispatch("AUTO_MODERATION_ACTION_EXECUTION").D, &ev); err != nil {
		t.Fatalf("disgo cannot decode: %v", err)
	}
	if ev.Action.Type != discord.AutoModerationActionTypeTimeout || ev.Action.Metadata == nil || ev.Action.Metadata.DurationSeconds != 60 ||
		ev.MessageID == nil || *ev.MessageID != 77 || ev.UserID != snow(w.member) {
		t.Errorf("disgo decoded %+v", ev)
	}
	without.dispatch("AUTO_MODERATION_ACTION_EXECUTION")
}

func TestPermissionGatedEvents(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	owner := s.AddUser("owner", false)
	u := s.AddUser("user", false)
	g := s.AddGuild("plain", owner) // the bot has @everyone's permissions only
	s.AddMember(g, u)
	c, _ := connect(t, s, discordtest.IntentAutoModerationExecution|discordtest.IntentGuildModeration)

	// AutoMod events need MANAGE_GUILD, audit-log events VIEW_AUDIT_LOG.
	s.AutoModExecution(discordtest.AutoModExecution{GuildID: g, RuleID: 1, RuleTriggerType: 1, UserID: u, Action: discordtest.AutoModAction{Type: 1}})
	stored := s.EmitAuditLogEntry(g, discordtest.AuditLogEntry{ActionType: discordtest.AuditMemberKick, UserID: owner, TargetID: u})
	c.sync()
	if log := s.AuditLog(g); len(log) != 1 || log[0].ID != stored.ID || stored.ID == 0 {
		t.Errorf("audit log = %+v (stored %+v)", log, stored)
	}

	role := s.AddRole(g, "bot", 1, discordtest.PermManageGuild|discordtest.PermViewAuditLog)
	s.AddMember(g, s.BotID(), role)
	s.AutoModExecution(discordtest.AutoModExecution{GuildID: g, RuleID: 1, RuleTriggerType: 1, UserID: u, Action: discordtest.AutoModAction{Type: 1}})
	c.dispatch("AUTO_MODERATION_ACTION_EXECUTION")
	s.EmitAuditLogEntry(g, discordtest.AuditLogEntry{ActionType: discordtest.AuditMemberKick, UserID: owner, TargetID: u, Reason: "spam"})
	var entry struct {
		GuildID    discordtest.ID `json:"guild_id"`
		ActionType int            `json:"action_type"`
		TargetID   discordtest.ID `json:"target_id"`
		Reason     string         `json:"reason"`
	}
	if err := json.Unmarshal(c.dispatch("GUILD_AUDIT_LOG_ENTRY_CREATE").D, &entry); err != nil || entry.GuildID != g ||
		entry.ActionType != discordtest.AuditMemberKick || entry.TargetID != u || entry.Reason != "spam" {
		t.Errorf("GUILD_AUDIT_LOG_ENTRY_CREATE = %+v, %v", entry, err)
	}
}

// TestMessageChanged: the waiter wakes on a post and on an edit, and not before.
func TestMessageChanged(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	changed := s.MessageChanged()
	posted := s.MessagePosted()
	m := s.SendMessage(w.channel, w.member, "first")
	select {
	case <-changed:
	default:
		t.Fatal("MessageChanged not closed by a post")
	}
	<-posted
	changed, posted = s.MessageChanged(), s.MessagePosted()
	select {
	case <-changed:
		t.Fatal("MessageChanged closed with nothing changed")
	default:
	}
	if _, err := s.EditMessageAs(w.channel, m.ID, "edited"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("MessageChanged not closed by an edit")
	}
	select {
	case <-posted:
		t.Fatal("MessagePosted closed by an edit")
	default:
	}
}
