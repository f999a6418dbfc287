package upkeep

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
)

// TestQueuesKeepOrderPerKey: one key's functions run one at a time in the order pushed (a
// ban and the unban just after it are numbered in that order), while another key's run
// beside them.
func TestQueuesKeepOrderPerKey(t *testing.T) {
	var q queues
	var mu sync.Mutex
	got := map[int64][]int{}
	var wg sync.WaitGroup
	running := map[int64]bool{}
	for i := range 200 {
		key := int64(i % 2)
		wg.Add(1)
		q.push(key, func() {
			defer wg.Done()
			mu.Lock()
			if running[key] {
				t.Errorf("key %d: two functions at once", key)
			}
			running[key] = true
			got[key] = append(got[key], i)
			mu.Unlock()
			mu.Lock()
			running[key] = false
			mu.Unlock()
		})
	}
	wg.Wait()
	for key, list := range got {
		if len(list) != 100 || !slices.IsSorted(list) {
			t.Errorf("key %d ran %v; want its 100 functions in order", key, list)
		}
	}
}

// TestLaterLooksWaitOnTheClock: a later look runs when the injected clock reaches it, and one
// pending at Stop is taken off the clock's waits.
func TestLaterLooksWaitOnTheClock(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	u := New(Config{Clock: clk})
	ran := make(chan struct{})
	u.after(time.Hour, func() { close(ran) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.WaitArmed(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	select {
	case <-ran:
	case <-ctx.Done():
		t.Fatal("the later look did not run when the clock reached it")
	}

	u.after(time.Hour, func() { t.Error("a later look ran after Stop") })
	if err := clk.WaitArmed(ctx, 1); err != nil {
		t.Fatal(err)
	}
	u.Stop()
	for len(clk.Armed()) != 0 {
		if ctx.Err() != nil {
			t.Fatal("the stopped look still waits on the clock")
		}
		runtime.Gosched()
	}
	u.after(time.Minute, func() { t.Error("a later look was scheduled after Stop") })
	if n := len(clk.Armed()); n != 0 {
		t.Errorf("%d waits armed after Stop", n)
	}
}
