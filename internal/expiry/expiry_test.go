package expiry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/input"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

const (
	guild = 700000000000000100
	mod   = 700000000000000202
	bot   = 700000000000000999
)

type fixture struct {
	cs  *cases.Service
	svc *expiry.Service
	clk *clock.Manual
}

func newFixture(t *testing.T, st *store.Store) fixture {
	clk := clock.NewManual(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	cs := cases.NewService(st, cases.WithClock(clk.Now))
	return fixture{cs: cs, svc: expiry.NewService(st, cs, expiry.WithRules(actions.Catalogue().ExpiryRules()), expiry.WithClock(clk)), clk: clk}
}

// tempban records an active tempban of user ending at end.
func (f fixture) tempban(t *testing.T, user int64, end time.Time) cases.Case {
	t.Helper()
	c, err := f.cs.Create(context.Background(), cases.New{GuildID: guild, UserID: discord.UserID(user), ModeratorID: mod, Type: cases.Tempban, Reason: "spam", ExpiresAt: end})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func kinds(t *testing.T, cs *cases.Service, id int64) []cases.EventKind {
	t.Helper()
	ev, err := cs.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []cases.EventKind
	for _, e := range ev {
		out = append(out, e.Kind)
	}
	return out
}

func hasKind(ks []cases.EventKind, k cases.EventKind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func TestScheduleClaimComplete(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		c := f.tempban(t, 501, f.clk.Now().Add(time.Hour))
		a, err := f.svc.Schedule(ctx, c.ID, mod, expiry.Unban, c.ExpiresAt)
		if err != nil {
			t.Fatal(err)
		}
		if a.Kind != expiry.Unban || !a.RunAt.Equal(c.ExpiresAt) || !a.Open() {
			t.Fatalf("scheduled %+v", a)
		}
		if !hasKind(kinds(t, f.cs, c.ID), cases.EventScheduled) {
			t.Error("no scheduled row in the case history")
		}
		next, ok, err := f.svc.NextRunAt(ctx)
		if err != nil || !ok || !next.Equal(c.ExpiresAt) {
			t.Fatalf("NextRunAt = %v %v %v, want %v", next, ok, err, c.ExpiresAt)
		}
		got, err := f.svc.Claim(ctx, "p1", 10, time.Minute)
		if err != nil || len(got) != 0 {
			t.Fatalf("claim before due: %v %v", got, err)
		}
		f.clk.Advance(time.Hour)
		got, err = f.svc.Claim(ctx, "p1", 10, time.Minute)
		if err != nil || len(got) != 1 {
			t.Fatalf("claim when due: %v %v", got, err)
		}
		if got[0].Attempts != 1 || got[0].LeaseOwner != "p1" {
			t.Errorf("claim %+v", got[0])
		}
		if again, _ := f.svc.Claim(ctx, "p2", 10, time.Minute); len(again) != 0 {
			t.Fatalf("a leased action was claimed again: %+v", again)
		}
		if err := f.svc.Complete(ctx, got[0], expiry.Done, "ok"); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Complete(ctx, got[0], expiry.Done, "twice"); !errors.Is(err, expiry.ErrLeaseLost) {
			t.Errorf("second completion: %v, want ErrLeaseLost", err)
		}
		all, err := f.svc.OfCase(ctx, c.ID)
		if err != nil || len(all) != 1 || all[0].Outcome != expiry.Done || all[0].DoneAt.IsZero() {
			t.Fatalf("after completion: %+v %v", all, err)
		}
		if _, ok, _ := f.svc.NextRunAt(ctx); ok {
			t.Error("a completed action is still next")
		}
	})
}

func TestLostLeaseCannotComplete(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		c := f.tempban(t, 502, f.clk.Now())
		if _, err := f.svc.Schedule(ctx, c.ID, mod, expiry.Unban, c.ExpiresAt); err != nil {
			t.Fatal(err)
		}
		first, err := f.svc.Claim(ctx, "p1", 1, time.Minute)
		if err != nil || len(first) != 1 {
			t.Fatalf("claim: %v %v", first, err)
		}
		f.clk.Advance(2 * time.Minute) // p1 stalls past its lease
		second, err := f.svc.Claim(ctx, "p2", 1, time.Minute)
		if err != nil || len(second) != 1 || second[0].Attempts != 2 {
			t.Fatalf("takeover: %+v %v", second, err)
		}
		if err := f.svc.Complete(ctx, first[0], expiry.Done, "late"); !errors.Is(err, expiry.ErrLeaseLost) {
			t.Errorf("stale holder completed: %v", err)
		}
		if err := f.svc.Fail(ctx, first[0], "late", f.clk.Now()); !errors.Is(err, expiry.ErrLeaseLost) {
			t.Errorf("stale holder failed it: %v", err)
		}
		if err := f.svc.Complete(ctx, second[0], expiry.Done, "ok"); err != nil {
			t.Errorf("holder: %v", err)
		}
	})
}

