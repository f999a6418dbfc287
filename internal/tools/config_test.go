package tools

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/commands"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// Real-sized snowflakes: the parser takes only ids of Discord's length.
const (
	tGuild     = int64(710000000000000100)
	tOwner     = int64(710000000000000201)
	tAdmin     = int64(710000000000000202)
	tBot       = int64(710000000000000299)
	tModRole   = int64(710000000000000301)
	tBotRole   = int64(710000000000000302)
	tHighRole  = int64(710000000000000303)
	tBotsRole  = int64(710000000000000304) // managed
	tJailRole  = int64(710000000000000305)
	tGeneral   = int64(710000000000000401)
	tModlog    = int64(710000000000000402)
	tAuditlog  = int64(710000000000000403)
	tVoice     = int64(710000000000000404)
	tLocked    = int64(710000000000000405)
	tElsewhere = int64(710000000000000406)
)

// port is an in-memory Discord for the config tool: one guild, its channels, and the
// messages gavel posts.
type port struct {
	discord.Port // the calls config does not make are nil and would panic

	mu       sync.Mutex
	guild    discord.Guild
	members  map[int64]discord.Member
	channels map[int64]discord.Channel
	sent     map[int64][]discord.Message
	sendErr  error
	readErr  error // Channel fails with it when set
}

func newPort() *port {
	const everyone = uint64(permViewChannel | permSendMessages | permEmbedLinks)
	p := &port{
		guild: discord.Guild{ID: discord.GuildID(tGuild), Name: "test", OwnerID: discord.UserID(tOwner), Roles: []discord.Role{
			{ID: discord.RoleID(tGuild), Name: "@everyone", Position: 0, Permissions: everyone},
			{ID: discord.RoleID(tJailRole), Name: "jailed", Position: 1},
			{ID: discord.RoleID(tModRole), Name: "mods", Position: 2, Permissions: 1 << 5},
			{ID: discord.RoleID(tBotsRole), Name: "some bot", Position: 3, Managed: true},
			{ID: discord.RoleID(tBotRole), Name: "gavel", Position: 4, Permissions: permManageRoles},
			{ID: discord.RoleID(tHighRole), Name: "admins", Position: 5},
		}},
		members: map[int64]discord.Member{
			tBot:   {User: discord.User{ID: discord.UserID(tBot), Username: "gavel", Bot: true}, Roles: []discord.RoleID{discord.RoleID(tBotRole)}},
			tAdmin: {User: discord.User{ID: discord.UserID(tAdmin), Username: "admin"}, Roles: []discord.RoleID{discord.RoleID(tModRole)}},
		},
		channels: map[int64]discord.Channel{
			tGeneral:   {ID: discord.ChannelID(tGeneral), GuildID: discord.GuildID(tGuild), Type: discord.ChannelGuildText, Name: "general"},
			tModlog:    {ID: discord.ChannelID(tModlog), GuildID: discord.GuildID(tGuild), Type: discord.ChannelGuildText, Name: "modlog"},
			tAuditlog:  {ID: discord.ChannelID(tAuditlog), GuildID: discord.GuildID(tGuild), Type: discord.ChannelGuildAnnouncement, Name: "audit"},
			tVoice:     {ID: discord.ChannelID(tVoice), GuildID: discord.GuildID(tGuild), Type: discord.ChannelGuildVoice, Name: "voice"},
			tElsewhere: {ID: discord.ChannelID(tElsewhere), GuildID: discord.GuildID(tGuild + 1), Type: discord.ChannelGuildText, Name: "other-server"},
			tLocked: {ID: discord.ChannelID(tLocked), GuildID: discord.GuildID(tGuild), Type: discord.ChannelGuildText, Name: "locked", Overwrites: []discord.Overwrite{
				{ID: tGuild, Type: discord.OverwriteRole, Deny: permSendMessages},
				{ID: tModRole, Type: discord.OverwriteRole, Allow: permSendMessages},
			}},
		},
		sent: map[int64][]discord.Message{},
	}
	return p
}

func notFound(op string, code int) error {
	return &discord.Error{Op: op, Status: 404, Code: code, Message: "Unknown"}
}

func (p *port) Guild(_ context.Context, id discord.GuildID) (discord.Guild, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id != p.guild.ID {
		return discord.Guild{}, notFound("get guild", discord.CodeUnknownGuild)
	}
	return p.guild, nil
}

