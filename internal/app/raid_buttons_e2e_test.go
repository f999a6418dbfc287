package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/raid"
	"github.com/gavelbot/gavel/internal/settings"
)

// raidOfJoins has n new accounts (two days old, default avatars) join at the fake's clock and
// waits for raid number want to start (half the threshold of suspicious joiners is a raid).
func (rw *raidWorld) raidOfJoins(t *testing.T, n int, want int64) []discordtest.ID {
	t.Helper()
	var ids []discordtest.ID
	for i := range n {
		rw.clk.Advance(100 * time.Millisecond)
		ids = append(ids, rw.s.MassJoin(rw.guild, discordtest.Joiner{Name: fmt.Sprintf("raider%03d", i), CreatedAt: rw.clk.Now().Add(-48 * time.Hour)})...)
	}
	rw.waitStepOf(t, want, "started")
	return ids
}

// waitStepOf waits, on the raid's own news, for a step of kind of raid number n, the
// first one after skip earlier steps of that kind and raid.
func (rw *raidWorld) waitStepOf(t *testing.T, n int64, kind string) raid.Step {
	t.Helper()
	var found raid.Step
	waitOn(t, fmt.Sprintf("raid #%d's step %q", n, kind), func() bool {
		rw.mu.Lock()
		defer rw.mu.Unlock()
		for _, s := range rw.steps {
			if s.Raid == n && s.Kind == kind {
				found = s
				return true
			}
		}
		return false
	}, func() string { return strings.Join(rw.stepKinds(), " ") }, rw.newsOnce)
	return found
}

