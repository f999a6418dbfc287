package discordtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	disgodiscord "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"

	"github.com/gavelbot/gavel/internal/clock"
)

// TestDisgoPacesRoleBurst: disgo's real limiter reads the fake's headers, so 200 role
// changes on one route (the burst a mass role sync produces) are paced by the bucket rather
// than bounced by 429s. disgo's limiter waits on the wall clock, so the fake and the client
// run in a synctest bubble over an in-memory network: the waits take no real time, and the
// burst takes exactly the windows it must.
func TestDisgoPacesRoleBurst(t *testing.T) {
	t.Parallel()
	// disgo's limiter starts a cleanup goroutine that never ends; made outside the bubble it
	// does not keep the bubble alive. Its buckets are made inside (on the first request) and
	// cleared before the bubble ends, so the outside goroutine never touches them.
	rl := rest.NewRateLimiter(rest.WithMaxRetries(1))
	synctest.Test(t, func(t *testing.T) {
		const route = "PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}"
		ln := newPipeListener()
		// The bubble's clock starts in 2000, before Discord's epoch: the fake's ids count from
		// a later instant so that they stay snowflakes.
		f := newRestFixture(t, false, WithListener(ln), WithRouteLimit(route, 45, time.Second),
			WithClock(func() time.Time { return time.Now().AddDate(26, 0, 0) }))
		hc := &http.Client{Transport: &http.Transport{DialContext: ln.dial}, Timeout: 20 * time.Second}
		rc := rest.NewClient(f.s.Token(), rest.WithURL(f.s.APIURL()), rest.WithHTTPClient(hc), rest.WithRateLimiter(rl))
		t.Cleanup(func() {
			rl.Reset()
			hc.CloseIdleConnections()
		})
		c := rest.New(rc, rest.WithDefaultAllowedMentions(disgodiscord.AllowedMentions{}))
		roles := make([]ID, 200)
		for i := range roles {
			roles[i] = f.s.AddRole(f.guild, fmt.Sprint("r", i), 1, 0)
		}
		// One goroutine: disgo v0.19.6's limiter reads a bucket's fields before locking it
		// (rest_rate_limiter.go, Wait), so concurrent calls on one bucket are a data race that
		// -race reports. Serial calls are also what its per-bucket lock would produce anyway.
		start := time.Now()
		for _, r := range roles {
			if err := c.AddMemberRole(sf(f.guild), sf(f.carol), sf(r)); err != nil {
				t.Fatalf("AddMemberRole: %v", err)
			}
		}
		took := time.Since(start)
		stats := f.s.RateLimitStats()
		rs := stats.Routes[route]
		if rs.Limited > 2 {
			t.Errorf("disgo met %d 429s on %s; the headers should pace it", rs.Limited, route)
		}
		// 45 a second: the 200th call goes in the fifth window, after four full seconds and
		// before a fifth.
		if took < 4*time.Second || took >= 5*time.Second {
			t.Errorf("200 role changes took %v of the bubble's clock (%d requests, %d 429s); want the fifth window, 4s to 5s",
				took, rs.Requests, rs.Limited)
		}
		if m, _ := f.s.Member(f.guild, f.carol); len(m.Roles) != 200 {
			t.Errorf("carol has %d roles, want 200", len(m.Roles))
		}
	})
}