func (p *port) Member(_ context.Context, guildID discord.GuildID, userID discord.UserID) (discord.Member, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.members[int64(userID)]
	if !ok || guildID != p.guild.ID {
		return discord.Member{}, notFound("get member", discord.CodeUnknownMember)
	}
	return m, nil
}

func (p *port) Channel(_ context.Context, id discord.ChannelID) (discord.Channel, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.readErr != nil {
		return discord.Channel{}, p.readErr
	}
	c, ok := p.channels[int64(id)]
	if !ok {
		return discord.Channel{}, notFound("get channel", discord.CodeUnknownChannel)
	}
	return c, nil
}

func (p *port) GuildChannels(_ context.Context, guildID discord.GuildID) ([]discord.Channel, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []discord.Channel
	for _, c := range p.channels {
		if c.GuildID == guildID {
			out = append(out, c)
		}
	}
	return out, nil
}

// SetChannelOverwrite replaces the channel's overwrite for the same role or member, as
// Discord does.
func (p *port) SetChannelOverwrite(_ context.Context, channelID discord.ChannelID, ow discord.Overwrite, _ string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.channels[int64(channelID)]
	if !ok {
		return notFound("set overwrite", discord.CodeUnknownChannel)
	}
	kept := []discord.Overwrite{}
	for _, o := range c.Overwrites {
		if o.ID != ow.ID || o.Type != ow.Type {
			kept = append(kept, o)
		}
	}
	c.Overwrites = append(kept, ow)
	p.channels[int64(channelID)] = c
	return nil
}

// DeleteChannelOverwrite removes the channel's overwrite for id, as Discord does.
func (p *port) DeleteChannelOverwrite(_ context.Context, channelID discord.ChannelID, id int64, _ string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.channels[int64(channelID)]
	if !ok {
		return notFound("delete overwrite", discord.CodeUnknownChannel)
	}
	kept := []discord.Overwrite{}
	for _, o := range c.Overwrites {
		if o.ID != id {
			kept = append(kept, o)
		}
	}
	c.Overwrites = kept
	p.channels[int64(channelID)] = c
	return nil
}

func (p *port) SendMessage(_ context.Context, channelID discord.ChannelID, msg discord.Message) (discord.MessageID, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sendErr != nil {
		return 0, p.sendErr
	}
	p.sent[int64(channelID)] = append(p.sent[int64(channelID)], msg)
	return discord.MessageID(len(p.sent[int64(channelID)])), nil
}

func (p *port) messages(channelID int64) []discord.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]discord.Message(nil), p.sent[channelID]...)
}

type fixture struct {
	port  *port
	set   *Set
	st    *store.Store
	perms *permissions.Service
	sets  *settings.Service
}

func newFixture(t *testing.T, st *store.Store) *fixture {
	t.Helper()
	f := &fixture{port: newPort(), st: st, sets: settings.NewService(st)}
	env := &Env{Port: f.port, Settings: f.sets, Exec: executor.New(executor.WithRetries(1, time.Millisecond, time.Millisecond)),
		BotID: discord.UserID(tBot), Now: func() time.Time { return time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC) }}
	f.set = NewSet(env)
	// The catalogue's actions stand beside the tools' commands, as in the app.
	perms, err := permissions.New(st, append([]string{"ban", "kick", "warn", "cases", "cases list", "cases modify"}, f.set.Names()...))
	if err != nil {
		t.Fatal(err)
	}
	env.Perms, env.CommandNames, f.perms = perms, perms.Commands, perms
	return f
}

// run parses a prefix command as the app does, and runs it for user in the guild.
func (f *fixture) run(t *testing.T, user int64, roles []int64, text string) Reply {
	t.Helper()
	args, ok, err := commands.ParsePrefix(f.set.Specs(), "$", text)
	if !ok || err != nil {
		t.Fatalf("%q: parsed %v, %v", text, ok, err)
	}
	call := Call{GuildID: discord.GuildID(tGuild), ChannelID: discord.ChannelID(tGeneral), User: discord.User{ID: discord.UserID(user), Username: "user"}, Roles: discord.IDs[discord.RoleID](roles), Prefix: "$",
		At: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)}
	return f.set.Run(context.Background(), call, args)
}

func (f *fixture) admin(t *testing.T, text string) Reply {
	t.Helper()
	return f.run(t, tAdmin, []int64{tModRole}, text)
}

