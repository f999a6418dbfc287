package disgoport

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/disgoorg/disgo/rest"
)

// A process's share of the global limit changes at run time (processes come and go): the
// pacing follows at once, the requests already sent in the window still counting.
func TestGlobalShareChanges(t *testing.T) { synctest.Test(t, globalShareChanges) }

func globalShareChanges(t *testing.T) {
	l := NewLimiter(WithGlobalLimit(4, 200*time.Millisecond))
	send := func(n int) time.Duration {
		start := time.Now()
		for g := range n {
			e := rest.GetGuild.Compile(nil, int64(g+1))
			mustWait(t, l, e)
			_ = l.Unlock(e, nil)
		}
		return time.Since(start)
	}
	if took := send(2); took != 0 {
		t.Fatalf("2 of 4 took %v", took)
	}
	l.SetGlobalLimit(2)
	if l.GlobalLimit() != 2 {
		t.Fatalf("GlobalLimit = %d after SetGlobalLimit(2)", l.GlobalLimit())
	}
	// The share is now 2 and 2 were sent: the next one waits for the window.
	if took := send(1); took != 200*time.Millisecond+globalMargin {
		t.Errorf("a third request under a share of 2 took %v; want %v", took, 200*time.Millisecond+globalMargin)
	}
	l.SetGlobalLimit(10)
	if took := send(8); took != 0 {
		t.Errorf("8 more under a share of 10 took %v; want no wait", took)
	}
	l.SetGlobalLimit(0)
	if took := send(50); took != 0 {
		t.Errorf("with pacing off, 50 requests took %v", took)
	}
}

// A global 429 met by this process is told to the observer (which tells the other
// processes); one met by another process pauses this one through PauseGlobal.
func TestGlobal429IsShared(t *testing.T) { synctest.Test(t, global429IsShared) }

func global429IsShared(t *testing.T) {
	told := make(chan time.Time, 1)
	l := NewLimiter(WithGlobalLimit(0, 0), WithGlobalObserver(func(until time.Time) { told <- until }))
	mustWait(t, l, banEndpoint)
	start := time.Now()
	_ = l.Unlock(banEndpoint, response(429, `{"message":"You are being rate limited.","retry_after":0.5,"global":true}`,
		"Via", "1.1 google", "X-RateLimit-Global", "true", "X-RateLimit-Scope", "global"))
	if until := <-told; until.Sub(start) != 500*time.Millisecond {
		t.Errorf("the observer was told the pause ends after %v; want 500ms", until.Sub(start))
	}

	other := NewLimiter(WithGlobalLimit(0, 0))
	other.PauseGlobal(time.Now().Add(time.Second))
	waited, err := timed(other, context.Background(), memberEndpoint)
	if err != nil || waited != time.Second {
		t.Errorf("a request after another process's global 429 waited %v, %v; want 1s", waited, err)
	}
	_ = other.Unlock(memberEndpoint, nil)
	if waited, err := timed(other, context.Background(), callback); err != nil || waited != 0 {
		t.Errorf("an interaction callback waited %v, %v", waited, err)
	}
	_ = other.Unlock(callback, nil)
}
