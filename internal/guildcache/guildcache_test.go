package guildcache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/guildcache"
)

type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

func TestTTLAndInvalidate(t *testing.T) {
	ctx := context.Background()
	clk := &clock{}
	c := guildcache.New[int](time.Minute, 0, clk.now)
	loads := 0
	load := func(context.Context) (int, error) { loads++; return loads, nil }
	get := func() int {
		t.Helper()
		v, err := c.Get(ctx, 1, load)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if get() != 1 || get() != 1 {
		t.Fatal("second read within the TTL loaded again")
	}
	clk.add(time.Minute)
	if get() != 2 {
		t.Error("entry outlived its TTL")
	}
	c.Invalidate(1)
	if get() != 3 {
		t.Error("Invalidate did not drop the entry")
	}
	if _, err := c.Get(ctx, 2, func(context.Context) (int, error) { return 0, errors.New("boom") }); err == nil {
		t.Error("load error lost")
	}
	if c.Len() != 1 {
		t.Errorf("a failed load was cached: %d entries", c.Len())
	}
}

// A load that overlaps an invalidation may have read the old value: it is not kept.
func TestLoadOverlappingInvalidateIsNotKept(t *testing.T) {
	ctx := context.Background()
	c := guildcache.New[string](time.Hour, 0, nil)
	v, _ := c.Get(ctx, 1, func(context.Context) (string, error) {
		c.Invalidate(1) // a write commits while the read is in flight
		return "old", nil
	})
	if v != "old" {
		t.Fatalf("Get returned %q", v)
	}
	v, _ = c.Get(ctx, 1, func(context.Context) (string, error) { return "new", nil })
	if v != "new" {
		t.Errorf("the stale value was cached: %q", v)
	}
}

func TestDisabledAndBounded(t *testing.T) {
	ctx := context.Background()
	off := guildcache.New[int](0, 0, nil)
	n := 0
	for range 3 {
		off.Get(ctx, 1, func(context.Context) (int, error) { n++; return n, nil })
	}
	if n != 3 || off.Len() != 0 {
		t.Errorf("TTL 0: %d loads, %d entries; want 3, 0", n, off.Len())
	}
	small := guildcache.New[int](time.Hour, 10, nil)
	for g := int64(1); g <= 100; g++ {
		small.Get(ctx, discord.GuildID(g), func(context.Context) (int, error) { return 0, nil })
		if small.Len() > 10 {
			t.Fatalf("%d entries, bound 10", small.Len())
		}
	}
}

func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	c := guildcache.New[int64](time.Millisecond, 50, nil)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				g := int64((w*7 + i) % 80)
				v, err := c.Get(ctx, discord.GuildID(g), func(context.Context) (int64, error) { return g, nil })
				if err != nil || v != g {
					t.Errorf("guild %d: %d, %v", g, v, err)
					return
				}
				if i%50 == 0 {
					c.Invalidate(discord.GuildID(g))
				}
			}
		}()
	}
	wg.Wait()
}

// TestPeek: Peek answers from a fresh entry only, never loads, and forgets what Get forgets.
func TestPeek(t *testing.T) {
	ctx := context.Background()
	clk := &clock{}
	c := guildcache.New[string](time.Minute, 0, clk.now)
	if v, ok := c.Peek(1); ok {
		t.Fatalf("nothing loaded yet, but Peek found %q", v)
	}
	if _, err := c.Get(ctx, 1, func(context.Context) (string, error) { return "$", nil }); err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Peek(1); !ok || v != "$" {
		t.Fatalf("Peek = %q, %v; want the loaded value", v, ok)
	}
	if _, ok := c.Peek(2); ok {
		t.Fatal("Peek found a guild never loaded")
	}
	c.Invalidate(1)
	if _, ok := c.Peek(1); ok {
		t.Fatal("Peek found an invalidated entry")
	}
	if _, err := c.Get(ctx, 1, func(context.Context) (string, error) { return "!", nil }); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Minute)
	if _, ok := c.Peek(1); ok {
		t.Fatal("Peek found an expired entry")
	}
	off := guildcache.New[string](0, 0, clk.now)
	if _, err := off.Get(ctx, 1, func(context.Context) (string, error) { return "$", nil }); err != nil {
		t.Fatal(err)
	}
	if _, ok := off.Peek(1); ok {
		t.Fatal("a cache turned off answered Peek")
	}
}
