package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/disgoorg/disgo/discord"
	dgw "github.com/disgoorg/disgo/gateway"
	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/gavelbot/gavel/internal/clock"
)

func TestOpenIdentifiesAndHandsReadyToTheHandler(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	g, rec := testGateway(t, s, WithIntents(dgw.IntentGuilds, dgw.IntentGuildMessages), WithShard(0, 1))

	c, id := connect(t, s, g, longInterval)

	if c.path != "/gw" {
		t.Errorf("dialed path %q, want the configured /gw", c.path)
	}
	if got := c.query.Encode(); got != "encoding=json&v=10" {
		t.Errorf("query %q, want encoding=json&v=10", got)
	}
	var identify map[string]any
	if err := json.Unmarshal(id.D, &identify); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"token":           testToken,
		"intents":         float64(dgw.IntentGuilds | dgw.IntentGuildMessages),
		"properties":      map[string]any{"os": runtime.GOOS, "browser": "gavel", "device": "gavel"},
		"shard":           []any{float64(0), float64(1)},
		"large_threshold": float64(50),
	}
	if diff := cmp.Diff(want, identify); diff != "" {
		t.Errorf("IDENTIFY (-want +got):\n%s", diff)
	}
	// Open returned, so the handler already has READY.
	if got := rec.names(); len(got) != 1 || got[0] != "READY/1" {
		t.Errorf("handler got %v when Open returned, want [READY/1]", got)
	}
	if g.Status() != dgw.StatusReady {
		t.Errorf("status %s, want Ready", g.Status())
	}
	if sid := g.SessionID(); sid == nil || *sid != "sess-1" {
		t.Errorf("SessionID %v, want sess-1", sid)
	}
	if u := g.ResumeURL(); u == nil || *u != s.resumeURL() {
		t.Errorf("ResumeURL %v, want %s", u, s.resumeURL())
	}

	c.messageCreate(2, "hello")
	rec.waitFor(t, "MESSAGE_CREATE", func(n []string) bool { return len(n) == 2 })
	if diff := cmp.Diff([]string{"READY/1", "MESSAGE_CREATE/2:hello"}, rec.names()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if seq := g.LastSequenceReceived(); seq == nil || *seq != 2 {
		t.Errorf("LastSequenceReceived %v, want 2", seq)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g.Close(ctx)
	if code := c.expectClose(); code != websocket.CloseNormalClosure {
		t.Errorf("Close sent code %d, want 1000", code)
	}
	if g.SessionID() != nil || g.LastSequenceReceived() != nil || g.ResumeURL() != nil {
		t.Errorf("Close with 1000 kept the session: %v %v %v", g.SessionID(), g.LastSequenceReceived(), g.ResumeURL())
	}
	if g.Status() != dgw.StatusDisconnected {
		t.Errorf("status after Close %s, want Disconnected", g.Status())
	}
	if st := g.Stats(); st.Connects != 1 || st.Identifies != 1 || st.Reconnects != 0 {
		t.Errorf("stats %+v, want one connect and one identify", st)
	}
}

func TestOpenRefusesWithoutEventHandler(t *testing.T) {
	g, err := New(testToken, WithURL("ws://127.0.0.1:1/"))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Open(context.Background()); !errors.Is(err, ErrNoEventHandler) {
		t.Fatalf("Open without handler: %v, want ErrNoEventHandler", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, opts := range map[string][]Option{
		"http URL":           {WithURL("http://example.com")},
		"shard out of range": {WithShard(2, 2)},
		"large threshold":    {WithLargeThreshold(10)},
		"compression":        {WithCompression("zstd-stream")},
		"backoff":            {WithBackoff(time.Second, time.Millisecond)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(testToken, opts...); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	if _, err := New(""); err == nil {
		t.Error("New accepted an empty token")
	}
}

func TestOpenTwiceIsRefused(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	g, _ := testGateway(t, s)
	connect(t, s, g, longInterval)
	if err := g.Open(context.Background()); !errors.Is(err, discord.ErrGatewayAlreadyConnected) {
		t.Fatalf("second Open: %v, want ErrGatewayAlreadyConnected", err)
	}
}

// TestFirstHeartbeatWaitsIntervalTimesJitter: on a manual clock, the first heartbeat is due
// exactly interval × jitter after HELLO and the next one interval after it; the latency is
// the clock's time from a heartbeat to its ACK.
func TestFirstHeartbeatWaitsIntervalTimesJitter(t *testing.T) {
	const interval = 41250 * time.Millisecond // Discord's
	for _, jitter := range []float64{0.1, 0.8} {
		t.Run(fmt.Sprint(jitter), func(t *testing.T) {
			VerifyNoLeaks(t)
			s := newScriptServer(t)
			clk := clock.NewManual(t0)
			g, _ := testGateway(t, s, WithClock(clk), withJitter(func() float64 { return jitter }))
			errc := openAsync(g)
			c := s.accept()
			c.hello(interval)
			c.expect(dgw.OpcodeIdentify)
			due := t0.Add(time.Duration(jitter * float64(interval)))
			waitArmed(t, clk, due)
			clk.Set(due)
			first := c.expect(dgw.OpcodeHeartbeat)
			if string(first.D) != "null" {
				t.Errorf("heartbeat before any dispatch has d=%s, want null", first.D)
			}
			c.send(map[string]any{"op": 11})
			c.ready(1, "sess-1", s.resumeURL())
			if err := waitErr(t, errc); err != nil {
				t.Fatal(err)
			}
			due = due.Add(interval)
			waitArmed(t, clk, due)
			clk.Set(due)
			second := c.expect(dgw.OpcodeHeartbeat)
			if string(second.D) != "1" {
				t.Errorf("heartbeat after READY has d=%s, want 1", second.D)
			}
			clk.Advance(42 * time.Millisecond)
			c.send(map[string]any{"op": 11})
			waitUntil(t, "latency is measured", func() bool { return g.Latency() == 42*time.Millisecond })
		})
	}
}

func TestHeartbeatRequestIsAnsweredAtOnce(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	g, _ := testGateway(t, s)
	c, _ := connect(t, s, g, longInterval)
	c.messageCreate(2, "x")
	c.send(map[string]any{"op": 1, "d": nil})
	hb := c.expectWithin(dgw.OpcodeHeartbeat, time.Second)
	if string(hb.D) != "2" {
		t.Errorf("requested heartbeat d=%s, want 2", hb.D)
	}
}

func TestZombieConnectionIsDroppedAndResumed(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	const interval = 41250 * time.Millisecond
	clk := clock.NewManual(t0)
	g, rec := testGateway(t, s, WithClock(clk), withJitter(func() float64 { return 0 }))
	errc := openAsync(g)
	c := s.accept()
	c.hello(interval) // no ACKs on this connection
	c.expect(dgw.OpcodeIdentify)
	c.expect(dgw.OpcodeHeartbeat) // at HELLO (no jitter)
	c.ready(1, "sess-1", s.resumeURL())
	if err := waitErr(t, errc); err != nil {
		t.Fatal(err)
	}
	c.messageCreate(2, "before")
	rec.waitForLen(t, 2)
	// The next heartbeat is due with the first still unacknowledged: a zombie.
	waitArmed(t, clk, t0.Add(interval))
	clk.Set(t0.Add(interval))

	if code := c.expectClose(); code == websocket.CloseNormalClosure || code == websocket.CloseGoingAway {
		t.Errorf("zombie connection closed with %d; 1000 and 1001 end the session", code)
	}
	c2 := s.accept()
	if c2.path != "/resume" {
		t.Errorf("reconnected to %s, want READY's resume URL", c2.path)
	}
	c2.setAutoAck(true)
	c2.hello(longInterval)
	resume := c2.next(true)
	if resume.Op != dgw.OpcodeResume {
		t.Fatalf("after a zombie, client sent op %d, want RESUME", resume.Op)
	}
	var d dgw.MessageDataResume
	if err := json.Unmarshal(resume.D, &d); err != nil {
		t.Fatal(err)
	}
	if d != (dgw.MessageDataResume{Token: testToken, SessionID: "sess-1", Seq: 2}) {
		t.Errorf("RESUME %+v, want token, sess-1, seq 2", d)
	}
	c2.dispatch(3, "RESUMED", map[string]any{})
	rec.waitFor(t, "RESUMED", func(n []string) bool { return len(n) == 3 })
	if st := g.Stats(); st.Zombies != 1 || st.Resumes != 1 || st.Reconnects != 1 {
		t.Errorf("stats %+v, want one zombie, one resume, one reconnect", st)
	}
	waitUntil(t, "ready again", func() bool { return g.Status() == dgw.StatusReady })
}

func TestReconnectOpcodeResumesAtOnce(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	// A long backoff: reconnecting after a ready session must not wait for it.
	g, rec := testGateway(t, s, WithBackoff(10*time.Second, 10*time.Second))
	c, _ := connect(t, s, g, longInterval)
	c.messageCreate(2, "a")
	rec.waitForLen(t, 2)

	c.send(map[string]any{"op": 7, "d": nil})
	if code := c.expectClose(); code == websocket.CloseNormalClosure || code == websocket.CloseGoingAway {
		t.Errorf("op 7 closed with %d, which ends the session", code)
	}
	c2 := s.accept()
	if c2.path != "/resume" {
		t.Errorf("op 7 reconnected to %s, want /resume", c2.path)
	}
	c2.hello(longInterval)
	var d dgw.MessageDataResume
	if err := json.Unmarshal(c2.expect(dgw.OpcodeResume).D, &d); err != nil {
		t.Fatal(err)
	}
	if d.SessionID != "sess-1" || d.Seq != 2 {
		t.Errorf("RESUME %+v, want sess-1 at seq 2", d)
	}
	c2.messageCreate(3, "replayed")
	c2.dispatch(4, "RESUMED", map[string]any{})
	c2.messageCreate(5, "live")
	rec.waitForLen(t, 5)
	want := []string{"READY/1", "MESSAGE_CREATE/2:a", "MESSAGE_CREATE/3:replayed", "RESUMED/4", "MESSAGE_CREATE/5:live"}
	if diff := cmp.Diff(want, rec.names()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestInvalidSessionResumableWaitsThenResumes(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	const delay = 2 * time.Second
	clk := clock.NewManual(t0)
	g, _ := testGateway(t, s, WithClock(clk), WithInvalidSessionDelay(delay, delay))
	c, _ := connect(t, s, g, longInterval)

	c.send(map[string]any{"op": 9, "d": true})
	if code := c.expectClose(); code == websocket.CloseNormalClosure {
		t.Errorf("op 9 d=true closed with 1000, which ends the session")
	}
	// The reconnect waits the delay on the clock, which has not moved: no dial yet.
	waitArmed(t, clk, t0.Add(delay))
	if n := len(s.dialLog()); n != 1 {
		t.Fatalf("%d dials before the delay passed; want the first only", n)
	}
	clk.Advance(delay)
	c2 := s.accept()
	if c2.path != "/resume" {
		t.Errorf("reconnected to %s, want /resume", c2.path)
	}
	c2.hello(longInterval)
	c2.expect(dgw.OpcodeResume)
	c2.dispatch(2, "RESUMED", map[string]any{})
	waitUntil(t, "resumed", func() bool { return g.Stats().Resumes == 1 })
}

func TestInvalidSessionNotResumableReidentifies(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	const delay = 3 * time.Second
	clk := clock.NewManual(t0)
	g, rec := testGateway(t, s, WithClock(clk), WithInvalidSessionDelay(delay, delay))
	c, _ := connect(t, s, g, longInterval)

	c.send(map[string]any{"op": 9, "d": false})
	c.expectClose()
	waitArmed(t, clk, t0.Add(delay))
	if n := len(s.dialLog()); n != 1 {
		t.Fatalf("%d dials before the delay passed; want the first only", n)
	}
	clk.Advance(delay)
	c2 := s.accept()
	if c2.path != "/gw" {
		t.Errorf("new session dialed %s, want the configured URL /gw", c2.path)
	}
	c2.hello(longInterval)
	c2.expect(dgw.OpcodeIdentify)
	c2.ready(1, "sess-2", s.resumeURL())
	rec.waitFor(t, "second READY", func(n []string) bool { return len(n) == 2 })
	if sid := g.SessionID(); sid == nil || *sid != "sess-2" {
		t.Errorf("session %v, want sess-2", sid)
	}
	if st := g.Stats(); st.InvalidSessions != 1 || st.Identifies != 2 {
		t.Errorf("stats %+v, want one invalid session and two identifies", st)
	}
}

func TestCloseCodes(t *testing.T) {
	const (
		resume   = "resume"
		identify = "identify"
		stop     = "stop"
	)
	cases := []struct {
		code int // 0: drop the TCP connection without a close frame
		want string
	}{
		{0, resume},
		{1000, resume},
		{1001, resume},
		{CloseUnknownError, resume},
		{CloseUnknownOpcode, resume},
		{CloseDecodeError, resume},
		{CloseNotAuthenticated, resume},
		{CloseAlreadyAuthenticated, resume},
		{CloseRateLimited, resume},
		{4999, resume},
		{CloseInvalidSeq, identify},
		{CloseSessionTimedOut, identify},
		{CloseAuthenticationFailed, stop},
		{CloseInvalidShard, stop},
		{CloseShardingRequired, stop},
		{CloseInvalidAPIVersion, stop},
		{CloseInvalidIntents, stop},
		{CloseDisallowedIntents, stop},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d_%s", tc.code, tc.want), func(t *testing.T) {
			VerifyNoLeaks(t)
			s := newScriptServer(t)
			closed := make(chan error, 2)
			g, _ := testGateway(t, s, WithCloseHandler(func(err error) { closed <- err }))
			c, _ := connect(t, s, g, longInterval)
			c.messageCreate(2, "x")
			waitUntil(t, "seq 2", func() bool { p := g.LastSequenceReceived(); return p != nil && *p == 2 })

			if tc.code == 0 {
				c.drop()
			} else {
				c.closeWith(tc.code, "scripted")
			}

			switch tc.want {
			case stop:
				var err error
				select {
				case err = <-closed:
				case <-time.After(5 * time.Second):
					t.Fatal("close handler not called")
				}
				var ce *CloseError
				if !errors.As(err, &ce) || ce.Code != tc.code || !ce.Fatal() || ce.Reason != "scripted" {
					t.Fatalf("close handler got %v, want a fatal *CloseError %d", err, tc.code)
				}
				if !errors.Is(g.Err(), &CloseError{Code: tc.code}) {
					t.Errorf("Err() = %v, want close code %d", g.Err(), tc.code)
				}
				s.noConnection(300 * time.Millisecond)
				if g.Status() != dgw.StatusDisconnected || g.SessionID() != nil {
					t.Errorf("after a fatal close: status %s, session %v", g.Status(), g.SessionID())
				}
				if g.Stats().LastCloseCode != tc.code {
					t.Errorf("LastCloseCode %d, want %d", g.Stats().LastCloseCode, tc.code)
				}
			case resume:
				c2 := s.accept()
				c2.hello(longInterval)
				p := c2.expect(dgw.OpcodeResume)
				if c2.path != "/resume" {
					t.Errorf("resumed at %s, want /resume", c2.path)
				}
				if !strings.Contains(string(p.D), `"seq":2`) {
					t.Errorf("RESUME %s, want seq 2", p.D)
				}
				c2.dispatch(3, "RESUMED", map[string]any{})
				waitUntil(t, "resumed", func() bool { return g.Status() == dgw.StatusReady })
			case identify:
				c2 := s.accept()
				c2.hello(longInterval)
				c2.expect(dgw.OpcodeIdentify)
				if c2.path != "/gw" {
					t.Errorf("new session at %s, want /gw", c2.path)
				}
				c2.ready(1, "sess-2", s.resumeURL())
				waitUntil(t, "ready", func() bool { return g.Status() == dgw.StatusReady })
			}
			select {
			case err := <-closed:
				if tc.want != stop {
					t.Errorf("close handler called with %v for a code that reconnects", err)
				}
			default:
			}
		})
	}
}

func TestFatalCloseDuringOpenIsReturned(t *testing.T) {
	for _, code := range []int{CloseAuthenticationFailed, CloseDisallowedIntents} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			VerifyNoLeaks(t)
			s := newScriptServer(t)
			handlerCalled := make(chan error, 1)
			g, _ := testGateway(t, s, WithCloseHandler(func(err error) { handlerCalled <- err }))
			errc := openAsync(g)
			c := s.accept()
			c.hello(longInterval)
			c.expect(dgw.OpcodeIdentify)
			c.closeWith(code, "")
			err := waitErr(t, errc)
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Code != code || !ce.Fatal() {
				t.Fatalf("Open: %v, want a fatal *CloseError %d", err, code)
			}
			if !strings.Contains(err.Error(), closeNames[code]) {
				t.Errorf("error %q does not name the problem (%s)", err, closeNames[code])
			}
			s.noConnection(200 * time.Millisecond)
			select {
			case err := <-handlerCalled:
				t.Errorf("close handler called (%v); Open already returned the error", err)
			default:
			}
		})
	}
}

func TestBackoffDelayIsCappedWithJitter(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999999} {
		b := backoff{base: time.Second, max: 60 * time.Second, rand: func() float64 { return r }}
		prevCeil := time.Duration(0)
		for attempt := 1; attempt <= 40; attempt++ {
			ceil := min(time.Second<<min(attempt-1, 30), 60*time.Second)
			d := b.delay(attempt)
			if d < ceil/2 || d > ceil {
				t.Fatalf("rand %v attempt %d: delay %v, want within [%v, %v]", r, attempt, d, ceil/2, ceil)
			}
			if ceil < prevCeil {
				t.Fatalf("ceiling shrank")
			}
			prevCeil = ceil
		}
	}
	b := backoff{base: time.Second, max: 60 * time.Second, rand: rand.Float64}
	for attempt := 1; attempt < 1000; attempt++ {
		if d := b.delay(attempt); d > 60*time.Second {
			t.Fatalf("attempt %d waits %v, more than the 60s cap", attempt, d)
		}
	}
	if b.delay(0) != 0 {
		t.Error("attempt 0 should not wait")
	}
}

func TestUnreachableGatewayIsRetriedWithBackoff(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	s.refuse(4)
	clk := clock.NewManual(t0)
	g, _ := testGateway(t, s, WithClock(clk), WithBackoff(4*time.Second, 10*time.Second))
	errc := openAsync(g)
	// Each refused dial is followed by a wait on the clock of half to all of its ceiling:
	// 4, 8, 10 (capped), 10 s. The clock moves only when the gateway waits on it.
	for i, ceiling := range []time.Duration{4, 8, 10, 10} {
		ceiling *= time.Second
		waitUntil(t, fmt.Sprintf("dial %d", i+1), func() bool { return len(s.dialLog()) == i+1 })
		now := clk.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := clk.WaitArmedAfter(ctx, now)
		cancel()
		if err != nil {
			t.Fatalf("no backoff after dial %d: %v", i+1, err)
		}
		armed := clk.Armed()
		if wait := armed[0].Sub(now); len(armed) != 1 || wait < ceiling/2 || wait > ceiling {
			t.Fatalf("after dial %d: timers %v, %v from now; want one, %v to %v", i+1, armed, wait, ceiling/2, ceiling)
		}
		if n := len(s.dialLog()); n != i+1 {
			t.Fatalf("%d dials before the backoff passed; want %d", n, i+1)
		}
		clk.Set(armed[0])
	}
	c := s.accept()
	c.setAutoAck(true)
	c.hello(longInterval)
	c.expect(dgw.OpcodeIdentify)
	c.ready(1, "sess-1", s.resumeURL())
	if err := waitErr(t, errc); err != nil {
		t.Fatalf("Open: %v", err)
	}
	if n := len(s.dialLog()); n != 5 {
		t.Fatalf("%d dials, want 4 refused and 1 accepted", n)
	}
	if g.Stats().Reconnects != 4 {
		t.Errorf("Reconnects %d, want 4", g.Stats().Reconnects)
	}
}

func TestOpenGivesUpWhenItsContextEnds(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	s.refuse(1 << 30)
	g, _ := testGateway(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := g.Open(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Open: %v, want the deadline and the last attempt's 503", err)
	}
	if g.Status() != dgw.StatusDisconnected {
		t.Errorf("status %s after a failed Open", g.Status())
	}
}

func TestCloseDuringBackoffReturnsPromptly(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	s.refuse(1 << 30)
	// On a manual clock that never moves, the backoff never ends: Close must cut it short.
	clk := clock.NewManual(t0)
	g, _ := testGateway(t, s, WithClock(clk), WithBackoff(time.Second, time.Second))
	errc := openAsync(g)
	waitUntil(t, "a dial", func() bool { return len(s.dialLog()) >= 1 })
	waitCtx, waitCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer waitCancel()
	if err := clk.WaitArmed(waitCtx, 1); err != nil {
		t.Fatalf("no backoff: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g.Close(ctx)
	if ctx.Err() != nil {
		t.Errorf("Close waited until its context ended while backing off")
	}
	if err := waitErr(t, errc); err == nil || !errors.Is(err, errClosedDuringOpen) {
		t.Errorf("Open: %v, want errClosedDuringOpen", err)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				t.Errorf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), strings.Join(gatewayGoroutines(), "\n\n"))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	g, _ := testGateway(t, s, withJitter(func() float64 { return 0 }))
	c, _ := connect(t, s, g, 50*time.Millisecond)
	c.expect(dgw.OpcodeHeartbeat)
	// Reconnect once so a second connection's goroutines exist too.
	c.send(map[string]any{"op": 7})
	c2 := s.accept()
	c2.setAutoAck(true)
	c2.hello(50 * time.Millisecond)
	c2.expect(dgw.OpcodeResume)
	c2.dispatch(2, "RESUMED", nil)
	waitUntil(t, "resumed", func() bool { return g.Status() == dgw.StatusReady })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g.Close(ctx)
	// Close returns once every goroutine has finished its work; each may still be on its
	// way out of its last deferred call, so allow a moment.
	deadline := time.Now().Add(time.Second)
	for left := gatewayGoroutines(); len(left) > 0; left = gatewayGoroutines() {
		if time.Now().After(deadline) {
			t.Fatalf("%d gateway goroutines still running a second after Close:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCloseWithResumableCodeKeepsTheSession(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	g, rec := testGateway(t, s)
	c, _ := connect(t, s, g, longInterval)
	c.messageCreate(2, "x")
	rec.waitForLen(t, 2)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g.CloseWithCode(ctx, 4000, "restarting")
	if code := c.expectClose(); code != 4000 {
		t.Errorf("close code %d, want 4000", code)
	}
	if sid := g.SessionID(); sid == nil || *sid != "sess-1" {
		t.Fatalf("session %v after a resumable close, want sess-1", sid)
	}

	errc := openAsync(g)
	c2 := s.accept()
	c2.hello(longInterval)
	if p := c2.expect(dgw.OpcodeResume); !strings.Contains(string(p.D), `"seq":2`) {
		t.Errorf("RESUME %s, want seq 2", p.D)
	}
	c2.dispatch(3, "RESUMED", nil)
	if err := waitErr(t, errc); err != nil {
		t.Fatalf("reopen: %v", err)
	}
}

func TestZlibStream(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	g, rec := testGateway(t, s, WithCompression(CompressionZlibStream))
	errc := openAsync(g)
	c := s.accept()
	if c.query.Get("compress") != "zlib-stream" {
		t.Fatalf("query %v, want compress=zlib-stream", c.query)
	}
	c.hello(longInterval)
	c.expect(dgw.OpcodeIdentify)
	// READY arrives in three frames; only the last ends with the sync marker.
	ready, _ := json.Marshal(map[string]any{"op": 0, "s": 1, "t": "READY", "d": map[string]any{
		"v": 10, "session_id": "z", "resume_gateway_url": s.resumeURL(),
		"user":        map[string]any{"id": "1", "username": "gavel", "discriminator": "0"},
		"application": map[string]any{"id": "1", "flags": 0},
	}})
	c.sendRaw(ready, 3)
	if err := waitErr(t, errc); err != nil {
		t.Fatal(err)
	}
	// A message larger than the 32 KiB window, and little ones sharing the context.
	big := make([]byte, 100_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte('a' + rng.IntN(26))
	}
	c.messageCreate(2, "one")
	c.messageCreate(3, string(big))
	c.messageCreate(4, "three")
	rec.waitForLen(t, 4)
	names := rec.names()
	if names[1] != "MESSAGE_CREATE/2:one" || !strings.HasPrefix(names[2], "MESSAGE_CREATE/3:") || names[3] != "MESSAGE_CREATE/4:three" {
		t.Errorf("events %.80q", names)
	}
	if m := rec.dispatches()[2].d.(dgw.EventMessageCreate); m.Content != string(big) {
		t.Errorf("big message corrupted: %d bytes", len(m.Content))
	}
}

func TestSendQueuesUnderTheRateLimit(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	const window = 60 * time.Second // Discord's
	clk := clock.NewManual(t0)
	g, _ := testGateway(t, s, WithClock(clk), WithSendRateLimit(10, window)) // 5 reserved: 5 per window for callers
	var mu sync.Mutex
	var granted []time.Time
	g.sends.granted = func(at time.Time) { mu.Lock(); granted = append(granted, at); mu.Unlock() }
	c, _ := connect(t, s, g, time.Hour) // no heartbeat while the clock moves two windows

	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 12 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			errs <- g.Send(ctx, dgw.OpcodePresenceUpdate, dgw.MessageDataPresenceUpdate{Status: discord.OnlineStatusOnline, Since: new(int64(i))})
		})
	}
	// The IDENTIFY and four callers fill the first window; the rest wait on the clock for
	// the oldest send to leave it, one window, then another.
	for _, at := range []time.Time{t0.Add(window), t0.Add(2 * window)} {
		waitArmed(t, clk, at)
		clk.Set(at)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	for range 12 {
		c.expect(dgw.OpcodePresenceUpdate)
	}
	mu.Lock()
	grants := append([]time.Time(nil), granted...)
	mu.Unlock()
	for i := range grants {
		n := 0
		for j := i; j < len(grants) && grants[j].Sub(grants[i]) < window; j++ {
			n++
		}
		if n > 5 {
			t.Fatalf("%d sends within %v starting at send %d", n, window, i)
		}
	}
	if last := grants[len(grants)-1]; len(grants) != 13 || !last.Equal(t0.Add(2*window)) {
		t.Errorf("%d sends, the last at %v; want the IDENTIFY and 12, the last two windows after the first", len(grants), last.Sub(t0))
	}

	// A caller whose context ends while queued gets its error instead of waiting.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	for range 10 {
		if err := g.Send(ctx, dgw.OpcodePresenceUpdate, dgw.MessageDataPresenceUpdate{}); err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("queued Send: %v, want the deadline", err)
			}
			return
		}
	}
	t.Error("Send never waited for the rate limit")
}

func TestSendRefusesWhenNotReadyOrTooLarge(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	g, _ := testGateway(t, s)
	err := g.Send(context.Background(), dgw.OpcodePresenceUpdate, dgw.MessageDataPresenceUpdate{})
	if !errors.Is(err, discord.ErrShardNotReady) {
		t.Errorf("Send before Open: %v, want ErrShardNotReady", err)
	}
	connect(t, s, g, longInterval)
	big := dgw.MessageDataPresenceUpdate{Activities: []discord.Activity{{Name: strings.Repeat("x", 5000)}}}
	if err := g.Send(context.Background(), dgw.OpcodePresenceUpdate, big); err == nil || !strings.Contains(err.Error(), "4096") {
		t.Errorf("oversized Send: %v, want a size error", err)
	}
}

func TestPresenceIsRestoredOnIdentify(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	g, _ := testGateway(t, s, WithPresence(dgw.WithOnlineStatus(discord.OnlineStatusIdle)))
	c, id := connect(t, s, g, longInterval)
	if !strings.Contains(string(id.D), `"status":"idle"`) {
		t.Errorf("IDENTIFY %s lacks the configured presence", id.D)
	}
	// disgo's SetPresence edits what Presence returns; it must be a copy.
	p := g.Presence()
	p.Status = discord.OnlineStatusDND
	if g.Presence().Status != discord.OnlineStatusIdle {
		t.Fatal("Presence returned the gateway's own value")
	}
	if err := g.Send(context.Background(), dgw.OpcodePresenceUpdate, *p); err != nil {
		t.Fatal(err)
	}
	c.expect(dgw.OpcodePresenceUpdate)
	c.send(map[string]any{"op": 9, "d": false})
	c2 := s.accept()
	c2.hello(longInterval)
	if id := c2.expect(dgw.OpcodeIdentify); !strings.Contains(string(id.D), `"status":"dnd"`) {
		t.Errorf("re-IDENTIFY %s lacks the presence last sent", id.D)
	}
}

// The limiter waits on the wall clock, which a synctest bubble moves only when every
// goroutine in it waits: the times are exact and take no real time.
func TestIdentifyLimiterSpacesBuckets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const every = DefaultIdentifyInterval
		l := NewIdentifyLimiter(2, every)
		ctx := context.Background()
		start := time.Now()
		mustWait := func(shard int, at time.Duration) {
			t.Helper()
			if err := l.Wait(ctx, shard); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d != at {
				t.Errorf("shard %d identified at %v, want %v", shard, d, at)
			}
		}
		mustWait(0, 0)     // first in bucket 0: at once
		mustWait(1, 0)     // bucket 1 is separate
		mustWait(2, every) // bucket 0 again
		// An abandoned wait gives its slot back.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := l.Wait(cctx, 1); err == nil {
			t.Fatal("Wait with a cancelled context succeeded")
		}
		mustWait(3, every) // bucket 1's second slot, not its third
	})
}

