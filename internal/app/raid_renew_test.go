package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/settings"
)

// TestRaidKeepsInvitesPausedForThreeDays: a raid that keeps surging for three days (three
// joins within 5 s every 50 minutes, with a quiet period of an hour) keeps invites paused the
// whole time: the first pause and three renewals, each sent before the previous one ran out
// (no gap), by the raid's durable check on the test clock; then raid mode ends an hour after
// the last surge and the pause is lifted.
func TestRaidKeepsInvitesPausedForThreeDays(t *testing.T) {
	t.Parallel()
	rw := newRaidWorld(t, true, map[settings.RaidKey]string{settings.RaidThreshold: "3", settings.RaidWindow: "5s",
		settings.RaidQuiet: "1h", settings.RaidJoiner: "none", settings.RaidRaiseVerification: "off"})
	ctx := context.Background()
	w := rw.world
	g := discord.GuildID(w.guild)
	svc := rw.raids(t)
	start := rw.clk.Now()
	joined := 0
	surge := func() {
		for range 3 {
			rw.clk.Advance(time.Second)
			w.s.MassJoin(w.guild, discordtest.Joiner{Name: fmt.Sprintf("slow%04d", joined), CreatedAt: start.Add(-365 * 24 * time.Hour), Avatar: true})
			joined++
		}
		last := rw.clk.Now().Truncate(time.Millisecond)
		// The raid's message is refreshed (a step) once the guild's joins are handled.
		waitOn(t, "the surge in the raid", func() bool {
			cur, ok, err := svc.Current(ctx, g)
			return err == nil && ok && len(cur.Members) == joined && !time.UnixMilli(cur.LastJoinAt).Before(last)
		}, nil, rw.newsOnce)
	}
	surge()
	rw.waitStep(t, "invites_paused")
	for rw.clk.Now().Sub(start) < 72*time.Hour {
		rw.clk.Advance(50 * time.Minute)
		// A renewal due now is waited for before the clock moves on: the poller runs it in
		// real time, and the test must not outrun it.
		log := w.s.IncidentLog(w.guild)
		if until := *log[len(log)-1].InvitesDisabledUntil; !rw.clk.Now().Before(until.Add(-time.Hour)) {
			waitOn(t, "the pause's renewal", func() bool { return len(w.s.IncidentLog(w.guild)) > len(log) }, nil, rw.newsOnce)
		}
		surge()
	}
	if _, open, _ := svc.Current(ctx, g); !open {
		t.Fatal("raid mode ended while joins kept surging")
	}
	log := w.s.IncidentLog(w.guild)
	if len(log) != 4 {
		t.Fatalf("%d incident-action calls over three days, want the pause and 3 renewals: %+v", len(log), log)
	}
	for i, ch := range log {
		if ch.InvitesDisabledUntil == nil || ch.InvitesDisabledUntil.Sub(ch.At) > 24*time.Hour || ch.InvitesDisabledUntil.Sub(ch.At) < 23*time.Hour {
			t.Errorf("call %d at %v paused until %v", i, ch.At, ch.InvitesDisabledUntil)
		}
		if i > 0 && !ch.At.Before(*log[i-1].InvitesDisabledUntil) {
			t.Errorf("renewal %d at %v came after the pause ran out at %v", i, ch.At, *log[i-1].InvitesDisabledUntil)
		}
	}
	if inc := w.s.GuildIncidents(w.guild); inc.InvitesDisabledUntil == nil {
		t.Error("invites not paused at the end of the three days")
	}
	rw.clk.Advance(time.Hour)
	rw.waitStep(t, "ended")
	if inc := w.s.GuildIncidents(w.guild); inc.InvitesDisabledUntil != nil {
		t.Errorf("invites still paused after the raid: %+v", inc)
	}
}
