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

// lockdownSeed gives gavel what a lockdown needs (Manage Roles and Manage Channels), or
// without Manage Roles when noManageRoles, and #general an @everyone allow of Send Messages
// (which the lockdown drops and unlock must put back); #mod-log has no overwrite (the one
// gavel creates must be deleted).
func lockdownSeed(noManageRoles bool) func(*discordtest.Seed) {
	return func(s *discordtest.Seed) {
		g := &s.Guilds[0]
		for i := range g.Roles {
			if g.Roles[i].Name == "gavel" {
				g.Roles[i].Permissions |= discordtest.PermManageChannels
				if noManageRoles {
					g.Roles[i].Permissions &^= discordtest.PermManageRoles
				}
			}
		}
		g.Channels[0].PermissionOverwrites = []discordtest.Overwrite{{ID: g.ID, Type: 0, Allow: discordtest.PermSendMessages}}
	}
}

type overwrites map[discordtest.ID][]discordtest.Overwrite

func (rw *raidWorld) overwrites() overwrites {
	out := overwrites{}
	for _, id := range []discordtest.ID{rw.general, rw.modlog} {
		c, _ := rw.s.Channel(id)
		out[id] = append([]discordtest.Overwrite(nil), c.PermissionOverwrites...)
	}
	return out
}

func (rw *raidWorld) sameOverwrites(t *testing.T, before overwrites, what string) {
	t.Helper()
	for id, b := range before {
		c, _ := rw.s.Channel(id)
		if !discordtest.SameOverwrites(c.PermissionOverwrites, b) {
			t.Errorf("%s: #%s has %+v; before the raid %+v", what, c.Name, c.PermissionOverwrites, b)
		}
	}
}

// raidOf ten new accounts joining within a second: raid mode starts (half the threshold of
// suspicious joiners), and every joiner after detection is timed out. It returns when all
// ten are in the raid's record, and the time of the last join.
func (rw *raidWorld) raidOf(t *testing.T) (raid.Raid, time.Time) {
	t.Helper()
	for i := range 10 {
		rw.clk.Advance(100 * time.Millisecond)
		rw.s.MassJoin(rw.guild, discordtest.Joiner{Name: fmt.Sprintf("raider%02d", i), CreatedAt: rw.clk.Now().Add(-2 * 24 * time.Hour)})
	}
	last := rw.clk.Now()
	svc := rw.raids(t)
	var cur raid.Raid
	waitOn(t, "the ten joiners in the raid", func() bool {
		var ok bool
		var err error
		cur, ok, err = svc.Current(context.Background(), discord.GuildID(rw.guild))
		return err == nil && ok && len(cur.Members) == 10 && cur.Counts()["timed_out"] == countAfter(cur) && cur.Counts()["timed_out"] > 0
	}, func() string { return fmt.Sprint(len(cur.Members), cur.Counts(), rw.stepKinds()) }, rw.newsOnce)
	return cur, last
}

// lockdownCase is raid 1's LOCKDOWN case (metadata raid 1).
func (rw *raidWorld) lockdownCase(t *testing.T) (cases.Case, bool) {
	t.Helper()
	pg, err := rw.cases.WithMetadata(context.Background(), discord.GuildID(rw.guild), "raid", "1", cases.PageRequest{Page: 1, PerPage: 50})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range pg.Cases {
		if c.Type == cases.Lockdown {
			return c, true
		}
	}
	return cases.Case{}, false
}

func (rw *raidWorld) stepDetail(kind string) string {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	for _, s := range rw.steps {
		if s.Kind == kind {
			return s.Detail
		}
	}
	return ""
}

func (rw *raidWorld) say(t *testing.T, text, want string) {
	t.Helper()
	rw.s.SendMessage(rw.general, rw.owner, text)
	waitOn(t, "the answer to "+text, func() bool { _, ok := rw.botReply(rw.general, want); return ok }, func() string {
		var said []string
		for _, m := range rw.s.Messages(rw.general) {
			said = append(said, m.Content)
		}
		return strings.Join(said, " | ")
	}, rw.s.MessageChanged)
}

