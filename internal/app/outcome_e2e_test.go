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
	"github.com/gavelbot/gavel/internal/executor"
)

// bansByGavel counts the bans gavel made on Discord, from the guild's audit log.
func (w *world) bansByGavel() int {
	n := 0
	for _, e := range w.s.AuditLog(w.guild) {
		if e.ActionType == discordtest.AuditMemberBanAdd && e.UserID == w.s.BotID() {
			n++
		}
	}
	return n
}

// A ban of a tempbanned member makes it permanent (no second Discord ban, and the minute
// passing unbans no one); a tempban of the banned sets the ban's end; a timeout of the
// timed-out moves its end; each reply says what changed.
func TestTransitionsEndToEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
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
	target := "<@" + w.target.String() + ">"
	if r := w.say(t, w.mod, "$tempban "+target+" -d 1m spam"); !strings.Contains(r.Content, "Case #1") {
		t.Fatalf("tempban: %q", r.Content)
	}
	r := w.say(t, w.mod, "$ban "+target+" for good")
	if !strings.Contains(r.Content, "**Case #2** · ban") || !strings.Contains(r.Content, "the ban is now permanent") {
		t.Fatalf("ban of the tempbanned: %q", r.Content)
	}
	if n := w.bansByGavel(); n != 1 {
		t.Errorf("gavel banned on Discord %d times; want once", n)
	}
	advance(2 * time.Minute)
	if _, banned := w.s.Banned(w.guild, w.target); !banned {
		t.Fatal("the tempban's expiry lifted the permanent ban")
	}
	r = w.say(t, w.mod, "$tempban "+target+" -d 1h appeal half-granted")
	if !strings.Contains(r.Content, "**Case #3** · tempban") || !strings.Contains(r.Content, "already banned by case #2, with no end; the ban now ends") {
		t.Fatalf("tempban of the banned: %q", r.Content)
	}
	advance(time.Hour)
	waitFor(t, "the unban at the end set by case #3", func() bool { _, banned := w.s.Banned(w.guild, w.target); return !banned })

	other := "<@" + w.other.String() + ">"
	if r := w.say(t, w.mod, "$timeout "+other+" -d 1h loud"); !strings.Contains(r.Content, "Case #5") {
		t.Fatalf("timeout: %q", r.Content)
	}
	r = w.say(t, w.mod, "$timeout "+other+" -d 3h louder")
	if !strings.Contains(r.Content, "**Case #6** · timeout") || !strings.Contains(r.Content, "already timed out until") || !strings.Contains(r.Content, "by case #5; the timeout now ends") {
		t.Fatalf("timeout of the timed-out: %q", r.Content)
	}
}

// A ban whose outcome is unknown (the connection dropped after the request went out) leaves
// its case pending with a reply that says so, and reconciliation settles it from Discord's
// state.
func TestUnknownOutcomeEndToEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cs, _ := w.services(t)
	ctx := context.Background()
	w.start(t, app.WithExecutorOptions(executor.WithRetries(1, time.Millisecond, time.Millisecond)),
		app.WithReconcileAge(time.Millisecond))

	settled := func(n int64) cases.Case {
		t.Helper()
		var c cases.Case
		waitFor(t, "reconciliation to settle the case", func() bool {
			var err error
			c, err = cs.GetByNumber(ctx, discord.GuildID(w.guild), n)
			return err == nil && c.Status != cases.Pending
		})
		return c
	}

	w.s.DropConnections(routeBan, 1)
	r := w.say(t, w.mod, "$ban <@"+w.target.String()+"> raid -s")
	if !strings.Contains(r.Content, "does not know whether the ban happened") || !strings.Contains(r.Content, "the connection to Discord failed") ||
		!strings.Contains(r.Content, "Case #1 stays pending") {
		t.Fatalf("dropped ban: %q", r.Content)
	}
	// Discord shows no ban: reconciliation voids the case.
	if c := settled(1); c.Status != cases.Voided {
		t.Errorf("case #1 = %s; want voided (no ban on Discord)", c.Status)
	}

	// A command cancelled while Discord holds the request is the same unknown: the
	// moderation tests drive it on the fake's clock (TestCancelledBanStaysPendingAndIsReconciled).
}

// While the ban breaker is open, a ban is refused before any DM or case, saying until when;
// a kick Discord refuses after its DM went out is corrected by a second DM.
func TestOpenBreakerEndToEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cs, _ := w.services(t)
	ctx := context.Background()
	w.start(t, app.WithExecutorOptions(executor.WithRetries(1, time.Millisecond, time.Millisecond),
		executor.WithBreaker(executor.OpBan, executor.BreakerPolicy{Failures: 1, Recovery: time.Hour})))

	w.s.FailNext(routeBan, 1, 500)
	if r := w.say(t, w.mod, "$ban <@"+w.target.String()+"> raid"); !strings.Contains(r.Content, "Case #1 stays pending") {
		t.Fatalf("failing ban: %q", r.Content)
	}
	r := w.say(t, w.mod, "$ban <@"+w.other.String()+"> raid")
	if !strings.Contains(r.Content, "Discord has been failing ban requests") || !strings.Contains(r.Content, "until <t:") || !strings.Contains(r.Content, "no DM") {
		t.Fatalf("ban while the breaker is open: %q", r.Content)
	}
	if _, ok := w.s.DMChannel(w.other); ok {
		t.Error("the refused ban's target was messaged")
	}
	if n, err := cs.CountInGuild(ctx, discord.GuildID(w.guild)); err != nil || n != 1 {
		t.Errorf("%d cases, %v; the refused ban recorded one", n, err)
	}

	w.s.FailNext(routeKick, 1, 403)
	r = w.say(t, w.owner, "$kick <@"+w.plain.String()+"> spam")
	if !strings.Contains(r.Content, "The kick failed") || !strings.Contains(r.Content, "sent them a correction") {
		t.Fatalf("refused kick: %q", r.Content)
	}
	ch, ok := w.s.DMChannel(w.plain)
	if !ok {
		t.Fatal("the kicked member was never messaged")
	}
	dms := w.s.Messages(ch)
	if len(dms) != 2 || !strings.Contains(dms[1].Content, "the kick announced above did not take effect") {
		t.Errorf("DMs to the member: %+v; want the announcement and its correction", dms)
	}
}