func TestFailBacksOffThenGivesUp(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		c := f.tempban(t, 503, f.clk.Now())
		if _, err := f.svc.Schedule(ctx, c.ID, mod, expiry.Unban, c.ExpiresAt); err != nil {
			t.Fatal(err)
		}
		cl, _ := f.svc.Claim(ctx, "p1", 1, time.Minute)
		if len(cl) != 1 {
			t.Fatal("not claimed")
		}
		if err := f.svc.Fail(ctx, cl[0], "403 Missing Permissions", f.clk.Now().Add(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.svc.Claim(ctx, "p1", 1, time.Minute); len(got) != 0 {
			t.Fatal("claimed during its backoff")
		}
		f.clk.Advance(30 * time.Second)
		cl, _ = f.svc.Claim(ctx, "p1", 1, time.Minute)
		if len(cl) != 1 || cl[0].Attempts != 2 || cl[0].LastError != "403 Missing Permissions" {
			t.Fatalf("after backoff: %+v", cl)
		}
		if err := f.svc.GiveUp(ctx, cl[0], bot, "403 Missing Permissions"); err != nil {
			t.Fatal(err)
		}
		all, _ := f.svc.OfCase(ctx, c.ID)
		if all[0].Outcome != expiry.GaveUp || all[0].Open() {
			t.Errorf("after give-up: %+v", all[0])
		}
		ev, _ := f.cs.Events(ctx, c.ID)
		last := ev[len(ev)-1]
		if last.Kind != cases.EventGaveUp || last.ActorID != bot || last.Note == "" {
			t.Errorf("history after give-up: %+v", last)
		}
		// A case whose action gave up is not rescheduled by the reconciler.
		if n, err := f.svc.Reconcile(ctx, bot, 100); err != nil || n != 0 {
			t.Errorf("Reconcile = %d, %v", n, err)
		}
	})
}

func TestBackoffGrowsAndIsBounded(t *testing.T) {
	t.Parallel()
	cfg := expiry.Config{BackoffBase: time.Second, BackoffMax: 10 * time.Second}
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 10: 10 * time.Second} {
		got := cfg.Backoff(attempts)
		if got < want*8/10 || got > want*12/10 {
			t.Errorf("Backoff(%d) = %v, want %v ± 20%%", attempts, got, want)
		}
	}
}

func TestSupersede(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		tb := f.tempban(t, 504, f.clk.Now().Add(time.Hour))
		if _, err := f.svc.Schedule(ctx, tb.ID, mod, expiry.Unban, tb.ExpiresAt); err != nil {
			t.Fatal(err)
		}
		other := f.tempban(t, 505, f.clk.Now().Add(time.Hour)) // another user: untouched
		if _, err := f.svc.Schedule(ctx, other.ID, mod, expiry.Unban, other.ExpiresAt); err != nil {
			t.Fatal(err)
		}
		ban, err := f.cs.Create(ctx, cases.New{GuildID: guild, UserID: 504, ModeratorID: mod, Type: cases.Ban, Reason: "for good"})
		if err != nil {
			t.Fatal(err)
		}
		// A timeout does not touch a pending unban.
		if got, err := f.svc.Supersede(ctx, guild, 504, actions.Untimeout().Supersedes, 0, mod, "untimeout"); err != nil || len(got) != 0 {
			t.Fatalf("untimeout superseded %v, %v", got, err)
		}
		got, err := f.svc.Supersede(ctx, guild, 504, actions.Ban().Supersedes, ban.Number, mod, "banned in Discord")
		if err != nil || len(got) != 1 || got[0].CaseID != tb.ID || got[0].Outcome != expiry.Superseded {
			t.Fatalf("Supersede = %+v, %v", got, err)
		}
		c, _ := f.cs.Get(ctx, tb.ID)
		if !c.Processed {
			t.Error("superseded case not processed")
		}
		if !hasKind(kinds(t, f.cs, tb.ID), cases.EventSuperseded) {
			t.Error("no superseded row in the history")
		}
		pending, total, err := f.svc.Pending(ctx, guild, 10)
		if err != nil || total != 1 || len(pending) != 1 || pending[0].CaseID != other.ID {
			t.Errorf("Pending = %+v %d %v", pending, total, err)
		}
		if _, err := f.svc.Supersede(ctx, guild, 504, actions.Warn().Supersedes, 0, mod, "x"); err == nil {
			t.Error("a warn (which supersedes no kind) superseded something")
		}
	})
}

