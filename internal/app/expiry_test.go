package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
)

// TestTempbanExpiresThroughRun: a prefix tempban is lifted by the poller that Run starts,
// on time, with its UNBAN case and mod-log post, and the tempban's own mod-log message is
// edited to say that it ended, by which case; shutting down stops the poller cleanly.
// gavel runs on a manual clock: the one-minute tempban (the shortest a moderator may give)
// ends when the test moves the clock a minute on.
func TestTempbanExpiresThroughRun(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The mod-log channel, set before gavel starts, as an administrator would have.
	modlog := w.s.AddChannel(w.guild, discordtest.ChannelGuildText, "mod-log")
	st, err := store.OpenURL(ctx, w.dbURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := settings.NewService(st).SetChannel(ctx, int64(w.guild), int64(w.owner), settings.ModLog, int64(modlog)); err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	cfg := w.config()
	clk := clock.NewManual(time.Now().UTC().Truncate(time.Millisecond))
	a, err := app.New(ctx, cfg, quietLogger(), app.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	readyCtx, readyCancel := context.WithTimeout(ctx, 15*time.Second)
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
	tb, err := cs.GetByNumber(ctx, int64(w.guild), 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := clk.Now().Add(time.Minute); !tb.ExpiresAt.Equal(want) {
		t.Fatalf("the tempban ends at %v; want %v", tb.ExpiresAt, want)
	}
	// A millisecond before the end, the poller has looked and left the target banned.
	advance := func(d time.Duration) {
		t.Helper()
		clk.Advance(d)
		wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
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
		if err != nil || tb.ModlogMessageID == 0 || tb.ModlogChannelID != int64(modlog) {
			return false
		}
		for _, m := range w.s.Messages(modlog) {
			if int64(m.ID) != tb.ModlogMessageID || len(m.Embeds) == 0 {
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
	lift, err := cs.GetByNumber(ctx, int64(w.guild), 2)
	if err != nil || lift.Type != cases.Unban || lift.ModeratorID != int64(w.s.BotID()) || lift.Reason != "Temporary ban expired (case #1)" {
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

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
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
