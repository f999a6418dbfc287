package disgoport_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
)

func TestAutoModRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	body := json.RawMessage(`{"name":"no links","event_type":1,"trigger_type":1,
		"trigger_metadata":{"keyword_filter":["http*"],"allow_list":["https://example.com*"]},
		"actions":[{"type":1,"metadata":{"custom_message":"No links"}}],"enabled":true}`)
	created, err := f.port.CreateAutoModRule(ctx, discord.GuildID(f.guild), body, "config sync")
	if err != nil {
		t.Fatalf("CreateAutoModRule: %v", err)
	}
	var rule struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
	}
	if err := json.Unmarshal(created, &rule); err != nil || rule.Name != "no links" || !rule.Enabled {
		t.Fatalf("created rule = %s, %v", created, err)
	}
	stored := f.s.AutoModRules(f.guild)
	if len(stored) != 1 || stored[0].ID.String() != rule.ID || stored[0].TriggerType != 1 {
		t.Fatalf("fake's rules = %+v", stored)
	}
	sameJSON(t, "stored trigger metadata", stored[0].TriggerMetadata, `{"keyword_filter":["http*"],"regex_patterns":[],"allow_list":["https://example.com*"]}`)
	if e := f.lastAudit(t, discordtest.AuditAutoModRuleCreate); e.Reason != "config sync" {
		t.Errorf("create audit reason = %q", e.Reason)
	}
	ruleID := id(stored[0].ID)

	list, err := f.port.AutoModRules(ctx, discord.GuildID(f.guild))
	if err != nil || len(list) != 1 {
		t.Fatalf("AutoModRules = %d, %v", len(list), err)
	}
	one, err := f.port.AutoModRule(ctx, discord.GuildID(f.guild), ruleID)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "get equals list", one, string(list[0]))

	changed, err := f.port.ModifyAutoModRule(ctx, discord.GuildID(f.guild), ruleID, json.RawMessage(`{"enabled":false}`), "paused")
	if err != nil {
		t.Fatalf("ModifyAutoModRule: %v", err)
	}
	if err := json.Unmarshal(changed, &rule); err != nil || rule.Enabled {
		t.Errorf("modified rule = %s", changed)
	}
	if r := f.s.AutoModRules(f.guild); r[0].Enabled {
		t.Error("the fake's rule is still enabled")
	}
	if e := f.lastAudit(t, discordtest.AuditAutoModRuleUpdate); e.Reason != "paused" {
		t.Errorf("modify audit reason = %q", e.Reason)
	}
	_, err = f.port.ModifyAutoModRule(ctx, discord.GuildID(f.guild), ruleID, json.RawMessage(`{"trigger_type":3}`), "")
	de := wantDiscordError(t, "changing the trigger type", err, 400, discord.CodeInvalidFormBody)
	if de.Message == "Invalid Form Body" {
		t.Errorf("50035 message %q does not say which field", de.Message)
	}

	if err := f.port.DeleteAutoModRule(ctx, discord.GuildID(f.guild), ruleID, "retired"); err != nil {
		t.Fatalf("DeleteAutoModRule: %v", err)
	}
	if r := f.s.AutoModRules(f.guild); len(r) != 0 {
		t.Errorf("rules after delete = %+v", r)
	}
	if e := f.lastAudit(t, discordtest.AuditAutoModRuleDelete); e.Reason != "retired" {
		t.Errorf("delete audit reason = %q", e.Reason)
	}
	_, err = f.port.AutoModRule(ctx, discord.GuildID(f.guild), ruleID)
	wantDiscordError(t, "a deleted rule", err, 404, 10066)
	if _, err := f.port.CreateAutoModRule(ctx, discord.GuildID(f.guild), json.RawMessage(`{"name":`), ""); err == nil || discord.AsError(err) != nil {
		t.Errorf("invalid JSON: err = %v; want a plain error before any request", err)
	}
}

func TestRegisterCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	cmds := json.RawMessage(`[
		{"name":"ban","description":"Ban a user","type":1,"options":[{"type":6,"name":"user","description":"Who","required":true}]},
		{"name":"kick","description":"Kick a member","type":1}]`)
	got, err := f.port.RegisterCommands(ctx, discord.GuildID(f.guild), cmds)
	if err != nil {
		t.Fatalf("RegisterCommands(guild): %v", err)
	}
	stored := f.s.Commands(f.guild)
	if len(got) != 2 || len(stored) != 2 {
		t.Fatalf("registered %+v; the fake holds %+v", got, stored)
	}
	for _, c := range got {
		i := slices.IndexFunc(stored, func(s discordtest.Command) bool { return id(s.ID) == c.ID })
		if i < 0 || stored[i].Name != c.Name || c.Type != 1 {
			t.Errorf("registered %+v is not in the fake as such", c)
		}
	}
	if _, err := f.port.RegisterCommands(ctx, 0, json.RawMessage(`[{"name":"case","description":"Show a case"}]`)); err != nil {
		t.Fatalf("RegisterCommands(global): %v", err)
	}
	if g := f.s.Commands(0); len(g) != 1 || g[0].Name != "case" {
		t.Errorf("global commands = %+v", g)
	}
	_, err = f.port.RegisterCommands(ctx, discord.GuildID(f.guild), json.RawMessage(`[{"name":"Bad Name","description":"x"}]`))
	wantDiscordError(t, "an invalid command name", err, 400, discord.CodeInvalidFormBody)
}

