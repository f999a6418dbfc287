package disgoport

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/disgoorg/disgo/rest"
)

// Limiter is gavel's implementation of disgo's rest.RateLimiter. disgo's own reads a
// bucket's fields before locking it (a data race whenever two goroutines call one route),
// truncates fractional X-RateLimit-Reset-After, needs an integer Retry-After, ignores a
// global 429 that carries no bucket header, retries 429s itself, and deadlocks on a second
// Close. This one:
//
//   - keys buckets as disgo does (method, route, major parameters) and sends a bucket's
//     requests side by side only as far as its last response allows: while the bucket's
//     state is unknown (its first request, or after its window reset) one request probes
//     it and the others wait for its headers; with X-RateLimit-Remaining known, up to that
//     many go at once (a slot is taken before the request leaves, so no two goroutines race
//     for the last one, and a response's count is lowered by the requests still in flight
//     that it may not include); a route whose response carries no rate-limit headers has
//     no per-route limit, and its requests are not queued at all;
//   - waits while a bucket is exhausted (X-RateLimit-Remaining 0 until Reset-After, read
//     to the microsecond) or after a 429 (retry_after from the body, else Retry-After);
//   - paces every bot-authenticated request under a global limit (50 a second by default,
//     Discord's), and after a global 429 holds them all until it ends; interaction
//     endpoints are exempt, as on Discord;
//   - never retries: MaxRetries is 0, so disgo hands a 429 back and gavel's executor decides;
//   - refuses at once, with a *RateLimitedError, a request whose context would expire
//     before its wait ends, instead of holding a moderator for nothing.
//
// It is safe for concurrent use, and one Limiter may serve several disgo clients.
type Limiter struct {
	globalLimit  int
	globalWindow time.Duration

	mu          sync.Mutex
	buckets     map[bucketID]*bucket
	globalUntil time.Time   // a global 429 holds bot requests until then
	sent        []time.Time // ring: when the last globalLimit bot requests left
	sentNext    int
	inflight    int           // between Wait and Unlock, waiting included
	idle        chan struct{} // closed while inflight is 0
	sinceSweep  int
	// onGlobal is told the end of each global 429 this process meets (WithGlobalObserver).
	onGlobal func(until time.Time)
}

// bucket is one rate-limit bucket. Its fields are guarded by Limiter.mu.
type bucket struct {
	refs     int // callers between Wait and Unlock
	inflight int // requests sent and not yet unlocked
	// remaining is how many more requests the window allows beyond those in flight; -1
	// when unknown.
	remaining int
	// open: the last response carried no rate-limit headers, so the route has no limit of
	// its own (the global limit still applies) and its requests need not queue.
	open    bool
	resetAt time.Time // when the window resets
	retryAt time.Time // a 429 on this bucket: nothing before then
	// changed is closed, and replaced, whenever a request of the bucket is unlocked.
	changed chan struct{}
}

// mayJoin reports whether another request may leave while others are in flight. Called
// with l.mu held.
func (b *bucket) mayJoin() bool { return b.inflight == 0 || b.open || b.remaining > 0 }

// RateLimitedError is returned by Wait (and so by disgo's client) when a request would have
// to wait past its context's deadline for a rate limit to end. No request was sent.
type RateLimitedError struct {
	RetryAfter time.Duration
	Global     bool
}

func (e *RateLimitedError) Error() string {
	scope := "route"
	if e.Global {
		scope = "global"
	}
	return fmt.Sprintf("%s rate limit ends in %s, after the request's deadline", scope, e.RetryAfter)
}

// LimiterOption configures a Limiter.
type LimiterOption func(*Limiter)

// WithGlobalLimit sets how many bot requests may leave in any window (default 50 a
// second, Discord's global limit; larger bots are granted more). requests <= 0 turns the
// pacing off; a global 429 is still honoured.
func WithGlobalLimit(requests int, window time.Duration) LimiterOption {
	return func(l *Limiter) { l.globalLimit, l.globalWindow = requests, window }
}

