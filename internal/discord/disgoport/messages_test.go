package disgoport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/disgoorg/disgo"
	dgo "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/snowflake/v2"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
)

// pings is text that would notify everyone, a user and a role if mentions were parsed.
const pings = "@everyone <@123> <@&456> spam"

func TestSendDMAndClosedDMs(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	ref, err := f.port.SendDM(ctx, discord.UserID(f.bob), discord.Message{Content: "You were warned: " + pings})
	if err != nil {
		t.Fatalf("SendDM: %v", err)
	}
	dm, ok := f.s.DMChannel(f.bob)
	if !ok || discord.ChannelID(dm) != ref.ChannelID {
		t.Fatalf("fake's DM channel = %v, %v; adapter says %d", dm, ok, ref.ChannelID)
	}
	msgs := f.s.Messages(dm)
	if len(msgs) != 1 || discord.MessageID(msgs[0].ID) != ref.MessageID || msgs[0].Content != "You were warned: "+pings {
		t.Fatalf("DM channel holds %+v", msgs)
	}
	sameJSON(t, "DM allowed_mentions", msgs[0].AllowedMentions, `{"parse":[]}`)

	f.s.SetDMsClosed(f.carol, true)
	_, err = f.port.SendDM(ctx, discord.UserID(f.carol), discord.Message{Content: "You were kicked."})
	de := wantDiscordError(t, "DM to closed DMs", err, 403, discord.CodeCannotDMUser)
	if de.Retryable() || de.Outage() || de.Op != "send DM" {
		t.Errorf("closed DMs: op %q, retryable %v, outage %v", de.Op, de.Retryable(), de.Outage())
	}
}

// The DM channel is opened once per user; one Discord no longer knows is opened again and
// the DM sent once.
func TestDMChannelOpenedOnce(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := map[string]int{}
	f := newFixture(t, []discordtest.Option{discordtest.WithRequestObserver(func(s discordtest.Served) {
		mu.Lock()
		defer mu.Unlock()
		calls[s.Route]++
	})})
	ctx := ctxFor(t)
	const open, send = "POST /users/@me/channels", "POST /channels/{channel_id}/messages"
	count := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return calls[open], calls[send]
	}
	for i, want := range []int{1, 1} {
		if _, err := f.port.SendDM(ctx, discord.UserID(f.bob), discord.Message{Content: fmt.Sprintf("dm %d", i)}); err != nil {
			t.Fatalf("SendDM %d: %v", i, err)
		}
		if o, _ := count(); o != want {
			t.Fatalf("after DM %d: %d DM channels opened, want %d", i, o, want)
		}
	}
	// Another user has a channel of their own.
	ref, err := f.port.SendDM(ctx, discord.UserID(f.carol), discord.Message{Content: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	if dm, _ := f.s.DMChannel(f.carol); discord.ChannelID(dm) != ref.ChannelID {
		t.Fatalf("carol's DM went to %d, her channel is %d", ref.ChannelID, dm)
	}
	// The remembered channel answers 404: opened again, sent once.
	f.s.FailNext(send, 1, http.StatusNotFound)
	if _, err := f.port.SendDM(ctx, discord.UserID(f.bob), discord.Message{Content: "after 404"}); err != nil {
		t.Fatalf("SendDM after the channel's 404: %v", err)
	}
	if o, s := count(); o != 3 || s != 5 {
		t.Fatalf("%d opens and %d sends; want 3 (bob, carol, bob again) and 5 (one refused)", o, s)
	}
	dm, _ := f.s.DMChannel(f.bob)
	var got []string
	for _, m := range f.s.Messages(dm) {
		got = append(got, m.Content)
	}
	if fmt.Sprint(got) != "[dm 0 dm 1 after 404]" {
		t.Fatalf("bob's DMs: %q", got)
	}
	// A refusal that is not a 404 is the answer: no second open, no second send.
	f.s.SetDMsClosed(f.bob, true)
	if _, err := f.port.SendDM(ctx, discord.UserID(f.bob), discord.Message{Content: "closed"}); discord.AsError(err) == nil {
		t.Fatalf("SendDM to closed DMs: %v", err)
	}
	if o, s := count(); o != 3 || s != 6 {
		t.Fatalf("%d opens and %d sends after a 403; want 3 and 6", o, s)
	}
}

func TestAllowedMentionsParseNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	if _, err := f.port.SendMessage(ctx, discord.ChannelID(f.general), discord.Message{Content: pings}); err != nil {
		t.Fatal(err)
	}
	// Widening on purpose names ids; the text is still not parsed.
	if _, err := f.port.SendMessage(ctx, discord.ChannelID(f.general), discord.Message{Content: pings,
		AllowedMentions: &discord.AllowedMentions{Users: []discord.UserID{123}, Roles: []discord.RoleID{456}}}); err != nil {
		t.Fatal(err)
	}
	// disgo's typed API, which the bot client shares through Rest(), parses nothing either
	// (disgo's own default is users, roles and everyone).
	if _, err := f.port.Rest().CreateMessage(snowflake.ID(f.general), dgo.MessageCreate{Content: pings}); err != nil {
		t.Fatal(err)
	}
	msgs := f.s.Messages(f.general)
	if len(msgs) != 3 {
		t.Fatalf("%d messages", len(msgs))
	}
	sameJSON(t, "default", msgs[0].AllowedMentions, `{"parse":[]}`)
	sameJSON(t, "widened", msgs[1].AllowedMentions, `{"parse":[],"users":["123"],"roles":["456"]}`)
	var typed struct {
		Parse []string `json:"parse"`
	}
	if err := json.Unmarshal(msgs[2].AllowedMentions, &typed); err != nil || typed.Parse == nil || len(typed.Parse) != 0 {
		t.Errorf("disgo's typed API sent allowed_mentions %s; want parse []", msgs[2].AllowedMentions)
	}
}

func TestSendEditDeleteMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	embed := discord.Embed{
		Title: "Case #7 | Ban", Description: "bob was banned", URL: "https://example.com/cases/7", Color: 0xE74C3C,
		Fields:    []discord.EmbedField{{Name: "Moderator", Value: "<@202>", Inline: true}, {Name: "Reason", Value: pings}},
		Footer:    &discord.EmbedFooter{Text: "gavel", IconURL: "https://example.com/f.png"},
		Timestamp: at,
		Author:    &discord.EmbedAuthor{Name: "bob", URL: "https://example.com/u", IconURL: "https://example.com/a.png"},
		Thumbnail: "https://example.com/t.png",
	}
	buttons := json.RawMessage(`[{"type":1,"components":[{"type":2,"style":4,"label":"Undo","custom_id":"undo:7"}]}]`)
	mid, err := f.port.SendMessage(ctx, discord.ChannelID(f.general), discord.Message{Embeds: []discord.Embed{embed}, Components: buttons})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	msgs := f.s.Messages(f.general)
	if len(msgs) != 1 || discord.MessageID(msgs[0].ID) != mid || len(msgs[0].Embeds) != 1 || len(msgs[0].Components) != 1 {
		t.Fatalf("channel holds %+v", msgs)
	}
	sameJSON(t, "embed", msgs[0].Embeds[0], `{
		"type":"rich","title":"Case #7 | Ban","description":"bob was banned","url":"https://example.com/cases/7","color":15158332,
		"fields":[{"name":"Moderator","value":"<@202>","inline":true},{"name":"Reason","value":"`+pings+`","inline":false}],
		"footer":{"text":"gavel","icon_url":"https://example.com/f.png"},"timestamp":"2025-03-01T12:00:00Z",
		"author":{"name":"bob","url":"https://example.com/u","icon_url":"https://example.com/a.png"},
		"thumbnail":{"url":"https://example.com/t.png"}}`)

	// An edit replaces the message: the button goes, the content comes.
	embed.Title = "Case #7 | Ban (voided)"
	if err := f.port.EditMessage(ctx, discord.ChannelID(f.general), mid, discord.Message{Content: "voided", Embeds: []discord.Embed{embed}}); err != nil {
		t.Fatalf("EditMessage: %v", err)
	}
	m := f.s.Messages(f.general)[0]
	if m.Content != "voided" || len(m.Components) != 0 || m.EditedTimestamp == nil || len(m.Embeds) != 1 {
		t.Errorf("edited message = %+v", m)
	}
	sameJSON(t, "edit's allowed_mentions", m.AllowedMentions, `{"parse":[]}`)

	other := f.s.AddMessage(f.general, f.bob, "not yours", time.Now())
	err = f.port.EditMessage(ctx, discord.ChannelID(f.general), discord.MessageID(other), discord.Message{Content: "x"})
	wantDiscordError(t, "editing another's message", err, 403, 50005)

	if err := f.port.DeleteMessage(ctx, discord.ChannelID(f.general), discord.MessageID(other), "off topic"); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	if e := f.lastAudit(t, discordtest.AuditMessageDelete); e.Reason != "off topic" {
		t.Errorf("delete audit reason = %q", e.Reason)
	}
	if err := f.port.DeleteMessage(ctx, discord.ChannelID(f.general), mid, ""); err != nil {
		t.Fatalf("deleting the bot's own message: %v", err)
	}
	if n := len(f.s.Messages(f.general)); n != 0 {
		t.Errorf("%d messages left", n)
	}
	err = f.port.DeleteMessage(ctx, discord.ChannelID(f.general), mid, "")
	wantDiscordError(t, "deleting a deleted message", err, 404, discord.CodeUnknownMessage)
}

func TestListAndBulkDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	start := time.Now().Add(-time.Hour)
	var ids []int64
	for i := range 201 {
		ids = append(ids, id(f.s.AddMessage(f.general, f.bob, fmt.Sprint("spam ", i), start.Add(time.Duration(i)*time.Second))))
	}
	newest, err := f.port.ListMessages(ctx, discord.ChannelID(f.general), discord.MessageQuery{Limit: 100})
	if err != nil || len(newest) != 100 {
		t.Fatalf("ListMessages = %d, %v", len(newest), err)
	}
	if newest[0].ID != discord.MessageID(ids[200]) || newest[0].Content != "spam 200" || newest[0].Author.ID != discord.UserID(f.bob) ||
		newest[0].ChannelID != discord.ChannelID(f.general) || !newest[0].Timestamp.Equal(start.Add(200*time.Second)) {
		t.Errorf("newest message = %+v", newest[0])
	}
	older, err := f.port.ListMessages(ctx, discord.ChannelID(f.general), discord.MessageQuery{Before: newest[99].ID, Limit: 100})
	if err != nil || len(older) != 100 || older[0].ID != discord.MessageID(ids[100]) || older[99].ID != discord.MessageID(ids[1]) {
		t.Fatalf("page before = %d messages, first %+v, %v", len(older), older, err)
	}
	after, err := f.port.ListMessages(ctx, discord.ChannelID(f.general), discord.MessageQuery{After: discord.MessageID(ids[0])})
	if err != nil || len(after) != 50 {
		t.Fatalf("default page after the first = %d, %v", len(after), err)
	}

	// 201 distinct ids (one given twice): 100 + 100 in bulk, the last alone.
	if err := f.port.BulkDelete(ctx, discord.ChannelID(f.general), discord.IDs[discord.MessageID](append(ids, ids[5])), "raid cleanup"); err != nil {
		t.Fatalf("BulkDelete: %v", err)
	}
	if n := len(f.s.Messages(f.general)); n != 0 {
		t.Errorf("%d messages left", n)
	}
	var bulk, single int
	for _, e := range f.s.AuditLog(f.guild) {
		switch e.ActionType {
		case discordtest.AuditMessageBulkDelete:
			bulk++
		case discordtest.AuditMessageDelete:
			single++
		default:
			continue
		}
		if e.Reason != "raid cleanup" {
			t.Errorf("audit entry %+v lost the reason", e)
		}
	}
	if bulk != 2 || single != 1 {
		t.Errorf("%d bulk and %d single deletes; want 2 and 1", bulk, single)
	}
	if err := f.port.BulkDelete(ctx, discord.ChannelID(f.general), nil, ""); err != nil {
		t.Errorf("deleting nothing: %v", err)
	}

	old1 := f.s.AddMessage(f.general, f.bob, "old", time.Now().Add(-15*24*time.Hour))
	old2 := f.s.AddMessage(f.general, f.bob, "old", time.Now().Add(-15*24*time.Hour))
	err = f.port.BulkDelete(ctx, discord.ChannelID(f.general), []discord.MessageID{discord.MessageID(old1), discord.MessageID(old2)}, "")
	wantDiscordError(t, "bulk delete of old messages", err, 400, 50034)
}

