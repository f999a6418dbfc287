package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
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
	t.Parallel()
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
			var stdout, stderr lockedBuffer
			code := run(context.Background(), nil, t.TempDir(), []string{"web"}, &stdout, &stderr, lookupWith(tc.env))
			if code != exitFailure || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d saying %q", code, stderr.String(), exitFailure, tc.want)
			}
		})
	}

	t.Run("serves", func(t *testing.T) {
		env := map[string]string{"DISCORD_TOKEN": fake.Token(), "GAVEL_DATABASE_URL": storetest.URL(t, store.Postgres)}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// gavel web listens on a port of the system's choosing and says which in its log:
		// the test reads the log through a pipe and waits for that line, the event that
		// says it is serving.
		var stdout, stderr lockedBuffer
		logR, logW := io.Pipe()
		code := make(chan int, 1)
		go func() {
			c := run(ctx, nil, t.TempDir(), []string{"web", "--addr", "127.0.0.1:0"}, &stdout, io.MultiWriter(&stderr, logW), lookupWith(env))
			logW.Close()
			code <- c
		}()
		serving := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(logR)
			for sc.Scan() {
				if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
					serving <- m[1]
					break
				}
			}
			// Keep reading, so that gavel web's later lines never block on the pipe.
			io.Copy(io.Discard, logR)
		}()
		var addr string
		select {
		case addr = <-serving:
		case c := <-code:
			t.Fatalf("gavel web exited with %d before serving: %s", c, stderr.String())
		case <-time.After(hangBound):
			t.Fatalf("gavel web never said it was serving: %s", stderr.String())
		}
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("gavel web said it serves on %s: %v", addr, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET / = %d", resp.StatusCode)
		}
		cancel()
		if c := <-code; c != 0 {
			t.Errorf("exit %d after the interrupt: %s", c, stderr.String())
		}
	})
}

// servingLine is gavel web's log line saying where it listens (slog's text format).
var servingLine = regexp.MustCompile(`msg="serving the dashboard without a gateway" addr=(\S+)`)
