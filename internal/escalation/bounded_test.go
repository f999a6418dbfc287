package escalation_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// The evaluation reads a member's points bounded (migration 00035: the sum of at most L
// counting points rows, exact below L). These tests take members past the bound in the ways
// that could make a lower bound decide wrongly.

// boundedFixture is a service on a test clock with one policy, recording what fires.
type boundedFixture struct {
	ctx   context.Context
	now   time.Time
	esc   *escalation.Service
	cs    *cases.Service
	mu    sync.Mutex
	fired []escalation.Firing
}

func newBoundedFixture(t *testing.T, st *store.Store) *boundedFixture {
	f := &boundedFixture{ctx: context.Background(), now: time.Now().UTC().Truncate(time.Millisecond)}
	clock := func() time.Time { return f.now }
	f.esc = escalation.NewService(st, escalation.WithClock(clock))
	f.esc.OnFired(func(x escalation.Firing) { f.mu.Lock(); f.fired = append(f.fired, x); f.mu.Unlock() })
	f.cs = cases.NewService(st, cases.WithClock(clock), cases.WithChangeObserver(f.esc))
	return f
}

// configure stores settings with one enabled policy of timeouts at the levels given, warn 1
// point, and warnings whose reason says "brief" counting for an hour.
func (f *boundedFixture) configure(t *testing.T, at ...int) {
	t.Helper()
	if _, _, _, err := f.esc.Update(f.ctx, guild, mod, -1, func(c *escalation.Config) error {
		*c = escalation.Config{
			Weights: []escalation.Weight{{Type: cases.Warn, Points: 1}},
			Reasons: []escalation.ReasonWeight{{Match: "brief", CountsFor: time.Hour}},
		}
		p := escalation.Policy{Name: "p", Enabled: true}
		for _, a := range at {
			p.Thresholds = append(p.Thresholds, escalation.Threshold{At: a, Action: escalation.Timeout, Duration: time.Hour})
		}
		c.Policies = []escalation.Policy{p}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func (f *boundedFixture) warn(t *testing.T, u discord.UserID, reason string, points string) cases.Case {
	t.Helper()
	n := cases.New{GuildID: guild, UserID: u, ModeratorID: mod, Type: cases.Warn, Reason: reason}
	if points != "" {
		n.Metadata = map[string]string{escalation.MetaPoints: points}
	}
	c, err := f.cs.Create(f.ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *boundedFixture) firedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.fired)
}

// open returns the member's open firings' levels.
func (f *boundedFixture) open(t *testing.T, u discord.UserID) []int {
	t.Helper()
	fs, err := f.esc.FiringsOfMember(f.ctx, guild, u, 50)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, x := range fs {
		if x.Open() {
			out = append(out, x.Threshold.At)
		}
	}
	return out
}

// An open firing of settings since changed resets above today's highest threshold: the
// member fired at 20, then the policy became a single threshold at 3. The reads of the
// member's points must reach the firing's reset level, not only today's top, or a void
// that takes the member from 20 to 15 would read "at least 3" and not re-arm it.
func TestOpenFiringResetsAboveTodaysTop(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newBoundedFixture(t, st)
		f.configure(t, 20)
		u := discord.UserID(900000000000001500)
		var ws []cases.Case
		for range 4 {
			ws = append(ws, f.warn(t, u, "five", "5"))
		}
		if got := f.open(t, u); len(got) != 1 || got[0] != 20 || f.firedCount() != 1 {
			t.Fatalf("after 20 points: open %v, %d fired; want the one at 20", got, f.firedCount())
		}
		f.configure(t, 3)
		f.warn(t, u, "five more", "5") // 25: crosses nothing (it was at 20)
		if f.firedCount() != 1 {
			t.Fatalf("a warning from 20 to 25 points with the threshold at 3 fired: %+v", f.fired)
		}
		if _, err := f.cs.Void(f.ctx, guild, ws[0].Number, mod, "mistake"); err != nil {
			t.Fatal(err)
		}
		if got := f.open(t, u); len(got) != 1 {
			t.Fatalf("at 20 points: open %v; want the one at 20 still open (20 is not below 20)", got)
		}
		if _, err := f.cs.Void(f.ctx, guild, ws[1].Number, mod, "mistake"); err != nil {
			t.Fatal(err)
		}
		if got := f.open(t, u); len(got) != 0 {
			t.Fatalf("at 15 points: open %v; want the firing at 20 re-armed (15 is below its reset level)", got)
		}
		if total, _, err := f.esc.Points(f.ctx, guild, u); err != nil || total != 15 {
			t.Fatalf("points = %d, %v; want 15", total, err)
		}
	})
}

