package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
	// grew, when a waiter made it, is closed by the next write: waitFor sleeps on it instead
	// of polling the text.
	grew chan struct{}
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.b.Write(p)
	if l.grew != nil {
		close(l.grew)
		l.grew = nil
	}
	return n, err
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor waits, woken by each write, until ok holds of the text written so far, and
// returns that text. It fails when exited delivers the program's exit code first (nil: never)
// or when within runs out: a bound that only ends a failing test.
func (l *lockedBuffer) waitFor(within time.Duration, exited <-chan int, ok func(string) bool) (string, error) {
	timeout := time.After(within)
	for {
		l.mu.Lock()
		text := l.b.String()
		if ok(text) {
			l.mu.Unlock()
			return text, nil
		}
		if l.grew == nil {
			l.grew = make(chan struct{})
		}
		grew := l.grew
		l.mu.Unlock()
		select {
		case <-grew:
		case c := <-exited:
			return text, fmt.Errorf("it exited with %d first", c)
		case <-timeout:
			return text, fmt.Errorf("not within %s", within)
		}
	}
}

func TestRunConnectsAndShutsDown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
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
	go func() {
		code <- run(ctx, nil, dir, []string{"run", "--metrics-addr", "127.0.0.1:0"}, &stdout, &stderr, lookup)
	}()

	// The bound only ends a failing test: 15 s ran out in CI's -race pass at load 20.
	readyCtx, readyCancel := context.WithTimeout(ctx, 2*time.Minute)
	defer readyCancel()
	if err := fake.WaitReady(readyCtx, 1); err != nil {
		t.Fatalf("WaitReady: %v; stderr:\n%s", err, stderr.String())
	}
	if len(fake.Commands(guild)) == 0 {
		t.Error("run registered no slash commands in the configured guild")
	}
	// Both, since the guild can be served before the gateway's open returns: stopping in
	// between would skip the lines the documentation's sample shows.
	if _, err := stderr.waitFor(hangBound, nil, func(s string) bool {
		return strings.Contains(s, `msg="serving guild"`) && strings.Contains(s, `msg="connected to Discord"`)
	}); err != nil {
		t.Fatalf("run never logged the guild it serves (%v); stderr:\n%s", err, stderr.String())
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("run exited %d; stderr:\n%s", c, stderr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("run did not return after the context ended")
	}
	for _, want := range []string{`msg="database ready"`, `msg="serving metrics"`, `name="test guild"`, "msg=stopped"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not contain %s:\n%s", want, stderr.String())
		}
	}
	// docs/cli.md shows what run logs: the same messages, each with the same keys.
	doc := docBlock(t, "$ DISCORD_TOKEN=… gavel run")
	if got, want := logShape(stderr.String()), logShape(doc); !slices.Equal(got, want) {
		t.Errorf("docs/cli.md's run sample is stale:\n doc %q\nreal %q", want, got)
	}
}

// docBlock returns the code block of docs/cli.md whose first line starts with first.
func docBlock(t *testing.T, first string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```\n")
	for i := 1; i < len(blocks); i += 2 {
		if strings.HasPrefix(blocks[i], first) {
			return blocks[i]
		}
	}
	t.Fatalf("docs/cli.md has no code block starting %q", first)
	return ""
}

// repoRoot is the module's root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	return filepath.Join(packageDir, "..", "..")
}

var logLine = regexp.MustCompile(`level=(\w+) msg=("[^"]*"|\S+)(.*)`)
var logKey = regexp.MustCompile(` (\w+)=`)

// logShape reduces log lines to "LEVEL msg key,key,…", sorted: what a sample must show,
// without the values that change from run to run or the order of concurrent lines.
func logShape(s string) []string {
	var out []string
	for _, m := range logLine.FindAllStringSubmatch(s, -1) {
		var keys []string
		for _, k := range logKey.FindAllStringSubmatch(m[3], -1) {
			keys = append(keys, k[1])
		}
		out = append(out, m[1]+" "+m[2]+" "+strings.Join(keys, ","))
	}
	slices.Sort(out)
	return out
}

// TestRunWrongToken: a token of the wrong shape, and one Discord refuses, are said in words
// with where to get a good one, and the token itself is never quoted.
func TestRunWrongToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fake := discordtest.New(t)
	owner := fake.AddUser("owner", false)
	guild := fake.AddGuild("test guild", owner)
	base := map[string]string{
		"GAVEL_DISCORD_API_URL":     fake.APIURL(),
		"GAVEL_DISCORD_GATEWAY_URL": fake.GatewayURL,
		"GAVEL_DATABASE_URL":        "sqlite:" + filepath.Join(t.TempDir(), "gavel.db"),
	}
	with := func(token string) map[string]string {
		env := map[string]string{"DISCORD_TOKEN": token}
		for k, v := range base {
			env[k] = v
		}
		return env
	}
	const help = "https://discord.com/developers/applications → your application → Bot → Reset Token"
	for _, tc := range []struct{ token, why string }{
		{"not-a-token", "it has 1 parts"},
		{"abc.def", "it has 2 parts"},
		{"bm90IGFuIGlk.secretpart.secretsig", "its first part is not an application id in base64"},
		{"Bot " + fake.Token(), `it starts with "Bot "`},
		{"MTIz..secretsig", "part 2 is empty"},
		{"MTIz.sec ret.secretsig", "part 2 has characters that are not base64"},
	} {
		got := gavel(t, dir, with(tc.token), "run")
		want := "gavel: DISCORD_TOKEN is malformed: " + tc.why
		if got.code != 1 || !strings.HasPrefix(got.stderr, want) || !strings.Contains(got.stderr, help) {
			t.Errorf("run with token %q: code %d, stderr %q; want %q … %q", tc.token, got.code, got.stderr, want, help)
		}
		if strings.Contains(got.stderr, "secret") || strings.Contains(got.stderr, "disgoport") {
			t.Errorf("run with token %q quotes the token or the library: %q", tc.token, got.stderr)
		}
	}
	// Well formed (the fake's application id) but not the token Discord issued.
	refused := strings.Split(fake.Token(), ".")[0] + ".c2VjcmV0.c2lnbmF0dXJl"
	wantRefused := "gavel: Discord refused DISCORD_TOKEN (401 Unauthorized): the token is wrong, or was reset in the developer portal; copy the bot token from Discord's developer portal (" + help + ") into DISCORD_TOKEN\n"
	if got := gavel(t, dir, with(refused), "run"); got.code != 1 || got.stderr[strings.LastIndex(strings.TrimSuffix(got.stderr, "\n"), "\n")+1:] != wantRefused {
		t.Errorf("run with a refused token: code %d, stderr %q; want last line %q", got.code, got.stderr, wantRefused)
	}
	if got := gavel(t, dir, with(refused), "automod", "export", "--guild", guild.String()); got.code != 1 || got.stderr != wantRefused {
		t.Errorf("automod export with a refused token: code %d, stderr %q; want %q", got.code, got.stderr, wantRefused)
	}
	if got := gavel(t, dir, with("abc.def"), "automod", "export", "--guild", guild.String()); got.code != 1 || !strings.HasPrefix(got.stderr, "gavel: DISCORD_TOKEN is malformed: it has 2 parts") {
		t.Errorf("automod export with a malformed token: code %d, stderr %q", got.code, got.stderr)
	}
}
