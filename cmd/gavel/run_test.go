package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// lockedBuffer is a bytes.Buffer that the bot's goroutines may log into while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRunConnectsAndShutsDown(t *testing.T) {
	t.Chdir(t.TempDir())
	fake := discordtest.New(t)
	owner := fake.AddUser("owner", false)
	guild := fake.AddGuild("test guild", owner)
	env := map[string]string{
		"DISCORD_TOKEN":             fake.Token(),
		"GAVEL_DISCORD_API_URL":     fake.APIURL(),
		"GAVEL_DISCORD_GATEWAY_URL": fake.GatewayURL,
		"GAVEL_DISCORD_GUILDS":      guild.String(),
		"GAVEL_DATABASE_URL":        "sqlite:" + filepath.Join(t.TempDir(), "gavel.db"),
	}
	lookup := func(key string) (string, bool) {
		v, ok := env[key]
		return v, ok
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"run", "--metrics-addr", "127.0.0.1:0"}, &stdout, &stderr, lookup) }()

	readyCtx, readyCancel := context.WithTimeout(ctx, 15*time.Second)
	defer readyCancel()
	if err := fake.WaitReady(readyCtx, 1); err != nil {
		t.Fatalf("WaitReady: %v; stderr:\n%s", err, stderr.String())
	}
	if len(fake.Commands(guild)) == 0 {
		t.Error("run registered no slash commands in the configured guild")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), `msg="serving guild"`) {
		if time.Now().After(deadline) {
			t.Fatalf("run never logged the guild it serves; stderr:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("run exited %d; stderr:\n%s", c, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after the context ended")
	}
	for _, want := range []string{`msg="database ready"`, `msg="serving metrics"`, `name="test guild"`, "msg=stopped"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not contain %s:\n%s", want, stderr.String())
		}
	}
}
