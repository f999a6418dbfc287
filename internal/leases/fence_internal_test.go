package leases

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestFenceEndWhileWorkStarts ends a fence with a grace while work returns and new work
// starts: the new work is refused, or is waited for (and cancelled with ErrLeaseLost if
// end had already moved on), and end returns only once it has returned. The race detector checks the count the fence keeps
// (a sync.WaitGroup here was reported: an Add from zero concurrent with end's Wait, as a
// command arrived during a hand-back in TestShardedProcessesEndToEnd).
func TestFenceEndWhileWorkStarts(t *testing.T) {
	for i := range 200 {
		f := newFence()
		// Half the rounds start with work that returns as end begins, half with none.
		_, cancelA := context.WithCancelCause(context.Background())
		held := i%2 == 0
		if held && !f.hold(&cancelA) {
			t.Fatalf("round %d: a fresh fence refused work", i)
		}
		ended := make(chan struct{})
		go func() { f.end(time.Hour); close(ended) }()
		if held {
			f.unhold(&cancelA)
		}
		// Yielding in some rounds lets end begin its wait before the new work starts.
		for range i % 3 {
			runtime.Gosched()
		}
		ctxB, cancelB := context.WithCancelCause(context.Background())
		if !f.hold(&cancelB) {
			<-ended
			continue
		}
		// end waits for B as for any work in the grace, unless it had already seen the
		// fence idle and cancelled it: either way it cannot return while B holds it.
		select {
		case <-ended:
			t.Fatalf("round %d: end returned while work still held the fence", i)
		default:
		}
		if ctxB.Err() != nil {
			if cause := context.Cause(ctxB); !errors.Is(cause, ErrLeaseLost) {
				t.Fatalf("round %d: work started during the grace was cancelled with %v, want ErrLeaseLost", i, cause)
			}
		}
		f.unhold(&cancelB)
		<-ended
		if f.hold(&cancelB) {
			t.Fatalf("round %d: an ended fence took work", i)
		}
	}
}
