package web

import (
	"math"
	"sync"
	"time"
)

// Writes per user: a token bucket of writeBurst changes refilled at writesPerMinute, so a
// moderator fixing a few reasons is never slowed while a stolen session or a runaway script
// cannot rewrite a server's history at machine speed.
const (
	writesPerMinute = 20
	writeBurst      = 20
	// maxWriters bounds the buckets kept; full ones (idle users) are dropped first.
	maxWriters = 10000
)

type bucket struct {
	tokens float64
	last   time.Time
}

// writeLimiter is the per-user limit on writes.
type writeLimiter struct {
	mu  sync.Mutex
	m   map[int64]*bucket
	now func() time.Time
}

// allow takes one write from user's bucket; when it is empty, it returns false and how long
// until the next write is allowed.
func (l *writeLimiter) allow(user int64) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	rate := float64(writesPerMinute) / float64(time.Minute)
	b, ok := l.m[user]
	if !ok {
		if len(l.m) >= maxWriters {
			for id, o := range l.m {
				if o.tokens+float64(now.Sub(o.last))*rate >= writeBurst {
					delete(l.m, id)
				}
			}
		}
		b = &bucket{tokens: writeBurst, last: now}
		l.m[user] = b
	}
	b.tokens = math.Min(writeBurst, b.tokens+float64(now.Sub(b.last))*rate)
	b.last = now
	if b.tokens < 1 {
		wait := time.Duration(math.Ceil((1 - b.tokens) / rate))
		return false, wait
	}
	b.tokens--
	return true, 0
}