func (f *fixture) history(t *testing.T) []settings.Event {
	t.Helper()
	evs, err := f.sets.History(context.Background(), discord.GuildID(tGuild), 1000)
	if err != nil {
		t.Fatal(err)
	}
	perms, err := f.perms.History(context.Background(), discord.GuildID(tGuild), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return append(evs, perms...)
}

func (f *fixture) settings(t *testing.T) settings.Guild {
	t.Helper()
	g, err := f.sets.Get(context.Background(), discord.GuildID(tGuild))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func wantReply(t *testing.T, r Reply, outcome Outcome, parts ...string) {
	t.Helper()
	text := r.Message.Content
	for _, e := range r.Message.Embeds {
		text += "\n" + e.Title + "\n" + e.Description
		for _, fl := range e.Fields {
			text += "\n" + fl.Name + ": " + fl.Value
		}
	}
	if r.Outcome != outcome {
		t.Errorf("outcome = %s; want %s (reply %q, err %v)", r.Outcome, outcome, text, r.Err)
	}
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("reply %q does not contain %q", text, p)
		}
	}
	if r.Message.AllowedMentions == nil {
		t.Error("the reply may ping: AllowedMentions is nil")
	}
}

// unchanged checks that a refused command left no history row behind.
func unchanged(t *testing.T, f *fixture, before int) {
	t.Helper()
	if got := len(f.history(t)); got != before {
		t.Errorf("history has %d rows after a refusal; want %d", got, before)
	}
}

func TestConfigSettings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)

		wantReply(t, f.admin(t, "$config"), OK, "Prefix: `$`", "not set", "no ranks")

		wantReply(t, f.admin(t, "$config prefix !"), OK, "Commands now start with `!` (was `$`)", "`!config`")
		if g := f.settings(t); g.Prefix != "!" {
			t.Errorf("prefix = %q; want !", g.Prefix)
		}
		n := len(f.history(t))
		wantReply(t, f.admin(t, "$config prefix !!!!!!"), Refused, "6 characters long", "accepted: 1 to 5 characters", "Nothing was changed")
		wantReply(t, f.admin(t, "$config prefix a`b"), Refused, "backtick")
		unchanged(t, f, n)
		wantReply(t, f.admin(t, "$config prefix !"), OK, "Nothing to change")
		unchanged(t, f, n)

		// Channels: only text channels of this server that gavel can post in.
		wantReply(t, f.admin(t, "$config channel modlog <#710000000000000402>"), OK, "mod-log channel is now <#710000000000000402> (was not set)")
		wantReply(t, f.admin(t, "$config channel jail <#710000000000000404>"), Refused, "voice channel, not a text channel", "accepted")
		wantReply(t, f.admin(t, "$config channel jail <#710000000000000406>"), Refused, "not in this server")
		wantReply(t, f.admin(t, "$config channel jail 710000000000000999"), Refused, "no channel 710000000000000999")
		wantReply(t, f.admin(t, "$config channel jail <#710000000000000405>"), Refused, "lacks Send Messages")
		unchanged(t, f, n+1)
		wantReply(t, f.admin(t, "$config channel jail <#710000000000000401>"), OK, "jail channel is now")
		wantReply(t, f.admin(t, "$config channel jail none"), OK, "jail channel is cleared (was <#710000000000000401>)")
		if g := f.settings(t); g.ModlogChannelID != discord.ChannelID(tModlog) || g.JailChannelID != 0 {
			t.Errorf("settings = %+v", g)
		}

		// The audit log hears of every change once it is set, the channel it leaves too.
		wantReply(t, f.admin(t, "$config channel auditlog <#710000000000000403>"), OK, "audit-log channel is now")
		if msgs := f.port.messages(tAuditlog); len(msgs) != 1 || !strings.Contains(msgs[0].Embeds[0].Fields[0].Value, "not set → <#710000000000000403>") {
			t.Fatalf("audit log after it was set = %+v", msgs)
		}
		wantReply(t, f.admin(t, "$config mirror off"), OK, "no longer recorded as cases")
		msgs := f.port.messages(tAuditlog)
		if len(msgs) != 2 {
			t.Fatalf("audit log has %d posts; want 2", len(msgs))
		}
		e := msgs[1].Embeds[0]
		if !strings.Contains(e.Description, "<@710000000000000202>") || !strings.Contains(e.Description, "config mirror") ||
			len(e.Fields) != 1 || e.Fields[0].Name != "Mirror external actions" || e.Fields[0].Value != "on → off" || msgs[1].AllowedMentions == nil {
			t.Errorf("audit post = %+v", msgs[1])
		}
		wantReply(t, f.admin(t, "$config channel auditlog <#710000000000000402>"), OK, "audit-log channel is now <#710000000000000402> (was <#710000000000000403>)")
		if len(f.port.messages(tAuditlog)) != 3 || len(f.port.messages(tModlog)) != 1 {
			t.Errorf("a move of the audit log is told to the old channel and the new one: old %d posts, new %d",
				len(f.port.messages(tAuditlog)), len(f.port.messages(tModlog)))
		}

		// A failed post does not undo the change, and the moderator hears of it.
		f.port.mu.Lock()
		f.port.sendErr = &discord.Error{Op: "send message", Status: 403, Code: discord.CodeMissingPermissions, Message: "Missing Permissions"}
		f.port.mu.Unlock()
		wantReply(t, f.admin(t, "$config mirror on"), OK, "now recorded as cases", "not posted to <#710000000000000402>", "lacks the permission")
		if g := f.settings(t); !g.MirrorExternalActions {
			t.Error("mirroring stayed off after a failed audit post")
		}
		f.port.mu.Lock()
		f.port.sendErr = nil
		f.port.readErr = &discord.Error{Op: "get channel", Status: 502, Message: "Bad Gateway"}
		f.port.mu.Unlock()
		wantReply(t, f.admin(t, "$config channel jail <#710000000000000401>"), Failed, "could not check this with Discord (Discord answered 502), so nothing was changed")
		f.port.mu.Lock()
		f.port.readErr = nil
		f.port.mu.Unlock()
		if g := f.settings(t); g.JailChannelID != 0 {
			t.Errorf("jail channel = %d after Discord failed; want unset", g.JailChannelID)
		}

		// Jail role: a plain role below gavel's highest.
		n = len(f.history(t))
		wantReply(t, f.admin(t, "$config jailrole <@&710000000000000303>"), Refused, "not below gavel's highest role")
		wantReply(t, f.admin(t, "$config jailrole <@&710000000000000100>"), Refused, "@everyone cannot be the jail role")
		wantReply(t, f.admin(t, "$config jailrole <@&710000000000000304>"), Refused, "integration")
		wantReply(t, f.admin(t, "$config jailrole 710000000000000998"), Refused, "not a role of this server")
		unchanged(t, f, n)
		wantReply(t, f.admin(t, "$config jailrole <@&710000000000000305>"), OK, "jail role is now <@&710000000000000305> (was not set)")
		wantReply(t, f.admin(t, "$config"), OK, "<@&710000000000000305>", "<#710000000000000402>", "on: bans, unbans, kicks and timeouts")
	})
}

