package discordtest

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate limits as Discord applies them (rate-limits.mdx): a global limit per bot token and a
// limit per route, counted separately for each top-level resource in the path. They run on
// the wall clock by default, not the fake's clock, because they pace real HTTP clients; a
// test of the limits themselves gives them a clock it moves (WithRateLimitClock).
//
// One deliberate difference: X-RateLimit-Reset-After is rounded up to whole seconds. disgo
// v0.19.6 parses it with time.Duration(float) * time.Second, which truncates 0.93 to 0 and
// would send the next request into a closed window; rounding up makes it wait a little
// longer than needed instead of meeting a 429. Retry-After is an integer (disgo reads it
// with Atoi) and retry_after in the body keeps millisecond precision.

// Defaults, as Discord's documentation gives them.
const (
	defaultGlobalLimit = 50
	defaultRouteLimit  = 5
	defaultRouteWindow = time.Second
)

// majorParams are the path parameters that split a route's limit per resource.
var majorParams = [...]string{"guild_id", "channel_id", "webhook_id", "webhook_token", "interaction_id", "interaction_token"}

// RateLimitStats counts what the rate limiter did.
type RateLimitStats struct {
	// Requests is how many requests reached the limiter.
	Requests int
	// Limited is how many 429s it served, per route and global.
	Limited int
	// GlobalLimited is how many of those were for the global limit.
	GlobalLimited int
	// Routes holds the counts per route ("PUT /guilds/{guild_id}/bans/{user_id}").
	Routes map[string]RouteRateLimitStats
}

// RouteRateLimitStats counts one route's requests and 429s.
type RouteRateLimitStats struct {
	Requests int
	Limited  int
}

type routeLimit struct {
	limit  int // 0: unlimited
	window time.Duration
}

type bucket struct {
	start time.Time
	count int
}

type limiter struct {
	mu          sync.Mutex
	global      int // requests per second; 0: unlimited
	globalStart time.Time
	globalCount int
	defaults    routeLimit
	routes      map[string]routeLimit
	buckets     map[string]*bucket
	stats       RateLimitStats
	now         func() time.Time
}

// BulkBanRoute is the bulk-ban route as the rate limits name it.
const BulkBanRoute = "POST /guilds/{guild_id}/bulk-ban"

// Discord does not publish the bulk-ban route's limit. The fake gives it a window of its own,
// stricter than the default (5 per second): one call per second for each guild, so 1,000 users
// (five calls of 200) take four seconds at least, the floor the mass-ban benchmark is measured
// against. A client that reads the headers (disgo does) waits for the window; one that does not
// meets a 429.
const (
	bulkBanLimit  = 1
	bulkBanWindow = time.Second
)

func newLimiter(*Server) *limiter {
	return &limiter{
		global:   defaultGlobalLimit,
		defaults: routeLimit{limit: defaultRouteLimit, window: defaultRouteWindow},
		routes:   map[string]routeLimit{BulkBanRoute: {limit: bulkBanLimit, window: bulkBanWindow}},
		buckets:  map[string]*bucket{},
		stats:    RateLimitStats{Routes: map[string]RouteRateLimitStats{}},
		now:      time.Now,
	}
}

// WithRateLimitClock makes the rate limits read the time from now instead of the wall
// clock: a test of the limits moves it rather than waiting for a window to reopen. The
// clients it paces must then not wait on the wall clock themselves (disgo does).
func WithRateLimitClock(now func() time.Time) Option {
	return func(c *config) {
		c.settings = append(c.settings, func(s *Server) {
			l := s.ext.limits
			l.mu.Lock()
			defer l.mu.Unlock()
			l.now = now
		})
	}
}

// WithGlobalRateLimit sets how many requests per second the bot may make across all routes
// (Discord's is 50); 0 turns the global limit off. Interaction endpoints are exempt, as on
// Discord.
func WithGlobalRateLimit(n int) Option {
	return func(c *config) {
		c.settings = append(c.settings, func(s *Server) { s.SetGlobalRateLimit(n) })
	}
}

// WithRouteLimit sets a route's limit: limit requests per window for each top-level
// resource. route is "METHOD /spec/path" as in Discord's OpenAPI spec (e.g.
// "PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}"), or "*" for the default of
// every other route (5 per second). A limit of 0 lifts the route's limit.
func WithRouteLimit(route string, limit int, window time.Duration) Option {
	return func(c *config) {
		c.settings = append(c.settings, func(s *Server) { s.SetRouteLimit(route, limit, window) })
	}
}

// SetGlobalRateLimit changes the global limit while the server runs; see WithGlobalRateLimit.
func (s *Server) SetGlobalRateLimit(n int) {
	l := s.ext.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	l.global = n
}

