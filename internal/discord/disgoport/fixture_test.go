package disgoport_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/discord/leanhttp"
	"github.com/gavelbot/gavel/internal/discordtest"
)

// fixture is a guild laid out for moderation, on the fake Discord, with the real adapter
// talking to it over HTTP:
//
//	position 4  mod      (alice)        above the bot
//	position 3  gavel    (the bot)
//	position 2  bots                    an integration's (managed) role
//	position 1  member   (bob, "bobby") below the bot
//	            carol                   no roles; dave is a user outside the guild
type fixture struct {
	s    *discordtest.Server
	port *disgoport.Adapter

	guild, owner, alice, bob, carol, dave discordtest.ID
	mod, botRole, managed, member         discordtest.ID
	general, lounge, category             discordtest.ID
}

const botPerms = discordtest.PermBanMembers | discordtest.PermKickMembers | discordtest.PermManageRoles |
	discordtest.PermModerateMembers | discordtest.PermManageGuild | discordtest.PermViewAuditLog |
	discordtest.PermManageMessages | discordtest.PermManageChannels | discordtest.PermViewChannel |
	discordtest.PermSendMessages | discordtest.PermReadMessageHistory | discordtest.PermEmbedLinks

func newFixture(t *testing.T, fakeOpts []discordtest.Option, opts ...disgoport.Option) *fixture {
	t.Helper()
	f := &fixture{
		guild: 100, owner: 201, alice: 202, bob: 203, carol: 204, dave: 205,
		member: 301, managed: 302, botRole: 303, mod: 304,
		general: 401, lounge: 402, category: 403,
	}
	nick := "bobby"
	seed := discordtest.Seed{
		Users: []discordtest.User{
			{ID: f.owner, Username: "owner"}, {ID: f.alice, Username: "alice"}, {ID: f.bob, Username: "bob"},
			{ID: f.carol, Username: "carol"}, {ID: f.dave, Username: "dave"},
		},
		Guilds: []discordtest.SeedGuild{{
			ID: f.guild, Name: "test guild", OwnerID: f.owner,
			Roles: []discordtest.Role{
				{ID: f.member, Name: "member", Position: 1},
				{ID: f.managed, Name: "bots", Position: 2, Managed: true},
				{ID: f.botRole, Name: "gavel", Position: 3, Permissions: botPerms},
				{ID: f.mod, Name: "mod", Position: 4, Permissions: discordtest.PermBanMembers | discordtest.PermKickMembers},
			},
			BotRoles: []discordtest.ID{f.botRole},
			Members: []discordtest.SeedMember{
				{UserID: f.alice, Roles: []discordtest.ID{f.mod}},
				{UserID: f.bob, Roles: []discordtest.ID{f.member}, Nick: &nick},
				{UserID: f.carol},
			},
			Channels: []discordtest.Channel{
				{ID: f.category, Type: discordtest.ChannelGuildCategory, Name: "text", Position: 0},
				{ID: f.general, Type: discordtest.ChannelGuildText, Name: "general", Position: 1, ParentID: f.category},
				{ID: f.lounge, Type: discordtest.ChannelGuildText, Name: "lounge", Position: 2, ParentID: f.category},
			},
		}},
	}
	f.s = discordtest.New(t, append([]discordtest.Option{discordtest.WithSeed(seed)}, fakeOpts...)...)
	// The fake is plain HTTP: gavel's port reaches it through leanhttp (app.restTransport),
	// so the adapter's tests (429s, 5xx, timeouts) run over it too.
	lean := &http.Client{Timeout: 20 * time.Second, Transport: leanhttp.New(http.DefaultTransport.(*http.Transport).Clone(), 16, 0)}
	port, err := disgoport.New(f.s.Token(), append([]disgoport.Option{disgoport.WithAPIURL(f.s.APIURL()), disgoport.WithHTTPClient(lean)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		port.Close(ctx)
	})
	f.port = port
	return f
}

// id converts the fake's ids to the port's.
func id(v discordtest.ID) int64 { return int64(v) }

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantDiscordError fails t unless err is a *discord.Error with status and code.
func wantDiscordError(t *testing.T, what string, err error, status, code int) *discord.Error {
	t.Helper()
	de := discord.AsError(err)
	if de == nil {
		t.Fatalf("%s: err = %v (%T); want a *discord.Error %d/%d", what, err, err, status, code)
	}
	if de.Status != status || de.Code != code {
		t.Fatalf("%s: got %d/%d (%v); want %d/%d", what, de.Status, de.Code, de, status, code)
	}
	return de
}

// lastAudit returns the newest audit-log entry of a type.
func (f *fixture) lastAudit(t *testing.T, action int) discordtest.AuditLogEntry {
	t.Helper()
	log := f.s.AuditLog(f.guild)
	for i := len(log) - 1; i >= 0; i-- {
		if log[i].ActionType == action {
			return log[i]
		}
	}
	t.Fatalf("no audit-log entry of type %d in %+v", action, log)
	return discordtest.AuditLogEntry{}
}

// sameJSON fails t unless two JSON texts mean the same.
func sameJSON(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %q is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: want %q is not JSON: %v", what, want, err)
	}
	if d := cmp.Diff(w, g); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}
