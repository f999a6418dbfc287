package discordtest

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/disgoorg/disgo/discord"

	"github.com/gavelbot/gavel/internal/clock"
)

// TestRequestObserver: every REST call reaches the observer once, with its route, ids,
// body and status, and a span that covers what the fake did for it (an injected latency
// included) but not more than the client waited. HandlerStats adds the same up. The latency
// waits on a clock the test moves: the span must hold the moment it ended.
func TestRequestObserver(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []Served
	arrived := make(chan struct{}, 16)
	clk := clock.NewManual(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	f := newRestFixture(t, false, WithLatencyClock(clk), WithRequestObserver(func(sv Served) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, sv)
		arrived <- struct{}{}
	}))
	c := f.client(t)
	f.s.SetLatency("GET /guilds/{guild_id}", 40*time.Millisecond)

	start := time.Now()
	answered := make(chan error, 1)
	go func() {
		_, err := c.GetGuild(sf(f.guild), false)
		answered <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := clk.WaitArmed(ctx, 1); err != nil {
		t.Fatalf("the fake never held the call back: %v", err)
	}
	held := time.Now() // the fake's handler is holding the call
	clk.Advance(40 * time.Millisecond)
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	clientWait := time.Since(start)
	if _, err := c.CreateMessage(sf(f.general), discord.MessageCreate{Content: "hello"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetMember(sf(f.guild), sf(f.dave))
	wantCode(t, err, http.StatusNotFound, codeUnknownMember)
	// A POST: net/http resends an idempotent request whose reused connection closed.
	f.s.DropConnections("POST /channels/{channel_id}/messages", 1)
	if _, err := c.CreateMessage(sf(f.general), discord.MessageCreate{Content: "lost"}); err == nil {
		t.Fatal("a dropped connection answered")
	}

	// A dropped call is observed after the client has seen the connection close.
	for range 4 {
		select {
		case <-arrived:
		case <-ctx.Done():
			mu.Lock()
			t.Fatalf("observer saw %d calls, want 4: %+v", len(seen), seen)
		}
	}
	mu.Lock()
	got := append([]Served(nil), seen...)
	mu.Unlock()
	if len(got) != 4 {
		t.Fatalf("observer saw %d calls, want 4: %+v", len(got), got)
	}
	guild, msg, member, dropped := got[0], got[1], got[2], got[3]
	if guild.Route != "GET /guilds/{guild_id}" || guild.Params["guild_id"] != f.guild.String() || guild.Status != http.StatusOK {
		t.Errorf("guild call = %+v", guild)
	}
	if end := guild.Start.Add(guild.Duration); guild.Start.After(held) || end.Before(held) || guild.Duration > clientWait {
		t.Errorf("guild call inside the fake from %v for %v; want it to span the latency held at %v and at most the client's %v",
			guild.Start, guild.Duration, held, clientWait)
	}
	if guild.Start.Before(start) || guild.Path != "/api/v10/guilds/"+f.guild.String() {
		t.Errorf("guild call started %v (client sent at %v), path %q", guild.Start, start, guild.Path)
	}
	if msg.Route != "POST /channels/{channel_id}/messages" || msg.Params["channel_id"] != f.general.String() ||
		!strings.Contains(string(msg.Body), `"hello"`) || msg.Status != http.StatusOK {
		t.Errorf("message call = %+v (body %s)", msg, msg.Body)
	}
	if member.Status != http.StatusNotFound || member.Params["user_id"] != f.dave.String() {
		t.Errorf("unknown member call = %+v", member)
	}
	if dropped.Route != "POST /channels/{channel_id}/messages" || dropped.Status != 0 {
		t.Errorf("dropped call = %+v; want status 0", dropped)
	}

	stats := f.s.HandlerStats()
	var sum time.Duration
	for _, sv := range got {
		sum += sv.Duration
	}
	if stats.Requests != 4 || stats.Total != sum {
		t.Errorf("HandlerStats = %d calls, %v; the observer saw 4 calls, %v", stats.Requests, stats.Total, sum)
	}
	if r := stats.Routes["GET /guilds/{guild_id}"]; r.Requests != 1 || r.Total != guild.Duration {
		t.Errorf("guild route stats = %+v; want 1 call of %v", r, guild.Duration)
	}

	f.s.ResetHandlerStats()
	f.s.SetRequestObserver(nil)
	f.s.SetLatency("GET /guilds/{guild_id}", 0)
	if _, err := c.GetGuild(sf(f.guild), false); err != nil {
		t.Fatal(err)
	}
	if stats := f.s.HandlerStats(); stats.Requests != 1 || stats.Routes["GET /guilds/{guild_id}"].Requests != 1 {
		t.Errorf("after a reset and one call: %+v", stats)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 4 {
		t.Errorf("a removed observer was still called: %d calls", len(seen))
	}
}

// TestWithoutSpecValidation: with validation off the spec is not consulted, so a body
// that only the spec refuses (a recipient id as a JSON number, which Discord's spec
// types as a string) reaches the handler and nothing is reported.
func TestWithoutSpecValidation(t *testing.T) {
	t.Parallel()
	body := func(f *restFixture) string { return `{"recipient_id":` + f.bob.String() + `}` }

	on := newRestFixture(t, true)
	resp, _ := on.raw(t, "POST", "/users/@me/channels", body(on))
	if resp.StatusCode != http.StatusBadRequest || len(on.takeReports()) == 0 {
		t.Fatalf("with validation: status %d; want 400 and a report", resp.StatusCode)
	}

	off := newRestFixture(t, true, WithoutSpecValidation())
	resp, got := off.raw(t, "POST", "/users/@me/channels", body(off))
	if reports := off.takeReports(); len(reports) != 0 {
		t.Errorf("without validation, reports: %v", reports)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("without validation: %d %s; want the handler's 200", resp.StatusCode, got)
	}
}
