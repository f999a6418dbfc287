package leases_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/disgoorg/disgo/rest"

	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/leases"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// A global 429 one process meets pauses the bot's other processes (two stores and two
// limiters on one PostgreSQL schema stand for two processes).
func TestGlobal429PausesEveryProcess(t *testing.T) {
	url := storetest.URL(t, store.Postgres)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func() *store.Store {
		st, err := store.OpenURL(ctx, url, store.Options{MaxOpenConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	stA, stB := open(), open()
	log := slog.New(slog.DiscardHandler)
	limA, limB := disgoport.NewLimiter(), disgoport.NewLimiter()
	leases.ShareRateLimits(stA, limA, log)
	leases.ShareRateLimits(stB, limB, log)
	heard := make(chan store.Change, 4)
	stB.OnAnyChange(func(c store.Change) { heard <- c })
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = stB.Listen(ctx, log, func() { close(ready) })
	}()
	defer func() { cancel(); <-done }()
	<-ready

	// Process A meets a global 429 asking for 60 seconds.
	ban := rest.AddBan.Compile(nil, int64(1), int64(2))
	if err := limA.Wait(ctx, ban); err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Via", "1.1 google")
	h.Set("X-RateLimit-Global", "true")
	h.Set("X-RateLimit-Scope", "global")
	_ = limA.Unlock(ban, &http.Response{StatusCode: 429, Header: h,
		Body: io.NopCloser(strings.NewReader(`{"message":"You are being rate limited.","retry_after":60,"global":true}`))})
	for c := range heard {
		if c.Topic == store.TopicRateLimit {
			break
		}
	}
	// B now refuses at once what would have to wait past its deadline: it is paused.
	member := rest.GetMember.Compile(nil, int64(1), int64(2))
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	err := limB.Wait(wctx, member)
	var rl *disgoport.RateLimitedError
	if !errors.As(err, &rl) || !rl.Global || rl.RetryAfter < 50*time.Second {
		t.Fatalf("process B's request after A's global 429: %v; want a refusal for the global pause (about 60 s)", err)
	}
}
