package discordtest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/omit"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// TestMassJoinCarriesAccountAgeAvatarAndFlags: a mass join makes GUILD_MEMBER_ADD for each
// account in order, with the account's age in its id, its avatar, its bot flag, the
// bypass flag it was given, and DID_REJOIN for a user who was a member before.
func TestMassJoinCarriesAccountAgeAvatarAndFlags(t *testing.T) {
	t.Parallel()
	clk := newStepClock()
	s := newFake(t, discordtest.WithClock(clk.Now))
	w := newWorld(s)
	c, _ := connect(t, s, intentsAll)

	created := clk.Now().Add(-3 * 24 * time.Hour)
	ids := s.MassJoin(w.guild,
		discordtest.Joiner{Name: "raider1", CreatedAt: created},
		discordtest.Joiner{Name: "raider2", CreatedAt: created, Avatar: true},
		discordtest.Joiner{Name: "helperbot", CreatedAt: created, Bot: true},
		discordtest.Joiner{Name: "trusted", CreatedAt: created, Flags: discordtest.MemberFlagBypassesVerification},
	)
	if len(ids) != 4 {
		t.Fatalf("ids = %v", ids)
	}
	for i, id := range ids {
		if got := id.Time(); !got.Equal(created.Truncate(time.Millisecond)) {
			t.Errorf("joiner %d: account created %v, want %v", i, got, created)
		}
		var ev gateway.EventGuildMemberAdd
		if err := json.Unmarshal(c.dispatch("GUILD_MEMBER_ADD").D, &ev); err != nil {
			t.Fatalf("disgo cannot decode GUILD_MEMBER_ADD: %v", err)
		}
		if ev.User.ID != snow(id) || ev.GuildID != snow(w.guild) || !ev.JoinedAt.Equal(clk.Now()) {
			t.Errorf("joiner %d: event %+v", i, ev.Member)
		}
		if (ev.User.Avatar != nil) != (i == 1) || ev.User.Bot != (i == 2) {
			t.Errorf("joiner %d: avatar %v bot %v", i, ev.User.Avatar, ev.User.Bot)
		}
	}
	if m, _ := s.Member(w.guild, ids[3]); m.Flags != discordtest.MemberFlagBypassesVerification {
		t.Errorf("bypass flag = %d", m.Flags)
	}

	s.UserLeaves(w.guild, ids[0])
	c.dispatch("GUILD_MEMBER_REMOVE")
	if err := s.UserJoins(w.guild, ids[0]); err != nil {
		t.Fatal(err)
	}
	var again gateway.EventGuildMemberAdd
	if err := json.Unmarshal(c.dispatch("GUILD_MEMBER_ADD").D, &again); err != nil {
		t.Fatal(err)
	}
	if again.Flags&discord.MemberFlagDidRejoin == 0 {
		t.Errorf("a rejoin lacks DID_REJOIN: flags %d", again.Flags)
	}
}

