package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

// cfgWorld is newWorld with what config needs: an administrator (Manage Server), a jail
// role below gavel and a role above it, and channels to log to.
type cfgWorld struct {
	*world
	admin                         discordtest.ID
	adminRole, jailRole, highRole discordtest.ID
	audit, modlog, voice, locked  discordtest.ID
	ctx                           context.Context
}

// startConfigWorld starts gavel on the config world; setup, when given, adds to the
// server what the test needs before gavel connects (and so sees it in its READY).
func startConfigWorld(t *testing.T, setup ...func(w *cfgWorld)) *cfgWorld {
	t.Helper()
	w := &cfgWorld{world: newWorld(t)}
	s := w.s
	w.jailRole = s.AddRole(w.guild, "jailed", 1, 0)
	w.adminRole = s.AddRole(w.guild, "admins", 2, discordtest.PermManageGuild)
	w.highRole = s.AddRole(w.guild, "above gavel", 10, 0)
	w.admin = s.AddUser("admin", false)
	s.AddMember(w.guild, w.admin, w.adminRole)
	w.audit = s.AddChannel(w.guild, discordtest.ChannelGuildText, "audit-log")
	w.modlog = s.AddChannel(w.guild, discordtest.ChannelGuildText, "mod-log")
	w.voice = s.AddChannel(w.guild, discordtest.ChannelGuildVoice, "voice")
	w.locked = s.AddChannel(w.guild, discordtest.ChannelGuildText, "read-only",
		discordtest.Overwrite{ID: w.guild, Type: 0, Deny: discordtest.PermSendMessages})
	for _, f := range setup {
		f(w)
	}

	ctx, cancel := context.WithCancel(context.Background())
	w.ctx = ctx
	a, err := newTestApp(ctx, w.config(), quietLogger())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(eventBound):
			t.Error("Run did not return after the context ended")
		}
	})
	readyCtx, readyCancel := context.WithTimeout(ctx, eventBound)
	defer readyCancel()
	if err := s.WaitReady(readyCtx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return w
}

// cfgText is a message's text: its content and its embeds' title, description, fields and
// footer, as Discord shows them.
func cfgText(m discordtest.Message) string {
	var b strings.Builder
	b.WriteString(m.Content)
	for _, raw := range m.Embeds {
		var e struct {
			Title, Description string
			Fields             []struct{ Name, Value string }
			Footer             struct{ Text string }
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			b.WriteString("\n(bad embed: " + err.Error() + ")")
			continue
		}
		b.WriteString("\n" + e.Title + "\n" + e.Description)
		for _, f := range e.Fields {
			b.WriteString("\n" + f.Name + ": " + f.Value)
		}
		b.WriteString("\n" + e.Footer.Text)
	}
	return b.String()
}

func (w *cfgWorld) botMessages(channel discordtest.ID) []discordtest.Message {
	var out []discordtest.Message
	for _, m := range w.s.Messages(channel) {
		if m.AuthorID == w.s.BotID() {
			out = append(out, m)
		}
	}
	return out
}

// say sends a prefix command in #general and returns gavel's reply, which must contain
// every one of want.
func (w *cfgWorld) say(t *testing.T, user discordtest.ID, text string, want ...string) string {
	t.Helper()
	before := len(w.botMessages(w.general))
	w.s.SendMessage(w.general, user, text)
	waitFor(t, "the reply to "+text, func() bool { return len(w.botMessages(w.general)) > before })
	reply := cfgText(w.botMessages(w.general)[before])
	for _, s := range want {
		if !strings.Contains(reply, s) {
			t.Errorf("%s: reply %q does not contain %q", text, reply, s)
		}
	}
	return reply
}

// slash runs /config with options and returns the ephemeral reply, which must contain every
// one of want.
func (w *cfgWorld) slash(t *testing.T, user discordtest.ID, opt discordtest.CommandOption, want ...string) string {
	t.Helper()
	ia := w.s.SlashCommand(w.guild, w.general, user, "config", opt)
	ctx, cancel := context.WithTimeout(w.ctx, eventBound)
	defer cancel()
	msgs, err := ia.WaitResponses(ctx, 1)
	if err != nil {
		t.Fatalf("/config %s: %v", opt.Name, err)
	}
	if msgs[0].Flags&discordtest.MessageFlagEphemeral == 0 {
		t.Errorf("/config %s: the reply is public", opt.Name)
	}
	reply := cfgText(msgs[0])
	for _, s := range want {
		if !strings.Contains(reply, s) {
			t.Errorf("/config %s: reply %q does not contain %q", opt.Name, reply, s)
		}
	}
	return reply
}