func TestReschedule(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		tb := f.tempban(t, 506, f.clk.Now().Add(time.Hour))
		if _, err := f.svc.Schedule(ctx, tb.ID, mod, expiry.Unban, tb.ExpiresAt); err != nil {
			t.Fatal(err)
		}
		later := f.clk.Now().Add(3 * 24 * time.Hour)
		c, err := f.svc.Reschedule(ctx, guild, tb.Number, mod, later, "appeal denied")
		if err != nil {
			t.Fatal(err)
		}
		if !c.ExpiresAt.Equal(later) {
			t.Errorf("case expiry %v, want %v", c.ExpiresAt, later)
		}
		all, _ := f.svc.OfCase(ctx, tb.ID)
		if len(all) != 1 || !all[0].RunAt.Equal(later) || !all[0].Open() {
			t.Errorf("actions after the move: %+v", all)
		}
		ks := kinds(t, f.cs, tb.ID)
		if !hasKind(ks, cases.EventExpiry) {
			t.Errorf("history %v lacks the expiry change", ks)
		}
		// Permanent: the action is cancelled, the case stays unprocessed and active.
		c, err = f.svc.Reschedule(ctx, guild, tb.Number, mod, time.Time{}, "made permanent")
		if err != nil || !c.ExpiresAt.IsZero() {
			t.Fatalf("make permanent: %+v %v", c, err)
		}
		all, _ = f.svc.OfCase(ctx, tb.ID)
		if all[0].Open() || all[0].Outcome != expiry.Cancelled {
			t.Errorf("after making it permanent: %+v", all[0])
		}
		warn, _ := f.cs.Create(ctx, cases.New{GuildID: guild, UserID: 506, ModeratorID: mod, Type: cases.Warn, Reason: "x"})
		if _, err := f.svc.Reschedule(ctx, guild, warn.Number, mod, later, ""); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("rescheduling a warn: %v", err)
		}
	})
}

func TestReconcileSchedulesForgottenCases(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		tb := f.tempban(t, 507, f.clk.Now().Add(time.Minute))
		n, err := f.svc.Reconcile(ctx, bot, 100)
		if err != nil || n != 1 {
			t.Fatalf("Reconcile = %d, %v", n, err)
		}
		all, _ := f.svc.OfCase(ctx, tb.ID)
		if len(all) != 1 || all[0].Kind != expiry.Unban || !all[0].RunAt.Equal(tb.ExpiresAt) {
			t.Errorf("reconciled %+v", all)
		}
		if n, _ := f.svc.Reconcile(ctx, bot, 100); n != 0 {
			t.Errorf("second Reconcile scheduled %d", n)
		}
	})
}

// Which types expire is the actions' to say: cases of a type no rule lifts are passed over
// even when they carry an end, and a page of them does not hide an expiring case behind it.
func TestReconcilePassesOverTypesThatNeverExpire(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		end := f.clk.Now().Add(time.Hour)
		for u := range int64(3) {
			if _, err := f.cs.Create(ctx, cases.New{GuildID: guild, UserID: discord.UserID(600 + u), ModeratorID: mod, Type: cases.Warn, Reason: "x", ExpiresAt: end}); err != nil {
				t.Fatal(err)
			}
		}
		tb := f.tempban(t, 610, end)
		n, err := f.svc.Reconcile(ctx, bot, 2)
		if err != nil || n != 1 {
			t.Fatalf("Reconcile(limit 2) = %d, %v; want the tempban behind three warns", n, err)
		}
		if all, _ := f.svc.OfCase(ctx, tb.ID); len(all) != 1 || all[0].Kind != expiry.Unban {
			t.Errorf("tempban's schedule %+v", all)
		}
	})
}