// A member with three times as many counting points rows as the highest threshold: the
// evaluation reads at most about that many, so above it the sum is a lower bound. Warnings
// past the threshold fire nothing; voids, points set to zero and points that stop counting
// re-arm it exactly when the ledger's sum falls below it, and the next warning to reach it
// fires it again.
func TestMemberWithMoreRowsThanTheBound(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newBoundedFixture(t, st)
		f.configure(t, 10)
		u := discord.UserID(900000000000001501)
		var long, brief []cases.Case
		for range 5 {
			long = append(long, f.warn(t, u, "long", ""))
		}
		for range 25 {
			brief = append(brief, f.warn(t, u, "brief", ""))
		}
		if got := f.open(t, u); len(got) != 1 || f.firedCount() != 1 || f.fired[0].Points != 10 {
			t.Fatalf("after 30 one-point warnings: open %v, fired %+v; want one firing, at 10 points", got, f.fired)
		}
		for i, c := range brief[:5] {
			if _, err := f.cs.Void(f.ctx, guild, c.Number, mod, "mistake"); err != nil {
				t.Fatal(err)
			}
			if got := f.open(t, u); len(got) != 1 {
				t.Fatalf("after %d voids (%d points): open %v; want the firing still open", i+1, 29-i, got)
			}
		}
		if _, _, err := f.esc.SetPoints(f.ctx, f.cs, guild, long[0].Number, mod, 0); err != nil {
			t.Fatal(err)
		}
		if got := f.open(t, u); len(got) != 1 || f.firedCount() != 1 {
			t.Fatalf("at 24 points: open %v, %d fired; want the one firing, open", got, f.firedCount())
		}
		// Two hours on, the 20 brief warnings left stop counting: 4 points.
		f.now = f.now.Add(2 * time.Hour)
		rearmed, err := f.esc.RearmExpired(f.ctx, time.UnixMilli(0), f.now, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rearmed) != 1 || len(f.open(t, u)) != 0 {
			t.Fatalf("points expired to 4: re-armed %+v, open %v; want the firing re-armed", rearmed, f.open(t, u))
		}
		if total, _, err := f.esc.Points(f.ctx, guild, u); err != nil || total != 4 {
			t.Fatalf("points = %d, %v; want 4", total, err)
		}
		for range 5 {
			f.warn(t, u, "again", "")
		}
		if f.firedCount() != 1 {
			t.Fatalf("at 9 points: %d fired; want 1", f.firedCount())
		}
		f.warn(t, u, "tenth", "")
		if got := f.open(t, u); len(got) != 1 || f.firedCount() != 2 || f.fired[1].Points != 10 {
			t.Fatalf("back at 10 points: open %v, fired %+v; want it fired again, at 10", got, f.fired)
		}
	})
}

// A case made active again (un-voided) adds its points in the status change, before the
// evaluation reads the member: the read must reach past the highest threshold by those
// points, or "at least 10" minus the case's 5 would look like a member below the threshold.
// The member had 30 points before the threshold at 10 existed (no firing: settings changed
// to it afterwards), so nothing is crossed.
func TestUnvoidAboveTheBoundCrossesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newBoundedFixture(t, st)
		f.configure(t, 50)
		u := discord.UserID(900000000000001502)
		five := f.warn(t, u, "five", "5")
		for range 30 {
			f.warn(t, u, "one", "")
		}
		if _, err := f.cs.Void(f.ctx, guild, five.Number, mod, "mistake"); err != nil {
			t.Fatal(err)
		}
		f.configure(t, 10)
		if _, err := f.cs.SetStatus(f.ctx, guild, five.Number, mod, cases.Active, "un-void"); err != nil {
			t.Fatal(err)
		}
		if total, _, err := f.esc.Points(f.ctx, guild, u); err != nil || total != 35 {
			t.Fatalf("points = %d, %v; want 35", total, err)
		}
		if f.firedCount() != 0 || len(f.open(t, u)) != 0 {
			t.Fatalf("un-void from 30 to 35 points with the threshold at 10: fired %+v; want nothing", f.fired)
		}
	})
}