// pipeListener is an in-memory network: dial hands the server one end of a net.Pipe. Pipes
// are channels, so a synctest bubble sees goroutines waiting on them as blocked.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// TestRouteRateLimitHeaders: the headers and 429 Discord sends, per route and per top-level
// resource; the window reopens exactly when retry_after says, on the limiter's clock.
func TestRouteRateLimitHeaders(t *testing.T) {
	t.Parallel()
	const route = "GET /guilds/{guild_id}"
	clk := clock.NewManual(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	f := newRestFixture(t, false, WithRouteLimit(route, 2, time.Second), WithRateLimitClock(clk.Now))
	other := f.s.AddGuild("other", f.owner)
	path := "/guilds/" + f.guild.String()

	resp, _ := f.raw(t, "GET", path, "")
	h := resp.Header
	if h.Get("X-RateLimit-Limit") != "2" || h.Get("X-RateLimit-Remaining") != "1" || h.Get("X-RateLimit-Reset-After") != "1.000" ||
		h.Get("X-RateLimit-Bucket") == "" || h.Get("Via") != "1.1 google" {
		t.Fatalf("first response headers = %v", h)
	}
	reset, err := strconv.ParseFloat(h.Get("X-RateLimit-Reset"), 64)
	if err != nil || reset != float64(clk.Now().Add(time.Second).Unix()) {
		t.Fatalf("X-RateLimit-Reset = %q", h.Get("X-RateLimit-Reset"))
	}
	bucket := h.Get("X-RateLimit-Bucket")
	clk.Advance(100 * time.Millisecond)
	resp, _ = f.raw(t, "GET", path, "")
	if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("second response = %d, remaining %q", resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"))
	}
	// Another guild is another resource: its own bucket, the same bucket id.
	resp, _ = f.raw(t, "GET", "/guilds/"+other.String(), "")
	if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Bucket") != bucket {
		t.Fatalf("other guild = %d, bucket %q (want %q)", resp.StatusCode, resp.Header.Get("X-RateLimit-Bucket"), bucket)
	}
	resp, body := f.raw(t, "GET", path, "")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third request = %d %s, want 429", resp.StatusCode, body)
	}
	h = resp.Header
	if h.Get("Retry-After") != "1" || h.Get("X-RateLimit-Scope") != "user" || h.Get("Via") != "1.1 google" ||
		h.Get("X-RateLimit-Bucket") != bucket || h.Get("X-RateLimit-Global") != "" {
		t.Fatalf("429 headers = %v", h)
	}
	var rl struct {
		Message    string  `json:"message"`
		RetryAfter float64 `json:"retry_after"`
		Global     bool    `json:"global"`
	}
	if err := json.Unmarshal([]byte(body), &rl); err != nil || rl.Message != "You are being rate limited." || rl.RetryAfter != 0.9 || rl.Global {
		t.Fatalf("429 body = %s; want retry_after 0.9 (the window opened 100 ms before)", body)
	}
	retry := time.Duration(rl.RetryAfter * float64(time.Second))
	clk.Advance(retry - time.Millisecond)
	if resp, body := f.raw(t, "GET", path, ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a millisecond before retry_after = %d %s, want 429", resp.StatusCode, body)
	}
	clk.Advance(time.Millisecond)
	if resp, body := f.raw(t, "GET", path, ""); resp.StatusCode != 200 {
		t.Fatalf("after retry_after = %d %s", resp.StatusCode, body)
	}
	stats := f.s.RateLimitStats()
	if stats.Limited != 2 || stats.Routes[route].Limited != 2 || stats.Routes[route].Requests != 6 {
		t.Fatalf("stats = %+v", stats)
	}
}

// TestGlobalRateLimit: past the global limit in a second across routes, Discord answers
// with a global 429, until the second is over.
func TestGlobalRateLimit(t *testing.T) {
	t.Parallel()
	// The limiter's clock stands still while the 80 requests run: all of them fall in one
	// window, so exactly limit pass, however slowly the machine sends them.
	const limit = 10
	clk := clock.NewManual(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	f := newRestFixture(t, false, WithRouteLimit("*", 0, 0), WithGlobalRateLimit(limit), WithRateLimitClock(clk.Now))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var global int
	paths := []string{"/users/@me", "/guilds/" + f.guild.String(), "/guilds/" + f.guild.String() + "/roles"}
	for i := 0; i < 80; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, body := f.raw(t, "GET", paths[i%len(paths)], "")
			if resp.StatusCode != http.StatusTooManyRequests {
				return
			}
			var rl struct{ Global bool }
			_ = json.Unmarshal([]byte(body), &rl)
			mu.Lock()
			defer mu.Unlock()
			if resp.Header.Get("X-RateLimit-Global") == "true" && resp.Header.Get("X-RateLimit-Scope") == "global" &&
				resp.Header.Get("Retry-After") != "" && rl.Global {
				global++
			} else {
				t.Errorf("a 429 that is not Discord's global one: %v %s", resp.Header, body)
			}
		}(i)
	}
	wg.Wait()
	stats := f.s.RateLimitStats()
	if global != 80-limit || stats.GlobalLimited != global || stats.Requests != 80 {
		t.Fatalf("%d global 429s seen, want %d; stats %+v", global, 80-limit, stats)
	}
	// The window is a second from its first request: a millisecond short of it the limit
	// still holds, at it a new window opens.
	clk.Advance(time.Second - time.Millisecond)
	if resp, body := f.raw(t, "GET", "/users/@me", ""); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("a millisecond before the window ends = %d %s, want a global 429", resp.StatusCode, body)
	}
	clk.Advance(time.Millisecond)
	if resp, body := f.raw(t, "GET", "/users/@me", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("once the window ended = %d %s", resp.StatusCode, body)
	}
	if !exemptFromGlobal("POST /interactions/{interaction_id}/{interaction_token}/callback") ||
		!exemptFromGlobal("POST /webhooks/{webhook_id}/{webhook_token}") || exemptFromGlobal("GET /users/@me") {
		t.Fatal("interaction endpoints must be exempt from the global limit, and only they")
	}
}
