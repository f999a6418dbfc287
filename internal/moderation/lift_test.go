package moderation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

const unbanRoute = "DELETE /guilds/{guild_id}/bans/{user_id}"

// expiring gives the world a coordinator that schedules expiries and a poller running them,
// all of them and the fake Discord on one manual clock: an expiry comes when the test moves
// the clock to it, and the test then waits for its effect, never for the wall clock.
type expiring struct {
	*world
	svc *expiry.Service
	clk *clock.Manual
}

func newExpiring(t *testing.T, engine store.Engine, cfg expiry.Config, opts ...moderation.CoordinatorOption) expiring {
	t.Helper()
	clk := clock.NewManual(time.Now().UTC().Truncate(time.Millisecond))
	w := newWorld(t, engine, discordtest.WithClock(clk.Now))
	w.withCases(t, cases.WithClock(clk.Now))
	svc := expiry.NewService(w.st, w.cases, expiry.WithRules(actions.Catalogue().ExpiryRules()), expiry.WithClock(clk))
	opts = append([]moderation.CoordinatorOption{moderation.WithBotUserID(discord.UserID(w.s.BotID())), moderation.WithExpiry(svc),
		moderation.WithCoordinatorClock(clk.Now), moderation.WithDMTimeout(testDMTimeout)}, opts...)
	w.co = moderation.NewCoordinator(actions.Catalogue(), w.port, w.cases, w.settings, w.exec, opts...)
	cfg.Actor = discord.UserID(w.s.BotID())
	p := expiry.NewPoller(svc, w.co.Expiries(), cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return expiring{world: w, svc: svc, clk: clk}
}

// advance moves the clock on by d and returns once the poller has looked at the schedule
// as of the new time and gone back to waiting: whatever was due has been claimed by then.
func (w expiring) advance(t *testing.T, d time.Duration) {
	t.Helper()
	w.clk.Advance(d)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.clk.WaitArmedAfter(ctx, w.clk.Now()); err != nil {
		t.Fatalf("the poller did not go back to waiting after the clock moved: %v", err)
	}
}

// testWriter sends the poller's log to the test's, shown when it fails.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitUntil waits for the event cond looks for; within only bounds a failing test.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (w expiring) events(t *testing.T, id int64) []cases.Event {
	t.Helper()
	ev, err := w.cases.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func eventOf(ev []cases.Event, k cases.EventKind) (cases.Event, bool) {
	for _, e := range ev {
		if e.Kind == k {
			return e, true
		}
	}
	return cases.Event{}, false
}

// modlogTitles lists the titles of the embeds posted in the mod log.
func (w expiring) modlogTitles(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, m := range w.s.Messages(w.modlog) {
		for _, raw := range m.Embeds {
			var e struct {
				Title       string `json:"title"`
				Description string `json:"description"`
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e.Title+" | "+e.Description)
		}
	}
	return out
}

func containsText(list []string, want string) bool {
	for _, s := range list {
		if strings.Contains(s, want) {
			return true
		}
	}
	return false
}

func withDuration(d time.Duration) func(*moderation.Request) {
	return func(r *moderation.Request) { r.Duration = d }
}

func TestTempbanLiftedOnTime(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newExpiring(t, st.Engine(), expiry.Config{})
		tb := succeeded(t, w.run(t, w.alice, "tempban", w.bob, withDuration(time.Minute)), cases.Tempban)
		if want := w.clk.Now().Add(time.Minute); !tb.ExpiresAt.Equal(want) {
			t.Fatalf("the tempban ends at %v; want %v", tb.ExpiresAt, want)
		}
		if _, ok := eventOf(w.events(t, tb.ID), cases.EventScheduled); !ok {
			t.Error("the tempban's history does not show its scheduled unban")
		}
		// A millisecond before the end the poller has looked and left bob banned.
		w.advance(t, time.Minute-time.Millisecond)
		if _, banned := w.s.Banned(w.guild, w.bob); !banned {
			t.Fatal("bob was unbanned before the tempban ended")
		}
		w.advance(t, time.Millisecond)
		waitUntil(t, 10*time.Second, "the unban", func() bool { _, banned := w.s.Banned(w.guild, w.bob); return !banned })
		waitUntil(t, 5*time.Second, "the UNBAN case", func() bool {
			c, err := w.cases.GetByNumber(context.Background(), discord.GuildID(w.guild), tb.Number+1)
			return err == nil && c.Status == cases.Active && c.ModlogMessageID != 0
		})
		lift, _ := w.cases.GetByNumber(context.Background(), discord.GuildID(w.guild), tb.Number+1)
		if lift.Type != cases.Unban || lift.ModeratorID != discord.UserID(w.s.BotID()) || lift.Reason != "Temporary ban expired (case #1)" {
			t.Errorf("lift case %+v", lift)
		}
		if !lift.CreatedAt.Equal(tb.ExpiresAt) {
			t.Errorf("lifted at %v; want at the expiry, %v", lift.CreatedAt, tb.ExpiresAt)
		}
		orig, _ := w.cases.Get(context.Background(), tb.ID)
		if !orig.Processed {
			t.Error("the tempban is not processed")
		}
		if e, ok := eventOf(w.events(t, tb.ID), cases.EventLinked); !ok || e.New != "#2" {
			t.Errorf("the tempban's history does not link the UNBAN: %+v", e)
		}
		if e, ok := eventOf(w.events(t, lift.ID), cases.EventLinked); !ok || e.New != "#1" {
			t.Errorf("the UNBAN's history does not link the tempban: %+v", e)
		}
		if !containsText(w.modlogTitles(t), "Case #2 · UNBAN") {
			t.Errorf("mod log %q lacks the UNBAN case", w.modlogTitles(t))
		}
		entry := w.lastAudit(t, discordtest.AuditMemberBanRemove)
		if entry.UserID != w.s.BotID() || !strings.Contains(entry.Reason, "Temporary ban expired (case #1)") {
			t.Errorf("audit entry %+v", entry)
		}
		all, _ := w.svc.OfCase(context.Background(), tb.ID)
		if len(all) != 1 || all[0].Outcome != expiry.Done {
			t.Errorf("schedule after the lift: %+v", all)
		}
	})
}

