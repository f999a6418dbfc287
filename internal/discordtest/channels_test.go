package discordtest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/disgoorg/disgo/gateway"

	"github.com/gavelbot/gavel/internal/discordtest"
)

func TestCreateChannelAs(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	c, _ := connect(t, s, intentsAll)

	ow := discordtest.Overwrite{ID: w.guild, Type: 0, Deny: discordtest.PermSendMessages}
	id, err := s.CreateChannelAs(w.guild, w.owner, discordtest.ChannelGuildText, "new-room", ow)
	if err != nil {
		t.Fatalf("CreateChannelAs: %v", err)
	}
	p := c.dispatch("CHANNEL_CREATE")
	var ev gateway.EventChannelCreate
	if err := json.Unmarshal(p.D, &ev); err != nil {
		t.Fatalf("disgo cannot decode CHANNEL_CREATE: %v (%s)", err, p.D)
	}
	if ev.ID() != snow(id) || ev.GuildID() != snow(w.guild) || ev.Name() != "new-room" || len(ev.PermissionOverwrites()) != 1 {
		t.Errorf("CHANNEL_CREATE decoded as %+v", ev.GuildChannel)
	}
	if got, ok := s.Channel(id); !ok || got.Name != "new-room" || got.GuildID != w.guild {
		t.Errorf("stored channel = %+v, %v", got, ok)
	}
	log := s.AuditLog(w.guild)
	if len(log) == 0 || log[len(log)-1].ActionType != discordtest.AuditChannelCreate || log[len(log)-1].UserID != w.owner || log[len(log)-1].TargetID != id {
		t.Errorf("audit log = %+v; want the channel's creation by the owner last", log)
	}

	// A member without Manage Channels is refused, and nothing is created.
	before := len(s.AuditLog(w.guild))
	if _, err := s.CreateChannelAs(w.guild, w.member, discordtest.ChannelGuildText, "nope"); err == nil || !strings.Contains(err.Error(), "50013") {
		t.Errorf("member creating a channel: %v; want 50013", err)
	}
	if _, err := s.CreateChannelAs(w.guild, w.owner, discordtest.ChannelGuildText, ""); err == nil || !strings.Contains(err.Error(), "50035") {
		t.Errorf("empty name: %v; want 50035", err)
	}
	if after := len(s.AuditLog(w.guild)); after != before {
		t.Errorf("refused creations wrote %d audit-log entries", after-before)
	}
}

// TestOverwritesAsUser: a member with Manage Roles edits and deletes overwrites (each a
// CHANNEL_UPDATE and an audit-log entry naming them); one without it, or granting a bit
// they lack, gets 50013 and nothing changes. AddChannels makes many channels at once and
// Synced compares a channel's overwrites with its category's.
func TestOverwritesAsUser(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	c, _ := connect(t, s, intentsAll)
	mgr := s.AddRole(w.guild, "managers", 2, discordtest.PermManageRoles|discordtest.PermViewChannel|discordtest.PermSendMessages)
	s.AddMember(w.guild, w.owner)
	manager := s.AddUser("manager", false)
	s.AddMember(w.guild, manager, mgr)

	ow := discordtest.Overwrite{ID: w.guild, Deny: discordtest.PermSendMessages}
	if err := s.SetOverwriteAs(w.channel, manager, ow); err != nil {
		t.Fatalf("SetOverwriteAs: %v", err)
	}
	c.dispatch("CHANNEL_UPDATE")
	if log := s.AuditLog(w.guild); log[len(log)-1].ActionType != discordtest.AuditOverwriteCreate || log[len(log)-1].UserID != manager {
		t.Errorf("audit log = %+v", log[len(log)-1])
	}
	if err := s.SetOverwriteAs(w.channel, manager, discordtest.Overwrite{ID: w.guild, Deny: discordtest.PermBanMembers}); err == nil || !strings.Contains(err.Error(), "50013") {
		t.Errorf("denying a bit the manager lacks: %v; want 50013", err)
	}
	if err := s.SetOverwriteAs(w.channel, w.member, discordtest.Overwrite{ID: w.guild}); err == nil || !strings.Contains(err.Error(), "50013") {
		t.Errorf("a member without Manage Roles: %v; want 50013", err)
	}
	if got, _ := s.Channel(w.channel); len(got.PermissionOverwrites) != 1 || got.PermissionOverwrites[0] != ow {
		t.Errorf("overwrites after refusals = %+v", got.PermissionOverwrites)
	}
	// The deny took Send Messages from the manager in the channel, but the bits Discord checks
	// are the guild's: they may still lift it.
	if err := s.DeleteOverwriteAs(w.channel, manager, w.guild); err != nil {
		t.Fatalf("DeleteOverwriteAs: %v", err)
	}
	if log := s.AuditLog(w.guild); log[len(log)-1].ActionType != discordtest.AuditOverwriteDelete || log[len(log)-1].UserID != manager {
		t.Errorf("audit log = %+v", log[len(log)-1])
	}
	if got, _ := s.Channel(w.channel); len(got.PermissionOverwrites) != 0 {
		t.Errorf("overwrites after the delete = %+v", got.PermissionOverwrites)
	}

	ids := s.AddChannels(w.guild, []discordtest.Channel{{Type: discordtest.ChannelGuildCategory, Name: "cat", PermissionOverwrites: []discordtest.Overwrite{ow}}})
	kids := s.AddChannels(w.guild, []discordtest.Channel{
		{Type: discordtest.ChannelGuildText, Name: "synced", ParentID: ids[0], PermissionOverwrites: []discordtest.Overwrite{ow}},
		{Type: discordtest.ChannelGuildText, Name: "apart", ParentID: ids[0]},
	})
	if !s.Synced(kids[0]) || s.Synced(kids[1]) || s.Synced(w.channel) {
		t.Errorf("Synced = %v %v %v; want true false false", s.Synced(kids[0]), s.Synced(kids[1]), s.Synced(w.channel))
	}
}