func TestConfigPermissions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()

		wantReply(t, f.admin(t, "$config ranks"), OK, "no ranks", "`$config ranks init`")
		wantReply(t, f.admin(t, "$config ranks init"), OK, "Created 8 ranks", "0 Member", "7 Server Owner", "now uses ranks",
			"You can no longer use `config` yourself", "server owner always can")
		wantReply(t, f.admin(t, "$config ranks init"), OK, "Nothing to create")

		// The admin is locked out of config now; the owner is not, and opens it again.
		d, err := f.perms.Check(ctx, permissions.Subject{GuildID: discord.GuildID(tGuild), GuildOwnerID: discord.UserID(tOwner), UserID: discord.UserID(tAdmin), RoleIDs: []discord.RoleID{discord.RoleID(tModRole)}, Command: "config ranks set"})
		if err != nil || d.Allowed {
			t.Fatalf("admin after ranks init: %+v, %v; want refused", d, err)
		}
		owner := func(text string) Reply { return f.run(t, tOwner, nil, text) }
		wantReply(t, owner("$config commands set config 5"), OK, "`config` now requires rank 5 (Administrator) (was none)")
		wantReply(t, owner("$config roles assign <@&710000000000000301> 5"), OK, "<@&710000000000000301> now gives rank 5 (Administrator) (was none)")
		wantReply(t, f.admin(t, "$config roles"), OK, "<@&710000000000000301> → rank 5 (Administrator)")

		// Multi-word command names: unquoted before the rank, or quoted.
		wantReply(t, f.admin(t, "$config commands set cases 2"), OK, "`cases` now requires rank 2")
		wantReply(t, f.admin(t, "$config commands set cases modify 4"), OK, "`cases modify` now requires rank 4 (Senior Moderator)")
		wantReply(t, f.admin(t, `$config commands set "config ranks" 6`), OK, "`config ranks` now requires rank 6")
		n := len(f.history(t))
		wantReply(t, f.admin(t, "$config commands set case modify 4"), Refused, "`case modify` is not one of gavel's commands", "Did you mean `cases modify`?", "cases (list, modify, search, view)")
		wantReply(t, f.admin(t, "$config commands set ban! 4"), Refused, "accepted: a command's full name")
		wantReply(t, f.admin(t, "$config commands clear warn"), Refused, "has no rank of its own")
		unchanged(t, f, n)
		wantReply(t, f.admin(t, "$config commands"), OK, "`cases modify` → rank 4 (Senior Moderator)", "only the server owner can use them", "ban")
		wantReply(t, f.admin(t, "$config commands clear cases modify"), OK, "`cases modify` no longer has a rank of its own; it now requires the rank of `cases`, 2 (Junior Moderator)")

		// Ranks: rename keeps the description, delete reports roles and commands.
		wantReply(t, owner(`$config ranks set 3 "Senior Mod"`), OK, `Rank 3 is now "Senior Mod" (was "Moderator")`)
		ranks, err := f.perms.Ranks(ctx, discord.GuildID(tGuild))
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := rankOf(ranks, 3); r.Description != permissions.DefaultRanks()[3].Description {
			t.Errorf("rank 3 = %+v; the rename dropped its description", r)
		}
		wantReply(t, owner("$config ranks set 9 Wardens keep the jail"), OK, `Created rank 9, "Wardens"`)
		if _, _, err := commands.ParsePrefix(f.set.Specs(), "$", "$config ranks set 11 Gods"); err == nil || !strings.Contains(err.Error(), "from 0 to 10") {
			t.Errorf("rank 11: err = %v; want the bounds", err)
		}
		wantReply(t, owner("$config commands set kick 9"), OK)
		wantReply(t, owner("$config roles assign <@&710000000000000305> 9"), OK)
		wantReply(t, owner("$config roles assign <@&710000000000000999> 9"), Refused, "not a role of this server")
		wantReply(t, owner("$config roles assign <@&710000000000000303> 8"), Refused, "rank 8 does not exist")
		wantReply(t, owner("$config ranks delete 9"), OK, `Deleted rank 9, "Wardens"`, "Roles that lost it", "<@&710000000000000305>", "still require rank 9", "`kick`")
		wantReply(t, owner("$config ranks delete 9"), Refused, "Rank 9 does not exist")
		wantReply(t, owner("$config roles unassign <@&710000000000000301>"), OK, "no longer gives a rank (was 5 (Administrator))")
		wantReply(t, owner("$config roles unassign <@&710000000000000301>"), Refused, "has no rank")
	})
}

