package shards

import (
	"context"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord/gateway"
)

// BucketLocker is a lock per identify bucket that every process of the bot sees: the
// store's PostgreSQL advisory lock (store.LockIdentifyBucket), or nothing on SQLite, where
// one process runs.
type BucketLocker interface {
	LockIdentifyBucket(ctx context.Context, bucket int) (unlock func(), err error)
}

// Limiter spaces IDENTIFYs as Discord requires, across processes: shards of one
// max_concurrency bucket (shard_id % max_concurrency) identify at most once per interval.
// Wait takes the bucket — first in this process, then, through the BucketLocker, among all
// processes — and holds it for the interval after it returns, on the clock, so a test moves
// a manual clock through the 5 seconds instead of waiting. It implements
// gateway.IdentifyLimiter.
type Limiter struct {
	maxConcurrency int
	interval       time.Duration
	clock          clock.Clock
	locker         BucketLocker
	observe        func(shardID int)

	mu      sync.Mutex
	buckets map[int]chan struct{} // one token per bucket: held from Wait for the interval
	closed  chan struct{}
	holds   sync.WaitGroup
	once    sync.Once
}

var _ gateway.IdentifyLimiter = (*Limiter)(nil)

// NewLimiter returns a limiter for maxConcurrency buckets of interval each (0: gateway's
// DefaultIdentifyInterval, Discord's 5 s and a margin). locker may be nil.
func NewLimiter(maxConcurrency int, interval time.Duration, c clock.Clock, locker BucketLocker) *Limiter {
	if interval <= 0 {
		interval = gateway.DefaultIdentifyInterval
	}
	return &Limiter{maxConcurrency: max(maxConcurrency, 1), interval: interval, clock: clock.OrSystem(c), locker: locker,
		buckets: map[int]chan struct{}{}, closed: make(chan struct{})}
}

// Wait returns when shardID may identify, having taken its bucket for the interval.
func (l *Limiter) Wait(ctx context.Context, shardID int) error {
	key := shardID % l.maxConcurrency
	l.mu.Lock()
	sem := l.buckets[key]
	if sem == nil {
		sem = make(chan struct{}, 1)
		l.buckets[key] = sem
	}
	l.mu.Unlock()
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-l.closed:
		return context.Canceled
	}
	unlock := func() {}
	if l.locker != nil {
		var err error
		if unlock, err = l.locker.LockIdentifyBucket(ctx, key); err != nil {
			<-sem
			return err
		}
	}
	if l.observe != nil {
		l.observe(shardID)
	}
	// The hold is counted under mu, where Close marks the limiter closed, so no Add from
	// zero races Close's Wait (sync.WaitGroup forbids it).
	l.mu.Lock()
	select {
	case <-l.closed:
		l.mu.Unlock()
		unlock()
		<-sem
		return context.Canceled
	default:
	}
	l.holds.Add(1)
	l.mu.Unlock()
	until := l.clock.Now().Add(l.interval)
	go func() {
		defer l.holds.Done()
		t := l.clock.TimerAt(until)
		select {
		case <-t.C():
		case <-l.closed:
			t.Stop()
		}
		unlock()
		<-sem
	}()
	return nil
}

// Close releases every bucket held and makes Wait fail, and waits for the releases.
func (l *Limiter) Close() {
	l.mu.Lock()
	l.once.Do(func() { close(l.closed) })
	l.mu.Unlock()
	l.holds.Wait()
}
