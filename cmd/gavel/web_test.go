package main

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// gavel web refuses what it cannot serve, each with a message saying what to do, and
// serves the dashboard on PostgreSQL until interrupted.
func TestWebCommand(t *testing.T) {
	fake := discordtest.New(t)
	base := map[string]string{
		"GAVEL_DISCORD_API_URL":   fake.APIURL(),
		"GAVEL_WEB_PUBLIC_URL":    "http://127.0.0.1:1",
		"GAVEL_WEB_CLIENT_SECRET": "secret",
	}
	lookupWith := func(extra map[string]string) func(string) (string, bool) {
		return func(key string) (string, bool) {
			if v, ok := extra[key]; ok {
				return v, true
			}
			v, ok := base[key]
			return v, ok
		}
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"sqlite", map[string]string{"DISCORD_TOKEN": fake.Token(), "GAVEL_WEB_ADDR": "127.0.0.1:0",
			"GAVEL_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "gavel.db")}, "gavel web needs PostgreSQL"},
		{"no addr", map[string]string{"DISCORD_TOKEN": fake.Token(), "GAVEL_DATABASE_URL": storetest.URL(t, store.Postgres)}, "web.addr is not set"},
		{"no token", map[string]string{"GAVEL_WEB_ADDR": "127.0.0.1:0", "GAVEL_DATABASE_URL": storetest.URL(t, store.Postgres)}, "DISCORD_TOKEN is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			var stdout, stderr lockedBuffer
			code := run(context.Background(), nil, []string{"web"}, &stdout, &stderr, lookupWith(tc.env))
			if code != exitFailure || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d saying %q", code, stderr.String(), exitFailure, tc.want)
			}
		})
	}

	t.Run("serves", func(t *testing.T) {
		t.Chdir(t.TempDir())
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		env := map[string]string{"DISCORD_TOKEN": fake.Token(), "GAVEL_DATABASE_URL": storetest.URL(t, store.Postgres)}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var stdout, stderr lockedBuffer
		code := make(chan int, 1)
		go func() { code <- run(ctx, nil, []string{"web", "--addr", addr}, &stdout, &stderr, lookupWith(env)) }()
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp, err := http.Get("http://" + addr + "/")
			if err == nil {
				resp.Body.Close()
				break
			}
			select {
			case c := <-code:
				t.Fatalf("gavel web exited with %d: %s", c, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("gavel web never served: %s", stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if c := <-code; c != 0 {
			t.Errorf("exit %d after the interrupt: %s", c, stderr.String())
		}
		if !strings.Contains(stderr.String(), "serving the dashboard without a gateway") {
			t.Errorf("log: %s", stderr.String())
		}
	})
}