func TestConfigBackToDiscordPermissions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		owner := func(text string) Reply { return f.run(t, tOwner, nil, text) }
		r := owner("$config ranks set 1 Helper")
		wantReply(t, r, OK, `Created rank 1, "Helper"`, "now uses ranks")
		if strings.Contains(r.Message.Content, "no longer use `config`") {
			t.Errorf("the owner was warned of losing config: %q", r.Message.Content)
		}
		wantReply(t, owner("$config ranks set 2 Staff"), OK)
		if r := owner("$config ranks set 3 Mods"); strings.Contains(r.Message.Content, "now uses ranks") {
			t.Errorf("the switch to ranks was announced again: %q", r.Message.Content)
		}
		wantReply(t, owner("$config ranks delete 1"), OK)
		wantReply(t, owner("$config ranks delete 2"), OK)
		wantReply(t, owner("$config ranks delete 3"), OK, "no ranks left", "Discord's own permissions decide again")
		wantReply(t, owner("$config"), OK, "no ranks: Discord's own permissions decide")
	})
}

func TestChannelPermissionsOverwrites(t *testing.T) {
	t.Parallel()
	const (
		user   = int64(710000000000000900)
		roleA  = int64(710000000000000901)
		roleB  = int64(710000000000000902)
		admins = int64(710000000000000903)
	)
	g := discord.Guild{ID: discord.GuildID(tGuild), OwnerID: discord.UserID(tOwner), Roles: []discord.Role{
		{ID: discord.RoleID(tGuild), Permissions: permViewChannel | permSendMessages},
		{ID: discord.RoleID(roleA), Position: 1}, {ID: discord.RoleID(roleB), Position: 2}, {ID: discord.RoleID(admins), Position: 3, Permissions: permAdministrator},
	}}
	everyoneDeny := discord.Overwrite{ID: tGuild, Type: discord.OverwriteRole, Deny: permSendMessages | permViewChannel}
	for _, tc := range []struct {
		name  string
		roles []int64
		ows   []discord.Overwrite
		want  uint64
	}{
		{"no overwrites", nil, nil, permViewChannel | permSendMessages},
		{"@everyone denied", []int64{roleA}, []discord.Overwrite{everyoneDeny}, 0},
		{"a role's allow beats @everyone's deny", []int64{roleA}, []discord.Overwrite{everyoneDeny,
			{ID: roleA, Type: discord.OverwriteRole, Allow: permViewChannel | permSendMessages}}, permViewChannel | permSendMessages},
		{"roles' allows beat roles' denies", []int64{roleA, roleB}, []discord.Overwrite{
			{ID: roleA, Type: discord.OverwriteRole, Deny: permSendMessages},
			{ID: roleB, Type: discord.OverwriteRole, Allow: permSendMessages}}, permViewChannel | permSendMessages},
		{"an overwrite for a role the member lacks", nil, []discord.Overwrite{
			{ID: roleA, Type: discord.OverwriteRole, Deny: permSendMessages}}, permViewChannel | permSendMessages},
		{"the member's own deny beats a role's allow", []int64{roleA}, []discord.Overwrite{
			{ID: roleA, Type: discord.OverwriteRole, Allow: permEmbedLinks},
			{ID: user, Type: discord.OverwriteMember, Deny: permSendMessages | permEmbedLinks}}, permViewChannel},
		{"Administrator ignores overwrites", []int64{admins}, []discord.Overwrite{everyoneDeny}, permAll},
	} {
		got := channelPermissions(g, discord.Member{User: discord.User{ID: discord.UserID(user)}, Roles: discord.IDs[discord.RoleID](tc.roles)}, tc.ows)
		if got != tc.want {
			t.Errorf("%s: permissions = %b; want %b", tc.name, got, tc.want)
		}
	}
	if got := channelPermissions(g, discord.Member{User: discord.User{ID: discord.UserID(tOwner)}}, []discord.Overwrite{everyoneDeny}); got != permAll {
		t.Errorf("the owner's permissions = %b; want all", got)
	}
}