func TestInteractionResponses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)

	// Deferred and ephemeral, then filled in, then a public follow-up.
	ia := f.s.SlashCommand(f.guild, f.general, f.alice, "ban", discordtest.UserOpt("user", f.bob))
	if err := f.port.Respond(ctx, id(ia.ID), ia.Token, discord.Response{Type: discord.RespondDeferred,
		Message: discord.Message{Flags: discord.FlagEphemeral}}); err != nil {
		t.Fatalf("Respond(deferred): %v", err)
	}
	if err := f.port.EditOriginal(ctx, ia.Token, discord.Message{Content: "Banned bob: " + pings,
		Embeds: []discord.Embed{{Title: "Case #1"}}}); err != nil {
		t.Fatalf("EditOriginal: %v", err)
	}
	fid, err := f.port.Followup(ctx, ia.Token, discord.Message{Content: "Also: " + pings})
	if err != nil {
		t.Fatalf("Followup: %v", err)
	}
	rs := ia.Responses()
	if len(rs) != 2 {
		t.Fatalf("responses = %+v", rs)
	}
	if rs[0].Content != "Banned bob: "+pings || rs[0].Flags&discordtest.MessageFlagEphemeral == 0 ||
		rs[0].Flags&discordtest.MessageFlagLoading != 0 || len(rs[0].Embeds) != 1 {
		t.Errorf("original = %+v", rs[0])
	}
	if discord.MessageID(rs[1].ID) != fid || rs[1].Content != "Also: "+pings || rs[1].Flags&discordtest.MessageFlagEphemeral != 0 {
		t.Errorf("follow-up = %+v (id %d)", rs[1], fid)
	}
	for _, r := range rs {
		sameJSON(t, "response allowed_mentions", r.AllowedMentions, `{"parse":[]}`)
	}

	// A message at once, with a button; the click updates that message.
	ia = f.s.SlashCommand(f.guild, f.general, f.alice, "cases")
	buttons := json.RawMessage(`[{"type":1,"components":[{"type":2,"style":1,"label":"Next","custom_id":"page:2"}]}]`)
	if err := f.port.Respond(ctx, id(ia.ID), ia.Token, discord.Response{Type: discord.RespondMessage,
		Message: discord.Message{Content: "Page 1 " + pings, Components: buttons}}); err != nil {
		t.Fatalf("Respond(message): %v", err)
	}
	rs = ia.Responses()
	if len(rs) != 1 || rs[0].Content != "Page 1 "+pings || len(rs[0].Components) != 1 {
		t.Fatalf("message response = %+v", rs)
	}
	sameJSON(t, "message response allowed_mentions", rs[0].AllowedMentions, `{"parse":[]}`)
	click := f.s.ClickButton(f.guild, f.general, f.alice, rs[0].ID, "page:2")
	if err := f.port.Respond(ctx, id(click.ID), click.Token, discord.Response{Type: discord.RespondUpdate,
		Message: discord.Message{Content: "Page 2"}}); err != nil {
		t.Fatalf("Respond(update): %v", err)
	}
	if rs := click.Responses(); len(rs) != 1 || rs[0].Content != "Page 2" || len(rs[0].Components) != 0 || rs[0].ID != ia.Responses()[0].ID {
		t.Errorf("after the update = %+v", rs)
	}
	again := f.s.SlashCommand(f.guild, f.general, f.alice, "cases")
	if err := f.port.Respond(ctx, id(again.ID), again.Token, discord.Response{Type: discord.RespondMessage,
		Message: discord.Message{Content: "x", Components: buttons}}); err != nil {
		t.Fatal(err)
	}
	click = f.s.ClickButton(f.guild, f.general, f.alice, again.Responses()[0].ID, "page:2")
	if err := f.port.Respond(ctx, id(click.ID), click.Token, discord.Response{Type: discord.RespondDeferredUpdate}); err != nil {
		t.Fatalf("Respond(deferred update): %v", err)
	}
	if !click.Acknowledged() {
		t.Error("the deferred update did not acknowledge the click")
	}

}

