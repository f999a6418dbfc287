package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Manual is a clock that moves only when told to. Its timers fire when Advance or Set moves
// it to or past their instant. Tests use it with WaitArmed to wait for the code under test
// to go back to waiting, instead of sleeping.
type Manual struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*manualTimer
	changed chan struct{} // closed, and replaced, whenever a timer is armed
}

// NewManual returns a manual clock reading start.
func NewManual(start time.Time) *Manual {
	return &Manual{now: start, changed: make(chan struct{})}
}

// Now is the clock's reading.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// TimerAt returns a timer firing when the clock reaches at.
func (m *Manual) TimerAt(at time.Time) Timer {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &manualTimer{m: m, at: at, c: make(chan time.Time, 1)}
	if !at.After(m.now) {
		t.c <- m.now
		return t
	}
	t.armed = true
	m.timers = append(m.timers, t)
	close(m.changed)
	m.changed = make(chan struct{})
	return t
}

// Advance moves the clock on by d and fires the timers it reaches, earliest first.
func (m *Manual) Advance(d time.Duration) { m.Set(m.Now().Add(d)) }

// Set moves the clock to t (never back) and fires the timers it reaches, earliest first.
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.After(m.now) {
		m.now = t
	}
	sort.Slice(m.timers, func(i, j int) bool { return m.timers[i].at.Before(m.timers[j].at) })
	kept := m.timers[:0]
	for _, tm := range m.timers {
		if tm.at.After(m.now) {
			kept = append(kept, tm)
			continue
		}
		tm.armed = false
		tm.c <- m.now
	}
	clear(m.timers[len(kept):])
	m.timers = kept
}

// Armed lists the instants of the timers waiting to fire, earliest first.
func (m *Manual) Armed() []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]time.Time, 0, len(m.timers))
	for _, t := range m.timers {
		out = append(out, t.at)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// WaitArmed returns once at least n timers are armed, or ctx's error: the code under test
// has gone (back) to waiting on the clock.
func (m *Manual) WaitArmed(ctx context.Context, n int) error {
	for {
		m.mu.Lock()
		armed, changed := len(m.timers), m.changed
		m.mu.Unlock()
		if armed >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// WaitArmedAfter returns once a timer is armed for an instant after at, or ctx's error.
// After an Advance to at, it tells that the code under test has run since and set its next
// wait.
func (m *Manual) WaitArmedAfter(ctx context.Context, at time.Time) error {
	return m.waitArmedFor(ctx, func(t time.Time) bool { return t.After(at) })
}

// WaitArmedAt returns once a timer is armed for exactly at, or ctx's error: the one wait the
// code under test sets at that instant, told apart from its other waits (WaitArmedAfter
// is satisfied by any later one).
func (m *Manual) WaitArmedAt(ctx context.Context, at time.Time) error {
	return m.waitArmedFor(ctx, func(t time.Time) bool { return t.Equal(at) })
}

// waitArmedFor returns once a timer is armed for an instant match accepts, or ctx's error.
func (m *Manual) waitArmedFor(ctx context.Context, match func(time.Time) bool) error {
	for {
		m.mu.Lock()
		found, changed := false, m.changed
		for _, t := range m.timers {
			found = found || match(t.at)
		}
		m.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

type manualTimer struct {
	m     *Manual
	at    time.Time
	c     chan time.Time
	armed bool // guarded by m.mu
}

func (t *manualTimer) C() <-chan time.Time { return t.c }

func (t *manualTimer) Stop() bool {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	if !t.armed {
		return false
	}
	t.armed = false
	for i, o := range t.m.timers {
		if o == t {
			t.m.timers = append(t.m.timers[:i], t.m.timers[i+1:]...)
			break
		}
	}
	return true
}
