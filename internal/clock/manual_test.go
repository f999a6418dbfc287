package clock_test

import (
	"context"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func fired(tm clock.Timer) (time.Time, bool) {
	select {
	case at := <-tm.C():
		return at, true
	default:
		return time.Time{}, false
	}
}

func TestManualFiresTimersItReaches(t *testing.T) {
	m := clock.NewManual(t0)
	soon := clock.After(m, time.Second)
	later := m.TimerAt(t0.Add(time.Minute))
	if _, ok := fired(soon); ok {
		t.Fatal("a timer fired before the clock moved")
	}
	m.Advance(999 * time.Millisecond)
	if _, ok := fired(soon); ok {
		t.Fatal("a timer fired before its instant")
	}
	m.Advance(time.Millisecond)
	if at, ok := fired(soon); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("at its instant: fired %v at %v", ok, at)
	}
	if got := m.Armed(); len(got) != 1 || !got[0].Equal(t0.Add(time.Minute)) {
		t.Errorf("armed %v; want the later timer only", got)
	}
	if !later.Stop() || later.Stop() {
		t.Error("Stop: want true for an armed timer, then false")
	}
	m.Advance(time.Hour)
	if _, ok := fired(later); ok {
		t.Error("a stopped timer fired")
	}
}

func TestManualPastInstantFiresAtOnce(t *testing.T) {
	m := clock.NewManual(t0)
	if _, ok := fired(m.TimerAt(t0.Add(-time.Second))); !ok {
		t.Error("a timer for a past instant did not fire at once")
	}
	m.Set(t0.Add(-time.Hour))
	if !m.Now().Equal(t0) {
		t.Errorf("Set moved the clock back to %v", m.Now())
	}
}

func TestManualWaitArmed(t *testing.T) {
	m := clock.NewManual(t0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.WaitArmed(ctx, 2) }()
	clock.After(m, time.Second)
	clock.After(m, time.Minute)
	if err := <-done; err != nil {
		t.Fatalf("WaitArmed: %v", err)
	}
	go func() { done <- m.WaitArmedAfter(ctx, t0.Add(time.Hour)) }()
	clock.After(m, 2*time.Hour)
	if err := <-done; err != nil {
		t.Fatalf("WaitArmedAfter: %v", err)
	}
	// WaitArmedAt wants that instant: the timers at 1 s, 1 min and 2 h do not answer for 3 h.
	go func() { done <- m.WaitArmedAt(ctx, t0.Add(3*time.Hour)) }()
	clock.After(m, 3*time.Hour)
	if err := <-done; err != nil {
		t.Fatalf("WaitArmedAt: %v", err)
	}
	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	if err := m.WaitArmed(short, 10); err == nil {
		t.Error("WaitArmed returned nil with too few timers and its context done")
	}
	if err := m.WaitArmedAt(short, t0.Add(4*time.Hour)); err == nil {
		t.Error("WaitArmedAt returned nil with no timer at that instant and its context done")
	}
}

func TestSystemTimer(t *testing.T) {
	c := clock.OrSystem(nil)
	tm := c.TimerAt(c.Now().Add(-time.Second))
	<-tm.C() // a past instant fires at once on the wall clock too
	if tm.Stop() {
		t.Error("Stop after firing reported an armed timer")
	}
}
