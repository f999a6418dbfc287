package discordtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/disgoorg/disgo/discord"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// control calls the fake's control API over HTTP and decodes the answer into out (when
// not nil), returning the status and the raw body.
func control(t *testing.T, s *discordtest.Server, method, path string, body any, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, string(raw)
}

// TestControlActsAsMembers drives the control API over HTTP: a new account joins, posts,
// leaves; a member posts where they may not; the channel, the guild and the audit log read
// back; bad requests are refused in words.
func TestControlActsAsMembers(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	gid, ch := w.guild.String(), w.channel.String()

	var u discordtest.User
	if st, body := control(t, s, "POST", "/control/users", map[string]any{"username": "raider01", "join_guild": gid}, &u); st != http.StatusCreated || u.Username != "raider01" {
		t.Fatalf("add user = %d %s", st, body)
	}
	var m discordtest.MessageView
	if st, body := control(t, s, "POST", "/control/messages", map[string]any{"channel": ch, "user": u.ID.String(), "content": "hello"}, &m); st != http.StatusCreated || m.Author.ID != u.ID || m.Content != "hello" {
		t.Fatalf("send = %d %s", st, body)
	}
	var msgs []discordtest.MessageView
	control(t, s, "GET", "/control/channels/"+ch+"/messages", nil, &msgs)
	if len(msgs) != 1 || msgs[0].ID != m.ID {
		t.Fatalf("channel = %+v, want the message", msgs)
	}
	var g discordtest.GuildView
	control(t, s, "GET", "/control/guilds/"+gid, nil, &g)
	if len(g.Members) != 5 || g.OwnerID != w.owner {
		t.Fatalf("guild: %d members, owner %s", len(g.Members), g.OwnerID)
	}
	if st, body := control(t, s, "POST", "/control/leaves", map[string]any{"guild": gid, "user": u.ID.String()}, nil); st != http.StatusNoContent {
		t.Fatalf("leave = %d %s", st, body)
	}
	// No longer a member: Discord's own refusal, and nothing posted.
	if st, body := control(t, s, "POST", "/control/messages", map[string]any{"channel": ch, "user": u.ID.String(), "content": "again"}, nil); st != http.StatusForbidden || !strings.Contains(body, "error") {
		t.Fatalf("send after leaving = %d %s, want 403", st, body)
	}
	if st, body := control(t, s, "POST", "/control/leaves", map[string]any{"guild": gid, "user": w.owner.String()}, nil); st != http.StatusBadRequest || !strings.Contains(body, "owns guild") {
		t.Fatalf("owner leaving = %d %s", st, body)
	}
	if st, body := control(t, s, "POST", "/control/joins", map[string]any{"guild": gid, "user": u.ID.String()}, nil); st != http.StatusNoContent {
		t.Fatalf("join = %d %s", st, body)
	}
	if err := s.BanAs(w.guild, w.mod, u.ID, "raid"); err != nil {
		t.Fatal(err)
	}
	control(t, s, "GET", "/control/guilds/"+gid, nil, &g)
	if len(g.Bans) != 1 || g.Bans[0].User.ID != u.ID || *g.Bans[0].Reason != "raid" {
		t.Fatalf("bans = %+v", g.Bans)
	}
	var audit []discordtest.AuditLogEntry
	control(t, s, "GET", "/control/guilds/"+gid+"/audit-log", nil, &audit)
	if len(audit) == 0 || audit[len(audit)-1].ActionType != discordtest.AuditMemberBanAdd || audit[len(audit)-1].TargetID != u.ID {
		t.Fatalf("audit log = %+v, want the ban last", audit)
	}
	// A banned user cannot join: Discord's 40007.
	if st, body := control(t, s, "POST", "/control/joins", map[string]any{"guild": gid, "user": u.ID.String()}, nil); st != http.StatusForbidden || !strings.Contains(body, "banned") {
		t.Fatalf("banned join = %d %s", st, body)
	}

	for _, c := range []struct {
		method, path string
		body         any
		status       int
		says         string
	}{
		{"POST", "/control/messages", map[string]any{"channel": ch, "user": w.member.String(), "contnet": "typo"}, 400, "unknown field"},
		{"POST", "/control/messages", map[string]any{"channel": "1", "user": w.member.String(), "content": "x"}, 404, "channel 1"},
		{"GET", "/control/guilds/abc", nil, 400, "not an id"},
		{"GET", "/control/users/9/dms", nil, 404, "user 9"},
		{"POST", "/control/users", map[string]any{"username": "a@b"}, 400, "2 to 32 characters"},
		{"POST", "/control/slash", map[string]any{"guild": gid, "channel": ch, "user": w.mod.String(), "text": "/nothing"}, 400, "no slash command /nothing"},
		{"POST", "/control/buttons", map[string]any{"guild": gid, "channel": ch, "user": w.mod.String(), "message": m.ID.String(), "custom_id": "x"}, 400, "no component"},
	} {
		if st, body := control(t, s, c.method, c.path, c.body, nil); st != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%s %s = %d %s, want %d saying %q", c.method, c.path, st, body, c.status, c.says)
		}
	}
}

