package discordtest_test

import (
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/snowflake/v2"
	"github.com/gorilla/websocket"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// The gateway tests drive the fake with this scripted client instead of disgo's gateway,
// whose data races -race reports (DESIGN.md "Known traps"): every step is explicit, so a
// test states exactly what the server must send next.

// gwPayload is one gateway payload as a client reads it.
type gwPayload struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
	S  *int            `json:"s"`
	T  *string         `json:"t"`
}

func (p gwPayload) String() string {
	t := ""
	if p.T != nil {
		t = *p.T
	}
	return fmt.Sprintf("op %d %s %.200s", p.Op, t, p.D)
}

type scriptClient struct {
	t   testing.TB
	ws  *websocket.Conn
	dec *json.Decoder // zlib-stream only: one inflate context for the whole connection
	seq int
}

// dialGateway opens a connection to the fake's gateway with a query string.
func dialGateway(t testing.TB, s *discordtest.Server, query string) *scriptClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(s.GatewayURL+"?"+query, nil)
	if err != nil {
		t.Fatalf("dial gateway: %v", err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	c := &scriptClient{t: t, ws: ws}
	if strings.Contains(query, "compress=zlib-stream") {
		zr, err := zlib.NewReader(&frameReader{c: c})
		if err != nil {
			t.Fatalf("zlib-stream header: %v", err)
		}
		c.dec = json.NewDecoder(zr)
	}
	return c
}

// frameReader feeds binary WebSocket frames to the inflater, one after another.
type frameReader struct {
	c   *scriptClient
	buf []byte
}

func (r *frameReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		typ, data, err := r.c.ws.ReadMessage()
		if err != nil {
			return 0, err
		}
		if typ != websocket.BinaryMessage {
			return 0, fmt.Errorf("zlib-stream: got a frame of type %d, want binary", typ)
		}
		if len(data) < 4 || string(data[len(data)-4:]) != "\x00\x00\xff\xff" {
			return 0, fmt.Errorf("zlib-stream: frame does not end with Z_SYNC_FLUSH")
		}
		r.buf = data
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// next reads the next payload, failing the test after 5 s.
func (c *scriptClient) next() gwPayload {
	c.t.Helper()
	p, err := c.read(5 * time.Second)
	if err != nil {
		c.t.Fatalf("gateway read: %v", err)
	}
	return p
}

func (c *scriptClient) read(timeout time.Duration) (gwPayload, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
	var p gwPayload
	if c.dec != nil {
		if err := c.dec.Decode(&p); err != nil {
			return p, err
		}
	} else {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			return p, err
		}
		if typ != websocket.TextMessage {
			return p, fmt.Errorf("got a frame of type %d, want text", typ)
		}
		if err := json.Unmarshal(data, &p); err != nil {
			return p, fmt.Errorf("decode %q: %w", data, err)
		}
	}
	if p.S != nil {
		c.seq = *p.S
	}
	return p, nil
}

func (c *scriptClient) send(op int, d any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(map[string]any{"op": op, "d": d}); err != nil {
		c.t.Fatalf("gateway write: %v", err)
	}
}

func (c *scriptClient) sendRaw(data string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(data)); err != nil {
		c.t.Fatalf("gateway write: %v", err)
	}
}

// hello reads HELLO and returns its heartbeat_interval in milliseconds.
func (c *scriptClient) hello() int {
	c.t.Helper()
	p := c.next()
	var d struct {
		HeartbeatInterval int `json:"heartbeat_interval"`
	}
	if p.Op != 10 || json.Unmarshal(p.D, &d) != nil || d.HeartbeatInterval <= 0 {
		c.t.Fatalf("want HELLO, got %v", p)
	}
	return d.HeartbeatInterval
}

func (c *scriptClient) identify(token string, intents uint64, extra ...func(map[string]any)) {
	c.t.Helper()
	d := map[string]any{"token": token, "intents": intents, "properties": map[string]string{"os": "linux", "browser": "scriptclient", "device": "scriptclient"}}
	for _, f := range extra {
		f(d)
	}
	c.send(2, d)
}

// dispatch reads the next payload, skipping heartbeat ACKs, and checks it is event.
func (c *scriptClient) dispatch(event string) gwPayload {
	c.t.Helper()
	for {
		p := c.next()
		if p.Op == 11 {
			continue
		}
		if p.Op != 0 || p.T == nil || *p.T != event {
			c.t.Fatalf("want dispatch %s, got %v", event, p)
		}
		return p
	}
}