// TestRaidLockdownServer: with `raid config lockdown server`, a detected raid locks the
// server down through the lockdown service (a LOCKDOWN case naming the raid, its parent case
// and reason "Raid #1: lockdown"; #general denied to @everyone), after the other responses;
// raid mode ends after the quiet period on the test clock and undoes the lockdown first:
// every overwrite exactly as before (those gavel created removed), then the verification
// level, then the invite pause (which the lockdown's unlock left to the raid).
func TestRaidLockdownServer(t *testing.T) {
	t.Parallel()
	rw := newRaidWorld(t, true, map[settings.RaidKey]string{settings.RaidLockdown: "server"}, lockdownSeed(false))
	ctx := context.Background()
	g := discord.GuildID(rw.guild)
	before := rw.overwrites()
	cur, last := rw.raidOf(t)
	rw.waitStep(t, "locked_down")
	if kinds := strings.Join(rw.stepKinds(), " "); !strings.Contains(kinds, "invites_paused verification_raised locked_down") {
		t.Errorf("the responses' order: %s", kinds)
	}
	lc, ok := rw.lockdownCase(t)
	if !ok {
		t.Fatal("no LOCKDOWN case names raid 1")
	}
	if lc.Reason != "Raid #1: lockdown" || lc.Metadata["parent_case"] != fmt.Sprint(cur.Case.Number) || lc.Metadata["lockdown"] != "server" ||
		lc.ModeratorID != discord.UserID(rw.s.BotID()) || lc.Processed {
		t.Errorf("the lockdown's case: %+v", lc)
	}
	if d := rw.stepDetail("locked_down"); !strings.Contains(d, fmt.Sprintf("(case #%d)", lc.Number)) || !strings.Contains(d, "2 channels") {
		t.Errorf("locked_down step: %q", d)
	}
	gen, _ := rw.s.Channel(rw.general)
	locked := false
	for _, o := range gen.PermissionOverwrites {
		if o.ID == rw.guild && o.Deny&discordtest.PermSendMessages != 0 && o.Allow&discordtest.PermSendMessages == 0 {
			locked = true
		}
	}
	if !locked {
		t.Errorf("#general is not locked: %+v", gen.PermissionOverwrites)
	}
	r, err := rw.raids(t).ByNumber(ctx, g, 1)
	if err != nil || !r.LockdownID.Valid {
		t.Fatalf("the raid does not name its lockdown: %+v %v", r.Raid, err)
	}
	rw.say(t, "$raid status", fmt.Sprintf("Server locked down (case #%d, 2 channels) until raid mode ends.", lc.Number))

	rw.clk.Set(last.Add(10*time.Minute + time.Second))
	rw.waitStep(t, "ended")
	rw.sameOverwrites(t, before, "after raid mode")
	if inc := rw.s.GuildIncidents(rw.guild); inc.InvitesDisabledUntil != nil {
		t.Errorf("invites still paused after the raid: %+v", inc)
	}
	// Undone in reverse: the lockdown (the last response) first.
	if kinds := strings.Join(rw.stepKinds(), " "); !strings.Contains(kinds, "unlocked verification_restored pause_lifted ended") {
		t.Errorf("the undoing's order: %s", kinds)
	}
	d := rw.stepDetail("unlocked")
	if !strings.Contains(d, "1 overwrites restored, 3 removed") || !strings.Contains(d, "nothing was changed by anyone else") ||
		!strings.Contains(d, "invites stay paused: raid mode paused them too") {
		t.Errorf("unlocked step: %q", d)
	}
	if lc, _ = rw.lockdownCase(t); !lc.Processed {
		t.Errorf("the lockdown's case is not processed after raid mode: %+v", lc)
	}
}