// current is raid number n as the record holds it now.
func (rw *raidWorld) current(t *testing.T, n int64) raid.Raid {
	t.Helper()
	r, err := rw.raids(t).ByNumber(context.Background(), discord.GuildID(rw.guild), n)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// shownMessage waits for raid number n's message in the mod log, with its buttons.
func (rw *raidWorld) shownMessage(t *testing.T, n int64) discordtest.Message {
	t.Helper()
	r := rw.current(t, n)
	var msg discordtest.Message
	waitOnMessages(t, rw.s, fmt.Sprintf("raid #%d's message with its buttons", n), func() bool {
		c, err := rw.cases.Get(context.Background(), r.CaseID)
		if err != nil || c.ModlogMessageID == 0 {
			return false
		}
		for _, m := range rw.s.Messages(rw.modlog) {
			if discord.MessageID(m.ID) == c.ModlogMessageID && len(m.Components) == 1 {
				msg = m
				return true
			}
		}
		return false
	})
	return msg
}

// click clicks a raid message's button as user and returns the answer shown to them.
func (rw *raidWorld) click(t *testing.T, user discordtest.ID, msg discordtest.Message, customID string) string {
	t.Helper()
	in := rw.s.ClickButton(rw.guild, rw.modlog, user, msg.ID, customID)
	ctx, cancel := context.WithTimeout(context.Background(), eventBound)
	defer cancel()
	// The raid's buttons are acknowledged first (tools.Tool.ClickDefers: ending raid mode
	// undoes its responses before it answers), which makes the clicked message the first
	// response; the answer, refusals included, is the ephemeral follow-up.
	rs, err := in.WaitResponses(ctx, 2)
	if err != nil {
		t.Fatalf("the answer to %s: %v", customID, err)
	}
	if rs[0].ID != msg.ID {
		t.Fatalf("the first response to %s is message %d, want the clicked message %d (the acknowledgement)", customID, rs[0].ID, msg.ID)
	}
	return rs[1].Content
}

// TestRaidButtonsEndToEnd: the raid message's buttons, clicked by a moderator with the raid
// command's permission and by a member without it.
//
//   - A member without the permission is refused each button, and nothing changes.
//   - Time out all times out every candidate (a mass action: a TIMEOUT child case each, on
//     Discord too).
//   - Release drops the candidates and lifts the timeouts raid mode applied: an UNTIMEOUT
//     case each, the timeouts gone on Discord.
//   - Kick all kicks the candidates who joined since (a KICK child case each).
//   - End raid mode undoes the responses in reverse: the verification level restored (it was
//     still High), then the invite pause lifted.
//   - A second raid whose verification level a person changed meanwhile: End raid mode leaves
//     the level as they set it and the record says so.
func TestRaidButtonsEndToEnd(t *testing.T) {
	t.Parallel()
	rw := newRaidWorld(t, true, map[settings.RaidKey]string{settings.RaidJoiner: "none"})
	ctx := context.Background()
	g := discord.GuildID(rw.guild)
	first := rw.raidOfJoins(t, 6, 1)
	rw.waitStepOf(t, 1, "verification_raised")
	msg := rw.shownMessage(t, 1)
	waitOn(t, "all six joiners in raid #1", func() bool { return len(rw.current(t, 1).Members) == 6 }, nil, rw.newsOnce)

	// A raider (no permission, no rank) is refused every button; nothing happens.
	for _, what := range []string{"ban", "kick", "timeout", "release", "end"} {
		if got := rw.click(t, first[0], msg, "raid:1:"+what); !strings.Contains(got, "Manage Server") {
			t.Errorf("a member without permission clicking %s got %q", what, got)
		}
	}
	if r := rw.current(t, 1); !r.Open() || r.Counts()["candidate"] != 6 {
		t.Fatalf("refused clicks changed the raid: open %v, %v", r.Open(), r.Counts())
	}
	for _, u := range first {
		if m, ok := rw.s.Member(rw.guild, u); !ok || m.CommunicationDisabledUntil != nil {
			t.Fatalf("a refused click acted on %d: %+v", u, m)
		}
	}

	// Time out all.
	if got := rw.click(t, rw.mod, msg, "raid:1:timeout"); !strings.Contains(got, "time out all started") && !strings.Contains(got, "timeout all started") {
		t.Errorf("Time out all answered %q", got)
	}
	rw.waitStepOf(t, 1, "mass_timeout")
	r := rw.current(t, 1)
	if r.Counts()["timed_out"] != 6 {
		t.Fatalf("after Time out all: %v", r.Counts())
	}
	for _, m := range r.Members {
		if !m.CaseID.Valid {
			t.Fatalf("member %d timed out without its child case in the raid's record", m.UserID)
		}
		c, err := rw.cases.Get(ctx, m.CaseID.Int64)
		if err != nil || c.Type != cases.Timeout || c.Status != cases.Active || c.UserID != discord.UserID(m.UserID) {
			t.Fatalf("member %d's case: %+v %v", m.UserID, c, err)
		}
		if mem, _ := rw.s.Member(rw.guild, discordtest.ID(m.UserID)); mem.CommunicationDisabledUntil == nil || !mem.CommunicationDisabledUntil.After(rw.clk.Now().Add(23*time.Hour)) {
			t.Fatalf("member %d is not timed out on Discord for the joiner timeout (24h)", m.UserID)
		}
	}

	// Release: the timeouts lifted, an UNTIMEOUT case each.
	if got := rw.click(t, rw.mod, msg, "raid:1:release"); !strings.Contains(got, "Releasing") {
		t.Errorf("Release answered %q", got)
	}
	rw.waitStepOf(t, 1, "released")
	r = rw.current(t, 1)
	if r.Counts()["released"] != 6 {
		t.Fatalf("after Release: %v", r.Counts())
	}
	for _, m := range r.Members {
		c, err := rw.cases.Get(ctx, m.CaseID.Int64)
		if err != nil || c.Type != cases.Untimeout || c.Status != cases.Active || c.Metadata["raid"] != "1" {
			t.Fatalf("released member %d's case: %+v %v", m.UserID, c, err)
		}
		if mem, _ := rw.s.Member(rw.guild, discordtest.ID(m.UserID)); mem.CommunicationDisabledUntil != nil {
			t.Fatalf("member %d is still timed out after Release", m.UserID)
		}
	}

	// Kick all: the four who join now (raid mode still on: candidates) are kicked; the
	// released are left alone.
	var late []discordtest.ID
	for i := range 4 {
		rw.clk.Advance(time.Second)
		late = append(late, rw.s.MassJoin(rw.guild, discordtest.Joiner{Name: fmt.Sprintf("late%d", i), CreatedAt: rw.clk.Now().Add(-48 * time.Hour)})...)
	}
	waitOn(t, "the four late joiners in raid #1", func() bool { return rw.current(t, 1).Counts()["candidate"] == 4 }, nil, rw.newsOnce)
	if got := rw.click(t, rw.mod, msg, "raid:1:kick"); !strings.Contains(got, "kick all started") {
		t.Errorf("Kick all answered %q", got)
	}
	rw.waitStepOf(t, 1, "mass_kick")
	r = rw.current(t, 1)
	if r.Counts()["kicked"] != 4 || r.Counts()["released"] != 6 {
		t.Fatalf("after Kick all: %v", r.Counts())
	}
	for _, u := range late {
		if _, ok := rw.s.Member(rw.guild, u); ok {
			t.Errorf("late joiner %d still a member after Kick all", u)
		}
	}
	for _, u := range first {
		if _, ok := rw.s.Member(rw.guild, u); !ok {
			t.Errorf("released member %d was kicked", u)
		}
	}
	for _, m := range r.Members {
		if m.State != "kicked" {
			continue
		}
		c, err := rw.cases.Get(ctx, m.CaseID.Int64)
		if err != nil || c.Type != cases.Kick || c.Status != cases.Active {
			t.Errorf("kicked member %d's case: %+v %v", m.UserID, c, err)
		}
	}

	// End raid mode: verification first (still High: restored to None), then the pause.
	if got := rw.click(t, rw.mod, msg, "raid:1:end"); !strings.Contains(got, "Raid mode is off") {
		t.Errorf("End raid mode answered %q", got)
	}
	rw.waitStepOf(t, 1, "ended")
	if lvl := rw.s.VerificationLevel(rw.guild); lvl != discordtest.VerificationNone {
		t.Errorf("verification level after End raid mode = %d, want the old None", lvl)
	}
	if inc := rw.s.GuildIncidents(rw.guild); inc.InvitesDisabledUntil != nil {
		t.Errorf("invites still paused after End raid mode: %+v", inc)
	}
	if kinds := strings.Join(rw.stepKinds(), " "); !strings.Contains(kinds, "verification_restored pause_lifted ended") {
		t.Errorf("not undone in reverse: %s", kinds)
	}
	if r := rw.current(t, 1); r.Open() || !r.Case.Processed || !strings.Contains(r.EndReason.String, "button") {
		t.Errorf("raid #1 after End raid mode: open %v, processed %v, reason %q", r.Open(), r.Case.Processed, r.EndReason.String)
	}
	// The raid's message loses its buttons once raid mode is off.
	waitOnMessages(t, rw.s, "raid #1's message without buttons", func() bool {
		for _, m := range rw.s.Messages(rw.modlog) {
			if m.ID == msg.ID {
				return len(m.Components) == 0 || string(m.Components[0]) == "[]"
			}
		}
		return false
	})

	// Raid #2: a person sets the level to Medium during the raid; ending leaves it there.
	rw.clk.Advance(time.Hour)
	rw.raidOfJoins(t, 6, 2)
	rw.waitStepOf(t, 2, "verification_raised")
	msg2 := rw.shownMessage(t, 2)
	rw.s.SetVerificationLevel(rw.guild, discordtest.VerificationMedium)
	rw.click(t, rw.mod, msg2, "raid:2:end")
	left := rw.waitStepOf(t, 2, "verification_left")
	rw.waitStepOf(t, 2, "ended")
	if lvl := rw.s.VerificationLevel(rw.guild); lvl != discordtest.VerificationMedium {
		t.Errorf("verification level = %d; want Medium, as the person set it", lvl)
	}
	if !strings.Contains(left.Detail, "someone changed it") {
		t.Errorf("the record says %q", left.Detail)
	}
	if inc := rw.s.GuildIncidents(rw.guild); inc.InvitesDisabledUntil != nil {
		t.Errorf("invites still paused after raid #2: %+v", inc)
	}
	_ = g
}

// answerIn sends command as user in channel and returns gavel's first message after it,
// waiting on the fake's message events.
func (w *world) answerIn(t *testing.T, channel, user discordtest.ID, command string) discordtest.Message {
	t.Helper()
	before := len(w.s.Messages(channel))
	w.s.SendMessage(channel, user, command)
	var msg discordtest.Message
	waitOnMessages(t, w.s, "the answer to "+command, func() bool {
		for _, m := range w.s.Messages(channel)[before:] {
			if m.AuthorID == w.s.BotID() {
				msg = m
				return true
			}
		}
		return false
	})
	return msg
}

// TestMassCommandRaidTargetsEndToEnd: `massban raid:1` targets raid #1's candidates not yet
// removed; a filter narrows them; Confirm bans them as one mass action whose parent case
// names the raid's case, and the raid's record shows each banned with its child case. An
// unknown raid number, a raid with nobody left, and a filter nobody matches are refused, with
// nothing done.
func TestMassCommandRaidTargetsEndToEnd(t *testing.T) {
	t.Parallel()
	rw := newRaidWorld(t, true, map[settings.RaidKey]string{settings.RaidJoiner: "none"})
	ctx := context.Background()
	g := discord.GuildID(rw.guild)
	w := rw.world
	first := rw.raidOfJoins(t, 6, 1)
	waitOn(t, "all six joiners in raid #1", func() bool { return len(rw.current(t, 1).Members) == 6 }, nil, rw.newsOnce)
	// The six are released: raid:1 no longer names them.
	msg := rw.shownMessage(t, 1)
	rw.click(t, rw.mod, msg, "raid:1:release")
	rw.waitStepOf(t, 1, "released")
	if m := w.answerIn(t, w.general, w.mod, "$massban raid:1 spam"); !strings.Contains(m.Content, "raid #1 has no candidate left to ban (each was banned, kicked or released)") {
		t.Errorf("massban raid:1 with every candidate released answered %q", m.Content)
	}
	// Seven more join while raid mode lasts: the candidates raid:1 names.
	for i := range 7 {
		rw.clk.Advance(time.Second)
		rw.s.MassJoin(rw.guild, discordtest.Joiner{Name: fmt.Sprintf("raider%03d", 100+i), CreatedAt: rw.clk.Now().Add(-48 * time.Hour)})
	}
	waitOn(t, "the seven late joiners in raid #1", func() bool { return rw.current(t, 1).Counts()["candidate"] == 7 }, nil, rw.newsOnce)

	for cmd, want := range map[string]string{
		"$massban raid:7 spam":        "raid:7: this server has no raid #7 (its raids are numbered 1 to 1",
		"$massban raid:1 age:1h spam": "raid #1 has no candidate left to ban that matches the filters. Nothing was done.",
		"$massban raid:0 spam":        "raid:0 is not a raid number",
	} {
		if m := w.answerIn(t, w.general, w.mod, cmd); !strings.Contains(m.Content, want) {
			t.Errorf("%s answered %q; want %q", cmd, m.Content, want)
		}
	}
	n, err := rw.cases.WithMetadata(ctx, g, cases.MetaMass, "ban", cases.PageRequest{Page: 1, PerPage: 10})
	if err != nil || n.Total != 0 {
		t.Fatalf("refusals made mass actions: %d %v", n.Total, err)
	}

	// The dry run lists the seven left (a filter they all match changes nothing).
	dry := w.answerIn(t, w.general, w.mod, "$massban raid:1 name:^raider spam bots")
	if !strings.Contains(dry.Content, "Dry run") || !strings.Contains(dry.Content, "**7** users") || !strings.Contains(dry.Content, "Targets: raid #1's candidates not yet removed: 7.") {
		t.Fatalf("dry run %q", dry.Content)
	}
	for _, u := range first {
		if strings.Contains(dry.Content, u.String()) {
			t.Errorf("the dry run lists the released member %d", u)
		}
	}
	ids := customIDRe.FindStringSubmatch(string(dry.Components[0]))
	in := w.s.ClickButton(w.guild, w.general, w.mod, dry.ID, ids[1])
	if _, err := in.WaitResponses(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	var done discordtest.Message
	waitOnMessages(t, w.s, "the mass ban's outcome", func() bool {
		var ok bool
		done, ok = w.botReply(w.general, "Done: 7 of 7 banned")
		return ok
	})
	r := rw.current(t, 1)
	if r.Counts()["banned"] != 7 || r.Counts()["released"] != 6 {
		t.Fatalf("raid #1's record after massban raid:1: %v", r.Counts())
	}
	mass, err := rw.cases.WithMetadata(ctx, g, cases.MetaMass, "ban", cases.PageRequest{Page: 1, PerPage: 10})
	if err != nil || mass.Total != 1 {
		t.Fatalf("mass ban parents: %d %v", mass.Total, err)
	}
	parent := mass.Cases[0]
	if parent.Metadata["raid"] != "1" || parent.Metadata[cases.MetaParentCase] != fmt.Sprint(r.Case.Number) {
		t.Errorf("the mass ban's parent case does not name raid #1's case: %v", parent.Metadata)
	}
	if !strings.Contains(done.Content, fmt.Sprintf("case #%d", parent.Number)) {
		t.Errorf("outcome %q does not name the parent case", done.Content)
	}
	for _, m := range r.Members {
		if m.State == "released" {
			if _, banned := w.s.Banned(w.guild, discordtest.ID(m.UserID)); banned {
				t.Errorf("the released member was banned")
			}
			continue
		}
		if _, banned := w.s.Banned(w.guild, discordtest.ID(m.UserID)); !banned {
			t.Errorf("raider %d not banned", m.UserID)
		}
		c, err := rw.cases.Get(ctx, m.CaseID.Int64)
		if err != nil || c.Type != cases.Ban || c.Status != cases.Active || c.Metadata[cases.MetaParentCase] != fmt.Sprint(parent.Number) || c.UserID != discord.UserID(m.UserID) {
			t.Errorf("raider %d's case in the raid's record: %+v %v", m.UserID, c, err)
		}
	}
	if m := w.answerIn(t, w.general, w.mod, "$massban raid:1 again"); !strings.Contains(m.Content, "raid #1 has no candidate left to ban") {
		t.Errorf("a second massban raid:1 answered %q", m.Content)
	}
}

// TestRaidDiscordSignalEndToEnd: with `discord_signal` on, Discord's own raid signal starts
// raid mode: the guild's incidents_data.raid_detected_at moving (GUILD_UPDATE), and, alone,
// the raid-report system message (type 38). With it off, neither does; `raid start` after
// the signal (run after it, in the guild's order) finds raid mode off.
func TestRaidDiscordSignalEndToEnd(t *testing.T) {
	t.Parallel()
	t.Run("on", func(t *testing.T) {
		rw := newRaidWorld(t, true, map[settings.RaidKey]string{settings.RaidDiscordSignal: "on"})
		rw.s.ReportRaid(rw.guild, 0)
		s := rw.waitStepOf(t, 1, "started")
		rw.waitStepOf(t, 1, "invites_paused")
		r := rw.current(t, 1)
		if r.Trigger != string(raid.TriggerDiscord) || s.Detail != "Discord reported a raid" {
			t.Errorf("raid #1: trigger %q, %q", r.Trigger, s.Detail)
		}
		if inc := rw.s.GuildIncidents(rw.guild); inc.InvitesDisabledUntil == nil {
			t.Error("invites not paused")
		}
		if m := rw.answerIn(t, rw.general, rw.mod, "$raid end"); !strings.Contains(m.Content, "Raid mode is off") {
			t.Fatalf("raid end answered %q", m.Content)
		}
		// The same raid_detected_at again (every GUILD_UPDATE repeats it) is not news.
		rw.s.SetVerificationLevel(rw.guild, discordtest.VerificationLow)
		// The system message alone, a minute later.
		rw.clk.Advance(time.Minute)
		rw.s.ReportRaidMessage(rw.guild, rw.general)
		rw.waitStepOf(t, 2, "started")
		if r := rw.current(t, 2); r.Trigger != string(raid.TriggerDiscord) {
			t.Errorf("raid #2's trigger %q", r.Trigger)
		}
		if list, err := rw.raids(t).List(context.Background(), discord.GuildID(rw.guild), 10); err != nil || len(list) != 2 {
			t.Errorf("raids: %d %v; want the two reports' two (a repeated raid_detected_at started none)", len(list), err)
		}
	})
	t.Run("off", func(t *testing.T) {
		rw := newRaidWorld(t, true, nil)
		rw.s.ReportRaid(rw.guild, rw.general)
		rw.clk.Advance(time.Minute)
		rw.s.ReportRaidMessage(rw.guild, rw.general)
		// raid start runs in the guild's queue after the signals' work: it finds raid mode off.
		if m := rw.answerIn(t, rw.general, rw.mod, "$raid start testing"); !strings.Contains(m.Content, "Raid mode is on: raid #1") {
			t.Fatalf("raid start answered %q; want raid #1 (the signal started none)", m.Content)
		}
		if r := rw.current(t, 1); r.Trigger != string(raid.TriggerManual) {
			t.Errorf("raid #1's trigger %q; want manual", r.Trigger)
		}
	})
}