func TestSecondInteractionResponseIsRefused(t *testing.T) {
	t.Parallel()
	var reports []string
	f := newFixture(t, []discordtest.Option{discordtest.WithReporter(func(format string, args ...any) {
		reports = append(reports, format)
	})})
	ctx := ctxFor(t)
	ia := f.s.SlashCommand(f.guild, f.general, f.alice, "ban")
	msg := discord.Response{Type: discord.RespondMessage, Message: discord.Message{Content: "done"}}
	if err := f.port.Respond(ctx, id(ia.ID), ia.Token, msg); err != nil {
		t.Fatal(err)
	}
	err := f.port.Respond(ctx, id(ia.ID), ia.Token, msg)
	wantDiscordError(t, "a second response", err, 400, 40060)
	if len(reports) != 1 {
		t.Errorf("fake reported %q; want the one double acknowledgement", reports)
	}
	if err := f.port.Respond(ctx, id(ia.ID), ia.Token, discord.Response{Type: 9}); err == nil || discord.AsError(err) != nil {
		t.Errorf("an unsupported response type: err = %v; want a plain error before any request", err)
	}
}

func TestAutocompleteResponse(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	ia := f.s.Autocomplete(f.guild, f.general, f.alice, "automod",
		discordtest.SubCommand("show", discordtest.Focused(discordtest.StringOpt("rule", "sp"))))
	if err := f.port.Respond(ctx, id(ia.ID), ia.Token, discord.Response{Type: discord.RespondAutocomplete,
		Choices: []discord.Choice{{Name: "spam links", Value: "spam links"}, {Name: "slurs (id 7)", Value: "7"}}}); err != nil {
		t.Fatalf("Respond(autocomplete): %v", err)
	}
	typ, data, ok := f.s.Callback(ia.ID)
	if !ok || typ != discordtest.CallbackAutocompleteResult {
		t.Fatalf("callback = %d, %v", typ, ok)
	}
	sameJSON(t, "autocomplete choices", data, `{"choices":[{"name":"spam links","value":"spam links"},{"name":"slurs (id 7)","value":"7"}]}`)

	// More than Discord takes is refused before any request.
	other := f.s.Autocomplete(f.guild, f.general, f.alice, "automod",
		discordtest.SubCommand("show", discordtest.Focused(discordtest.StringOpt("rule", ""))))
	err := f.port.Respond(ctx, id(other.ID), other.Token, discord.Response{Type: discord.RespondAutocomplete,
		Choices: make([]discord.Choice, discord.MaxChoices+1)})
	if err == nil || discord.AsError(err) != nil {
		t.Errorf("26 choices: err = %v; want a plain error before any request", err)
	}
	if other.Acknowledged() {
		t.Error("26 choices acknowledged the interaction")
	}
}

// TestOverlongMessagesAreCut: whatever gavel builds leaves the adapter within Discord's
// limits, so the fake (which refuses what Discord refuses) accepts a reply that quotes a
// 5,000-character word, in a channel, in an interaction's answer and in an edit.
func TestOverlongMessagesAreCut(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	word := strings.Repeat("w", 5000)
	huge := discord.Message{Content: "❌ " + word + " is not a user",
		Embeds: []discord.Embed{{Title: word, Description: word, Fields: []discord.EmbedField{{Name: word, Value: word}},
			Footer: &discord.EmbedFooter{Text: word}, Author: &discord.EmbedAuthor{Name: word}}}}

	mid, err := f.port.SendMessage(ctx, discord.ChannelID(f.general), huge)
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	msgs := f.s.Messages(f.general)
	if len(msgs) != 1 || discord.MessageID(msgs[0].ID) != mid || utf8.RuneCountInString(msgs[0].Content) != discord.MaxContent ||
		!strings.HasSuffix(msgs[0].Content, "…") {
		t.Fatalf("the channel holds %d messages; want the reply cut to %d characters", len(msgs), discord.MaxContent)
	}
	if err := f.port.EditMessage(ctx, discord.ChannelID(f.general), mid, huge); err != nil {
		t.Errorf("EditMessage: %v", err)
	}

	ia := f.s.SlashCommand(f.guild, f.general, f.alice, "ban", discordtest.UserOpt("user", f.bob))
	if err := f.port.Respond(ctx, id(ia.ID), ia.Token, discord.Response{Type: discord.RespondMessage, Message: huge}); err != nil {
		t.Fatalf("Respond: %v", err)
	}
	if err := f.port.EditOriginal(ctx, ia.Token, huge); err != nil {
		t.Errorf("EditOriginal: %v", err)
	}
	if _, err := f.port.Followup(ctx, ia.Token, huge); err != nil {
		t.Errorf("Followup: %v", err)
	}
	if rs := ia.Responses(); len(rs) != 2 || utf8.RuneCountInString(rs[0].Content) != discord.MaxContent {
		t.Errorf("responses = %d; want the answer and the follow-up, cut", len(rs))
	}
}
