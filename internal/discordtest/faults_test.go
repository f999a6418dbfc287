package discordtest

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"

	"github.com/gavelbot/gavel/internal/clock"
)

const banRoute = "PUT /guilds/{guild_id}/bans/{user_id}"

// TestFailNext: disgo sees the injected status, the state is untouched, and the route heals
// after n failures.
func TestFailNext(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false)
	c := f.client(t)
	g := sf(f.guild)

	f.s.FailNext(banRoute, 2, http.StatusServiceUnavailable)
	for i := 0; i < 2; i++ {
		err := c.AddBan(g, sf(f.bob), 0)
		var re *rest.Error
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("attempt %d: %v, want a 503", i, err)
		}
	}
	if _, banned := f.s.Banned(f.guild, f.bob); banned {
		t.Fatal("a failed request banned bob")
	}
	if err := c.AddBan(g, sf(f.bob), 0); err != nil {
		t.Fatalf("third attempt: %v", err)
	}

	// "*" fails every route; a 4xx carries Discord's JSON error.
	f.s.FailNext("*", 1, http.StatusForbidden)
	_, err := c.GetGuild(g, false)
	wantCode(t, err, http.StatusForbidden, 0)

	// An injected 429 is a complete shared-scope rate limit, which disgo honours.
	f.s.FailNext("GET /users/@me", 1, http.StatusTooManyRequests)
	resp, _ := f.raw(t, "GET", "/users/@me", "")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || resp.Header.Get("X-RateLimit-Scope") != "shared" || resp.Header.Get("Via") == "" {
		t.Fatalf("injected 429 = %d %v", resp.StatusCode, resp.Header)
	}

	stats := f.s.FaultStats()
	if stats.Failed != 4 || stats.Routes[banRoute].Failed != 2 {
		t.Fatalf("fault stats = %+v", stats)
	}
}

// TestLatency: an injected delay holds the response back until the latency's clock reaches
// its end, and a client deadline shorter than it fails the call.
func TestLatency(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	f := newRestFixture(t, false, WithLatencyClock(clk))
	c := f.client(t)
	f.s.SetLatency("GET /guilds/{guild_id}", 300*time.Millisecond)
	answered := make(chan error, 1)
	go func() {
		_, err := c.GetGuild(sf(f.guild), false)
		answered <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.WaitArmed(ctx, 1); err != nil {
		t.Fatalf("the request was not held: %v", err)
	}
	// A millisecond short of the latency the response is still held: its timer is armed.
	clk.Advance(299 * time.Millisecond)
	if armed := clk.Armed(); len(armed) != 1 || !armed[0].Equal(clk.Now().Add(time.Millisecond)) {
		t.Fatalf("armed %v at %v; want the held response due a millisecond later", armed, clk.Now())
	}
	clk.Advance(time.Millisecond)
	select {
	case err := <-answered:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("the response was not released at the latency's end")
	}

	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := c.GetGuild(sf(f.guild), false, rest.WithCtx(short)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with a 50ms deadline: %v, want a deadline error", err)
	}
	f.s.SetLatency("GET /guilds/{guild_id}", 0)
	if _, err := c.GetGuild(sf(f.guild), false); err != nil {
		t.Fatalf("latency removed: %v", err)
	}
	// The last call was not held: only the first two were delayed.
	if f.s.FaultStats().Delayed != 2 {
		t.Fatalf("fault stats = %+v", f.s.FaultStats())
	}
}

// TestDropConnections: the client gets a transport error, not a Discord error, and the
// request never reached the state.
func TestDropConnections(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false)
	c := f.client(t)
	f.s.DropConnections(banRoute, 1)
	err := c.AddBan(sf(f.guild), sf(f.bob), 0)
	var re *rest.Error
	if err == nil || errors.As(err, &re) {
		t.Fatalf("dropped connection gave %v, want a transport error", err)
	}
	if _, banned := f.s.Banned(f.guild, f.bob); banned {
		t.Fatal("a dropped request banned bob")
	}
	if err := c.AddBan(sf(f.guild), sf(f.bob), 0); err != nil {
		t.Fatalf("after the drop: %v", err)
	}
	if f.s.FaultStats().Dropped != 1 {
		t.Fatalf("fault stats = %+v", f.s.FaultStats())
	}
}

// TestErrorRateIsRepeatable: the same seed fails the same requests.
func TestErrorRateIsRepeatable(t *testing.T) {
	t.Parallel()
	pattern := func() []bool {
		f := newRestFixture(t, false, WithFaultSeed(7), WithRouteLimit("*", 0, 0))
		f.s.SetErrorRate("*", 0.5, http.StatusInternalServerError)
		var out []bool
		for i := 0; i < 20; i++ {
			resp, _ := f.raw(t, "GET", "/users/@me", "")
			out = append(out, resp.StatusCode == http.StatusInternalServerError)
		}
		return out
	}
	a, b := pattern(), pattern()
	failed := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("runs differ at request %d: %v vs %v", i, a, b)
		}
		if a[i] {
			failed++
		}
	}
	if failed == 0 || failed == len(a) {
		t.Fatalf("a 0.5 error rate failed %d of %d requests", failed, len(a))
	}
}

// TestFaultsReachDisgoMessages: a 5xx body is plain text, as Discord's edge sends it, and
// disgo still reports the status.
func TestFaultsReachDisgoMessages(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false)
	c := f.client(t)
	f.s.FailNext("POST /channels/{channel_id}/messages", 1, http.StatusBadGateway)
	_, err := c.CreateMessage(sf(f.general), discord.MessageCreate{Content: "hi"})
	var re *rest.Error
	if !errors.As(err, &re) || re.Response.StatusCode != http.StatusBadGateway {
		t.Fatalf("got %v, want a 502", err)
	}
	if len(f.s.Messages(f.general)) != 0 {
		t.Fatal("a failed send stored a message")
	}
}