// TestManualUnbanThenBanLeavesBanned is Red-DiscordBot #2160: an expired tempban must not
// lift a later permanent ban, whether the ban went through gavel or Discord's own client.
func TestManualUnbanThenBanLeavesBanned(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newExpiring(t, st.Engine(), expiry.Config{})
		ctx := context.Background()
		// Through gavel: the permanent ban supersedes the pending unban.
		tb := succeeded(t, w.run(t, w.alice, "tempban", w.bob, withDuration(time.Minute)), cases.Tempban)
		if err := w.s.UnbanAs(w.guild, w.alice, w.bob, "appeal"); err != nil {
			t.Fatal(err)
		}
		// bob is no longer a member, so the ban is recorded as a HACKBAN.
		ban := succeeded(t, w.run(t, w.alice, "ban", w.bob), cases.Hackban)
		if e, ok := eventOf(w.events(t, tb.ID), cases.EventSuperseded); !ok || e.New != "#"+strconv.FormatInt(ban.Number, 10) {
			t.Errorf("the tempban's history lacks the supersede by the ban: %+v", e)
		}
		// In Discord's client: the audit-log ingestion calls Supersede.
		tb2 := succeeded(t, w.run(t, w.alice, "tempban", w.carol, withDuration(time.Minute)), cases.Tempban)
		if err := w.s.UnbanAs(w.guild, w.alice, w.carol, "appeal"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.Supersede(ctx, discord.GuildID(w.guild), discord.UserID(w.carol), actions.Unban().Supersedes, 0, discord.UserID(w.alice), "unbanned in Discord by alice"); err != nil {
			t.Fatal(err)
		}
		if err := w.s.BanAs(w.guild, w.alice, w.carol, "for good"); err != nil {
			t.Fatal(err)
		}
		w.advance(t, tb2.ExpiresAt.Sub(w.clk.Now())+time.Second)
		for _, u := range []discordtest.ID{w.bob, w.carol} {
			if _, banned := w.s.Banned(w.guild, u); !banned {
				t.Errorf("user %s was unbanned by a stale tempban", u)
			}
		}
		for _, id := range []int64{tb.ID, tb2.ID} {
			c, _ := w.cases.Get(ctx, id)
			all, _ := w.svc.OfCase(ctx, id)
			if !c.Processed || len(all) != 1 || all[0].Outcome != expiry.Superseded {
				t.Errorf("case %d processed %v, schedule %+v; want processed and superseded", id, c.Processed, all)
			}
		}
	})
}