// FuzzConfigArgs: whatever is typed after $config either is refused with a usage error or
// parses to values within the bounds the tool relies on.
func FuzzConfigArgs(f *testing.F) {
	for _, s := range []string{"$config", "$config prefix !", "$config channel modlog none", "$config channel jail <#710000000000000401>",
		"$config jailrole none", "$config mirror on", "$config ranks set 3 \"Senior Mod\" handles appeals", "$config ranks delete 10",
		"$config roles assign <@&710000000000000301> 3", "$config commands set cases modify 4", `$config commands set "cases modify" 4`,
		"$config commands clear config ranks", "$settings commands", "$config commands set -rank 3 ban"} {
		f.Add(s)
	}
	specs := []*commands.Spec{configSpec().Link()}
	f.Fuzz(func(t *testing.T, in string) {
		args, ok, err := commands.ParsePrefix(specs, "$", in)
		if !ok || err != nil {
			return
		}
		if len(args.Spec.Subs) > 0 {
			t.Fatalf("%q ran the group %s", in, args.Command())
		}
		for _, name := range []string{"rank", "number"} {
			if args.Has(name) && (args.Int(name) < permissions.MinRank || args.Int(name) > permissions.MaxRank) {
				t.Fatalf("%q: %s %d out of bounds", in, name, args.Int(name))
			}
		}
		if args.Has("setting") {
			if _, ok := configChannels[args.String("setting")]; !ok {
				t.Fatalf("%q: setting %q is not a channel setting", in, args.String("setting"))
			}
		}
		if args.Has("state") && args.String("state") != "on" && args.String("state") != "off" {
			t.Fatalf("%q: state %q", in, args.String("state"))
		}
		for _, name := range []string{"channel", "role"} {
			if args.Has(name) && args.ID(name) < 0 {
				t.Fatalf("%q: %s id %d", in, name, args.ID(name))
			}
		}
	})
}
