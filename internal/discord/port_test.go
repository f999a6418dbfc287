package discord_test

import (
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
)

func TestSnowflakeTime(t *testing.T) {
	// Discord's documented example: 175928847299117063 was created 2016-04-30 11:18:25.796 UTC.
	want := time.Date(2016, 4, 30, 11, 18, 25, 796_000_000, time.UTC)
	if got := discord.SnowflakeTime(discord.MessageID(175928847299117063)); !got.Equal(want) {
		t.Errorf("SnowflakeTime = %v; want %v", got, want)
	}
	if got := discord.SnowflakeTime(discord.SnowflakeAt(want)); !got.Equal(want) {
		t.Errorf("SnowflakeAt does not round-trip: %v", got)
	}
	if discord.SnowflakeAt(time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)) != 0 {
		t.Error("a time before Discord's epoch should give 0")
	}
}

func TestHelpers(t *testing.T) {
	now := time.Now()
	m := discord.Member{CommunicationDisabledUntil: now.Add(time.Minute)}
	if !m.TimedOut(now) || m.TimedOut(now.Add(time.Hour)) || (discord.Member{}).TimedOut(now) {
		t.Error("TimedOut")
	}
	if (discord.User{Username: "bob", GlobalName: "Bob"}).DisplayName() != "Bob" || (discord.User{Username: "bob"}).DisplayName() != "bob" {
		t.Error("DisplayName")
	}
	g := discord.Guild{Roles: []discord.Role{{ID: 1, Name: "@everyone"}, {ID: 2, Name: "mod"}}}
	if r, ok := g.Role(2); !ok || r.Name != "mod" {
		t.Error("Role(2)")
	}
	if _, ok := g.Role(3); ok {
		t.Error("Role(3) found")
	}
}