// TestConcurrentClaimersNeverShare runs several claimers at once over the same due rows:
// every action is claimed exactly once.
func TestConcurrentClaimersNeverShare(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		const n = 300
		var ns []cases.New
		for i := range n {
			ns = append(ns, cases.New{GuildID: guild, UserID: discord.UserID(1000 + i), ModeratorID: mod, Type: cases.Tempban, Reason: "r", ExpiresAt: f.clk.Now()})
		}
		cs, err := f.cs.CreateMany(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := f.svc.Reconcile(ctx, bot, 1000); err != nil || got != n {
			t.Fatalf("Reconcile = %d, %v", got, err)
		}
		var mu sync.Mutex
		seen := map[int64]string{}
		var dup atomic.Int32
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("claimer-%d", w)
				for {
					got, err := f.svc.Claim(ctx, owner, 7, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					for _, cl := range got {
						mu.Lock()
						if prev, ok := seen[cl.ID]; ok {
							t.Errorf("action %d claimed by %s and %s", cl.ID, prev, owner)
							dup.Add(1)
						}
						seen[cl.ID] = owner
						mu.Unlock()
						if err := f.svc.Complete(ctx, cl, expiry.Done, ""); err != nil {
							t.Error(err)
						}
					}
				}
			}()
		}
		wg.Wait()
		if len(seen) != len(cs) || dup.Load() != 0 {
			t.Errorf("claimed %d distinct actions of %d, %d duplicates", len(seen), len(cs), dup.Load())
		}
	})
}

// observed records what an Observer hears.
type observed struct {
	mu      sync.Mutex
	ended   []string
	retries int
	late    []time.Duration
}

func (o *observed) ExpiryFinished(kind expiry.Kind, outcome expiry.Outcome, late time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ended = append(o.ended, string(kind)+":"+string(outcome))
	o.late = append(o.late, late)
}

func (o *observed) ExpiryRetried(expiry.Kind) { o.mu.Lock(); o.retries++; o.mu.Unlock() }

// The observer hears each committed outcome once, with the lateness by the schedule's clock:
// a completion, a retry, a give-up; a completion whose lease was lost is not an outcome.
func TestObserverHearsOutcomes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		obs := &observed{}
		svc := expiry.NewService(st, f.cs, expiry.WithClock(f.clk), expiry.WithObserver(obs))
		done := f.tempban(t, 601, f.clk.Now())
		failing := f.tempban(t, 602, f.clk.Now())
		for _, c := range []cases.Case{done, failing} {
			if _, err := svc.Schedule(ctx, c.ID, mod, expiry.Unban, c.ExpiresAt); err != nil {
				t.Fatal(err)
			}
		}
		f.clk.Advance(1500 * time.Millisecond)
		cl, err := svc.Claim(ctx, "p1", 2, time.Minute)
		if err != nil || len(cl) != 2 {
			t.Fatalf("claimed %d: %v", len(cl), err)
		}
		byCase := map[int64]expiry.Claim{cl[0].CaseID: cl[0], cl[1].CaseID: cl[1]}
		if err := f.cs.InTx(ctx, bot, func(tx *cases.Tx) error {
			return svc.CompleteTx(tx, byCase[done.ID], expiry.Done, "lifted")
		}); err != nil {
			t.Fatal(err)
		}
		// A second completion of the same claim finds no lease: nothing is heard.
		if err := svc.Complete(ctx, byCase[done.ID], expiry.Done, "again"); !errors.Is(err, expiry.ErrLeaseLost) {
			t.Fatalf("second completion: %v; want ErrLeaseLost", err)
		}
		if err := svc.Fail(ctx, byCase[failing.ID], "403 Missing Permissions", f.clk.Now()); err != nil {
			t.Fatal(err)
		}
		cl, _ = svc.Claim(ctx, "p1", 1, time.Minute)
		if len(cl) != 1 {
			t.Fatal("the failed action was not claimed again")
		}
		if err := svc.GiveUp(ctx, cl[0], bot, "403 Missing Permissions"); err != nil {
			t.Fatal(err)
		}
		obs.mu.Lock()
		defer obs.mu.Unlock()
		if fmt.Sprint(obs.ended) != "[unban:done unban:gave_up]" || obs.retries != 1 {
			t.Errorf("heard %v and %d retries; want [unban:done unban:gave_up] and 1", obs.ended, obs.retries)
		}
		if obs.late[0] != 1500*time.Millisecond {
			t.Errorf("lateness %v; want 1.5s by the schedule's clock", obs.late[0])
		}
		open, due, err := svc.Counts(ctx)
		if err != nil || open != 0 || due != 0 {
			t.Errorf("Counts = %d, %d, %v; want nothing open", open, due, err)
		}
	})
}