func TestOverwriteAndSlowmode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	ow := discord.Overwrite{ID: id(f.guild), Type: discord.OverwriteRole, Deny: uint64(discordtest.PermSendMessages)}
	if err := f.port.SetChannelOverwrite(ctx, discord.ChannelID(f.general), ow, "lockdown"); err != nil {
		t.Fatalf("SetChannelOverwrite: %v", err)
	}
	c, _ := f.s.Channel(f.general)
	if len(c.PermissionOverwrites) != 1 || c.PermissionOverwrites[0] != (discordtest.Overwrite{ID: f.guild, Type: 0, Deny: discordtest.PermSendMessages}) {
		t.Errorf("overwrites = %+v", c.PermissionOverwrites)
	}
	if e := f.lastAudit(t, discordtest.AuditOverwriteCreate); e.Reason != "lockdown" {
		t.Errorf("overwrite audit reason = %q", e.Reason)
	}
	member := discord.Overwrite{ID: id(f.bob), Type: discord.OverwriteMember, Deny: uint64(discordtest.PermViewChannel)}
	if err := f.port.SetChannelOverwrite(ctx, discord.ChannelID(f.general), member, ""); err != nil {
		t.Fatal(err)
	}
	got, err := f.port.Channel(ctx, discord.ChannelID(f.general))
	if err != nil || len(got.Overwrites) != 2 || got.Overwrites[1] != member {
		t.Errorf("Channel overwrites = %+v, %v", got.Overwrites, err)
	}
	// Deleting the member's overwrite leaves the @everyone one; deleting it again is a no-op.
	for range 2 {
		if err := f.port.DeleteChannelOverwrite(ctx, discord.ChannelID(f.general), member.ID, "unlock"); err != nil {
			t.Fatalf("DeleteChannelOverwrite: %v", err)
		}
	}
	if c, _ := f.s.Channel(f.general); len(c.PermissionOverwrites) != 1 || c.PermissionOverwrites[0].ID != f.guild {
		t.Errorf("overwrites after the delete = %+v", c.PermissionOverwrites)
	}
	if e := f.lastAudit(t, discordtest.AuditOverwriteDelete); e.Reason != "unlock" {
		t.Errorf("overwrite delete audit reason = %q", e.Reason)
	}
	// The bot may not grant what it lacks.
	err = f.port.SetChannelOverwrite(ctx, discord.ChannelID(f.general), discord.Overwrite{ID: id(f.bob), Type: discord.OverwriteMember,
		Allow: uint64(discordtest.PermAdministrator)}, "")
	wantDiscordError(t, "allowing a permission the bot lacks", err, 403, discord.CodeMissingPermissions)

	if err := f.port.SetSlowmode(ctx, discord.ChannelID(f.general), 30, "heated"); err != nil {
		t.Fatalf("SetSlowmode: %v", err)
	}
	if c, _ := f.s.Channel(f.general); c.RateLimitPerUser != 30 {
		t.Errorf("slowmode = %d", c.RateLimitPerUser)
	}
	if e := f.lastAudit(t, discordtest.AuditChannelUpdate); e.Reason != "heated" {
		t.Errorf("slowmode audit reason = %q", e.Reason)
	}
	if err := f.port.SetSlowmode(ctx, discord.ChannelID(f.general), 0, ""); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.s.Channel(f.general); c.RateLimitPerUser != 0 {
		t.Errorf("slowmode after turning it off = %d", c.RateLimitPerUser)
	}
	err = f.port.SetSlowmode(ctx, discord.ChannelID(f.general), 21601, "")
	de := wantDiscordError(t, "slowmode too long", err, 400, discord.CodeInvalidFormBody)
	if de.Message == "Invalid Form Body" {
		t.Errorf("50035 message %q does not say which field", de.Message)
	}
}

// contextWithin returns a context that ends after d.
func contextWithin(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// The bot client built with BotOptions sends through the adapter's limiter and parses no
// mentions; closing it twice does not deadlock as disgo's own limiter does.
func TestBotClientSharesTheAdapter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	client, err := disgo.New(f.s.Token(), f.port.BotOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if client.Rest.RateLimiter() != f.port.Limiter() {
		t.Error("the bot client has a rate limiter of its own")
	}
	if _, err := client.Rest.CreateMessage(snowflake.ID(f.general), dgo.MessageCreate{Content: pings}); err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "bot client's allowed_mentions", f.s.Messages(f.general)[0].AllowedMentions, `{"parse":[],"users":[],"roles":[],"replied_user":false}`)
	ctx := contextWithin(t, 5*time.Second)
	client.Close(ctx)
	client.Close(ctx)
	if ctx.Err() != nil {
		t.Error("closing the bot client twice waited for its context")
	}
}