func TestLongTimeoutRenewed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const horizon = 2 * time.Second
		w := newExpiring(t, st.Engine(), expiry.Config{}, moderation.WithTimeoutHorizon(horizon))
		res := w.run(t, w.alice, "timeout", w.carol, withDuration(40*duration.Day))
		to := succeeded(t, res, cases.Timeout)
		if !strings.Contains(res.Reply.Content, "renews it until the full") {
			t.Errorf("reply %q does not tell the moderator the timeout is renewed", res.Reply.Content)
		}
		m, _ := w.s.Member(w.guild, w.carol)
		if m.CommunicationDisabledUntil == nil || m.CommunicationDisabledUntil.Sub(w.clk.Now()) > horizon {
			t.Fatalf("first timeout until %v; want at most the %v horizon", m.CommunicationDisabledUntil, horizon)
		}
		first := *m.CommunicationDisabledUntil
		// The renewal is due a lead before the applied part ends.
		w.advance(t, horizon-moderation.RenewLead(horizon))
		waitUntil(t, 10*time.Second, "a renewal", func() bool {
			m, _ := w.s.Member(w.guild, w.carol)
			return m.CommunicationDisabledUntil != nil && m.CommunicationDisabledUntil.After(first)
		})
		// Renewed before the applied part ran out: never a moment without the timeout.
		if m, _ := w.s.Member(w.guild, w.carol); m.CommunicationDisabledUntil == nil || !m.CommunicationDisabledUntil.After(w.clk.Now()) {
			t.Error("carol is not timed out after the renewal")
		}
		waitUntil(t, 5*time.Second, "the renewal in the history", func() bool {
			_, ok := eventOf(w.events(t, to.ID), cases.EventRenewed)
			return ok
		})
		all, _ := w.svc.OfCase(context.Background(), to.ID)
		if len(all) < 2 || all[0].Kind != expiry.TimeoutRenew || all[0].Outcome != expiry.Done || !all[len(all)-1].Open() {
			t.Errorf("schedule %+v; want a completed renewal and an open next one", all)
		}
		c, _ := w.cases.Get(context.Background(), to.ID)
		if c.Processed || c.ExpiresAt.Sub(w.clk.Now()) < 39*duration.Day {
			t.Errorf("timeout case %+v; want unprocessed, ending in 40 days", c)
		}
	})
}

func TestShortTimeoutExpiredMarker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newExpiring(t, st.Engine(), expiry.Config{})
		to := succeeded(t, w.run(t, w.alice, "timeout", w.carol, withDuration(time.Minute)), cases.Timeout)
		w.advance(t, time.Minute)
		waitUntil(t, 10*time.Second, "the timeout marked processed", func() bool {
			c, _ := w.cases.Get(context.Background(), to.ID)
			return c.Processed
		})
		// The timeout's own mod-log message says it ended.
		waitUntil(t, 5*time.Second, "the timeout's message saying it ended", func() bool {
			e := w.modlogEmbed(t, to.ID)
			return strings.Contains(e, `"name":"Ended"`) && strings.Contains(e, "the timeout expired")
		})
		if n, _ := w.cases.CountInGuild(context.Background(), discord.GuildID(w.guild)); n != 1 {
			t.Errorf("%d cases; an expired timeout records no case of its own", n)
		}
	})
}

func TestTimedJailLifted(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newExpiring(t, st.Engine(), expiry.Config{})
		jail := succeeded(t, w.run(t, w.alice, "jail", w.bob, withDuration(time.Minute)), cases.Jail)
		w.advance(t, time.Minute)
		waitUntil(t, 10*time.Second, "the UNJAIL case", func() bool {
			c, err := w.cases.GetByNumber(context.Background(), discord.GuildID(w.guild), jail.Number+1)
			return err == nil && c.Status == cases.Active
		})
		lift, _ := w.cases.GetByNumber(context.Background(), discord.GuildID(w.guild), jail.Number+1)
		if lift.Type != cases.Unjail || lift.Reason != "Jail expired (case #1)" {
			t.Errorf("lift %+v", lift)
		}
		m, _ := w.s.Member(w.guild, w.bob)
		hasMember, hasJail := false, false
		for _, r := range m.Roles {
			hasMember = hasMember || r == w.member
			hasJail = hasJail || r == w.jailed
		}
		if !hasMember || hasJail {
			t.Errorf("bob's roles after the jail %v; want member back and jailed gone", m.Roles)
		}
		jailed, _, _ := w.cases.Restricted(context.Background(), discord.GuildID(w.guild), discord.UserID(w.bob), cases.Jail)
		if jailed {
			t.Error("bob is still jailed in gavel's records")
		}
	})
}