// TestIncidentActions: at most 24 hours ahead, a field not sent is reset, each change is a
// GUILD_UPDATE with incidents_data, and a pause reads as lifted once its time has passed.
func TestIncidentActions(t *testing.T) {
	t.Parallel()
	clk := newStepClock()
	s := newFake(t, discordtest.WithClock(clk.Now))
	w := newWorld(s)
	c, _ := connect(t, s, intentsAll)
	r := disgoREST(t, s)

	inv, dms := clk.Now().Add(23*time.Hour), clk.Now().Add(time.Hour)
	data, err := r.UpdateGuildIncidentActions(snow(w.guild), discord.GuildIncidentActionsUpdate{
		InvitesDisabledUntil: omit.New(&inv), DMsDisabledUntil: omit.New(&dms)})
	if err != nil {
		t.Fatal(err)
	}
	if data.InvitesDisabledUntil == nil || !data.InvitesDisabledUntil.Equal(inv) || data.DMsDisabledUntil == nil {
		t.Errorf("answer = %+v", data)
	}
	var ev gateway.EventGuildUpdate
	if err := json.Unmarshal(c.dispatch("GUILD_UPDATE").D, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.IncidentsData == nil || ev.IncidentsData.InvitesDisabledUntil == nil || !ev.IncidentsData.InvitesDisabledUntil.Equal(inv) {
		t.Errorf("GUILD_UPDATE incidents_data = %+v", ev.IncidentsData)
	}

	// Only invites sent: DMs are reset, as Discord does.
	data, err = r.UpdateGuildIncidentActions(snow(w.guild), discord.GuildIncidentActionsUpdate{InvitesDisabledUntil: omit.New(&inv)})
	if err != nil {
		t.Fatal(err)
	}
	if data.DMsDisabledUntil != nil {
		t.Errorf("a DM pause not sent survived: %+v", data)
	}
	c.dispatch("GUILD_UPDATE")

	// More than 24 hours ahead is refused and changes nothing.
	far := clk.Now().Add(24*time.Hour + time.Minute)
	if _, err := r.UpdateGuildIncidentActions(snow(w.guild), discord.GuildIncidentActionsUpdate{InvitesDisabledUntil: omit.New(&far)}); err == nil {
		t.Error("a pause of more than 24 hours was accepted")
	}
	if got := s.GuildIncidents(w.guild); got.InvitesDisabledUntil == nil || !got.InvitesDisabledUntil.Equal(inv) {
		t.Errorf("after the refusal: %+v", got)
	}
	clk.Advance(23*time.Hour + time.Second)
	if got := s.GuildIncidents(w.guild); got.InvitesDisabledUntil != nil {
		t.Errorf("the pause outlived its time: %+v", got)
	}
	if n := len(s.IncidentLog(w.guild)); n != 2 {
		t.Errorf("incident log has %d changes, want 2", n)
	}
}

// TestVerificationLevelAndRaidReport: PATCH /guilds changes the level with GUILD_UPDATE;
// Discord's own raid report sets raid_detected_at and posts a type 38 system message.
func TestVerificationLevelAndRaidReport(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	c, _ := connect(t, s, intentsAll)
	r := disgoREST(t, s)

	high := discord.VerificationLevelHigh
	g, err := r.UpdateGuild(snow(w.guild), discord.GuildUpdate{VerificationLevel: omit.New(&high)})
	if err != nil {
		t.Fatal(err)
	}
	if g.VerificationLevel != discord.VerificationLevelHigh || s.VerificationLevel(w.guild) != discordtest.VerificationHigh {
		t.Errorf("level = %d / %d", g.VerificationLevel, s.VerificationLevel(w.guild))
	}
	var ev gateway.EventGuildUpdate
	if err := json.Unmarshal(c.dispatch("GUILD_UPDATE").D, &ev); err != nil || ev.VerificationLevel != discord.VerificationLevelHigh {
		t.Errorf("GUILD_UPDATE = %+v, %v", ev.VerificationLevel, err)
	}

	c.dispatch("GUILD_AUDIT_LOG_ENTRY_CREATE")

	s.ReportRaid(w.guild, w.channel)
	if err := json.Unmarshal(c.dispatch("GUILD_UPDATE").D, &ev); err != nil || ev.IncidentsData == nil || ev.IncidentsData.RaidDetectedAt == nil {
		t.Errorf("raid report GUILD_UPDATE = %+v, %v", ev.IncidentsData, err)
	}
	var msg struct {
		Type int `json:"type"`
	}
	if err := json.Unmarshal(c.dispatch("MESSAGE_CREATE").D, &msg); err != nil || msg.Type != discordtest.MessageTypeIncidentReportRaid {
		t.Errorf("raid report message type %d, %v", msg.Type, err)
	}
	// The message alone: no GUILD_UPDATE, raid_detected_at as it was.
	before := s.GuildIncidents(w.guild).RaidDetectedAt
	s.ReportRaidMessage(w.guild, w.channel)
	if err := json.Unmarshal(c.dispatch("MESSAGE_CREATE").D, &msg); err != nil || msg.Type != discordtest.MessageTypeIncidentReportRaid {
		t.Errorf("raid report message alone: type %d, %v", msg.Type, err)
	}
	if after := s.GuildIncidents(w.guild).RaidDetectedAt; after == nil || !after.Equal(*before) {
		t.Errorf("the message alone moved raid_detected_at: %v → %v", before, after)
	}
}