func (w *cfgWorld) settings(t *testing.T) (settings.Guild, *permissions.Service) {
	t.Helper()
	st, err := store.OpenURL(context.Background(), w.dbURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g, err := settings.NewService(st, settings.WithCacheTTL(0)).Get(context.Background(), discord.GuildID(w.guild))
	if err != nil {
		t.Fatal(err)
	}
	perms, err := permissions.New(st, []string{"config", "cases modify", "kick"}, permissions.WithCacheTTL(0))
	if err != nil {
		t.Fatal(err)
	}
	return g, perms
}

func mentionAs(prefix string, id discordtest.ID) string { return prefix + id.String() + ">" }

func TestConfigPrefixForm(t *testing.T) {
	t.Parallel()
	w := startConfigWorld(t)

	w.say(t, w.admin, "$config", "gavel's settings in this server", "Prefix", "no ranks")
	w.say(t, w.plain, "$config", "You need the Manage Server permission to use `config show`")

	// The prefix, and the new one in use at once.
	w.say(t, w.admin, "$config prefix toolong", "7 characters long", "accepted: 1 to 5 characters", "Nothing was changed")
	w.say(t, w.admin, "$config prefix !", "Commands now start with `!` (was `$`)")
	w.say(t, w.admin, "!config show", "`!`")

	// Channels: refused unless a text channel gavel can post in; the audit log hears of each change.
	w.say(t, w.admin, "!config channel modlog "+mentionAs("<#", w.voice), "voice channel, not a text channel", "Nothing was changed")
	w.say(t, w.admin, "!config channel modlog "+mentionAs("<#", w.locked), "gavel cannot post in", "Send Messages")
	w.say(t, w.admin, "!config channel modlog 712345678901234567", "no channel 712345678901234567 that gavel can see")
	w.say(t, w.admin, "!config channel auditlog "+mentionAs("<#", w.audit), "audit-log channel is now "+mentionAs("<#", w.audit)+" (was not set)")
	w.say(t, w.admin, "!config channel modlog "+mentionAs("<#", w.modlog), "mod-log channel is now")
	waitFor(t, "two audit-log posts", func() bool { return len(w.botMessages(w.audit)) == 2 })
	post := cfgText(w.botMessages(w.audit)[1])
	for _, want := range []string{"Configuration changed", "config channel", mentionAs("<@", w.admin), "Mod-log channel", "not set → " + mentionAs("<#", w.modlog)} {
		if !strings.Contains(post, want) {
			t.Errorf("audit-log post %s does not contain %q", post, want)
		}
	}
	if m := w.botMessages(w.audit)[1]; string(m.AllowedMentions) == "" || strings.Contains(string(m.AllowedMentions), "everyone") {
		t.Errorf("audit-log post allowed_mentions = %s; want one that pings nobody", m.AllowedMentions)
	}

	// The jail role: below gavel, not @everyone.
	w.say(t, w.admin, "!config jailrole "+mentionAs("<@&", w.highRole), "not below gavel's highest role")
	w.say(t, w.admin, "!config jailrole "+mentionAs("<@&", w.guild), "@everyone cannot be the jail role")
	w.say(t, w.admin, "!config jailrole "+mentionAs("<@&", w.jailRole), "jail role is now "+mentionAs("<@&", w.jailRole))
	w.say(t, w.admin, "!config mirror off", "no longer recorded as cases")
	w.say(t, w.admin, "!config mirror sometimes", "state must be one of on, off")

	g, _ := w.settings(t)
	if g.Prefix != "!" || g.ModlogChannelID != discord.ChannelID(w.modlog) || g.AuditlogChannelID != discord.ChannelID(w.audit) ||
		g.JailRoleID != discord.RoleID(w.jailRole) || g.MirrorExternalActions {
		t.Errorf("settings = %+v", g)
	}

	// Ranks: the administrator turns them on, which gives every command its default rank
	// (config 5); holding no rank yet, they are locked out of config; the owner is not, and
	// gives their role rank 5.
	w.say(t, w.admin, "!config ranks init", "Created 8 ranks", "`ban` 3", "`cases modify` 4", "`config` 5", "`warn` 2",
		"now uses ranks", "You can no longer use `config` yourself")
	w.say(t, w.admin, "!config ranks", "You need rank 5 (Administrator) to use `config ranks list`; your rank is 0 (Member)")
	w.say(t, w.owner, "!config ranks init", "Nothing to create")
	w.say(t, w.owner, "!config roles assign "+mentionAs("<@&", w.adminRole)+" 5", "now gives rank 5 (Administrator)")
	w.say(t, w.admin, "!config ranks", "Server Owner", "roles: "+mentionAs("<@&", w.adminRole))
	w.say(t, w.mod, "!config", "You need rank 5 (Administrator) to use `config show`; your rank is 0 (Member)")

	// Command names with spaces: the words before the rank, or quoted.
	w.say(t, w.admin, "!config commands set config ranks set 6", "`config ranks set` now requires rank 6 (Head Administrator) (was none)")
	w.say(t, w.admin, `!config commands set "config roles" 4`, "`config roles` now requires rank 4 (Senior Moderator)")
	w.say(t, w.admin, "!config commands set config rank set 4", "`config rank set` is not one of gavel's commands", "Did you mean `config ranks set`?", "config (", "kick")
	w.say(t, w.admin, "!config commands set kick", "needs rank")
	w.say(t, w.admin, "!config commands", "`config ranks set` → rank 6", "`config roles` → rank 4")
	w.say(t, w.admin, "!config commands clear config roles", "`config roles` no longer has a rank of its own; it now requires the rank of `config`, 5 (Administrator)")
	w.say(t, w.admin, "!config ranks set 9 Wardens they keep the jail", "You need rank 6 (Head Administrator) to use `config ranks set`; your rank is 5 (Administrator)")
	w.say(t, w.owner, "!config ranks set 9 Wardens they keep the jail", `Created rank 9, "Wardens"`)
	w.say(t, w.admin, "!config commands set kick 9", "`kick` now requires rank 9 (Wardens)")
	w.say(t, w.admin, "!config roles assign "+mentionAs("<@&", w.jailRole)+" 9", "now gives rank 9")
	w.say(t, w.admin, "!config ranks delete 9", "Roles that lost it", mentionAs("<@&", w.jailRole), "still require rank 9", "`kick`")
	w.say(t, w.admin, "!config roles unassign "+mentionAs("<@&", w.jailRole), "has no rank")

	// The owner can always recover: config closed to a rank nobody has, then opened again.
	w.say(t, w.owner, "!config commands set config 10", "`config` now requires rank 10")
	w.say(t, w.admin, "!config", "You need rank 10 to use `config show`")
	w.say(t, w.owner, "!config commands set config 5", "`config` now requires rank 5")
	w.say(t, w.admin, "!config", "gavel's settings in this server")

	_, perms := w.settings(t)
	cmds, err := perms.CommandRanks(context.Background(), discord.GuildID(w.guild))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range cmds {
		got[c.Command] = c.Rank
	}
	if got["config ranks set"] != 6 || got["config"] != 5 || got["kick"] != 9 || got["ban"] != 3 || got["cases modify"] != 4 || got["purge"] != 2 {
		t.Errorf("command ranks = %v; want config ranks set 6, config 5, kick 9 and the defaults (ban 3, cases modify 4, purge 2)", got)
	}
}

func TestConfigSlashForm(t *testing.T) {
	t.Parallel()
	w := startConfigWorld(t)
	sub, group := discordtest.SubCommand, discordtest.SubCommandGroup
	str, integer := discordtest.StringOpt, discordtest.IntOpt

	w.slash(t, w.admin, sub("show"), "gavel's settings in this server")
	w.slash(t, w.plain, sub("show"), "You need the Manage Server permission")
	w.slash(t, w.admin, sub("prefix", str("prefix", "a b")), "whitespace", "Nothing was changed")
	w.slash(t, w.admin, sub("prefix", str("prefix", "??")), "Commands now start with `??` (was `$`)")
	w.say(t, w.admin, "??config", "`??`")

	w.slash(t, w.admin, sub("channel", str("setting", "jail"), discordtest.ChannelOpt("channel", w.voice)), "voice channel")
	w.slash(t, w.admin, sub("channel", str("setting", "jail"), discordtest.ChannelOpt("channel", w.general)), "jail channel is now "+mentionAs("<#", w.general))
	w.slash(t, w.admin, sub("channel", str("setting", "auditlog"), discordtest.ChannelOpt("channel", w.audit)), "audit-log channel is now")
	w.slash(t, w.admin, sub("channel", str("setting", "jail"), discordtest.BoolOpt("clear", true)), "jail channel is cleared (was "+mentionAs("<#", w.general)+")")
	w.slash(t, w.admin, sub("channel", str("setting", "jail")), "clear:true")
	waitFor(t, "the audit-log post of the cleared jail channel", func() bool {
		msgs := w.botMessages(w.audit)
		return len(msgs) > 0 && strings.Contains(cfgText(msgs[len(msgs)-1]), "Jail channel")
	})

	w.slash(t, w.admin, sub("jailrole", discordtest.RoleOpt("role", w.highRole)), "not below gavel's highest role")
	w.slash(t, w.admin, sub("jailrole", discordtest.RoleOpt("role", w.jailRole)), "jail role is now")
	w.slash(t, w.admin, sub("jailrole", discordtest.BoolOpt("clear", true)), "jail role is cleared")
	w.slash(t, w.admin, sub("mirror", str("state", "off")), "no longer recorded")

	w.slash(t, w.admin, group("ranks", sub("list")), "no ranks")
	w.slash(t, w.admin, group("commands", sub("set", str("command", "config"), integer("rank", 5))), "`config` now requires rank 5")
	w.slash(t, w.admin, group("ranks", sub("init")), "Created 8 ranks", "You can no longer use `config` yourself")
	w.slash(t, w.admin, group("ranks", sub("list")), "You need rank 5 (Administrator) to use `config ranks list`; your rank is 0 (Member)")
	w.slash(t, w.owner, group("roles", sub("assign", discordtest.RoleOpt("role", w.adminRole), integer("rank", 5))), "now gives rank 5 (Administrator)")
	w.slash(t, w.admin, group("roles", sub("list")), mentionAs("<@&", w.adminRole), "rank 5 (Administrator)")
	w.slash(t, w.admin, group("ranks", sub("set", integer("number", 8), str("name", "Head Warden"), str("description", "Runs the jail"))), `Created rank 8, "Head Warden"`)
	w.slash(t, w.admin, group("ranks", sub("list")), "Head Warden", "Runs the jail")
	w.slash(t, w.admin, group("ranks", sub("delete", integer("number", 8))), `Deleted rank 8, "Head Warden"`)
	w.slash(t, w.admin, group("commands", sub("set", str("command", "config ranks init"), integer("rank", 6))), "`config ranks init` now requires rank 6")
	w.slash(t, w.admin, group("commands", sub("set", str("command", "modify"), integer("rank", 4))), "`modify` is not one of gavel's commands")
	w.slash(t, w.admin, group("commands", sub("list")), "`config ranks init` → rank 6")
	w.slash(t, w.admin, group("commands", sub("clear", str("command", "Config  Ranks Init"))), "`config ranks init` no longer has a rank of its own")
	w.slash(t, w.admin, group("roles", sub("unassign", discordtest.RoleOpt("role", w.adminRole))), "no longer gives a rank", "You can no longer use `config` yourself")
	w.slash(t, w.admin, sub("show"), "You need rank 5 (Administrator)")
	w.slash(t, w.owner, sub("show"), "gavel's settings in this server")

	if g, _ := w.settings(t); g.Prefix != "??" || g.JailChannelID != 0 || g.JailRoleID != 0 || g.AuditlogChannelID != discord.ChannelID(w.audit) {
		t.Errorf("settings = %+v", g)
	}
	// Every change the slash commands made after the audit log was set is in it.
	if n := len(w.botMessages(w.audit)); n < 10 {
		t.Errorf("the audit log has %d posts; want one per change", n)
	}
}
