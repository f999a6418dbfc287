// Package guildcache keeps per-guild values read from the database for a short while, so that
// answering a command does not cost a query each time. A write in this process invalidates
// its guild at once; other processes sharing the database hear of it through the store's
// change announcements (store.OnChange, PostgreSQL's NOTIFY) and forget it too. The TTL
// bounds how long a change can take to arrive when an announcement is lost.
package guildcache

import (
	"context"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
)

// Cache holds one value per guild. It is safe for concurrent use. Values are shared between
// callers, so they must not be modified after load returns them.
type Cache[V any] struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[int64]entry[V]
	// version counts invalidations. A load that began before one may have read the old
	// value, so its result is returned but not kept.
	version uint64
}

type entry[V any] struct {
	v     V
	until time.Time
}

// New returns a cache whose entries live for ttl (zero or less turns caching off: every Get
// loads) and which holds at most max guilds (zero or less means 10000).
func New[V any](ttl time.Duration, max int, now func() time.Time) *Cache[V] {
	if max <= 0 {
		max = 10000
	}
	if now == nil {
		now = time.Now
	}
	return &Cache[V]{ttl: ttl, max: max, now: now, entries: map[int64]entry[V]{}}
}

// Get returns the guild's value, calling load when there is no fresh entry. Concurrent
// misses for one guild may each call load; the values are equal, so that costs only queries.
func (c *Cache[V]) Get(ctx context.Context, guildID discord.GuildID, load func(context.Context) (V, error)) (V, error) {
	if c.ttl <= 0 {
		return load(ctx)
	}
	c.mu.Lock()
	start := c.now()
	if e, ok := c.entries[int64(guildID)]; ok && start.Before(e.until) {
		c.mu.Unlock()
		return e.v, nil
	}
	version := c.version
	c.mu.Unlock()

	v, err := load(ctx)
	if err != nil {
		return v, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version == version {
		c.makeRoom(start)
		// The entry's life counts from before the read, so it never outlives the TTL's promise.
		c.entries[int64(guildID)] = entry[V]{v: v, until: start.Add(c.ttl)}
	}
	return v, nil
}

// Peek returns the guild's value when it has a fresh entry, as Get would, without loading
// it: for a look on a goroutine that must not wait on the database (the gateway's).
func (c *Cache[V]) Peek(guildID discord.GuildID) (V, bool) {
	if c.ttl <= 0 {
		var zero V
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[int64(guildID)]; ok && c.now().Before(e.until) {
		return e.v, true
	}
	var zero V
	return zero, false
}

// Invalidate forgets the guild's value. Call it after a write to the guild has committed.
func (c *Cache[V]) Invalidate(guildID discord.GuildID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version++
	delete(c.entries, int64(guildID))
}

// InvalidateAll forgets every guild's value: what a process does when it may have missed a
// change (its listener reconnected).
func (c *Cache[V]) InvalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version++
	clear(c.entries)
}

// Changed is the subscriber to a store topic (store.OnChange): it forgets the guild, or
// every guild when guildID is 0 (store.AllGuilds).
func (c *Cache[V]) Changed(guildID int64) {
	if guildID == 0 {
		c.InvalidateAll()
		return
	}
	c.Invalidate(discord.GuildID(guildID))
}

// Len reports how many guilds have an entry, fresh or not.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// makeRoom keeps the map bounded: expired entries go first, then arbitrary ones, down to 90%
// so that a full cache does not sweep on every miss.
func (c *Cache[V]) makeRoom(now time.Time) {
	if len(c.entries) < c.max {
		return
	}
	for id, e := range c.entries {
		if !now.Before(e.until) {
			delete(c.entries, id)
		}
	}
	for id := range c.entries {
		if len(c.entries) < c.max*9/10 {
			break
		}
		delete(c.entries, id)
	}
}
