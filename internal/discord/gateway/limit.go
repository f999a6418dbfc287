package gateway

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
)

// IdentifyLimiter spaces IDENTIFY payloads. Discord allows one per identify interval
// (5 s) in each max_concurrency bucket (shard_id % max_concurrency) and answers a faster
// one with op 9; it also caps IDENTIFY at 1000 a day, after which it resets the token.
// Gateways of one application in one process should share a limiter.
type IdentifyLimiter interface {
	// Wait returns when shardID may identify, or with ctx's error.
	Wait(ctx context.Context, shardID int) error
}

// DefaultIdentifyInterval is Discord's 5 s between IDENTIFYs of a bucket plus a margin: the
// limiter gates the dial, while Discord measures when IDENTIFY arrives, and a dial can be
// quicker than the one before it. An IDENTIFY that comes too soon costs an op 9 and a 1–5 s
// wait, so the margin is cheap.
const DefaultIdentifyInterval = 5*time.Second + 500*time.Millisecond

// NewIdentifyLimiter returns a limiter that lets one IDENTIFY through per interval in each
// of maxConcurrency buckets. The first IDENTIFY of a bucket never waits.
func NewIdentifyLimiter(maxConcurrency int, interval time.Duration) IdentifyLimiter {
	if maxConcurrency < 1 {
		maxConcurrency = 1
	}
	return &identifyBuckets{maxConcurrency: maxConcurrency, interval: interval, next: map[int]time.Time{}, clock: clock.System()}
}

type identifyBuckets struct {
	maxConcurrency int
	interval       time.Duration
	clock          clock.Clock

	mu   sync.Mutex
	next map[int]time.Time // bucket → earliest time its next IDENTIFY may go
}

// Wait reserves the bucket's next slot before sleeping, so concurrent callers line up
// behind each other instead of all waking at once.
func (b *identifyBuckets) Wait(ctx context.Context, shardID int) error {
	key := shardID % b.maxConcurrency
	b.mu.Lock()
	now := b.clock.Now()
	at := b.next[key]
	if at.Before(now) {
		at = now
	}
	b.next[key] = at.Add(b.interval)
	b.mu.Unlock()

	if err := sleepUntil(ctx, b.clock, at); err != nil {
		// Give the slot back if nobody queued behind it, so an abandoned wait does not
		// delay the next IDENTIFY.
		b.mu.Lock()
		if b.next[key].Equal(at.Add(b.interval)) {
			b.next[key] = at
		}
		b.mu.Unlock()
		return err
	}
	return nil
}

// Discord's send limit: 120 events per connection per 60 s, or it closes with 4008.
const (
	defaultSendLimit    = 120
	defaultSendWindow   = 60 * time.Second
	defaultSendReserved = 5
)

// sendLimiter keeps a connection under Discord's send limit. Callers' events queue for the
// window to allow them; gavel's own heartbeats, IDENTIFY and RESUME never wait (a late
// heartbeat costs the session) but are counted, and reserved slots keep room for them.
type sendLimiter struct {
	clock    clock.Clock
	limit    int
	reserved int
	window   time.Duration
	turn     chan struct{} // callers take turns here, roughly in arrival order

	mu      sync.Mutex
	sent    []time.Time // sends within the last window, oldest first
	granted func(time.Time)
}

func newSendLimiter(c clock.Clock, limit, reserved int, window time.Duration) *sendLimiter {
	if reserved >= limit {
		reserved = limit - 1
	}
	return &sendLimiter{clock: c, limit: limit, reserved: reserved, window: window, turn: make(chan struct{}, 1)}
}

// wait returns once a caller's event may be sent, and counts it as sent.
func (l *sendLimiter) wait(ctx context.Context) error {
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.turn }()
	for {
		l.mu.Lock()
		now := l.clock.Now()
		l.prune(now)
		if len(l.sent) < l.limit-l.reserved {
			l.record(now)
			l.mu.Unlock()
			return nil
		}
		until := l.sent[0].Add(l.window)
		l.mu.Unlock()
		if err := sleepUntil(ctx, l.clock, until); err != nil {
			return err
		}
	}
}

// internal counts one of gavel's own sends, which never waits.
func (l *sendLimiter) internal() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.prune(now)
	l.record(now)
}

// reset starts a fresh window: Discord counts per connection.
func (l *sendLimiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = l.sent[:0]
}

func (l *sendLimiter) record(now time.Time) {
	l.sent = append(l.sent, now)
	if l.granted != nil {
		l.granted(now)
	}
}

func (l *sendLimiter) prune(now time.Time) {
	i := 0
	for i < len(l.sent) && !l.sent[i].Add(l.window).After(now) {
		i++
	}
	l.sent = append(l.sent[:0], l.sent[i:]...)
}

// backoff is capped exponential backoff with jitter: attempt n (from 1) waits a random
// duration in [d/2, d] where d = min(base·2^(n-1), max), so reconnecting shards spread out
// without any wait exceeding max.
type backoff struct {
	base, max time.Duration
	rand      func() float64 // in [0, 1)
}

func (b backoff) delay(attempt int) time.Duration {
	if attempt < 1 {
		return 0
	}
	d := b.base
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	if d > b.max {
		d = b.max
	}
	half := d / 2
	return half + time.Duration(b.rand()*float64(d-half))
}

// between returns a random duration in [lo, hi].
func between(lo, hi time.Duration, r func() float64) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r()*float64(hi-lo))
}

// sleepUntil waits until c reads at, or until ctx is done.
func sleepUntil(ctx context.Context, c clock.Clock, at time.Time) error {
	if !at.After(c.Now()) {
		return ctx.Err()
	}
	t := c.TimerAt(at)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func defaultRand() float64 { return rand.Float64() }
