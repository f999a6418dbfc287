package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/settings"
)

// TestTempbanExpiresThroughRun: a prefix tempban is lifted by the poller that Run starts,
// on time, with its UNBAN case and mod-log post, and the tempban's own mod-log message is
// edited to say that it ended, by which case; shutting down stops the poller cleanly.
// gavel runs on a manual clock: the one-minute tempban (the shortest a moderator may give)
// ends when the test moves the clock a minute on.
//
// The mod log names the target and the moderator from the names the case recorded, not by
// asking Discord: the tempban's message and the lift's keep the target's name once the ban is
// lifted (when Discord knows them neither as a member nor as banned), and the worker makes
// no GET member or GET ban of its own. Its deliveries are counted by outcome.
func TestTempbanExpiresThroughRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// The target's reads and bans, in the order the fake served them.
	var (
		callsMu sync.Mutex
		calls   []string
	)
	w.s.SetRequestObserver(func(sv discordtest.Served) {
		if sv.Params["user_id"] != w.target.String() && sv.Params["channel_id"] == "" {
			return
		}
		callsMu.Lock()
		defer callsMu.Unlock()
		calls = append(calls, sv.Route+" "+sv.Params["channel_id"])
	})
	// readsAfter lists the GET member and GET ban calls served after the last call to route.
	readsAfter := func(route string) []string {
		callsMu.Lock()
		defer callsMu.Unlock()
		from := -1
		for i, c := range calls {
			if strings.HasPrefix(c, route+" ") {
				from = i
			}
		}
		if from < 0 {
			t.Fatalf("no %s was served; calls: %q", route, calls)
		}
		var reads []string
		for _, c := range calls[from+1:] {
			if strings.HasPrefix(c, "GET /guilds/{guild_id}/members/{user_id}") || strings.HasPrefix(c, "GET /guilds/{guild_id}/bans/{user_id}") {
				reads = append(reads, c)
			}
		}
		return reads
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The mod-log channel, set before gavel starts, as an administrator would have.
	modlog := w.s.AddChannel(w.guild, discordtest.ChannelGuildText, "mod-log")
	st := w.openStore(t)
	if _, err := settings.NewService(st).SetChannel(ctx, discord.GuildID(w.guild), discord.UserID(w.owner), settings.ModLog, discord.ChannelID(modlog)); err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	cfg := w.config()
	clk := clock.NewManual(time.Now().UTC().Truncate(time.Millisecond))
	a, err := newTestApp(ctx, cfg, quietLogger(), app.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	readyCtx, readyCancel := context.WithTimeout(ctx, eventBound)
	defer readyCancel()
	if err := w.s.WaitReady(readyCtx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}

	w.s.SendMessage(w.general, w.mod, "$tempban <@"+w.target.String()+"> -d 1m raid")
	waitFor(t, "the tempban reply", func() bool { _, ok := w.botReply(w.general, "Case #1"); return ok })
	if _, banned := w.s.Banned(w.guild, w.target); !banned {
		t.Fatal("the target is not banned")
	}
	cs := cases.NewService(st)
	tb, err := cs.GetByNumber(ctx, discord.GuildID(w.guild), 1)
	if err != nil {
		t.Fatal(err)
	}
	// The case is posted naming its target and moderator from what the case recorded: the
	// worker asked Discord about neither after the ban.
	waitFor(t, "the tempban's post", func() bool {
		tb, err := cs.Get(ctx, tb.ID)
		return err == nil && tb.ModlogMessageID != 0
	})
	if reads := readsAfter("PUT /guilds/{guild_id}/bans/{user_id}"); len(reads) != 0 {
		t.Errorf("after the ban, the mod log asked Discord about the target: %q", reads)
	}
	userField := func(number int64) string {
		c, err := cs.GetByNumber(ctx, discord.GuildID(w.guild), number)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range w.s.Messages(modlog) {
			if discord.MessageID(m.ID) != c.ModlogMessageID || len(m.Embeds) == 0 {
				continue
			}
			var embed struct {
				Fields []struct{ Name, Value string }
			}
			if err := json.Unmarshal(m.Embeds[0], &embed); err != nil {
				t.Fatal(err)
			}
			for _, f := range embed.Fields {
				if f.Name == "User" {
					return f.Value
				}
			}
		}
		return ""
	}
	wantUser := "<@" + w.target.String() + "> (target, " + w.target.String() + ")"
	if got := userField(1); got != wantUser {
		t.Errorf("case #1's User field = %q; want %q", got, wantUser)
	}
	if want := clk.Now().Add(time.Minute); !tb.ExpiresAt.Equal(want) {
		t.Fatalf("the tempban ends at %v; want %v", tb.ExpiresAt, want)
	}
	// A millisecond before the end, the poller has looked and left the target banned.
	advance := func(d time.Duration) {
		t.Helper()
		clk.Advance(d)
		wctx, wcancel := context.WithTimeout(ctx, eventBound)
		defer wcancel()
		if err := clk.WaitArmedAfter(wctx, clk.Now()); err != nil {
			t.Fatalf("the poller did not go back to waiting after the clock moved: %v", err)
		}
	}
	advance(time.Minute - time.Millisecond)
	if _, banned := w.s.Banned(w.guild, w.target); !banned {
		t.Fatal("the target was unbanned before the tempban ended")
	}
	advance(time.Millisecond)
	waitFor(t, "the unban", func() bool { _, banned := w.s.Banned(w.guild, w.target); return !banned })
	waitFor(t, "the UNBAN case in the mod log", func() bool {
		for _, m := range w.s.Messages(modlog) {
			for _, e := range m.Embeds {
				var embed struct{ Title string }
				if json.Unmarshal(e, &embed) == nil && strings.Contains(embed.Title, "Case #2 · UNBAN") {
					return true
				}
			}
		}
		return false
	})
	// The tempban's own message follows its case: it says the ban ended, and by which case.
	waitFor(t, "the tempban's message saying it ended", func() bool {
		tb, err := cs.Get(ctx, tb.ID)
		if err != nil || tb.ModlogMessageID == 0 || tb.ModlogChannelID != discord.ChannelID(modlog) {
			return false
		}
		for _, m := range w.s.Messages(modlog) {
			if discord.MessageID(m.ID) != tb.ModlogMessageID || len(m.Embeds) == 0 {
				continue
			}
			var embed struct {
				Title  string
				Fields []struct{ Name, Value string }
			}
			if json.Unmarshal(m.Embeds[0], &embed) != nil || embed.Title != "Case #1 · TEMPBAN" {
				return false
			}
			for _, f := range embed.Fields {
				if f.Name == "Ended" && strings.HasSuffix(f.Value, "ended by #2 (temporary ban expired)") {
					return true
				}
			}
		}
		return false
	})
	// Lifted, the target is neither a member nor banned: both messages still name them, and
	// the worker asked Discord nothing about them.
	waitFor(t, "the lift's post", func() bool {
		l, err := cs.GetByNumber(ctx, discord.GuildID(w.guild), 2)
		return err == nil && l.ModlogMessageID != 0
	})
	if got := userField(1); got != wantUser {
		t.Errorf("after the lift, case #1's User field = %q; want %q", got, wantUser)
	}
	if got := userField(2); got != wantUser {
		t.Errorf("case #2's User field = %q; want %q", got, wantUser)
	}
	if reads := readsAfter("DELETE /guilds/{guild_id}/bans/{user_id}"); len(reads) != 0 {
		t.Errorf("after the unban, the mod log asked Discord about the target: %q", reads)
	}
	// Two posts (the tempban, the lift) and at least the tempban's edit saying it ended.
	waitFor(t, "the mod-log delivery metrics", func() bool {
		return metricValue(t, a, "gavel_modlog_deliveries_total", map[string]string{"outcome": "posted"}) == 2 &&
			metricValue(t, a, "gavel_modlog_deliveries_total", map[string]string{"outcome": "edited"}) >= 1
	})
	lift, err := cs.GetByNumber(ctx, discord.GuildID(w.guild), 2)
	if err != nil || lift.Type != cases.Unban || lift.ModeratorID != discord.UserID(w.s.BotID()) || lift.Reason != "Temporary ban expired (case #1)" {
		t.Errorf("case #2 = %+v, %v; want the bot's UNBAN of case #1", lift, err)
	}
	if !lift.CreatedAt.Equal(tb.ExpiresAt) {
		t.Errorf("lifted at %v; want at the expiry, %v", lift.CreatedAt, tb.ExpiresAt)
	}
	// The operator sees it: one unban done, its lateness observed, nothing left scheduled.
	waitFor(t, "the expiry metrics", func() bool {
		return metricValue(t, a, "gavel_expiry_runs_total", map[string]string{"kind": "unban", "outcome": "done"}) == 1
	})
	if n := metricValue(t, a, "gavel_expiry_lateness_seconds", map[string]string{"kind": "unban"}); n != 1 {
		t.Errorf("gavel_expiry_lateness_seconds{kind=unban} holds %v observations; want 1", n)
	}
	if n := metricValue(t, a, "gavel_expiry_open", nil); n != 0 {
		t.Errorf("gavel_expiry_open = %v after the lift; want 0", n)
	}
	waitFor(t, "the mod-log outbox emptied", func() bool { return metricValue(t, a, "gavel_modlog_queued", nil) == 0 })
	if n := metricValue(t, a, "gavel_modlog_failing", nil); n != 0 {
		t.Errorf("gavel_modlog_failing = %v; want 0", n)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(eventBound):
		t.Fatal("Run did not return after the context ended")
	}
	pending, total, err := expiry.NewService(st, cs).Pending(context.Background(), 0, 10)
	if err != nil || total != 0 {
		t.Errorf("pending after the lift: %+v (%d), %v", pending, total, err)
	}
	tb, _ = cs.Get(context.Background(), tb.ID)
	if !tb.Processed {
		t.Error("the tempban is not processed")
	}
}

// metricValue reads one series of the app's metrics: a counter's or gauge's value, a
// histogram's observation count; -1 when no series has the labels.
func metricValue(t *testing.T, a *app.App, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := a.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}
