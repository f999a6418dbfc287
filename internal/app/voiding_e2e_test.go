package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
)

// say posts a prefix command as user and returns the bot's first answer after it.
func (w *world) say(t *testing.T, user discordtest.ID, content string) discordtest.Message {
	t.Helper()
	before := len(w.s.Messages(w.general))
	w.s.SendMessage(w.general, user, content)
	var reply discordtest.Message
	waitFor(t, "the reply to "+content, func() bool {
		msgs := w.s.Messages(w.general)
		for _, m := range msgs[min(before, len(msgs)):] {
			if m.AuthorID == w.s.BotID() {
				reply = m
				return true
			}
		}
		return false
	})
	return reply
}

// Voiding a tempban whose ban is in force keeps its end (the unban still happens on time)
// and says so; -lift lifts it now through the pipeline, with an UNBAN case linked to it.
func TestVoidingAPunishmentInForce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cs, _ := w.services(t)
	ctx := context.Background()
	clk := clock.NewManual(time.Now().UTC().Truncate(time.Millisecond))
	w.start(t, app.WithClock(clk))
	advance := func(d time.Duration) {
		t.Helper()
		clk.Advance(d)
		wctx, cancel := context.WithTimeout(ctx, eventBound)
		defer cancel()
		if err := clk.WaitArmedAfter(wctx, clk.Now()); err != nil {
			t.Fatalf("the poller did not go back to waiting after the clock moved: %v", err)
		}
	}

	if r := w.say(t, w.owner, "$tempban <@"+w.target.String()+"> -d 1h spam"); !strings.Contains(r.Content, "Case #1") {
		t.Fatalf("tempban reply %q", r.Content)
	}
	r := w.say(t, w.owner, "$cases modify 1 -status voided")
	if !strings.Contains(r.Content, "status active → voided") || !strings.Contains(r.Content, "still ends as scheduled") || !strings.Contains(r.Content, "-lift") {
		t.Fatalf("void reply %q does not say the ban still ends on time", r.Content)
	}
	tb, err := cs.GetByNumber(ctx, discord.GuildID(w.guild), 1)
	if err != nil || tb.Status != cases.Voided {
		t.Fatalf("case #1 = %+v, %v; want voided", tb, err)
	}
	if _, banned := w.s.Banned(w.guild, w.target); !banned {
		t.Fatal("voiding the case lifted the ban")
	}
	// The hour passes: the voided tempban's unban happens all the same.
	advance(time.Hour)
	waitFor(t, "the unban of the voided tempban", func() bool { _, banned := w.s.Banned(w.guild, w.target); return !banned })
	waitFor(t, "the UNBAN case and the tempban processed", func() bool {
		u, err := cs.GetByNumber(ctx, discord.GuildID(w.guild), 2)
		c, err2 := cs.Get(ctx, tb.ID)
		return err == nil && err2 == nil && u.Type == cases.Unban && u.Status == cases.Active && c.Processed
	})

	// -lift: the punishment ends now, by an UNBAN case of the moderator's, linked both ways.
	if r := w.say(t, w.owner, "$tempban <@"+w.other.String()+"> -d 1d raid"); !strings.Contains(r.Content, "Case #3") {
		t.Fatalf("tempban reply %q", r.Content)
	}
	r = w.say(t, w.owner, "$cases modify 3 -status voided -lift")
	if !strings.Contains(r.Content, "status active → voided") || !strings.Contains(r.Content, "punishment lifted by case #4") || !strings.Contains(r.Content, "Lifted now: **Case #4** · unban") {
		t.Fatalf("void -lift reply %q", r.Content)
	}
	if _, banned := w.s.Banned(w.guild, w.other); banned {
		t.Fatal("-lift left the ban in place")
	}
	lift, err := cs.GetByNumber(ctx, discord.GuildID(w.guild), 4)
	if err != nil || lift.Type != cases.Unban || lift.ModeratorID != discord.UserID(w.owner) || lift.Metadata["lifts_case"] != "3" {
		t.Fatalf("case #4 = %+v, %v; want the owner's UNBAN lifting #3", lift, err)
	}
	third, _ := cs.GetByNumber(ctx, discord.GuildID(w.guild), 3)
	if !third.Processed || third.Status != cases.Voided {
		t.Errorf("case #3 = %+v; want voided and processed", third)
	}
	evs, err := cs.Events(ctx, third.ID)
	if err != nil {
		t.Fatal(err)
	}
	var linked, superseded bool
	for _, e := range evs {
		linked = linked || e.Kind == cases.EventLinked && e.New == "#4"
		superseded = superseded || e.Kind == cases.EventSuperseded
	}
	if !linked || !superseded {
		t.Errorf("case #3's history lacks the link to #4 (%v) or its unban superseded (%v): %+v", linked, superseded, evs)
	}
	// The day passes: nothing is left to lift.
	advance(24 * time.Hour)
	if n, err := cs.CountInGuild(ctx, discord.GuildID(w.guild)); err != nil || n != 4 {
		t.Errorf("%d cases after the day, %v; want 4 (no second unban)", n, err)
	}

	// -lift without voiding is refused, and changes nothing.
	if r := w.say(t, w.owner, "$tempban <@"+w.plain.String()+"> -d 1d raid"); !strings.Contains(r.Content, "Case #5") {
		t.Fatalf("tempban reply %q", r.Content)
	}
	if r := w.say(t, w.owner, "$cases modify 5 -lift"); !strings.Contains(r.Content, "-lift goes with -status voided") {
		t.Errorf("-lift alone: %q", r.Content)
	}
	// Re-activating a voided case keeps its end scheduled.
	w.say(t, w.owner, "$cases modify 5 -status voided")
	if r := w.say(t, w.owner, "$cases modify 5 -status active"); !strings.Contains(r.Content, "status voided → active") {
		t.Errorf("re-activate: %q", r.Content)
	}
	advance(24 * time.Hour)
	waitFor(t, "the re-activated tempban's unban", func() bool { _, banned := w.s.Banned(w.guild, w.plain); return !banned })
}
