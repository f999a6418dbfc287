package gateway_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/disgoorg/disgo/bot"
	"github.com/disgoorg/disgo/cache"
	"github.com/disgoorg/disgo/events"
	dgw "github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/snowflake/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/discordtest"
)

// These tests run the real disgo client on gavel's gateway against the fake Discord, over
// real WebSocket, under -race: what the bot will do in production, minus Discord.

// world is a fake with a guild, a text channel and a member who talks in it.
type world struct {
	fake    *discordtest.Server
	guild   discordtest.ID
	channel discordtest.ID
	user    discordtest.ID
}

// heartbeat is short for speed, but long enough that a loaded CI machine does not miss ACKs
// (a zombie).
const heartbeat = 300 * time.Millisecond

// newWorld's fake runs its zombie watchdog (4009 after two intervals without a heartbeat)
// on a manual clock nobody moves: a client heartbeating on the wall clock of a loaded
// machine can be late by more than an interval, and no test here is about the watchdog. A
// test that wants it passes a clock of its own (the later option wins).
func newWorld(t *testing.T, opts ...discordtest.Option) *world {
	t.Helper()
	fake := discordtest.New(t, append([]discordtest.Option{
		discordtest.WithLogger(gateway.QuietLogger()),
		discordtest.WithHeartbeatInterval(heartbeat),
		discordtest.WithHeartbeatClock(clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))),
		discordtest.WithIdentifyInterval(200 * time.Millisecond),
	}, opts...)...)
	w := &world{fake: fake}
	w.user = fake.AddUser("alice", false)
	w.guild = fake.AddGuild("gavel test", w.user)
	w.channel = fake.AddChannel(w.guild, discordtest.ChannelGuildText, "general")
	return w
}

// botClient is a disgo client on gavel's gateway, recording what its listeners see.
type botClient struct {
	client *bot.Client
	gw     *gateway.Gateway

	mu       sync.Mutex
	messages []string
	readies  int
	resumes  int
	// seen is closed and replaced on every event disgo hands the listeners, after disgo has
	// cached what the event carries: waitFor waits on it.
	seen     chan struct{}
	closeErr chan error

	closeOnce sync.Once
}

func (b *botClient) contents() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.messages)
}

func (b *botClient) waitMessages(t *testing.T, n int) {
	t.Helper()
	b.waitFor(t, fmt.Sprintf("%d messages", n), func() bool { return len(b.contents()) >= n })
}

// waitFor waits until cond holds, checking it again after each event disgo dispatches.
func (b *botClient) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		seen := b.seen
		b.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-seen:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitStats waits until cond holds for the fake's gateway stats, woken by the fake's own
// changes (connections, sessions, heartbeats, closes), and returns them.
func (w *world) waitStats(t *testing.T, what string, cond func(discordtest.GatewayStats) bool) discordtest.GatewayStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := w.fake.WaitGatewayStats(ctx, cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v (the fake saw %+v)", what, err, st)
	}
	return st
}

// newBot builds the client; token "" means the fake's.
func (w *world) newBot(t *testing.T, token string, opts ...gateway.Option) *botClient {
	t.Helper()
	if token == "" {
		token = w.fake.Token()
	}
	b := &botClient{closeErr: make(chan error, 1), seen: make(chan struct{})}
	gwOpts := append([]gateway.Option{
		gateway.WithURL(w.fake.GatewayURL),
		gateway.WithLogger(gateway.QuietLogger()),
		gateway.WithIntents(dgw.IntentGuilds, dgw.IntentGuildMessages, dgw.IntentMessageContent),
		gateway.WithBackoff(10*time.Millisecond, 100*time.Millisecond),
		gateway.WithInvalidSessionDelay(20*time.Millisecond, 50*time.Millisecond),
		// The fake allows one IDENTIFY per 200 ms, measured when IDENTIFY arrives; the
		// limiter gates the dial before it, so it keeps a margin as the default does.
		gateway.WithIdentifyLimiter(gateway.NewIdentifyLimiter(1, 300*time.Millisecond)),
		gateway.WithCloseHandler(func(err error) { b.closeErr <- err }),
	}, opts...)
	client, g, err := gateway.NewClient(token, gwOpts,
		bot.WithLogger(gateway.QuietLogger()),
		// disgo caches nothing unless told to.
		bot.WithCacheConfigOpts(cache.WithCaches(cache.FlagGuilds, cache.FlagChannels, cache.FlagRoles, cache.FlagMembers)),
		bot.WithRestClientConfigOpts(rest.WithURL(w.fake.APIURL())),
		bot.WithEventListenerFunc(func(e *events.MessageCreate) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.messages = append(b.messages, e.Message.Content)
		}),
		bot.WithEventListenerFunc(func(*events.Ready) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.readies++
		}),
		bot.WithEventListenerFunc(func(*events.Resumed) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.resumes++
		}),
		// Registered last: disgo calls listeners in order, so the ones above have counted.
		bot.WithEventListenerFunc(func(bot.Event) {
			b.mu.Lock()
			defer b.mu.Unlock()
			close(b.seen)
			b.seen = make(chan struct{})
		}),
	)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	b.client, b.gw = client, g
	t.Cleanup(b.close)
	return b
}

