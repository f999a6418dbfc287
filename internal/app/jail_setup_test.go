package app_test

import (
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// jailOverwrite is the jail role's overwrite on a channel in the fake.
func (w *cfgWorld) jailOverwrite(t *testing.T, channel discordtest.ID) (discordtest.Overwrite, bool) {
	t.Helper()
	ch, ok := w.s.Channel(channel)
	if !ok {
		t.Fatalf("no channel %s", channel)
	}
	for _, o := range ch.PermissionOverwrites {
		if o.ID == w.jailRole && o.Type == 0 {
			return o, true
		}
	}
	return discordtest.Overwrite{}, false
}

// TestJailSetup: setting the jail role denies it View Channel on every channel and category
// but the jail channel (where it may read and write), so a jailed member can no longer post
// in #general; what could not be changed is reported, the report goes to the audit-log
// channel, config jail check lists what jailed members can still see (with the category a
// channel is not synced with), and config jail setup finishes the job.
func TestJailSetup(t *testing.T) {
	t.Parallel()
	w := startConfigWorld(t)
	s := w.s
	jail := s.AddChannel(w.guild, discordtest.ChannelGuildText, "jail")
	category := s.AddChannel(w.guild, discordtest.ChannelGuildCategory, "community")
	synced := s.AddChannelIn(w.guild, category, discordtest.ChannelGuildText, "memes")
	// A channel gavel cannot see: its role is denied View Channel there.
	hidden := s.AddChannel(w.guild, discordtest.ChannelGuildText, "staff-only",
		discordtest.Overwrite{ID: w.botRole, Type: 0, Deny: discordtest.PermViewChannel})
	// A jailed member: only the jail role.
	jailed := s.AddUser("jailed", false)
	s.AddMember(w.guild, jailed, w.jailRole)

	w.say(t, w.admin, "$config channel auditlog "+mentionAs("<#", w.audit), "audit-log channel is now")
	w.say(t, w.admin, "$config jail check", "No jail role is set")
	w.say(t, w.admin, "$config jail setup", "No jail role is set", "`$config jailrole`")
	w.say(t, w.admin, "$config channel jail "+mentionAs("<#", jail), "jail channel is now")
	// Before: the jail role restricts nothing.
	if _, err := s.TrySendMessage(w.general, jailed, "still here"); err != nil {
		t.Fatalf("before the jail role is set, a member with it cannot post: %v", err)
	}

	reply := w.say(t, w.admin, "$config jailrole "+mentionAs("<@&", w.jailRole), "jail role is now", "Jail setup for "+mentionAs("<@&", w.jailRole),
		"category **community**", mentionAs("<#", w.general), "except the jail channel "+mentionAs("<#", jail),
		"Not changed (1)", mentionAs("<#", hidden)+": gavel cannot see it")
	if strings.Contains(reply, mentionAs("<#", hidden)+",") {
		t.Errorf("the hidden channel is reported as changed: %s", reply)
	}
	for _, ch := range []discordtest.ID{w.general, w.audit, w.modlog, w.voice, w.locked, category, synced} {
		want := discordtest.PermViewChannel | discordtest.PermSendMessages
		if ch == w.locked {
			// gavel may not post there itself, and Discord lets it deny only what it holds:
			// View Channel is what keeps jailed members out.
			want = discordtest.PermViewChannel
		}
		ow, ok := w.jailOverwrite(t, ch)
		if !ok || ow.Deny != want || ow.Allow != 0 {
			t.Errorf("channel %s: jail overwrite %+v, %v; want %d denied", ch, ow, ok, want)
		}
	}
	if ow, ok := w.jailOverwrite(t, jail); !ok || ow.Allow != discordtest.PermViewChannel|discordtest.PermSendMessages|discordtest.PermReadMessageHistory || ow.Deny != 0 {
		t.Errorf("jail channel: jail overwrite %+v, %v; want view, send and read history allowed", ow, ok)
	}
	if _, ok := w.jailOverwrite(t, hidden); ok {
		t.Error("gavel changed a channel it cannot see")
	}
	// The point of it: a jailed member cannot post in #general, and can in the jail.
	if _, err := s.TrySendMessage(w.general, jailed, "let me out"); err == nil {
		t.Error("a jailed member can still post in #general")
	}
	if _, err := s.TrySendMessage(jail, jailed, "hello from jail"); err != nil {
		t.Errorf("a jailed member cannot post in the jail channel: %v", err)
	}
	waitFor(t, "the jail setup in the audit log", func() bool {
		for _, m := range w.botMessages(w.audit) {
			if t := cfgText(m); strings.Contains(t, "config jailrole") && strings.Contains(t, "Jail setup for") {
				return true
			}
		}
		return false
	})

	// A channel added under the category without its overwrites (not synced), without an
	// event for upkeep to act on: check names it, with its category, and the hidden one.
	unsynced := s.AddChannelIn(w.guild, category, discordtest.ChannelGuildText, "off-topic")
	w.say(t, w.admin, "$config jail check", "can see 2 of", mentionAs("<#", hidden), mentionAs("<#", unsynced),
		"its category **community** denies it, but the channel is not synced", "`$config jail setup`")
	w.say(t, w.admin, "$config jail setup", "changed 1 channels and categories ("+mentionAs("<#", unsynced)+")", "were already set", "Not changed (1)")
	w.say(t, w.admin, "$config jail", "can see 1 of", mentionAs("<#", hidden))
	if reply := w.say(t, w.admin, "$config jail check"); strings.Contains(reply, mentionAs("<#", unsynced)) {
		t.Errorf("check after setup still names the fixed channel: %s", reply)
	}

	// Moving the jail channel: the new one lets jailed members in, the old one no longer does.
	w.say(t, w.admin, "$config channel jail "+mentionAs("<#", w.modlog), "jail channel is now", "Jail setup for")
	if ow, _ := w.jailOverwrite(t, jail); ow.Deny&discordtest.PermViewChannel == 0 {
		t.Errorf("the old jail channel still lets the jail role in: %+v", ow)
	}
	if ow, _ := w.jailOverwrite(t, w.modlog); ow.Allow&discordtest.PermViewChannel == 0 {
		t.Errorf("the new jail channel does not let the jail role in: %+v", ow)
	}
	// Another jail role: set up in turn; the previous one's overwrites are left, and said so.
	jail2 := s.CreateRole(w.guild, "jailed again", 1, 0)
	w.say(t, w.admin, "$config jailrole "+mentionAs("<@&", jail2), "Jail setup for "+mentionAs("<@&", jail2),
		"The previous jail role "+mentionAs("<@&", w.jailRole)+" keeps the channel overwrites")

	// The slash form reaches the same subcommands.
	w.slash(t, w.admin, discordtest.SubCommandGroup("jail", discordtest.SubCommand("check")), mentionAs("<#", hidden))
}