// WithGlobalObserver has the Limiter call f with the end of every global 429 it meets,
// outside its lock: gavel tells the other processes sharing the bot's token, whose
// requests count against the same global limit, to pause too (PauseGlobal).
func WithGlobalObserver(f func(until time.Time)) LimiterOption {
	return func(l *Limiter) { l.onGlobal = f }
}

// ObserveGlobal is WithGlobalObserver on a Limiter already built.
func (l *Limiter) ObserveGlobal(f func(until time.Time)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.onGlobal = f
}

// SetGlobalLimit changes how many bot requests may leave per window, at run time: this
// process's share of the bot's global limit, which changes as processes come and go.
// requests <= 0 turns the pacing off. The requests sent in the current window still count.
func (l *Limiter) SetGlobalLimit(requests int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if requests == l.globalLimit {
		return
	}
	// The ring from oldest to newest, then the newest that fit in the new ring, placed at
	// its end so that the next slot (index 0) is the oldest.
	var recent []time.Time
	for i := range l.globalLimit {
		if t := l.sent[(l.sentNext+i)%l.globalLimit]; !t.IsZero() {
			recent = append(recent, t)
		}
	}
	l.globalLimit, l.sentNext = requests, 0
	if requests <= 0 {
		l.sent = nil
		return
	}
	if l.globalWindow <= 0 {
		l.globalWindow = time.Second
	}
	l.sent = make([]time.Time, requests)
	if len(recent) > requests {
		recent = recent[len(recent)-requests:]
	}
	copy(l.sent[requests-len(recent):], recent)
}

// GlobalLimit is how many bot requests may leave per window now (0: no pacing).
func (l *Limiter) GlobalLimit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(l.globalLimit, 0)
}

// PauseGlobal holds every bot request until until, as a global 429 does: one that another
// process met (the global limit is the bot's, across its processes).
func (l *Limiter) PauseGlobal(until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.globalUntil) {
		l.globalUntil = until
	}
}

// globalMargin widens the global window a little: requests admitted a window apart can
// reach Discord closer together than that when the first one is delayed on the way.
const globalMargin = 50 * time.Millisecond

// sweepEvery is how many Waits pass between removals of idle buckets.
const sweepEvery = 1024

// NewLimiter returns a Limiter.
func NewLimiter(opts ...LimiterOption) *Limiter {
	l := &Limiter{globalLimit: 50, globalWindow: time.Second, buckets: map[bucketID]*bucket{}, idle: make(chan struct{})}
	close(l.idle)
	for _, o := range opts {
		o(l)
	}
	if l.globalLimit > 0 {
		if l.globalWindow <= 0 {
			l.globalWindow = time.Second
		}
		l.sent = make([]time.Time, l.globalLimit)
	}
	return l
}

var _ rest.RateLimiter = (*Limiter)(nil)

// MaxRetries is 0: disgo's client returns a 429 instead of sending the request again.
func (l *Limiter) MaxRetries() int { return 0 }

// Close waits until no request is in flight, or ctx ends. It may be called more than once,
// and the Limiter still works afterwards.
func (l *Limiter) Close(ctx context.Context) {
	l.mu.Lock()
	idle := l.idle
	l.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
	}
}

// Reset forgets every bucket's state and any global wait.
func (l *Limiter) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.globalUntil = time.Time{}
	for i := range l.sent {
		l.sent[i] = time.Time{}
	}
	for key, b := range l.buckets {
		if b.refs == 0 {
			delete(l.buckets, key)
			continue
		}
		b.remaining, b.resetAt, b.retryAt = -1, time.Time{}, time.Time{}
	}
}

// bucketID is disgo's bucket key (method, route and major parameters: guild, channel,
// webhook, interaction token) as a comparable value: looking a bucket up builds no string,
// where joining the three did, twice per request (Wait and Unlock).
type bucketID struct{ method, route, major string }

func bucketKey(e *rest.CompiledEndpoint) bucketID {
	return bucketID{method: e.Endpoint.Method, route: e.Endpoint.Route, major: e.MajorParams}
}