// close closes the client once: disgo's REST rate limiter keeps its lock after Close, so a
// second bot.Client.Close deadlocks.
func (b *botClient) close() {
	b.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.client.Close(ctx)
	})
}

func (b *botClient) open(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.client.OpenGateway(ctx); err != nil {
		t.Fatalf("OpenGateway: %v", err)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (w *world) say(msgs ...string) {
	for _, m := range msgs {
		w.fake.SendMessage(w.channel, w.user, m)
	}
}

func numbered(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("m%02d", i))
	}
	return out
}

func TestDisgoReceivesEventsThroughGavelsGateway(t *testing.T) {
	for _, comp := range []gateway.Compression{gateway.CompressionNone, gateway.CompressionZlibStream} {
		t.Run(fmt.Sprintf("compression=%q", comp), func(t *testing.T) {
			gateway.VerifyNoLeaks(t)
			w := newWorld(t)
			b := w.newBot(t, "", gateway.WithCompression(comp))
			b.open(t)

			b.mu.Lock()
			readies := b.readies
			b.mu.Unlock()
			if readies != 1 {
				t.Errorf("disgo saw %d READY events when OpenGateway returned, want 1", readies)
			}
			b.waitFor(t, "the guild in disgo's cache", func() bool {
				_, ok := b.client.Caches.Guild(snowflake.ID(w.guild))
				return ok
			})
			if g, _ := b.client.Caches.Guild(snowflake.ID(w.guild)); g.Name != "gavel test" {
				t.Errorf("cached guild %q, want %q", g.Name, "gavel test")
			}
			// disgo caches the guild before its channels, from the same GUILD_CREATE.
			b.waitFor(t, "GUILD_CREATE's channel in disgo's cache", func() bool {
				_, ok := b.client.Caches.Channel(snowflake.ID(w.channel))
				return ok
			})

			w.say("hello gavel")
			b.waitMessages(t, 1)
			if got := b.contents(); got[0] != "hello gavel" {
				t.Errorf("listener got %q", got)
			}
			// The client heartbeats on the wall clock; the fake's watchdog does not (newWorld),
			// so a late heartbeat on a loaded machine delays this wait instead of ending the
			// session with 4009.
			w.waitStats(t, "heartbeats to reach the fake", func(st discordtest.GatewayStats) bool { return st.HeartbeatsReceived >= 2 })
			// The latency is the gateway's own state, with no event of its own to wait on
			// (disgo's heartbeat-ACK event is dropped when its handler is behind).
			waitUntil(t, "latency to be measured", func() bool { return b.gw.Latency() > 0 })

			b.close()
			st := w.waitStats(t, "the fake to see the close", func(st discordtest.GatewayStats) bool { return st.ClosesReceived[1000] == 1 })
			if st.Sessions != 0 || st.Identifies != 1 || st.Connections != 1 {
				t.Errorf("fake saw %+v; want one connection and one identify, and Close(1000) to end the session", st)
			}
		})
	}
}

