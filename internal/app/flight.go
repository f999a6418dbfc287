package app

import (
	"context"
	"sync"

	"github.com/gavelbot/gavel/internal/moderation"
)

// flight is the work in flight — commands, events, expiries — and how it ends: Close marks
// it closing, so that no new work starts, and waits for what runs.
type flight struct {
	// work is the context work in flight runs in. It outlives Run's context, so that a
	// shutdown lets the actions in flight finish; it is cancelled only when they overstay
	// the shutdown timeout.
	work       context.Context
	cancelWork context.CancelFunc

	mu          sync.Mutex
	coordinator *moderation.Coordinator // nil until READY names the bot's user
	closing     bool
	inflight    sync.WaitGroup
	// pollerStop ends the expiry poller, which READY starts; pollerDone closes when it
	// has finished its runs in flight.
	pollerStop context.CancelFunc
	pollerDone chan struct{}
	// closed is closed when the App starts closing, to cut short the waits before
	// transient replies are deleted.
	closed chan struct{}
}

// begin reserves a place among the work in flight; false once the App is closing, and
// while READY has not named the bot yet. end releases it.
func (f *flight) begin() (*moderation.Coordinator, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing || f.coordinator == nil {
		return nil, false
	}
	f.inflight.Add(1)
	return f.coordinator, true
}

func (f *flight) end() { f.inflight.Done() }

// flightWork is the work in flight as the router and upkeep see it (router.Work).
type flightWork struct{ f *flight }

func (w flightWork) Begin() (*moderation.Coordinator, bool) { return w.f.begin() }

func (w flightWork) End() { w.f.end() }

func (w flightWork) Context() context.Context { return w.f.work }

// Hold is called from work in flight, whose own place keeps the count above zero for the
// Add, so it is taken even while closing: Close waits for it.
func (w flightWork) Hold() func() {
	w.f.inflight.Add(1)
	return w.f.inflight.Done
}

func (w flightWork) Closing() <-chan struct{} { return w.f.closed }
