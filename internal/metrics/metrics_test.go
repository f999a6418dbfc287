package metrics_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
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

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
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