func TestResumeAfter4000LosesAndRepeatsNoEvent(t *testing.T) {
	gateway.VerifyNoLeaks(t)
	w := newWorld(t)
	// Hold every reconnect until the test lets it go, so events are certainly dispatched
	// while the bot is disconnected.
	var dials atomic.Int32
	release := make(chan struct{})
	dialer := &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) > 1 {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	b := w.newBot(t, "", gateway.WithDialer(dialer))
	b.open(t)

	w.say(numbered(0, 5)...)
	b.waitMessages(t, 5)

	w.fake.CloseGateway(discordtest.CloseUnknownError, "scripted")
	w.waitStats(t, "the bot to be disconnected", func(st discordtest.GatewayStats) bool { return st.OpenConnections == 0 })
	w.say(numbered(5, 10)...) // while nobody is connected
	close(release)
	if err := w.fake.WaitReady(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	w.say(numbered(10, 15)...)
	// A last message, said after the others: events reach the bot in order, so once it has
	// arrived, any duplicate of the ones before it would have too.
	w.say("last")
	b.waitMessages(t, 16)

	if diff := cmp.Diff(append(numbered(0, 15), "last"), b.contents()); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	st := w.fake.GatewayStats()
	if st.Identifies != 1 || st.Resumes != 1 || st.FailedResumes != 0 {
		t.Errorf("fake saw %d identifies, %d resumes, %d failed resumes; want 1, 1, 0", st.Identifies, st.Resumes, st.FailedResumes)
	}
	if gs := b.gw.Stats(); gs.Resumes != 1 || gs.LastCloseCode != 4000 {
		t.Errorf("gateway stats %+v", gs)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.readies != 1 || b.resumes != 1 {
		t.Errorf("disgo saw %d READY and %d RESUMED, want 1 and 1", b.readies, b.resumes)
	}
}

func TestReidentifyAfterNonResumableInvalidSession(t *testing.T) {
	gateway.VerifyNoLeaks(t)
	w := newWorld(t)
	b := w.newBot(t, "")
	b.open(t)
	first := *b.gw.SessionID()

	w.fake.InvalidateSessions(false)
	waitUntil(t, "a new session", func() bool {
		sid := b.gw.SessionID()
		return sid != nil && *sid != first && b.gw.Status() == dgw.StatusReady
	})
	w.say("after")
	b.waitMessages(t, 1)

	st := w.fake.GatewayStats()
	if st.Identifies != 2 || st.Resumes != 0 {
		t.Errorf("fake saw %d identifies and %d resumes, want 2 and 0", st.Identifies, st.Resumes)
	}
	if st.IdentifyRateLimits != 0 {
		t.Errorf("the re-IDENTIFY came too soon for the fake's identify limit (%d op 9)", st.IdentifyRateLimits)
	}
	if gs := b.gw.Stats(); gs.InvalidSessions != 1 || gs.Identifies != 2 {
		t.Errorf("gateway stats %+v", gs)
	}
}

func TestResumableInvalidSessionResumes(t *testing.T) {
	gateway.VerifyNoLeaks(t)
	w := newWorld(t)
	b := w.newBot(t, "")
	b.open(t)
	w.fake.InvalidateSessions(true)
	w.waitStats(t, "a resume", func(st discordtest.GatewayStats) bool { return st.Resumes == 1 })
	w.say("after")
	b.waitMessages(t, 1)
	if st := w.fake.GatewayStats(); st.Identifies != 1 {
		t.Errorf("fake saw %d identifies, want 1", st.Identifies)
	}
}

func TestReconnectRequestResumes(t *testing.T) {
	gateway.VerifyNoLeaks(t)
	w := newWorld(t)
	b := w.newBot(t, "")
	b.open(t)
	w.say("before")
	b.waitMessages(t, 1)
	w.fake.RequestReconnect()
	w.waitStats(t, "a resume", func(st discordtest.GatewayStats) bool { return st.Resumes == 1 })
	w.say("after")
	b.waitMessages(t, 2)
	if diff := cmp.Diff([]string{"before", "after"}, b.contents()); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if code := w.fake.GatewayStats().ClosesReceived; code[1000] != 0 || code[1001] != 0 {
		t.Errorf("op 7 closed with %v; 1000/1001 would end the session", code)
	}
}

func TestZombieConnectionIsDetectedAndResumed(t *testing.T) {
	gateway.VerifyNoLeaks(t)
	// The client's heartbeats run on a manual clock, so the zombie happens when the test
	// moves it, not when a loaded machine happens to be late. The fake's watchdog (4009
	// after two intervals without a heartbeat) is not under test: its clock stays still.
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewManual(t0)
	w := newWorld(t, discordtest.WithHeartbeatClock(clock.NewManual(t0)))
	b := w.newBot(t, "", gateway.WithClock(clk))
	b.open(t)

	w.fake.SetHeartbeatACKs(false)
	// One interval at a time, each once the client has armed its next heartbeat: the first
	// heartbeat after this goes unacknowledged and the next one due finds it so. A reader
	// stalled behind the handler defers the verdict by a beat, hence a few intervals.
	at := t0
	for i := 0; b.gw.Stats().Zombies == 0; i++ {
		if i == 5 {
			t.Fatalf("no zombie after %d unacknowledged heartbeat intervals", i)
		}
		at = at.Add(heartbeat)
		clk.Set(at)
		waitUntil(t, "the next heartbeat to be armed, or the zombie", func() bool {
			return b.gw.Stats().Zombies >= 1 || slices.ContainsFunc(clk.Armed(), func(d time.Time) bool { return d.After(at) })
		})
	}
	w.fake.SetHeartbeatACKs(true)
	waitUntil(t, "a resume", func() bool {
		return w.fake.GatewayStats().Resumes >= 1 && b.gw.Status() == dgw.StatusReady
	})
	w.say("alive")
	b.waitMessages(t, 1)

	// The fake counts a close frame when its reader gets to it, which it does before
	// answering; but a client whose close grace ran out (a loaded machine) drops the TCP
	// connection and resumes without that answer, so the count can trail the RESUME. Wait
	// for it rather than assume it.
	st := w.waitStats(t, "the fake to receive the 4000 close", func(st discordtest.GatewayStats) bool { return st.ClosesReceived[4000] >= 1 })
	if st.ClosesReceived[1000] != 0 || st.ClosesReceived[1001] != 0 {
		t.Errorf("fake received closes %v, want 4000 (not 1000/1001, which end the session)", st.ClosesReceived)
	}
	if st.Identifies != 1 {
		t.Errorf("fake saw %d identifies, want the session resumed", st.Identifies)
	}
}

func TestFatalCloseStopsTheGateway(t *testing.T) {
	cases := []struct {
		name   string
		code   int
		token  func(*world) string
		intent discordtest.Option
	}{
		{
			name: "wrong token 4004",
			code: gateway.CloseAuthenticationFailed,
			token: func(w *world) string {
				// A well-formed token (disgo reads the app id from it) that is not the bot's.
				return base64.RawStdEncoding.EncodeToString([]byte(w.fake.BotID().String())) + ".wrong.token"
			},
		},
		{
			name:   "disallowed intent 4014",
			code:   gateway.CloseDisallowedIntents,
			token:  func(*world) string { return "" },
			intent: discordtest.WithPrivilegedIntents(0),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gateway.VerifyNoLeaks(t)
			var opts []discordtest.Option
			if tc.intent != nil {
				opts = append(opts, tc.intent)
			}
			w := newWorld(t, opts...)
			b := w.newBot(t, tc.token(w))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := b.client.OpenGateway(ctx)
			var ce *gateway.CloseError
			if !errors.As(err, &ce) || ce.Code != tc.code || !ce.Fatal() {
				t.Fatalf("OpenGateway: %v, want a fatal close %d", err, tc.code)
			}
			t.Logf("OpenGateway: %v", err)
			// The gateway records a fatal close once its run has ended: no reconnect can
			// follow.
			waitUntil(t, "the gateway's run to end", func() bool { return b.gw.Err() != nil })
			if st := w.fake.GatewayStats(); st.Connections != 1 {
				t.Errorf("fake saw %d connections; a fatal close must not be retried", st.Connections)
			}
			if b.gw.Status() != dgw.StatusDisconnected {
				t.Errorf("status %s after a fatal close", b.gw.Status())
			}
		})
	}
}

func TestFatalCloseAfterOpenReachesTheCloseHandler(t *testing.T) {
	gateway.VerifyNoLeaks(t)
	w := newWorld(t)
	b := w.newBot(t, "")
	b.open(t)
	w.fake.CloseGateway(discordtest.CloseAuthenticationFailed, "token reset")
	select {
	case err := <-b.closeErr:
		if !errors.Is(err, &gateway.CloseError{Code: gateway.CloseAuthenticationFailed}) {
			t.Fatalf("close handler got %v, want 4004", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("close handler not called")
	}
	// The gateway records a fatal close once its run has ended: no reconnect can follow.
	waitUntil(t, "the gateway's run to end", func() bool { return b.gw.Err() != nil })
	if st := w.fake.GatewayStats(); st.Connections != 1 {
		t.Errorf("fake saw %d connections after 4004, want no reconnect", st.Connections)
	}
	if !errors.Is(b.gw.Err(), &gateway.CloseError{Code: gateway.CloseAuthenticationFailed}) {
		t.Errorf("Err() = %v", b.gw.Err())
	}
}

func TestPresenceThroughDisgo(t *testing.T) {
	gateway.VerifyNoLeaks(t)
	w := newWorld(t)
	b := w.newBot(t, "")
	b.open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.client.SetPresence(ctx, dgw.WithWatchingActivity("the mod queue")); err != nil {
		t.Fatalf("SetPresence: %v", err)
	}
	if p := b.gw.Presence(); p == nil || len(p.Activities) != 1 || p.Activities[0].Name != "the mod queue" {
		t.Errorf("Presence() = %+v", p)
	}
}