// Wait returns when the endpoint's bucket may send a request, holding the bucket until
// Unlock. It returns ctx's error if ctx ends first, and a *RateLimitedError at once if the
// wait would outlast ctx's deadline.
func (l *Limiter) Wait(ctx context.Context, e *rest.CompiledEndpoint) error {
	key := bucketKey(e)
	paced := e.Endpoint.BotAuth // interaction endpoints are exempt from the global limit

	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{remaining: -1, changed: make(chan struct{})}
		l.buckets[key] = b
	}
	b.refs++
	l.begin()
	if l.sinceSweep++; l.sinceSweep >= sweepEvery {
		l.sweep(time.Now())
	}
	l.mu.Unlock()

	fail := func(err error) error {
		l.mu.Lock()
		b.refs--
		l.end()
		l.mu.Unlock()
		return err
	}

	for {
		l.mu.Lock()
		now := time.Now()
		until, global := l.blockedUntil(b, paced, now)
		if !until.After(now) {
			if !b.mayJoin() {
				// Wait for a request in flight to bring the bucket's headers.
				changed := b.changed
				l.mu.Unlock()
				select {
				case <-changed:
					continue
				case <-ctx.Done():
					return fail(ctx.Err())
				}
			}
			b.inflight++
			if b.remaining > 0 {
				b.remaining--
			}
			if paced && l.globalLimit > 0 {
				l.sent[l.sentNext] = now
				l.sentNext = (l.sentNext + 1) % l.globalLimit
			}
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()

		wait := until.Sub(now)
		if deadline, ok := ctx.Deadline(); ok && until.After(deadline) {
			return fail(&RateLimitedError{RetryAfter: wait, Global: global})
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return fail(ctx.Err())
		}
	}
}

// blockedUntil is the time before which b may not send, and whether it is a global wait.
// Called with l.mu held.
func (l *Limiter) blockedUntil(b *bucket, paced bool, now time.Time) (until time.Time, global bool) {
	later := func(t time.Time, g bool) {
		if t.After(until) {
			until, global = t, g
		}
	}
	if b.remaining == 0 {
		later(b.resetAt, false)
	}
	later(b.retryAt, false)
	if paced {
		later(l.globalUntil, true)
		if l.globalLimit > 0 {
			if oldest := l.sent[l.sentNext]; !oldest.IsZero() {
				later(oldest.Add(l.globalWindow+globalMargin), true)
			}
		}
	}
	if !until.After(now) && b.remaining == 0 {
		// The window has reset: the next response says how many are left.
		b.remaining = -1
	}
	return until, global
}

// Unlock releases the endpoint's bucket and learns from the response's headers; rs is nil
// when no response arrived. It never fails, so disgo always reads the response it got.
func (l *Limiter) Unlock(e *rest.CompiledEndpoint, rs *http.Response) error {
	var rl limitInfo
	if rs != nil {
		rl = readLimits(rs)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[bucketKey(e)]
	if b == nil {
		return nil // not from Wait; nothing to release
	}
	if rs != nil {
		now := time.Now()
		l.learn(b, &rl, now)
		if rl.limited && rl.global && l.onGlobal != nil {
			// Told outside the lock: the observer may take its time (a database write).
			until, f := now.Add(rl.retryAfter), l.onGlobal
			defer func() { go f(until) }()
		}
	}
	b.refs--
	if b.inflight > 0 {
		b.inflight--
	}
	close(b.changed)
	b.changed = make(chan struct{})
	l.end()
	return nil
}

// limitInfo is what a response says about rate limits.
type limitInfo struct {
	limited    bool // a 429
	global     bool
	remaining  int // -1 when absent
	resetAfter time.Duration
	hasReset   bool
	retryAfter time.Duration
}

// readLimits reads a response's rate-limit headers, and for a 429 its body's retry_after
// (the header is whole seconds; the body keeps milliseconds). The body is put back for disgo.
func readLimits(rs *http.Response) limitInfo {
	h := rs.Header
	rl := limitInfo{remaining: -1}
	if v := header(h, hRemaining); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			rl.remaining = n
		}
	}
	if v := header(h, hResetAfter); v != "" {
		if d, ok := parseSeconds(v); ok {
			rl.resetAfter, rl.hasReset = d, true
		}
	} else if v := header(h, hReset); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			rl.resetAfter, rl.hasReset = time.Until(time.UnixMicro(int64(f*1e6))), true
		}
	}
	if rs.StatusCode != http.StatusTooManyRequests {
		return rl
	}
	rl.limited = true
	var body rateLimitBody
	if rs.Body != nil {
		raw, _ := io.ReadAll(io.LimitReader(rs.Body, 64<<10))
		rs.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(raw), rs.Body), rs.Body}
		_ = json.Unmarshal(raw, &body)
	}
	rl.retryAfter, rl.global = retryAfter(h, body)
	return rl
}

