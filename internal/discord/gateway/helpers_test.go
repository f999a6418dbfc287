package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dgw "github.com/disgoorg/disgo/gateway"

	"github.com/gavelbot/gavel/internal/clock"
)

// VerifyNoLeaks fails t if, once t's cleanups have run, a goroutine is still running code of
// this package (not its tests). Call it first in a test so its cleanup runs last.
// Exported for the end-to-end tests in package gateway_test.
func VerifyNoLeaks(t testing.TB) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			leaked := gatewayGoroutines()
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d gateway goroutine(s) still running after the test:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// gatewayGoroutines returns the stacks of goroutines with a frame in this package's
// non-test files.
func gatewayGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, line := range strings.Split(g, "\n") {
			line = strings.TrimSpace(line)
			if strings.Contains(line, "/internal/discord/gateway/") && strings.Contains(line, ".go:") && !strings.Contains(line, "_test.go:") {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// QuietLogger logs to stderr when GAVEL_TEST_LOG is set, and nowhere otherwise.
// Exported for the end-to-end tests.
func QuietLogger() *slog.Logger {
	if os.Getenv("GAVEL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// recorder is an event handler that keeps what it gets.
type recorder struct {
	mu     sync.Mutex
	events []recorded
	block  map[dgw.EventType]chan struct{} // handler waits on these before returning
}

type recorded struct {
	t dgw.EventType
	s int
	d dgw.EventData
}

func (r *recorder) handle(_ dgw.Gateway, t dgw.EventType, s int, d dgw.EventData) {
	r.mu.Lock()
	r.events = append(r.events, recorded{t, s, d})
	wait := r.block[t]
	r.mu.Unlock()
	if wait != nil {
		<-wait
	}
}

// blockOn makes the handler wait on the returned channel whenever it handles t.
func (r *recorder) blockOn(t dgw.EventType) chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.block == nil {
		r.block = map[dgw.EventType]chan struct{}{}
	}
	ch := make(chan struct{})
	r.block[t] = ch
	return ch
}

// dispatches returns the events received, heartbeat ACKs left out.
func (r *recorder) dispatches() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, e := range r.events {
		if e.t != dgw.EventTypeHeartbeatAck {
			out = append(out, e)
		}
	}
	return out
}

// names renders dispatches as "T/s" for readable comparisons; MESSAGE_CREATE includes the
// content.
func (r *recorder) names() []string {
	var out []string
	for _, e := range r.dispatches() {
		s := fmt.Sprintf("%s/%d", e.t, e.s)
		if m, ok := e.d.(dgw.EventMessageCreate); ok {
			s += ":" + m.Content
		}
		out = append(out, s)
	}
	return out
}

func (r *recorder) waitFor(t *testing.T, what string, ok func([]string) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok(r.names()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; handler got %v", what, r.names())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *recorder) waitForLen(t *testing.T, n int) {
	t.Helper()
	r.waitFor(t, fmt.Sprintf("%d events", n), func(s []string) bool { return len(s) >= n })
}

const testToken = "MTIzNDU2Nzg5MDEyMzQ1Njc4.x.y"

// testGateway returns a gateway pointed at s with fast timings, its recorder, and a
// cleanup that closes it. Heartbeats are effectively off (30 s interval, first at 99 %)
// unless a test sends a shorter HELLO or changes the jitter.
func testGateway(t *testing.T, s *scriptServer, opts ...Option) (*Gateway, *recorder) {
	t.Helper()
	base := []Option{
		WithURL(s.URL()),
		WithLogger(QuietLogger()),
		WithCompression(CompressionNone),
		WithBackoff(10*time.Millisecond, 50*time.Millisecond),
		WithInvalidSessionDelay(10*time.Millisecond, 20*time.Millisecond),
		WithIdentifyLimiter(NewIdentifyLimiter(1, 0)),
		WithHelloTimeout(2 * time.Second),
		withJitter(func() float64 { return 0.99 }),
	}
	g, err := New(testToken, append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	rec := &recorder{}
	g.SetEventHandler(rec.handle)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Close(ctx)
	})
	return g, rec
}

const longInterval = 30 * time.Second

func openAsync(g *Gateway) <-chan error {
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errc <- g.Open(ctx)
	}()
	return errc
}

func waitErr(t *testing.T, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Open did not return within 10s")
		return nil
	}
}

// connect opens g against s through HELLO (interval), IDENTIFY and READY (session
// "sess-1", seq 1) and returns the server's side of the connection.
func connect(t *testing.T, s *scriptServer, g *Gateway, interval time.Duration) (*scriptConn, clientPayload) {
	t.Helper()
	errc := openAsync(g)
	c := s.accept()
	c.setAutoAck(true)
	c.hello(interval)
	id := c.expect(dgw.OpcodeIdentify)
	c.ready(1, "sess-1", s.resumeURL())
	if err := waitErr(t, errc); err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c, id
}

// t0 is where the tests' manual clocks start.
var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// waitArmed waits until a timer is set on clk for at: the gateway waits for that instant.
func waitArmed(t *testing.T, clk *clock.Manual, at time.Time) {
	t.Helper()
	waitUntil(t, "a timer for "+at.Format(time.RFC3339Nano), func() bool { return slices.ContainsFunc(clk.Armed(), at.Equal) })
}

// waitUntil polls cond for up to 5 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
