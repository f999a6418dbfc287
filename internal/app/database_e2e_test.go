package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
	"github.com/gavelbot/gavel/internal/syncbuf"
)

// dbProxy forwards TCP connections to a PostgreSQL server until cut, when it closes every
// connection and refuses new ones: the database becomes unreachable, as when its host goes.
type dbProxy struct {
	ln    net.Listener
	to    string
	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

func newDBProxy(t *testing.T, to string) *dbProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{ln: ln, to: to}
	go p.serve()
	t.Cleanup(p.Cut)
	return p
}

func (p *dbProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.to)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

// Cut closes every connection and the listener.
func (p *dbProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// With the database gone, a command's reply says so in the moderator's terms and never
// quotes the driver (which names the database's user and host); the log has the driver's
// detail once for the outage, not once per command; gavel_database_up shows it.
func TestDatabaseDownIsSaidInWords(t *testing.T) {
	t.Parallel()
	// storetest.MigratedURL skips (or, with GAVEL_REQUIRE_POSTGRES=1, fails) without a server.
	w := newWorld(t)
	schemaURL := storetest.MigratedURL(t, store.Postgres)
	u, err := url.Parse(schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newDBProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	w.dbURL = u.String()

	var logs syncbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := newTestApp(ctx, w.config(), logger, app.WithGatewayOptions(gateway.WithBackoff(10*time.Millisecond, 100*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	readyCtx, readyCancel := context.WithTimeout(ctx, eventBound)
	defer readyCancel()
	if err := w.s.WaitReady(readyCtx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if r := w.say(t, w.owner, "$warn <@"+w.target.String()+"> first"); !strings.Contains(r.Content, "Case #1") {
		t.Fatalf("warn with the database up: %q", r.Content)
	}
	if up := gauge(t, a, "gavel_database_up"); up != 1 {
		t.Errorf("gavel_database_up = %v with the database up", up)
	}

	proxy.Cut()
	for _, who := range []string{w.target.String(), w.other.String()} {
		r := w.say(t, w.owner, "$warn <@"+who+"> while the database is down")
		if !strings.Contains(r.Content, "gavel's database is unreachable; nothing was done") || !strings.Contains(r.Content, "try again shortly") {
			t.Errorf("reply %q does not say the database is unreachable", r.Content)
		}
		for _, leak := range []string{"postgres", "127.0.0.1", "failed to connect", "EOF", "dial", "pq:", "pgx", "insert"} {
			if strings.Contains(strings.ToLower(r.Content), leak) {
				t.Errorf("reply %q carries the driver's text (%q)", r.Content, leak)
			}
		}
	}
	// A moderator who is not the owner needs the guild's ranks read for the permission
	// check itself, before any pipeline: that failure is said in the same words.
	for _, content := range []string{"$warn <@" + w.target.String() + "> by a moderator", "$cases"} {
		r := w.say(t, w.mod, content)
		if !strings.Contains(r.Content, "gavel's database is unreachable; nothing was done") || !strings.Contains(r.Content, "try again shortly") {
			t.Errorf("%s: reply %q does not say the database is unreachable", content, r.Content)
		}
	}
	// The owner passes the permission check without the database: the tools say it too.
	for _, content := range []string{"$snippets create outage text", "$config prefix !", "$cases"} {
		r := w.say(t, w.owner, content)
		if !strings.Contains(r.Content, "database") || strings.Contains(r.Content, "Something went wrong") {
			t.Errorf("%s: reply %q does not say the database failed", content, r.Content)
		}
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if (strings.Contains(line, "checking permissions") || strings.Contains(line, "command failed")) && strings.Contains(line, "failed to connect") {
			t.Errorf("a per-command log line carries the driver's detail: %s", line)
		}
	}
	if up := gauge(t, a, "gavel_database_up"); up != 0 {
		t.Errorf("gavel_database_up = %v with the database down", up)
	}
	if n := strings.Count(logs.String(), "database unreachable;"); n != 1 {
		t.Errorf("the outage was logged with its detail %d times; want once:\n%s", n, logs.String())
	}
}

func gauge(t *testing.T, a *app.App, name string) float64 {
	t.Helper()
	families, err := a.Metrics().Registry.Gather()
	if err != nil {
		// A collector that failed still leaves the others; the gauge is read below.
		t.Logf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return -1
}