func TestReidentifyWaitsForTheIdentifyLimit(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	const every = DefaultIdentifyInterval
	clk := clock.NewManual(t0)
	limiter := &identifyBuckets{maxConcurrency: 1, interval: every, next: map[int]time.Time{}, clock: clk}
	g, _ := testGateway(t, s, WithClock(clk), WithIdentifyLimiter(limiter), WithInvalidSessionDelay(0, 0))
	c, _ := connect(t, s, g, longInterval)
	c.send(map[string]any{"op": 9, "d": false})
	// The new session's IDENTIFY waits for the limiter's next slot: no dial until then.
	waitArmed(t, clk, t0.Add(every))
	if n := len(s.dialLog()); n != 1 {
		t.Fatalf("%d dials before the identify interval passed; want the first only", n)
	}
	clk.Set(t0.Add(every))
	c2 := s.accept()
	c2.hello(longInterval)
	c2.expect(dgw.OpcodeIdentify)
}

func TestSlowHandlerDoesNotStopHeartbeats(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	const interval = 41250 * time.Millisecond
	clk := clock.NewManual(t0)
	g, rec := testGateway(t, s, WithClock(clk), withJitter(func() float64 { return 0 }), WithEventBuffer(2))
	release := rec.blockOn(dgw.EventTypeMessageCreate)
	c, _ := connect(t, s, g, interval)
	c.expect(dgw.OpcodeHeartbeat) // the first, at HELLO (no jitter)
	for i := range 5 {            // more than the buffer holds
		c.messageCreate(2+i, fmt.Sprint(i))
	}
	waitUntil(t, "the reader to stall behind the handler", func() bool {
		g.mu.Lock()
		cn := g.conn
		g.mu.Unlock()
		return cn != nil && cn.stalled.Load()
	})
	// The handler is stuck and the ACKs unread: every heartbeat still goes out when due,
	// and none counts as unacknowledged.
	due := t0
	for range 4 {
		due = due.Add(interval)
		waitArmed(t, clk, due)
		clk.Set(due)
		c.expect(dgw.OpcodeHeartbeat)
	}
	if st := g.Stats(); st.Zombies != 0 || st.Reconnects != 0 {
		t.Errorf("a slow handler caused reconnects: %+v", st)
	}
	close(release)
	rec.waitForLen(t, 6)
	want := []string{"READY/1", "MESSAGE_CREATE/2:0", "MESSAGE_CREATE/3:1", "MESSAGE_CREATE/4:2", "MESSAGE_CREATE/5:3", "MESSAGE_CREATE/6:4"}
	if diff := cmp.Diff(want, rec.names()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestUndecodableDispatchIsSkippedButCounted(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	g, rec := testGateway(t, s)
	c, _ := connect(t, s, g, longInterval)
	c.dispatch(2, "MESSAGE_CREATE", map[string]any{"id": []int{1}}) // id must be a snowflake string
	c.messageCreate(3, "after")
	rec.waitForLen(t, 2)
	if diff := cmp.Diff([]string{"READY/1", "MESSAGE_CREATE/3:after"}, rec.names()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if st := g.Stats(); st.DecodeErrors != 1 {
		t.Errorf("DecodeErrors %d, want 1", st.DecodeErrors)
	}
}

func TestPanickingHandlerDoesNotStopTheGateway(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	g, rec := testGateway(t, s)
	c, _ := connect(t, s, g, longInterval)
	g.SetEventHandler(func(gw dgw.Gateway, et dgw.EventType, seq int, ev dgw.EventData) {
		if m, ok := ev.(dgw.EventMessageCreate); ok && m.Content == "boom" {
			panic("listener bug")
		}
		rec.handle(gw, et, seq, ev)
	})
	c.messageCreate(2, "boom")
	c.messageCreate(3, "fine")
	rec.waitFor(t, "the event after the panic", func(n []string) bool { return len(n) == 2 })
}

func TestRawEvents(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	g, rec := testGateway(t, s, WithRawEvents(true))
	c, _ := connect(t, s, g, longInterval)
	c.messageCreate(2, "raw")
	rec.waitForLen(t, 4) // READY raw+typed, MESSAGE_CREATE raw+typed
	ev := rec.dispatches()[2]
	raw, ok := ev.d.(dgw.EventRaw)
	if ev.t != dgw.EventTypeRaw || !ok || raw.EventType != dgw.EventTypeMessageCreate {
		t.Fatalf("third event %v %T, want the raw MESSAGE_CREATE", ev.t, ev.d)
	}
	body, _ := io.ReadAll(raw.Payload)
	if !strings.Contains(string(body), `"content":"raw"`) {
		t.Errorf("raw payload %s", body)
	}
}

func TestCloseDrainsQueuedEventsOnlyWhenTheSessionLivesOn(t *testing.T) {
	for _, tc := range []struct {
		code int
		want []string
	}{
		{websocket.CloseNormalClosure, []string{"READY/1", "MESSAGE_CREATE/2:a"}},
		{4000, []string{"READY/1", "MESSAGE_CREATE/2:a", "MESSAGE_CREATE/3:b", "MESSAGE_CREATE/4:c"}},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			VerifyNoLeaks(t)
			s := newScriptServer(t)
			g, rec := testGateway(t, s)
			c, _ := connect(t, s, g, longInterval)
			release := rec.blockOn(dgw.EventTypeMessageCreate)
			c.messageCreate(2, "a")
			c.messageCreate(3, "b")
			c.messageCreate(4, "c")
			waitUntil(t, "all three queued", func() bool { p := g.LastSequenceReceived(); return p != nil && *p == 4 })
			// The first must be in its handler before the close: received is not handled,
			// and a close with 1000 drops what has not started (it failed so once, loaded).
			rec.waitFor(t, "message 2 in its handler", func(names []string) bool { return slices.Contains(names, "MESSAGE_CREATE/2:a") })

			closed := make(chan struct{})
			go func() {
				defer close(closed)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				g.CloseWithCode(ctx, tc.code, "test")
			}()
			c.expectClose()
			close(release)
			<-closed
			if diff := cmp.Diff(tc.want, rec.names()); diff != "" {
				t.Errorf("handled when CloseWithCode(%d) returned (-want +got):\n%s", tc.code, diff)
			}
		})
	}
}

// A dispatch WithSkip reports reaches no handler, raw or decoded, and skip sees it before it
// is decoded; the sequence still advances past it, so a resume does not ask for it again.
func TestSkippedDispatchesAdvanceTheSequence(t *testing.T) {
	VerifyNoLeaks(t)
	s := newScriptServer(t)
	var mu sync.Mutex
	var seen []string
	g, rec := testGateway(t, s, WithRawEvents(true), WithSkip(func(et dgw.EventType, d []byte) bool {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, string(et))
		return et == dgw.EventTypeMessageCreate && strings.Contains(string(d), `"content":"skip me"`)
	}))
	c, _ := connect(t, s, g, longInterval)
	c.messageCreate(2, "skip me")
	c.messageCreate(3, "keep me")
	rec.waitForLen(t, 4) // READY raw+typed, the kept MESSAGE_CREATE raw+typed
	if p := g.LastSequenceReceived(); p == nil || *p != 3 {
		t.Fatalf("last sequence %v; want 3", p)
	}
	for _, ev := range rec.dispatches() {
		if m, ok := ev.d.(dgw.EventMessageCreate); ok && m.Content != "keep me" {
			t.Errorf("a skipped message reached the handler: %q", m.Content)
		}
		if raw, ok := ev.d.(dgw.EventRaw); ok && raw.EventType == dgw.EventTypeMessageCreate {
			if body, _ := io.ReadAll(raw.Payload); strings.Contains(string(body), "skip me") {
				t.Errorf("a skipped message reached the handler raw: %s", body)
			}
		}
	}
	if n := len(rec.dispatches()); n != 4 {
		t.Errorf("%d dispatches handled; want 4", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"READY", "MESSAGE_CREATE", "MESSAGE_CREATE"}, seen); diff != "" {
		t.Errorf("skip was asked about (-want +got):\n%s", diff)
	}
}