// TestRaidLockdownUnlockedByHand: a moderator unlocks the raid's lockdown during the raid
// (invites stay paused: raid mode paused them too); ending raid mode then leaves the
// lockdown alone and records it. A server lockdown a moderator started before the raid is
// not stacked on, and ending raid mode keeps invites paused for it (it lifts its own).
func TestRaidLockdownUnlockedByHand(t *testing.T) {
	t.Parallel()
	rw := newRaidWorld(t, true, map[settings.RaidKey]string{settings.RaidLockdown: "server"}, lockdownSeed(false))
	before := rw.overwrites()
	rw.raidOf(t)
	rw.waitStep(t, "locked_down")
	rw.say(t, "$unlock server", "Invites stay paused: raid mode paused them too.")
	rw.sameOverwrites(t, before, "after the unlock by hand")
	if inc := rw.s.GuildIncidents(rw.guild); inc.InvitesDisabledUntil == nil {
		t.Errorf("the unlock lifted raid mode's invite pause")
	}
	rw.say(t, "$raid end", "Raid mode is off: raid #1 ended")
	if d := rw.stepDetail("lockdown_left"); !strings.Contains(d, "already unlocked by") {
		t.Errorf("lockdown_left step: %q (steps %v)", d, rw.stepKinds())
	}
	if rw.stepDetail("unlocked") != "" {
		t.Errorf("raid mode unlocked a lockdown already unlocked")
	}
	rw.sameOverwrites(t, before, "after raid mode")
	if inc := rw.s.GuildIncidents(rw.guild); inc.InvitesDisabledUntil != nil {
		t.Errorf("invites still paused after the raid: %+v", inc)
	}

	// The other way round: a moderator's server lockdown is on when raid #2 starts.
	rw.say(t, "$lockdown server", "🔒")
	rw.mu.Lock()
	rw.steps = nil
	rw.mu.Unlock()
	rw.clk.Advance(time.Hour)
	for i := range 10 {
		rw.clk.Advance(100 * time.Millisecond)
		rw.s.MassJoin(rw.guild, discordtest.Joiner{Name: fmt.Sprintf("second%02d", i), CreatedAt: rw.clk.Now().Add(-2 * 24 * time.Hour)})
	}
	rw.waitStep(t, "lockdown_left")
	if d := rw.stepDetail("lockdown_left"); !strings.Contains(d, "a lockdown was already on") {
		t.Errorf("raid #2's lockdown step: %q", d)
	}
	rw.say(t, "$raid end", "Raid mode is off: raid #2 ended")
	if d := rw.stepDetail("pause_lifted"); !strings.Contains(d, "invites stay paused: the lockdown of case #") {
		t.Errorf("raid #2's pause step: %q", d)
	}
	if inc := rw.s.GuildIncidents(rw.guild); inc.InvitesDisabledUntil == nil {
		t.Errorf("ending raid mode lifted the moderator's lockdown's invite pause")
	}
	rw.say(t, "$unlock server", "Invites are no longer paused.")
	if inc := rw.s.GuildIncidents(rw.guild); inc.InvitesDisabledUntil != nil {
		t.Errorf("invites still paused after the unlock: %+v", inc)
	}
	rw.sameOverwrites(t, before, "after the moderator's unlock")
}

// TestRaidLockdownWithoutManageRoles: gavel lacks Manage Roles, so the lockdown is refused
// (nothing changed); raid mode goes on with its other responses, and the failure is a step
// of the raid shown in its mod-log message.
func TestRaidLockdownWithoutManageRoles(t *testing.T) {
	t.Parallel()
	rw := newRaidWorld(t, true, map[settings.RaidKey]string{settings.RaidLockdown: "server"}, lockdownSeed(true))
	ctx := context.Background()
	before := rw.overwrites()
	cur, _ := rw.raidOf(t)
	rw.waitStep(t, "lockdown_failed")
	if d := rw.stepDetail("lockdown_failed"); !strings.Contains(d, "could not lock the server down") || !strings.Contains(d, "Manage Roles") {
		t.Errorf("lockdown_failed step: %q", d)
	}
	if kinds := strings.Join(rw.stepKinds(), " "); !strings.Contains(kinds, "invites_paused verification_raised lockdown_failed") {
		t.Errorf("steps: %s", kinds)
	}
	if _, ok := rw.lockdownCase(t); ok {
		t.Error("a LOCKDOWN case was recorded for a refused lockdown")
	}
	rw.sameOverwrites(t, before, "after the refused lockdown")
	if _, open, err := rw.raids(t).Current(ctx, discord.GuildID(rw.guild)); err != nil || !open {
		t.Errorf("raid mode is not on after the failed lockdown: %v", err)
	}
	waitOn(t, "the failure in the raid's mod-log message", func() bool {
		c, err := rw.cases.Get(ctx, cur.CaseID)
		if err != nil || c.ModlogMessageID == 0 {
			return false
		}
		for _, m := range rw.s.Messages(rw.modlog) {
			if discord.MessageID(m.ID) == c.ModlogMessageID && len(m.Embeds) == 1 {
				return strings.Contains(string(m.Embeds[0]), "could not lock the server down")
			}
		}
		return false
	}, func() string { return fmt.Sprint(rw.s.Messages(rw.modlog)) }, rw.s.MessageChanged)
}
