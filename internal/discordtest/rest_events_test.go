package discordtest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/omit"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// restEvent holds the fields of the dispatches a test looks at.
type restEvent struct {
	GuildID discordtest.ID `json:"guild_id"`
	User    struct {
		ID discordtest.ID `json:"id"`
	} `json:"user"`
	ID         discordtest.ID   `json:"id"`
	ChannelID  discordtest.ID   `json:"channel_id"`
	Content    string           `json:"content"`
	Member     *json.RawMessage `json:"member"`
	ActionType int              `json:"action_type"`
	UserID     discordtest.ID   `json:"user_id"`
	TargetID   string           `json:"target_id"`
	Reason     string           `json:"reason"`
	Topic      string           `json:"topic"`
	Name       string           `json:"name"`
	Until      *time.Time       `json:"communication_disabled_until"`
}

// TestRESTCallsDispatchEvents: every mutating REST call emits the gateway events Discord
// sends for it, in order, with Discord's payload shapes, followed by the audit-log entry.
func TestRESTCallsDispatchEvents(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	c := disgoREST(t, s)
	gw, _ := connect(t, s, discordtest.IntentGuilds|discordtest.IntentGuildMembers|discordtest.IntentGuildModeration|
		discordtest.IntentGuildMessages|discordtest.IntentMessageContent|discordtest.IntentAutoModerationConfiguration)
	g := snow(w.guild)

	var ev restEvent
	read := func(event string) {
		t.Helper()
		ev = restEvent{}
		p := gw.dispatch(event)
		if err := json.Unmarshal(p.D, &ev); err != nil {
			t.Fatalf("%s: %v", event, err)
		}
	}
	audit := func(action int, target discordtest.ID, reason string) {
		t.Helper()
		read("GUILD_AUDIT_LOG_ENTRY_CREATE")
		if ev.GuildID != w.guild || ev.ActionType != action || ev.UserID != s.BotID() || ev.TargetID != target.String() || ev.Reason != reason {
			t.Fatalf("audit entry = %+v, want action %d on %s for %q", ev, action, target, reason)
		}
	}

	if err := c.AddBan(g, snow(w.member), 0, rest.WithReason("raid")); err != nil {
		t.Fatal(err)
	}
	read("GUILD_BAN_ADD")
	if ev.GuildID != w.guild || ev.User.ID != w.member {
		t.Fatalf("GUILD_BAN_ADD = %+v", ev)
	}
	read("GUILD_MEMBER_REMOVE")
	if ev.GuildID != w.guild || ev.User.ID != w.member {
		t.Fatalf("GUILD_MEMBER_REMOVE = %+v", ev)
	}
	audit(22, w.member, "raid")

	if err := c.DeleteBan(g, snow(w.member), rest.WithReason("appeal")); err != nil {
		t.Fatal(err)
	}
	read("GUILD_BAN_REMOVE")
	if ev.User.ID != w.member {
		t.Fatalf("GUILD_BAN_REMOVE = %+v", ev)
	}
	audit(23, w.member, "appeal")

	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if _, err := c.UpdateMember(g, snow(w.mod), discord.MemberUpdate{CommunicationDisabledUntil: omit.NewPtr(until)}, rest.WithReason("heated")); err != nil {
		t.Fatal(err)
	}
	read("GUILD_MEMBER_UPDATE")
	if ev.GuildID != w.guild || ev.User.ID != w.mod || ev.Until == nil || !ev.Until.Equal(until) {
		t.Fatalf("GUILD_MEMBER_UPDATE = %+v", ev)
	}
	audit(24, w.mod, "heated")

	msg, err := c.CreateMessage(snow(w.channel), discord.MessageCreate{Content: "Case #1: mod timed out"})
	if err != nil {
		t.Fatal(err)
	}
	read("MESSAGE_CREATE")
	if ev.GuildID != w.guild || ev.ChannelID != w.channel || ev.Content != "Case #1: mod timed out" || ev.Member == nil {
		t.Fatalf("MESSAGE_CREATE = %+v", ev)
	}
	if _, err := c.UpdateMessage(snow(w.channel), msg.ID, discord.MessageUpdate{Content: omit.Ptr("Case #1 (edited)")}); err != nil {
		t.Fatal(err)
	}
	read("MESSAGE_UPDATE")
	if ev.Content != "Case #1 (edited)" {
		t.Fatalf("MESSAGE_UPDATE = %+v", ev)
	}
	if err := c.DeleteMessage(snow(w.channel), msg.ID); err != nil {
		t.Fatal(err)
	}
	read("MESSAGE_DELETE")
	if ev.ID != discordtest.ID(msg.ID) || ev.ChannelID != w.channel || ev.GuildID != w.guild {
		t.Fatalf("MESSAGE_DELETE = %+v", ev)
	}

	if _, err := c.UpdateChannel(snow(w.channel), discord.GuildTextChannelUpdate{Topic: omit.Ptr("rules")}); err != nil {
		t.Fatal(err)
	}
	read("CHANNEL_UPDATE")
	if ev.ID != w.channel || ev.Topic != "rules" {
		t.Fatalf("CHANNEL_UPDATE = %+v", ev)
	}
	audit(11, w.channel, "")

	rule, err := c.CreateAutoModerationRule(g, discord.AutoModerationRuleCreate{Name: "spam",
		EventType: discord.AutoModerationEventTypeMessageSend, TriggerType: discord.AutoModerationTriggerTypeSpam,
		Actions: []discord.AutoModerationAction{{Type: discord.AutoModerationActionTypeBlockMessage}}})
	if err != nil {
		t.Fatal(err)
	}
	read("AUTO_MODERATION_RULE_CREATE")
	if ev.ID != discordtest.ID(rule.ID) || ev.GuildID != w.guild || ev.Name != "spam" {
		t.Fatalf("AUTO_MODERATION_RULE_CREATE = %+v", ev)
	}
	audit(140, discordtest.ID(rule.ID), "")

	// A moderator acting in Discord's client produces the same events in their name.
	if err := s.KickAs(w.guild, w.mod, w.owner, "coup"); err == nil {
		t.Fatal("a moderator kicked the owner")
	}
	gw.sync()
}