// TestControlSlashText types slash commands as text: options are read by the registered
// command's types (a user by mention or name, integers, subcommands), and the answer
// carries the bot's reply, which an ephemeral flag shows only to the member who typed it.
func TestControlSlashText(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	r := disgoREST(t, s)
	if _, err := r.SetGuildCommands(snow(s.BotID()), snow(w.guild), []discord.ApplicationCommandCreate{
		discord.SlashCommandCreate{Name: "ban", Description: "Ban a member", Options: []discord.ApplicationCommandOption{
			discord.ApplicationCommandOptionUser{Name: "user", Description: "who", Required: true},
			discord.ApplicationCommandOptionString{Name: "reason", Description: "why"},
			discord.ApplicationCommandOptionInt{Name: "purge", Description: "days"},
		}},
		discord.SlashCommandCreate{Name: "cases", Description: "Cases", Options: []discord.ApplicationCommandOption{
			discord.ApplicationCommandOptionSubCommand{Name: "view", Description: "one", Options: []discord.ApplicationCommandOption{
				discord.ApplicationCommandOptionInt{Name: "case", Description: "number", Required: true}}},
		}},
	}); err != nil {
		t.Fatal(err)
	}
	c, _ := connect(t, s, intentsNoPrivileged)

	type answer struct {
		ID        discordtest.ID            `json:"id"`
		UserID    discordtest.ID            `json:"user_id"`
		Responses []discordtest.MessageView `json:"responses"`
	}
	done := make(chan answer, 1)
	go func() {
		var a answer
		control(t, s, "POST", "/control/slash", map[string]any{"guild": w.guild.String(), "channel": w.channel.String(),
			"user": w.mod.String(), "text": "/ban user:@member reason:spam and more purge:1"}, &a)
		done <- a
	}()
	p := c.dispatch("INTERACTION_CREATE")
	var ia struct {
		ID    discordtest.ID `json:"id"`
		Token string         `json:"token"`
		Data  struct {
			Options []struct {
				Name  string `json:"name"`
				Value any    `json:"value"`
			} `json:"options"`
		} `json:"data"`
	}
	if err := json.Unmarshal(p.D, &ia); err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, o := range ia.Data.Options {
		got[o.Name] = o.Value
	}
	if got["user"] != w.member.String() || got["reason"] != "spam and more" || got["purge"] != float64(1) {
		t.Errorf("options = %v", got)
	}
	if err := r.CreateInteractionResponse(snow(ia.ID), ia.Token, reply("Banned member", discord.MessageFlagEphemeral)); err != nil {
		t.Fatal(err)
	}
	a := <-done
	if len(a.Responses) != 1 || a.Responses[0].Content != "Banned member" || !a.Responses[0].Ephemeral {
		t.Fatalf("answer = %+v", a)
	}
	var other answer
	control(t, s, "GET", "/control/interactions/"+a.ID.String()+"?as="+w.member.String(), nil, &other)
	if len(other.Responses) != 0 {
		t.Errorf("another member sees the ephemeral reply: %+v", other.Responses)
	}
	var asMod, asMember []discordtest.MessageView
	control(t, s, "GET", "/control/channels/"+w.channel.String()+"/messages?as="+w.mod.String(), nil, &asMod)
	control(t, s, "GET", "/control/channels/"+w.channel.String()+"/messages?as="+w.member.String(), nil, &asMember)
	if len(asMod) != 1 || len(asMember) != 0 {
		t.Errorf("channel: the moderator sees %d messages, the member %d; want 1 and 0", len(asMod), len(asMember))
	}

	for text, says := range map[string]string{
		"/ban user:@nobody":         "user:@nobody is not a member",
		"/ban usr:@member":          "is not an option; the options are user: reason: purge:",
		"/ban user:@member purge:x": "purge:x is not a whole number",
		"/cases":                    "/cases needs one of: view",
		"/cases view case:three":    "case:three is not a whole number",
		"ban":                       "starts with /",
	} {
		st, body := control(t, s, "POST", "/control/slash", map[string]any{"guild": w.guild.String(), "channel": w.channel.String(),
			"user": w.mod.String(), "text": text}, nil)
		if st != http.StatusBadRequest || !strings.Contains(body, says) {
			t.Errorf("%q = %d %s, want 400 saying %q", text, st, body, says)
		}
	}
	// A subcommand with its option, typed.
	second := make(chan answer, 1)
	go func() {
		var a answer
		control(t, s, "POST", "/control/slash", map[string]any{"guild": w.guild.String(), "channel": w.channel.String(),
			"user": w.mod.String(), "text": "/cases view case:3"}, &a)
		second <- a
	}()
	p = c.dispatch("INTERACTION_CREATE")
	if !strings.Contains(string(p.D), `"options":[{"name":"view","options":[{"name":"case","type":4,"value":3}],"type":1}]`) {
		t.Errorf("subcommand payload: %s", p.D)
	}
	var ia2 struct {
		ID    discordtest.ID `json:"id"`
		Token string         `json:"token"`
	}
	_ = json.Unmarshal(p.D, &ia2)
	if err := r.CreateInteractionResponse(snow(ia2.ID), ia2.Token, reply("case 3", 0)); err != nil {
		t.Fatal(err)
	}
	if a := <-second; len(a.Responses) != 1 || a.Responses[0].Content != "case 3" || a.Responses[0].Ephemeral {
		t.Errorf("second answer = %+v", a)
	}
}
