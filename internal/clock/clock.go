// Package clock holds the time source that gavel's waiting code reads: the system clock in
// production, and a manual clock (Manual) that tests move by hand, so that a test about an
// expiry, a backoff or a delay neither sleeps nor races the wall clock.
//
// A timer is set for an instant, not for a duration: code that reads the time, decides how
// long to wait and then arms a timer would otherwise lose a step of a manual clock taken in
// between (the timer would be armed a step late). With an instant, such a timer is simply
// already due.
package clock

import "time"

// Clock tells the time and sets timers.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// TimerAt returns a timer that fires once the clock reads at or after at (at once when
	// at has passed).
	TimerAt(at time.Time) Timer
}

// Timer fires once on C, unless stopped first.
type Timer interface {
	// C receives the clock's time when the timer fires.
	C() <-chan time.Time
	// Stop stops the timer; it reports whether the timer was still armed.
	Stop() bool
}

// After is a timer that fires d from now on c.
func After(c Clock, d time.Duration) Timer { return c.TimerAt(c.Now().Add(d)) }

// System is the wall clock.
func System() Clock { return system{} }

type system struct{}

func (system) Now() time.Time { return time.Now() }

func (system) TimerAt(at time.Time) Timer { return sysTimer{time.NewTimer(time.Until(at))} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }

// OrSystem returns c, or the system clock when c is nil: the default of an optional clock.
func OrSystem(c Clock) Clock {
	if c == nil {
		return System()
	}
	return c
}