// sync proves nothing was dispatched to this connection before now: the server answers
// payloads in order, so the heartbeat's ACK must be the next thing read.
func (c *scriptClient) sync() {
	c.t.Helper()
	c.send(1, c.seq)
	if p := c.next(); p.Op != 11 {
		c.t.Fatalf("want only the heartbeat ACK, got %v", p)
	}
}

// closed reads until the connection closes and checks the close code.
func (c *scriptClient) closed(code int) {
	c.t.Helper()
	for {
		p, err := c.read(5 * time.Second)
		if err == nil {
			if p.Op == 11 || p.Op == 0 {
				continue
			}
			c.t.Fatalf("want close %d, got %v", code, p)
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("want close %d, got %v", code, err)
		}
		if ce.Code != code {
			c.t.Fatalf("closed with %d %q, want %d", ce.Code, ce.Text, code)
		}
		return
	}
}

// drop ends the connection without a close frame, as a crashed client or network does.
func (c *scriptClient) drop() { _ = c.ws.NetConn().Close() }

type readyData struct {
	V                int    `json:"v"`
	SessionID        string `json:"session_id"`
	ResumeGatewayURL string `json:"resume_gateway_url"`
	Shard            [2]int `json:"shard"`
	User             struct {
		ID  discordtest.ID `json:"id"`
		Bot bool           `json:"bot"`
	} `json:"user"`
	Guilds []struct {
		ID          discordtest.ID `json:"id"`
		Unavailable bool           `json:"unavailable"`
	} `json:"guilds"`
	Application struct {
		ID    discordtest.ID `json:"id"`
		Flags int            `json:"flags"`
	} `json:"application"`
}

// connect opens a session: HELLO, IDENTIFY, READY, and the GUILD_CREATE of each guild when
// intents include GUILDS.
func connect(t testing.TB, s *discordtest.Server, intents uint64) (*scriptClient, readyData) {
	t.Helper()
	c := dialGateway(t, s, "v=10&encoding=json")
	c.hello()
	c.identify(s.Token(), intents)
	p := c.dispatch("READY")
	var r readyData
	if err := json.Unmarshal(p.D, &r); err != nil {
		t.Fatalf("READY: %v", err)
	}
	if intents&discordtest.IntentGuilds != 0 {
		for range r.Guilds {
			c.dispatch("GUILD_CREATE")
		}
	}
	return c, r
}

// reports collects protocol violations instead of failing the test, for tests that commit
// them on purpose.
type reports struct {
	mu   sync.Mutex
	msgs []string
}

func (r *reports) option() discordtest.Option {
	return discordtest.WithReporter(func(format string, args ...any) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
	})
}

func (r *reports) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// stepClock is a clock a test moves by hand.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func newStepClock() *stepClock { return &stepClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// world is a guild with an owner, a moderator, a plain member and a text channel; the bot
// is an administrator, so it receives every permission-gated event.
type world struct {
	guild, channel              discordtest.ID
	owner, mod, member, botRole discordtest.ID
}

func newWorld(s *discordtest.Server) world {
	var w world
	w.owner = s.AddUser("owner", false)
	w.mod = s.AddUser("mod", false)
	w.member = s.AddUser("member", false)
	w.guild = s.AddGuild("guild", w.owner)
	w.botRole = s.AddRole(w.guild, "gavel", 1, discordtest.PermAdministrator)
	s.AddMember(w.guild, s.BotID(), w.botRole)
	modRole := s.AddRole(w.guild, "mods", 1, discordtest.PermBanMembers|discordtest.PermKickMembers|discordtest.PermModerateMembers)
	s.AddMember(w.guild, w.mod, modRole)
	s.AddMember(w.guild, w.member)
	w.channel = s.AddChannel(w.guild, discordtest.ChannelGuildText, "general")
	return w
}

// newFake starts a fake whose identify limit does not slow tests down.
func newFake(t testing.TB, opts ...discordtest.Option) *discordtest.Server {
	t.Helper()
	return discordtest.New(t, append([]discordtest.Option{discordtest.WithIdentifyInterval(0)}, opts...)...)
}

// disgoREST is disgo's REST client pointed at the fake, built as gavel builds it.
func disgoREST(t testing.TB, s *discordtest.Server) rest.Rest {
	r := rest.New(rest.NewClient(s.Token(), rest.WithURL(s.APIURL()),
		rest.WithRateLimiterConfigOpts(rest.WithMaxRetries(1))))
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func snow(id discordtest.ID) snowflake.ID { return snowflake.ID(id) }

func discordCreate(content string) discord.MessageCreate {
	return discord.MessageCreate{Content: content}
}
