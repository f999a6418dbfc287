package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/metrics"
)

// TestServesWhatTheExecutorReports runs real executor calls with the metrics as observer and
// reads the series back over HTTP, as Prometheus would.
func TestServesWhatTheExecutorReports(t *testing.T) {
	m := metrics.New()
	ex := executor.New(executor.WithObserver(m), executor.WithRetries(2, time.Millisecond, time.Millisecond),
		executor.WithBreaker(executor.OpBan, executor.BreakerPolicy{Failures: 1, Recovery: time.Minute}))
	fail := func(context.Context) error { return &discord.Error{Op: "ban", Status: 503} }
	_ = ex.Do(context.Background(), executor.OpBan, fail)
	m.Command("ban", "failed")
	m.DiscordCall("PUT /guilds/{guild_id}/bans/{user_id}", 503)
	m.ActionLatency("ban", 3*time.Millisecond)

	body := scrape(t, m)
	for _, want := range []string{
		`gavel_commands_total{command="ban",outcome="failed"} 1`,
		`gavel_discord_calls_total{route="PUT /guilds/{guild_id}/bans/{user_id}",status="503"} 1`,
		`gavel_discord_retries_total{operation="ban"} 1`,
		`gavel_breaker_state{operation="ban"} 2`,
		`gavel_action_seconds_count{command="ban"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestRouteTemplate(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v10/guilds/123/bans/456":                      "/guilds/{id}/bans/{id}",
		"/api/v10/interactions/99/aW50ZXJhY3Rpb24/callback": "/interactions/{id}/{token}/callback",
		"/api/v10/webhooks/1/tok.en-x/messages/@original":   "/webhooks/{id}/{token}/messages/@original",
		"/api/v10/users/@me/channels":                       "/users/@me/channels",
		"/api/v10/applications/5/guilds/6/commands":         "/applications/{id}/guilds/{id}/commands",
	} {
		if got := metrics.RouteTemplate(path); got != want {
			t.Errorf("RouteTemplate(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestTransportCountsCalls sends real requests through the transport and reads the counter.
func TestTransportCountsCalls(t *testing.T) {
	m := metrics.New()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer backend.Close()
	client := &http.Client{Transport: m.Transport(nil)}
	for _, id := range []string{"1", "2"} {
		req, _ := http.NewRequest(http.MethodPut, backend.URL+"/api/v10/guilds/7/bans/"+id, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if _, err := client.Get("http://127.0.0.1:1/api/v10/users/@me"); err == nil {
		t.Fatal("a closed port answered")
	}
	body := scrape(t, m)
	for _, want := range []string{
		`gavel_discord_calls_total{route="PUT /guilds/{id}/bans/{id}",status="204"} 2`,
		`gavel_discord_calls_total{route="GET /users/@me",status="0"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestTransportCountsWithoutAllocating: counting a call to a series seen before allocates
// nothing (it runs on every REST call), and each series is counted apart.
func TestTransportCountsWithoutAllocating(t *testing.T) {
	m := metrics.New()
	status := http.StatusOK
	tr := m.Transport(roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: status}, nil
	}))
	ban, _ := http.NewRequest(http.MethodPut, "http://discord.test/api/v10/guilds/7/bans/8", nil)
	msg, _ := http.NewRequest(http.MethodPost, "http://discord.test/api/v10/channels/9/messages", nil)
	for _, r := range []*http.Request{ban, msg} {
		if _, err := tr.RoundTrip(r); err != nil {
			t.Fatal(err)
		}
	}
	resp := &http.Response{StatusCode: http.StatusOK}
	tr = m.Transport(roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil }))
	if n := testing.AllocsPerRun(100, func() { _, _ = tr.RoundTrip(ban) }); n != 0 {
		t.Errorf("counting a known series allocates %v times a call", n)
	}
	status = http.StatusNotFound
	tr = m.Transport(roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: status}, nil
	}))
	if _, err := tr.RoundTrip(ban); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, m)
	for _, want := range []string{
		`gavel_discord_calls_total{route="PUT /guilds/{id}/bans/{id}",status="200"} 102`,
		`gavel_discord_calls_total{route="PUT /guilds/{id}/bans/{id}",status="404"} 1`,
		`gavel_discord_calls_total{route="POST /channels/{id}/messages",status="200"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestDiscordCallConcurrent: series first seen by several goroutines at once are each made
// once and lose no count (run with -race).
func TestDiscordCallConcurrent(t *testing.T) {
	m := metrics.New()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				m.DiscordCall("GET /r"+strconv.Itoa(i%5), 200+i%2)
			}
		}()
	}
	wg.Wait()
	body := scrape(t, m)
	for r := 0; r < 5; r++ {
		for _, st := range []int{200, 201} {
			// i%5 == r and i%2 == st-200: 5 of the 50 values of i, times 8 goroutines.
			want := fmt.Sprintf(`gavel_discord_calls_total{route="GET /r%d",status="%d"} 40`, r, st)
			if !strings.Contains(string(body), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The expiry series: outcomes, lateness, and the backlog read at each scrape; a backlog that
// cannot be read fails the scrape instead of showing a stale number.
func TestExpirySeries(t *testing.T) {
	m := metrics.New()
	m.ExpiryFinished("unban", "done", 1500*time.Millisecond)
	m.ExpiryFinished("unban", "done", -time.Second)
	m.ExpiryRetried("unjail")
	var fail atomic.Bool
	m.WatchSchedule(func(context.Context) (int64, int64, error) {
		if fail.Load() {
			return 0, 0, errors.New("database is closed")
		}
		return 12, 3, nil
	})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	scrape := func() (int, string) {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	_, body := scrape()
	for _, want := range []string{
		`gavel_expiry_runs_total{kind="unban",outcome="done"} 2`,
		`gavel_expiry_runs_total{kind="unjail",outcome="retry"} 1`,
		`gavel_expiry_lateness_seconds_bucket{kind="unban",le="0.05"} 1`,
		`gavel_expiry_lateness_seconds_bucket{kind="unban",le="2"} 2`,
		`gavel_expiry_lateness_seconds_sum{kind="unban"} 1.5`,
		`gavel_expiry_open 12`,
		`gavel_expiry_due 3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	fail.Store(true)
	if status, body := scrape(); status != http.StatusInternalServerError || !strings.Contains(body, "database is closed") {
		t.Errorf("scrape with an unreadable schedule: %d %q; want 500 naming the error", status, body)
	}
}