// SetRouteLimit changes a route's limit while the server runs; see WithRouteLimit. Windows
// already open keep counting against the new limit.
func (s *Server) SetRouteLimit(route string, limit int, window time.Duration) {
	l := s.ext.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	if window <= 0 {
		window = defaultRouteWindow
	}
	if route == "*" {
		l.defaults = routeLimit{limit: limit, window: window}
		return
	}
	l.routes[route] = routeLimit{limit: limit, window: window}
}

// RateLimitStats returns what the rate limiter has counted so far.
func (s *Server) RateLimitStats() RateLimitStats {
	l := s.ext.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.stats
	out.Routes = make(map[string]RouteRateLimitStats, len(l.stats.Routes))
	for k, v := range l.stats.Routes {
		out.Routes[k] = v
	}
	return out
}

// exemptFromGlobal reports whether a route is an interaction endpoint, which Discord does
// not count toward the global limit.
func exemptFromGlobal(route string) bool {
	return strings.Contains(route, " /interactions/") || strings.Contains(route, " /webhooks/{webhook_id}/{webhook_token}")
}

// bucketID is the X-RateLimit-Bucket of a route: stable, opaque, and the same for every
// resource of the route, as Discord's is.
func bucketID(route string) string {
	h := fnv.New128a()
	h.Write([]byte(route))
	return hex.EncodeToString(h.Sum(nil))
}

// admit applies the limits to one request and writes the rate-limit headers, or a 429 and
// reports false.
func (l *limiter) admit(w http.ResponseWriter, r *http.Request, route string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	h := w.Header()
	// Every Discord response passes Google's load balancer; disgo takes a 429 without this
	// header for a Cloudflare ban and waits globally.
	h.Set("Via", "1.1 google")

	l.stats.Requests++
	rs := l.stats.Routes[route]
	rs.Requests++
	defer func() { l.stats.Routes[route] = rs }()

	if l.global > 0 && !exemptFromGlobal(route) {
		if now.Sub(l.globalStart) >= time.Second {
			l.globalStart, l.globalCount = now, 0
		}
		if l.globalCount >= l.global {
			l.stats.Limited++
			l.stats.GlobalLimited++
			rs.Limited++
			retry := l.globalStart.Add(time.Second).Sub(now)
			h.Set("Retry-After", strconv.Itoa(ceilSeconds(retry)))
			h.Set("X-RateLimit-Global", "true")
			h.Set("X-RateLimit-Scope", "global")
			writeJSON(w, http.StatusTooManyRequests, rateLimitedBody("You are being rate limited.", retry, true))
			return false
		}
		l.globalCount++
	}

	lim, ok := l.routes[route]
	if !ok {
		lim = l.defaults
	}
	if lim.limit <= 0 {
		return true
	}
	key := route
	for _, p := range majorParams {
		if v := r.PathValue(p); v != "" {
			key += " " + p + "=" + v
		}
	}
	b := l.buckets[key]
	if b == nil || now.Sub(b.start) >= lim.window {
		b = &bucket{start: now}
		l.buckets[key] = b
	}
	reset := b.start.Add(lim.window)
	reportAfter := ceilSeconds(reset.Sub(now))
	h.Set("X-RateLimit-Limit", strconv.Itoa(lim.limit))
	h.Set("X-RateLimit-Reset", fmt.Sprintf("%.3f", float64(now.UnixMilli())/1000+float64(reportAfter)))
	h.Set("X-RateLimit-Reset-After", fmt.Sprintf("%.3f", float64(reportAfter)))
	h.Set("X-RateLimit-Bucket", bucketID(route))
	if b.count >= lim.limit {
		l.stats.Limited++
		rs.Limited++
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("Retry-After", strconv.Itoa(reportAfter))
		h.Set("X-RateLimit-Scope", "user")
		writeJSON(w, http.StatusTooManyRequests, rateLimitedBody("You are being rate limited.", reset.Sub(now), false))
		return false
	}
	b.count++
	h.Set("X-RateLimit-Remaining", strconv.Itoa(lim.limit-b.count))
	return true
}

// ceilSeconds rounds a wait up to whole seconds, at least one.
func ceilSeconds(d time.Duration) int {
	n := int(math.Ceil(d.Seconds()))
	if n < 1 {
		n = 1
	}
	return n
}

// rateLimitedBody is Discord's 429 body; retry_after is in seconds with millisecond
// precision, rounded up so a client that waits exactly that long finds the window open.
func rateLimitedBody(message string, retry time.Duration, global bool) map[string]any {
	secs := math.Ceil(retry.Seconds()*1000) / 1000
	if secs < 0.001 {
		secs = 0.001
	}
	return map[string]any{"message": message, "retry_after": secs, "global": global}
}