// TestTimedPollAndSnippetBansLifted: a poll ban and a snippet ban given a duration end on
// time with their own lift case (POLLUNBAN, SNIPPETUNBAN) by the bot, naming the case they
// end, linked both ways, and the restriction is gone from gavel's records.
func TestTimedPollAndSnippetBansLifted(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newExpiring(t, st.Engine(), expiry.Config{})
		for _, tc := range []struct {
			action     string
			typ, lift  cases.Type
			reasonWord string
		}{
			{"pollban", cases.Pollban, cases.Pollunban, "Poll ban"},
			{"snippetban", cases.Snippetban, cases.Snippetunban, "Snippet ban"},
		} {
			c := succeeded(t, w.run(t, w.alice, tc.action, w.bob, withDuration(time.Minute)), tc.typ)
			w.advance(t, time.Minute)
			var lift cases.Case
			waitUntil(t, 10*time.Second, "the "+string(tc.lift)+" case", func() bool {
				l, err := w.cases.GetByNumber(context.Background(), discord.GuildID(w.guild), c.Number+1)
				lift = l
				return err == nil && l.Status == cases.Active
			})
			if want := fmt.Sprintf("%s expired (case #%d)", tc.reasonWord, c.Number); lift.Type != tc.lift || lift.Reason != want || lift.ModeratorID != discord.UserID(w.s.BotID()) {
				t.Errorf("lift of %s: %+v; want the bot's %s with reason %q", tc.action, lift, tc.lift, want)
			}
			if e, ok := eventOf(w.events(t, c.ID), cases.EventLinked); !ok || e.New != fmt.Sprintf("#%d", lift.Number) {
				t.Errorf("%s case history lacks the link to #%d: %+v", tc.action, lift.Number, e)
			}
			if e, ok := eventOf(w.events(t, lift.ID), cases.EventLinked); !ok || e.New != fmt.Sprintf("#%d", c.Number) {
				t.Errorf("%s history lacks the link to #%d: %+v", tc.lift, c.Number, e)
			}
			restricted, _, err := w.cases.Restricted(context.Background(), discord.GuildID(w.guild), discord.UserID(w.bob), tc.typ)
			if err != nil || restricted {
				t.Errorf("bob still %s in gavel's records (%v)", tc.typ, err)
			}
			got, _ := w.cases.Get(context.Background(), c.ID)
			if !got.Processed {
				t.Errorf("the %s case is not processed", tc.action)
			}
		}
	})
}

// TestFailingUnbanBacksOffAndGivesUp: an unban refused with 403 is retried with backoff, a
// bounded number of times, then a warning in the mod log asks a human to act.
func TestFailingUnbanBacksOffAndGivesUp(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		cfg := expiry.Config{MaxAttempts: 3, BackoffBase: 200 * time.Millisecond, BackoffMax: time.Second}
		w := newExpiring(t, st.Engine(), cfg)
		w.s.FailNext(unbanRoute, 1000, 403)
		tb := succeeded(t, w.run(t, w.alice, "tempban", w.bob, withDuration(time.Minute)), cases.Tempban)
		w.advance(t, time.Minute)
		// Each failure is recorded with a retry at most BackoffMax later: move the clock
		// there, attempt after attempt, until the poller gives up.
		for attempt := 1; ; attempt++ {
			var last expiry.Action
			waitUntil(t, 10*time.Second, fmt.Sprintf("attempt %d recorded", attempt), func() bool {
				all, _ := w.svc.OfCase(context.Background(), tb.ID)
				if len(all) != 1 {
					return false
				}
				last = all[0]
				return last.Outcome == expiry.GaveUp || (last.Attempts == attempt && last.LeaseOwner == "")
			})
			if last.Outcome == expiry.GaveUp {
				break
			}
			if attempt >= cfg.MaxAttempts {
				t.Fatalf("attempt %d recorded without giving up: %+v", attempt, last)
			}
			w.advance(t, cfg.BackoffMax)
		}
		waitUntil(t, 5*time.Second, "the mod-log warning", func() bool {
			return containsText(w.modlogTitles(t), "⚠️ Case #1 · the unban failed")
		})
		// The warning ends with what the tempban action says to do by hand.
		if todo := fmt.Sprintf("unban them by hand (`unban %d`)", int64(w.bob)); !containsText(w.modlogTitles(t), todo) {
			t.Errorf("the mod-log warning does not say %q: %q", todo, w.modlogTitles(t))
		}
		if got := w.s.FaultStats().Routes[unbanRoute].Failed; got != 3 {
			t.Errorf("%d unban attempts; want exactly 3 (MaxAttempts)", got)
		}
		e, ok := eventOf(w.events(t, tb.ID), cases.EventGaveUp)
		if !ok || !strings.Contains(e.Note, "permission") {
			t.Errorf("give-up history row %+v; want one saying why", e)
		}
		if _, banned := w.s.Banned(w.guild, w.bob); !banned {
			t.Error("bob is not banned, though every unban failed")
		}
		c, _ := w.cases.Get(context.Background(), tb.ID)
		if c.Processed {
			t.Error("a tempban whose unban gave up is marked processed")
		}
		// Three attempts, each recorded and voided: no Discord action without a case.
		page, _ := w.cases.List(context.Background(), cases.Filter{GuildID: discord.GuildID(w.guild), Types: []cases.Type{cases.Unban}}, cases.PageRequest{Page: 1, PerPage: 10})
		for _, u := range page.Cases {
			if u.Status != cases.Voided {
				t.Errorf("failed UNBAN case %+v is not voided", u)
			}
		}
		w.advance(t, time.Hour)
		if got := w.s.FaultStats().Routes[unbanRoute].Failed; got != 3 {
			t.Errorf("%d unban attempts after the give-up; the poller must stop", got)
		}
	})
}

