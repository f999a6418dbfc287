package discordtest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/disgoorg/disgo/gateway"

	"github.com/gavelbot/gavel/internal/discordtest"
)

func TestCreateChannelAs(t *testing.T) {
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