// The rate-limit headers' names as net/http keeps them (http.CanonicalHeaderKey):
// http.Header.Get canonicalises "X-RateLimit-Remaining" into a new string on every call.
const (
	hRemaining  = "X-Ratelimit-Remaining"
	hResetAfter = "X-Ratelimit-Reset-After"
	hReset      = "X-Ratelimit-Reset"
	hGlobal     = "X-Ratelimit-Global"
	hScope      = "X-Ratelimit-Scope"
	hBucket     = "X-Ratelimit-Bucket"
)

// header is h.Get(key) for a key already canonical.
func header(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// rateLimitBody is Discord's 429 body.
type rateLimitBody struct {
	RetryAfter *float64 `json:"retry_after"`
	Global     bool     `json:"global"`
}

// retryAfter is how long a 429 asks to wait and whether it is global: retry_after from the
// body, else the Retry-After header, else a second; global when X-RateLimit-Global or the
// body says so, when the scope is global, or when the 429 did not come through Discord's
// load balancer (no Via header: Cloudflare refusing the IP, which holds every route).
func retryAfter(h http.Header, body rateLimitBody) (time.Duration, bool) {
	wait := time.Second
	if body.RetryAfter != nil && *body.RetryAfter >= 0 {
		wait = time.Duration(*body.RetryAfter * float64(time.Second))
	} else if d, ok := parseSeconds(header(h, "Retry-After")); ok {
		wait = d
	}
	global := header(h, hGlobal) != "" || body.Global ||
		strings.EqualFold(header(h, hScope), "global") ||
		(header(h, "Via") == "" && header(h, hBucket) == "")
	return wait, global
}

// parseSeconds reads a number of seconds, fractions included.
func parseSeconds(v string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// learn applies a response's limits to its bucket, before the response's request leaves
// b.inflight. Called with l.mu held.
func (l *Limiter) learn(b *bucket, rl *limitInfo, now time.Time) {
	b.open = !rl.limited && rl.remaining < 0 && !rl.hasReset
	if rl.remaining >= 0 {
		// The other requests in flight may have reached Discord after this one: count
		// them as spent. Within the window, responses can arrive out of order, so a count
		// never goes back up until the window has reset.
		left := max(rl.remaining-(b.inflight-1), 0)
		if b.remaining >= 0 && now.Before(b.resetAt) {
			left = min(left, b.remaining)
		}
		b.remaining = left
	}
	if rl.hasReset {
		b.resetAt = now.Add(rl.resetAfter)
	}
	if !rl.limited {
		return
	}
	until := now.Add(rl.retryAfter)
	if rl.global {
		if until.After(l.globalUntil) {
			l.globalUntil = until
		}
		return
	}
	if until.After(b.retryAt) {
		b.retryAt = until
	}
}

// begin and end count requests between Wait and Unlock. Called with l.mu held.
func (l *Limiter) begin() {
	if l.inflight == 0 {
		l.idle = make(chan struct{})
	}
	l.inflight++
}

func (l *Limiter) end() {
	l.inflight--
	if l.inflight == 0 {
		close(l.idle)
	}
}

// sweep drops buckets nobody holds whose limits have run out, so routes with a guild or
// channel in their key do not pile up. Called with l.mu held.
func (l *Limiter) sweep(now time.Time) {
	l.sinceSweep = 0
	for key, b := range l.buckets {
		if b.refs == 0 && !b.resetAt.After(now) && !b.retryAt.After(now) {
			delete(l.buckets, key)
		}
	}
}
