package app_test

import (
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// eventBound bounds a wait on events: only a failing test reaches it. It is long because a
// mass action on a thousand users, on a machine shared with other test runs, takes minutes.
const eventBound = 3 * time.Minute

// waitOn waits for cond, checking it at the start and again each time one of wake's channels
// fires (events, not the wall clock); show, when set, says what was found instead when the
// bound runs out. wake returns fresh channels each time (a fake's waiter is closed once).
func waitOn(t testing.TB, what string, cond func() bool, show func() string, wake ...func() <-chan struct{}) {
	t.Helper()
	bound := time.NewTimer(eventBound)
	defer bound.Stop()
	for {
		// Take the channels before checking, so a change in between is not missed.
		chs := make([]<-chan struct{}, len(wake))
		for i, w := range wake {
			chs[i] = w()
		}
		if cond() {
			return
		}
		fired := make(chan struct{}, 1)
		stop := make(chan struct{})
		for _, ch := range chs {
			go func(ch <-chan struct{}) {
				select {
				case <-ch:
					select {
					case fired <- struct{}{}:
					default:
					}
				case <-stop:
				}
			}(ch)
		}
		select {
		case <-fired:
			close(stop)
		case <-bound.C:
			close(stop)
			found := ""
			if show != nil {
				found = "; found " + show()
			}
			t.Fatalf("timed out waiting for %s%s", what, found)
		}
	}
}

// waitOnMessages waits for cond, checked again each time the fake posts or edits a message.
func waitOnMessages(t testing.TB, s *discordtest.Server, what string, cond func() bool) {
	t.Helper()
	waitOn(t, what, cond, nil, s.MessageChanged)
}