// Mod-log deliveries are counted by outcome; the outbox's backlog is read at each scrape.
func TestModlogDeliveries(t *testing.T) {
	m := metrics.New()
	m.ModlogDelivered("posted")
	m.ModlogDelivered("posted")
	m.ModlogDelivered("retry")
	m.WatchModlog(func(context.Context) (int64, int64, error) { return 7, 2, nil })
	body := scrape(t, m)
	for _, want := range []string{
		`gavel_modlog_deliveries_total{outcome="posted"} 2`,
		`gavel_modlog_deliveries_total{outcome="retry"} 1`,
		`gavel_modlog_queued 7`,
		`gavel_modlog_failing 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// routeTemplateBySplit is RouteTemplate as it was written first (split, rewrite, join): the
// one-pass version must say the same for every path.
func routeTemplateBySplit(path string) string {
	if i := strings.Index(path, "/api/v"); i >= 0 {
		path = path[i+len("/api/v"):]
		if j := strings.IndexByte(path, '/'); j >= 0 {
			path = path[j:]
		} else {
			path = ""
		}
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range parts {
		switch {
		case p != "" && strings.Trim(p, "0123456789") == "":
			parts[i] = "{id}"
		case i >= 2 && (parts[i-2] == "interactions" || parts[i-2] == "webhooks") && parts[i-1] == "{id}":
			parts[i] = "{token}"
		}
	}
	return "/" + strings.Join(parts, "/")
}

func FuzzRouteTemplate(f *testing.F) {
	for _, s := range []string{"", "/", "//", "/api/v10", "/api/v10/guilds/1//bans/2/", "/api/v10/interactions/1/t/callback", "webhooks/1/x", "/api/v9/webhooks/12/34/56"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		if got, want := metrics.RouteTemplate(path), routeTemplateBySplit(path); got != want {
			t.Fatalf("RouteTemplate(%q) = %q; written by split it was %q", path, got, want)
		}
	})
}

// scrape returns m's exposition as a Prometheus scrape reads it, over HTTP.
func scrape(t *testing.T, m *metrics.Metrics) []byte {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}
