package moderation_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/moderation"
)

func TestLocksSerialiseOneTarget(t *testing.T) {
	t.Parallel()
	l := moderation.NewLocks()
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := l.Lock(context.Background(), 1, 2)
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			for {
				m := maxInside.Load()
				if n <= m || maxInside.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(100 * time.Microsecond)
			inside.Add(-1)
			unlock()
			unlock() // a second call is harmless
		}()
	}
	wg.Wait()
	if maxInside.Load() != 1 {
		t.Errorf("%d actions held one target at once", maxInside.Load())
	}
	if l.Len() != 0 {
		t.Errorf("%d entries left after every lock was released", l.Len())
	}
}

func TestLocksLetOtherTargetsThrough(t *testing.T) {
	t.Parallel()
	l := moderation.NewLocks()
	unlock, err := l.Lock(context.Background(), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, k := range [][2]int64{{1, 3}, {2, 2}} {
		u, err := l.Lock(ctx, discord.GuildID(k[0]), discord.UserID(k[1]))
		if err != nil {
			t.Fatalf("%v is blocked by (1, 2): %v", k, err)
		}
		u()
	}
	// A waiter whose context has ended: with the target held, only the context can answer,
	// so the error is certain (no wait for a deadline).
	gaveUp, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := l.Lock(gaveUp, 1, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("a held target: %v, want the context's end", err)
	}
	if l.Len() != 1 {
		t.Errorf("a waiter that gave up left its entry: %d entries", l.Len())
	}
}