// Counts tells open actions from those already due.
func TestCounts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		for i, end := range []time.Duration{-time.Minute, 0, time.Hour} {
			c := f.tempban(t, int64(610+i), f.clk.Now().Add(end))
			if _, err := f.svc.Schedule(ctx, c.ID, mod, expiry.Unban, c.ExpiresAt); err != nil {
				t.Fatal(err)
			}
		}
		open, due, err := f.svc.Counts(ctx)
		if err != nil || open != 3 || due != 2 {
			t.Errorf("Counts = %d open, %d due, %v; want 3 and 2", open, due, err)
		}
	})
}

// Voiding a case whose end is scheduled keeps the schedule and says so in the history row;
// re-activating a case whose end was lost while it was voided (its action found it voided and
// went stale) schedules the end again, with its own history row; re-activating one whose end
// is still scheduled changes nothing.
func TestSetStatusKeepsTheScheduleTrue(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		c := f.tempban(t, 601, f.clk.Now().Add(time.Hour))
		a, err := f.svc.Schedule(ctx, c.ID, mod, expiry.Unban, c.ExpiresAt)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := f.svc.SetStatus(ctx, guild, c.Number, mod, cases.Voided, "")
		if err != nil || ch.Case.Status != cases.Voided || ch.Kept.ID != a.ID || ch.Scheduled.ID != 0 {
			t.Fatalf("void = %+v, %v; want voided with unban %d kept", ch, err, a.ID)
		}
		ev, _ := f.cs.Events(ctx, c.ID)
		if last := ev[len(ev)-1]; last.Kind != cases.EventStatus || last.Note == "" || !containsAll(last.Note, "unban", "still runs") {
			t.Errorf("the void's history row %+v does not say the unban still runs", last)
		}
		if _, err := f.svc.SetStatus(ctx, guild, c.Number, mod, cases.Voided, ""); !errors.Is(err, input.ErrUnchanged) {
			t.Errorf("voiding twice: %v; want ErrUnchanged", err)
		}
		ch, err = f.svc.SetStatus(ctx, guild, c.Number, mod, cases.Active, "")
		if err != nil || ch.Scheduled.ID != 0 {
			t.Fatalf("re-activate with the unban still open = %+v, %v; want nothing scheduled", ch, err)
		}

		// An end lost while voided: the old behaviour ran the expiry stale, unprocessed.
		lost := f.tempban(t, 602, f.clk.Now().Add(-time.Minute))
		if _, err := f.svc.SetStatus(ctx, guild, lost.Number, mod, cases.Voided, "mistake"); err != nil {
			t.Fatal(err)
		}
		ch, err = f.svc.SetStatus(ctx, guild, lost.Number, mod, cases.Active, "not a mistake")
		if err != nil || ch.Scheduled.ID == 0 || ch.Scheduled.Kind != expiry.Unban || !ch.Scheduled.RunAt.Equal(lost.ExpiresAt) {
			t.Fatalf("re-activate = %+v, %v; want its unban scheduled at its end (due at once)", ch, err)
		}
		if ks := kinds(t, f.cs, lost.ID); !hasKind(ks, cases.EventScheduled) {
			t.Errorf("the re-scheduling is not in the history: %v", ks)
		}
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