// TestRescheduledTimeoutFollowsTheCase: shortening a timeout's case (what `cases modify
// -duration` does) re-applies Discord's timeout up to the new end at once, then marks the
// case expired at that end.
func TestRescheduledTimeoutFollowsTheCase(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newExpiring(t, st.Engine(), expiry.Config{})
		to := succeeded(t, w.run(t, w.alice, "timeout", w.carol, withDuration(time.Hour)), cases.Timeout)
		end := w.clk.Now().Add(3 * time.Second)
		if _, err := w.svc.Reschedule(context.Background(), discord.GuildID(w.guild), to.Number, discord.UserID(w.alice), end, "appeal accepted"); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 5*time.Second, "Discord's timeout moved to the new end", func() bool {
			m, _ := w.s.Member(w.guild, w.carol)
			return m.CommunicationDisabledUntil != nil && m.CommunicationDisabledUntil.Sub(end).Abs() < time.Second
		})
		// Not before the new end: the clock has not reached it.
		if c, _ := w.cases.Get(context.Background(), to.ID); c.Processed {
			t.Fatal("the timeout was marked processed before its new end")
		}
		w.advance(t, end.Sub(w.clk.Now()))
		waitUntil(t, 10*time.Second, "the timeout marked processed", func() bool {
			c, _ := w.cases.Get(context.Background(), to.ID)
			return c.Processed
		})
		ev := w.events(t, to.ID)
		if _, ok := eventOf(ev, cases.EventExpiry); !ok {
			t.Error("the expiry change is not in the history")
		}
		if _, ok := eventOf(ev, cases.EventRenewed); !ok {
			t.Error("the re-applied timeout is not in the history")
		}
	})
}

// TestRunnerChecksForLaterCases: a later ban recorded by a path that did not supersede the
// pending unban (a mirrored action, say) still stops the unban: the runner itself checks.
func TestRunnerChecksForLaterCases(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		w := newExpiring(t, st.Engine(), expiry.Config{})
		tb := succeeded(t, w.run(t, w.alice, "tempban", w.bob, withDuration(time.Minute)), cases.Tempban)
		ban, err := w.cases.Create(context.Background(), cases.New{GuildID: discord.GuildID(w.guild), UserID: discord.UserID(w.bob), ModeratorID: discord.UserID(w.alice),
			Type: cases.Ban, Reason: "made permanent in Discord"})
		if err != nil {
			t.Fatal(err)
		}
		w.advance(t, time.Minute)
		waitUntil(t, 10*time.Second, "the superseded expiry", func() bool {
			all, _ := w.svc.OfCase(context.Background(), tb.ID)
			return len(all) == 1 && all[0].Outcome == expiry.Superseded
		})
		if _, banned := w.s.Banned(w.guild, w.bob); !banned {
			t.Error("bob was unbanned despite the later ban")
		}
		if e, ok := eventOf(w.events(t, tb.ID), cases.EventSuperseded); !ok || e.New != "#"+strconv.FormatInt(ban.Number, 10) {
			t.Errorf("history %+v", e)
		}
	})
}
