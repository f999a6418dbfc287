package discordtest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
)

// Fault injection: a test makes routes fail, slow down or drop connections, to drive the
// client's retries, timeouts and circuit breakers. Every setting takes a route as the fake
// names it ("PUT /guilds/{guild_id}/bans/{user_id}") or "*" for every route; a route's own
// setting is used before "*". Faults come before rate limits and everything else, like a
// failing load balancer in front of Discord.

// FaultStats counts the faults served.
type FaultStats struct {
	// Failed is how many requests got an injected error status.
	Failed int
	// Dropped is how many connections were closed without a response.
	Dropped int
	// Delayed is how many requests were held back by an injected latency.
	Delayed int
	// Routes holds the counts per route.
	Routes map[string]RouteFaultStats
}

// RouteFaultStats counts one route's faults.
type RouteFaultStats struct {
	Failed  int
	Dropped int
	Delayed int
}

type failure struct {
	left   int
	status int
}

type errorRate struct {
	rate   float64
	status int
}

type faultSet struct {
	mu      sync.Mutex
	rng     *rand.Rand
	next    map[string]*failure
	rates   map[string]errorRate
	latency map[string]time.Duration
	drops   map[string]int
	stats   FaultStats
	// clock is what an injected latency waits on: the wall clock, or a test's.
	clock clock.Clock
}

func newFaultSet(*Server) *faultSet {
	return &faultSet{
		rng:     rand.New(rand.NewPCG(1, 2)),
		next:    map[string]*failure{},
		rates:   map[string]errorRate{},
		latency: map[string]time.Duration{},
		drops:   map[string]int{},
		stats:   FaultStats{Routes: map[string]RouteFaultStats{}},
		clock:   clock.System(),
	}
}

// WithLatencyClock makes injected latencies (SetLatency) wait on c instead of the wall
// clock: a test of the latency itself moves c and sees the response held until it reaches
// the end, rather than timing a real wait.
func WithLatencyClock(c clock.Clock) Option {
	return func(c2 *config) {
		c2.settings = append(c2.settings, func(s *Server) {
			f := s.ext.faults
			f.mu.Lock()
			defer f.mu.Unlock()
			f.clock = c
		})
	}
}

// WithFaultSeed seeds the generator SetErrorRate draws from, so a run's failures repeat.
func WithFaultSeed(seed uint64) Option {
	return func(c *config) {
		c.settings = append(c.settings, func(s *Server) {
			f := s.ext.faults
			f.mu.Lock()
			defer f.mu.Unlock()
			f.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		})
	}
}

// FailNext makes the next n requests to route fail with status: a Discord error body for
// 4xx (a complete shared-scope rate-limit response for 429), the plain bodies Discord's edge
// sends for 5xx. A later call for the same route replaces its pending failures; n <= 0
// clears them.
func (s *Server) FailNext(route string, n int, status int) {
	f := s.ext.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	if n <= 0 {
		delete(f.next, route)
		return
	}
	f.next[route] = &failure{left: n, status: status}
}

// SetErrorRate makes a fraction (0–1) of route's requests fail with status, drawn from a
// seeded generator (WithFaultSeed), so a run is repeatable. A rate of 0 removes it.
func (s *Server) SetErrorRate(route string, rate float64, status int) {
	f := s.ext.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	if rate <= 0 {
		delete(f.rates, route)
		return
	}
	f.rates[route] = errorRate{rate: rate, status: status}
}

// SetLatency holds every request to route back by d before it is served; 0 removes it.
func (s *Server) SetLatency(route string, d time.Duration) {
	f := s.ext.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	if d <= 0 {
		delete(f.latency, route)
		return
	}
	f.latency[route] = d
}

// DropConnections makes the next n requests to route lose their connection with no
// response at all, as when a proxy resets it.
func (s *Server) DropConnections(route string, n int) {
	f := s.ext.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	if n <= 0 {
		delete(f.drops, route)
		return
	}
	f.drops[route] = n
}

// FaultStats returns the faults served so far.
func (s *Server) FaultStats() FaultStats {
	f := s.ext.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.stats
	out.Routes = make(map[string]RouteFaultStats, len(f.stats.Routes))
	for k, v := range f.stats.Routes {
		out.Routes[k] = v
	}
	return out
}

// inject applies the faults set for a route; true means the request was answered (or its
// connection dropped) and must go no further.
func (f *faultSet) inject(w http.ResponseWriter, r *http.Request, route string) bool {
	f.mu.Lock()
	key := func(m map[string]int) string {
		if m[route] > 0 {
			return route
		}
		return "*"
	}
	if k := key(f.drops); f.drops[k] > 0 {
		f.drops[k]--
		f.count(route, func(s *RouteFaultStats) { s.Dropped++ }, &f.stats.Dropped)
		f.mu.Unlock()
		drop(w)
		return true
	}
	delay, ok := f.latency[route]
	if !ok {
		delay = f.latency["*"]
	}
	if delay > 0 {
		f.count(route, func(s *RouteFaultStats) { s.Delayed++ }, &f.stats.Delayed)
	}
	status := 0
	fail := f.next[route]
	if fail == nil {
		fail = f.next["*"]
	}
	if fail != nil {
		status = fail.status
		if fail.left--; fail.left <= 0 {
			for k, v := range f.next {
				if v == fail {
					delete(f.next, k)
				}
			}
		}
	} else {
		rate, ok := f.rates[route]
		if !ok {
			rate = f.rates["*"]
		}
		if rate.rate > 0 && f.rng.Float64() < rate.rate {
			status = rate.status
		}
	}
	if status != 0 {
		f.count(route, func(s *RouteFaultStats) { s.Failed++ }, &f.stats.Failed)
	}
	clk := f.clock
	f.mu.Unlock()

	if delay > 0 {
		t := clock.After(clk, delay)
		select {
		case <-t.C():
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	if status == 0 {
		return false
	}
	writeFault(w, route, status)
	return true
}

// count bumps a fault counter in total and per route. Called with f.mu held.
func (f *faultSet) count(route string, bump func(*RouteFaultStats), total *int) {
	*total++
	rs := f.stats.Routes[route]
	bump(&rs)
	f.stats.Routes[route] = rs
}

// drop closes the connection under a request without answering.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 cannot be hijacked; aborting the handler resets the stream instead.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// writeFault answers with an injected status the way Discord's stack does.
func writeFault(w http.ResponseWriter, route string, status int) {
	h := w.Header()
	switch {
	case status == http.StatusTooManyRequests:
		// A shared-resource limit: complete headers, so clients treat it as a route limit.
		h.Set("Via", "1.1 google")
		h.Set("Retry-After", "1")
		h.Set("X-RateLimit-Limit", "1")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset-After", "1.000")
		h.Set("X-RateLimit-Reset", fmt.Sprintf("%.3f", float64(time.Now().Add(time.Second).UnixMilli())/1000))
		h.Set("X-RateLimit-Bucket", bucketID(route))
		h.Set("X-RateLimit-Scope", "shared")
		writeJSON(w, status, rateLimitedBody("The resource is being rate limited.", time.Second, false))
	case status >= 500:
		// Discord's edge answers 5xx with plain text or HTML, not its JSON errors.
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		switch status {
		case http.StatusBadGateway:
			_, _ = w.Write([]byte("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n"))
		case http.StatusServiceUnavailable:
			_, _ = w.Write([]byte("upstream connect error or disconnect/reset before headers. reset reason: overflow"))
		default:
			_, _ = w.Write([]byte(http.StatusText(status)))
		}
	default:
		writeError(w, &apiError{Status: status, Message: http.StatusText(status), Code: 0})
	}
}
