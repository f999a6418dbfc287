package discordtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/disgoorg/disgo/rest"
	"github.com/gorilla/websocket"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discordtest"
)

const (
	intentsAll = discordtest.IntentGuilds | discordtest.IntentGuildMembers | discordtest.IntentGuildModeration |
		discordtest.IntentGuildMessages | discordtest.IntentDirectMessages | discordtest.IntentMessageContent |
		discordtest.IntentAutoModerationConfiguration | discordtest.IntentAutoModerationExecution
	// intentsNoPrivileged is what a bot gets without asking for privileged intents.
	intentsNoPrivileged = discordtest.IntentGuilds | discordtest.IntentGuildModeration | discordtest.IntentGuildMessages |
		discordtest.IntentDirectMessages | discordtest.IntentAutoModerationExecution
)

func TestGetGatewayThroughDisgo(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	r := disgoREST(t, s)
	g, err := r.GetGateway()
	if err != nil {
		t.Fatalf("GetGateway: %v", err)
	}
	if g.URL != s.GatewayURL {
		t.Errorf("GET /gateway url = %q, want %q", g.URL, s.GatewayURL)
	}
	bot, err := r.GetGatewayBot()
	if err != nil {
		t.Fatalf("GetGatewayBot: %v", err)
	}
	if bot.URL != s.GatewayURL || bot.Shards != 1 || bot.SessionStartLimit.Total != 1000 ||
		bot.SessionStartLimit.Remaining != 1000 || bot.SessionStartLimit.MaxConcurrency != 1 {
		t.Errorf("GET /gateway/bot = %+v", bot)
	}

	connect(t, s, discordtest.IntentGuilds)
	if bot, err = r.GetGatewayBot(); err != nil || bot.SessionStartLimit.Remaining != 999 {
		t.Errorf("after one IDENTIFY: remaining = %+v, %v; want 999", bot, err)
	}

	other := rest.New(rest.NewClient(s.Token()+"x", rest.WithURL(s.APIURL())))
	defer other.Close(context.Background())
	var re *rest.Error
	if _, err := other.GetGatewayBot(); !errors.As(err, &re) || re.Response.StatusCode != 401 {
		t.Errorf("GET /gateway/bot with a wrong token: %v, want 401", err)
	}
}

func TestIdentifyReadyAndGuildCreate(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	c := dialGateway(t, s, "v=10&encoding=json")
	if ms := c.hello(); ms != 41250 {
		t.Errorf("heartbeat_interval = %d, want 41250", ms)
	}
	c.identify(s.Token(), intentsNoPrivileged)
	p := c.dispatch("READY")
	if *p.S != 1 {
		t.Errorf("READY s = %d, want 1", *p.S)
	}
	var r readyData
	if err := json.Unmarshal(p.D, &r); err != nil {
		t.Fatal(err)
	}
	if r.V != 10 || r.SessionID == "" || r.ResumeGatewayURL != s.GatewayURL || r.User.ID != s.BotID() || !r.User.Bot ||
		r.Application.ID != s.BotID() || r.Shard != [2]int{0, 1} {
		t.Errorf("READY = %+v", r)
	}
	if len(r.Guilds) != 1 || r.Guilds[0].ID != w.guild || !r.Guilds[0].Unavailable {
		t.Errorf("READY guilds = %+v, want one unavailable stub of %s", r.Guilds, w.guild)
	}

	gc := c.dispatch("GUILD_CREATE")
	if *gc.S != 2 {
		t.Errorf("GUILD_CREATE s = %d, want 2", *gc.S)
	}
	var g struct {
		ID          discordtest.ID `json:"id"`
		MemberCount int            `json:"member_count"`
		Members     []struct {
			User struct {
				ID discordtest.ID `json:"id"`
			} `json:"user"`
		} `json:"members"`
		Channels []struct {
			ID discordtest.ID `json:"id"`
		} `json:"channels"`
		Roles []json.RawMessage `json:"roles"`
	}
	if err := json.Unmarshal(gc.D, &g); err != nil {
		t.Fatal(err)
	}
	// Without GUILD_PRESENCES the member list holds only the bot; member_count is the total.
	if g.ID != w.guild || g.MemberCount != 4 || len(g.Members) != 1 || g.Members[0].User.ID != s.BotID() ||
		len(g.Channels) != 1 || g.Channels[0].ID != w.channel || len(g.Roles) != 3 {
		t.Errorf("GUILD_CREATE = %s", gc.D)
	}
	c.sync()

	// With GUILD_PRESENCES every member is listed.
	c2 := dialGateway(t, s, "v=10&encoding=json")
	c2.hello()
	c2.identify(s.Token(), discordtest.IntentGuilds|discordtest.IntentGuildPresences)
	c2.dispatch("READY")
	if err := json.Unmarshal(c2.dispatch("GUILD_CREATE").D, &g); err != nil || len(g.Members) != 4 {
		t.Errorf("GUILD_CREATE with GUILD_PRESENCES lists %d members, want 4 (%v)", len(g.Members), err)
	}

	// Without GUILDS there is no GUILD_CREATE.
	c3, _ := connect(t, s, discordtest.IntentGuildMessages)
	c3.sync()

	if err := s.WaitReady(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	if st := s.GatewayStats(); st.Identifies != 3 || st.ReadySessions != 3 || st.OpenConnections != 3 || st.SessionStartRemaining != 997 {
		t.Errorf("stats = %+v", st)
	}
}

func TestIdentifyRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []discordtest.Option
		// send runs after HELLO.
		send func(c *scriptClient, s *discordtest.Server)
		code int
		// violation says the server reports it as a protocol violation.
		violation bool
	}{
		{name: "bad token", code: 4004, send: func(c *scriptClient, s *discordtest.Server) { c.identify("Bot "+s.Token(), discordtest.IntentGuilds) }},
		{name: "disallowed intent", opts: []discordtest.Option{discordtest.WithPrivilegedIntents(discordtest.IntentGuildMembers)}, code: 4014,
			send: func(c *scriptClient, s *discordtest.Server) {
				c.identify(s.Token(), discordtest.IntentGuilds|discordtest.IntentMessageContent)
			}},
		{name: "invalid intent", code: 4013, send: func(c *scriptClient, s *discordtest.Server) { c.identify(s.Token(), 1<<17) }},
		{name: "no intents", code: 4013, send: func(c *scriptClient, s *discordtest.Server) {
			c.send(2, map[string]any{"token": s.Token(), "properties": map[string]string{}})
		}},
		{name: "invalid shard", code: 4010, send: func(c *scriptClient, s *discordtest.Server) {
			c.identify(s.Token(), discordtest.IntentGuilds, func(d map[string]any) { d["shard"] = []int{1, 1} })
		}},
		{name: "payload before identify", code: 4003, violation: true, send: func(c *scriptClient, s *discordtest.Server) {
			c.send(3, map[string]any{"status": "online"})
		}},
		{name: "bad JSON", code: 4002, violation: true, send: func(c *scriptClient, s *discordtest.Server) { c.sendRaw(`{"op":`) }},
		{name: "too large", code: 4002, violation: true, send: func(c *scriptClient, s *discordtest.Server) {
			c.send(1, strings.Repeat("x", 5000))
		}},
		{name: "unknown opcode", code: 4001, violation: true, send: func(c *scriptClient, s *discordtest.Server) { c.send(5, nil) }},
		{name: "receive-only opcode", code: 4001, violation: true, send: func(c *scriptClient, s *discordtest.Server) { c.send(11, nil) }},
		{name: "second identify", code: 4005, violation: true, send: func(c *scriptClient, s *discordtest.Server) {
			c.identify(s.Token(), discordtest.IntentGuildMessages)
			c.dispatch("READY")
			c.identify(s.Token(), discordtest.IntentGuildMessages)
		}},
		{name: "too fast", code: 4008, violation: true, send: func(c *scriptClient, s *discordtest.Server) {
			for i := 0; i < 121; i++ {
				if err := c.ws.WriteJSON(map[string]any{"op": 1, "d": nil}); err != nil {
					return // the server may already have closed
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rep reports
			s := newFake(t, append([]discordtest.Option{rep.option()}, tt.opts...)...)
			c := dialGateway(t, s, "v=10&encoding=json")
			c.hello()
			tt.send(c, s)
			c.closed(tt.code)
			if got := len(rep.all()) > 0; got != tt.violation {
				t.Errorf("reported %q; want a report: %v", rep.all(), tt.violation)
			}
			if st := s.GatewayStats(); st.ClosesSent[tt.code] != 1 {
				t.Errorf("ClosesSent = %v, want one %d", st.ClosesSent, tt.code)
			}
		})
	}
}

func TestRefusedConnectionOptions(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	for query, code := range map[string]int{
		"v=10&encoding=etf":                       4002,
		"v=10&encoding=json&compress=zstd-stream": 4002,
		"v=9&encoding=json":                       4012,
	} {
		c := dialGateway(t, s, query)
		c.closed(code)
	}
}

func TestHeartbeats(t *testing.T) {
	t.Parallel()
	s := newFake(t, discordtest.WithHeartbeatInterval(5*time.Second))
	w := newWorld(s)
	c := dialGateway(t, s, "v=10&encoding=json")
	if ms := c.hello(); ms != 5000 {
		t.Errorf("heartbeat_interval = %d, want 5000", ms)
	}
	// Heartbeats are allowed before IDENTIFY, with d null.
	c.send(1, nil)
	if p := c.next(); p.Op != 11 {
		t.Fatalf("want op 11, got %v", p)
	}
	c.identify(s.Token(), intentsAll)
	c.dispatch("READY")
	c.dispatch("GUILD_CREATE")
	c.sync()

	s.RequestHeartbeat()
	if p := c.next(); p.Op != 1 {
		t.Fatalf("RequestHeartbeat: want op 1, got %v", p)
	}

	// Without ACKs the connection is a zombie: the heartbeat goes unanswered, and the next
	// thing the client reads is the next event.
	s.SetHeartbeatACKs(false)
	c.send(1, c.seq)
	if err := s.UserJoins(w.guild, s.AddUser("newcomer", false)); err != nil {
		t.Fatal(err)
	}
	c.dispatch("GUILD_MEMBER_ADD")
	// Turn ACKs back on only once the server has read the unanswered heartbeat.
	for deadline := time.Now().Add(5 * time.Second); s.GatewayStats().HeartbeatsReceived < 3 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	s.SetHeartbeatACKs(true)
	c.sync()
	if st := s.GatewayStats(); st.HeartbeatsReceived != 4 {
		t.Errorf("HeartbeatsReceived = %d, want 4", st.HeartbeatsReceived)
	}
}

func TestSilentClientTimesOutAndMustReidentify(t *testing.T) {
	t.Parallel()
	// The watchdog waits on a clock the test moves: the connection is closed exactly two
	// intervals after it opened (its last sign of life), not a moment before.
	clk := clock.NewManual(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	s := newFake(t, discordtest.WithHeartbeatInterval(100*time.Millisecond), discordtest.WithHeartbeatClock(clk))
	c, r := connect(t, s, discordtest.IntentGuildMessages)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.WaitArmed(ctx, 1); err != nil {
		t.Fatalf("the watchdog is not waiting: %v", err)
	}
	end := clk.Now().Add(200 * time.Millisecond)
	if armed := clk.Armed(); len(armed) != 1 || !armed[0].Equal(end) {
		t.Fatalf("watchdog armed for %v; want %v, two intervals after the connection opened", armed, end)
	}
	clk.Advance(199 * time.Millisecond)
	if armed := clk.Armed(); len(armed) != 1 {
		t.Fatalf("a millisecond short of two intervals the watchdog is no longer waiting: %v", armed)
	}
	clk.Advance(time.Millisecond)
	c.closed(4009)
	// 4009 ends the session ("reconnect and start a new one"): a RESUME gets op 9 false.
	c2 := dialGateway(t, s, "v=10&encoding=json")
	c2.hello()
	c2.send(6, map[string]any{"token": s.Token(), "session_id": r.SessionID, "seq": c.seq})
	if p := c2.next(); p.Op != 9 || string(p.D) != "false" {
		t.Fatalf("RESUME after 4009: want op 9 false, got %v", p)
	}
}

func TestResumeReplaysMissedEvents(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	c, r := connect(t, s, intentsAll)
	if c.seq != 2 {
		t.Fatalf("seq after READY and GUILD_CREATE = %d, want 2", c.seq)
	}
	s.SendMessage(w.channel, w.member, "before the drop") // s=3, seen
	c.dispatch("MESSAGE_CREATE")

	s.CloseGateway(4000, "test: network trouble")
	c.closed(4000)
	if st := s.GatewayStats(); st.ReadySessions != 0 || st.Sessions != 1 {
		t.Fatalf("after CloseGateway(4000): %+v; want the session kept, not ready", st)
	}
	// Events while disconnected are buffered for the session.
	s.SendMessage(w.channel, w.member, "missed one")   // s=4
	s.SendMessage(w.channel, w.member, "missed two")   // s=5
	_ = s.UserJoins(w.guild, s.AddUser("late", false)) // s=6
	if ss := s.GatewaySessions(); len(ss) != 1 || ss[0].ID != r.SessionID || ss[0].Shard != [2]int{0, 1} || ss[0].Seq != 6 ||
		ss[0].Connected || ss[0].Ready || ss[0].LostAt.IsZero() {
		t.Fatalf("sessions while disconnected: %+v; want the one session, at s=6, waiting for its RESUME", ss)
	}

	c2 := dialGateway(t, s, "v=10&encoding=json")
	c2.hello()
	c2.send(6, map[string]any{"token": s.Token(), "session_id": r.SessionID, "seq": c.seq})
	for i, want := range []string{"MESSAGE_CREATE", "MESSAGE_CREATE", "GUILD_MEMBER_ADD", "RESUMED"} {
		p := c2.dispatch(want)
		if *p.S != 4+i {
			t.Errorf("replayed %s with s=%d, want %d", want, *p.S, 4+i)
		}
		if i == 1 && !strings.Contains(string(p.D), `"missed two"`) {
			t.Errorf("second replayed message = %s", p.D)
		}
	}
	if err := s.WaitReady(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	// New events continue the sequence.
	s.SendMessage(w.channel, w.member, "after")
	if p := c2.dispatch("MESSAGE_CREATE"); *p.S != 8 {
		t.Errorf("first new event s=%d, want 8", *p.S)
	}
	if st := s.GatewayStats(); st.Resumes != 1 || st.Identifies != 1 {
		t.Errorf("stats = %+v", st)
	}
	if ss := s.GatewaySessions(); len(ss) != 1 || ss[0].Seq != 8 || !ss[0].Connected || !ss[0].Ready || !ss[0].LostAt.IsZero() {
		t.Errorf("sessions after the RESUME: %+v; want the one session connected and ready at s=8", ss)
	}
}

func TestResumeAfterDroppedConnection(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	c, r := connect(t, s, intentsAll)
	c.drop()
	// A client that only heard silence resumes; the server may not have noticed yet.
	s.SendMessage(w.channel, w.member, "while gone")
	c2 := dialGateway(t, s, "v=10&encoding=json")
	c2.hello()
	c2.send(6, map[string]any{"token": s.Token(), "session_id": r.SessionID, "seq": 2})
	c2.dispatch("MESSAGE_CREATE")
	c2.dispatch("RESUMED")
	c2.sync()
}

func TestResumeRefusals(t *testing.T) {
	t.Parallel()
	var rep reports
	s := newFake(t, rep.option(), discordtest.WithResumeBuffer(3))
	w := newWorld(s)

	resume := func(session string, seq int) *scriptClient {
		c := dialGateway(t, s, "v=10&encoding=json")
		c.hello()
		c.send(6, map[string]any{"token": s.Token(), "session_id": session, "seq": seq})
		return c
	}
	invalid := func(c *scriptClient) {
		t.Helper()
		if p := c.next(); p.Op != 9 || string(p.D) != "false" {
			t.Fatalf("want op 9 false, got %v", p)
		}
	}

	// An unknown session: op 9, and the connection may then IDENTIFY.
	c := resume("no-such-session", 3)
	invalid(c)
	c.identify(s.Token(), discordtest.IntentGuildMessages)
	c.dispatch("READY")

	// A sequence number ahead of the session: 4007.
	_, r := connect(t, s, discordtest.IntentGuildMessages)
	s.CloseGateway(4000, "")
	resume(r.SessionID, 99).closed(4007)
	invalid(resume(r.SessionID, 1)) // 4007 ended the session

	// Events that left the buffer: op 9.
	_, r = connect(t, s, discordtest.IntentGuildMessages)
	s.CloseGateway(4000, "")
	for i := 0; i < 4; i++ {
		s.SendMessage(w.channel, w.member, "flood")
	}
	invalid(resume(r.SessionID, 1))

	// A close code that ends the session: op 9.
	_, r = connect(t, s, discordtest.IntentGuildMessages)
	s.CloseGateway(4014, "")
	invalid(resume(r.SessionID, 1))

	// The client closing with 1000 ends its session.
	c, r = connect(t, s, discordtest.IntentGuildMessages)
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second))
	c.closed(1000)
	deadline := time.Now().Add(5 * time.Second)
	for s.GatewayStats().ClosesReceived[1000] == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	invalid(resume(r.SessionID, 1))

	// A wrong token: 4004.
	c = dialGateway(t, s, "v=10&encoding=json")
	c.hello()
	c.send(6, map[string]any{"token": "nope", "session_id": r.SessionID, "seq": 1})
	c.closed(4004)

	if st := s.GatewayStats(); st.FailedResumes < 5 {
		t.Errorf("FailedResumes = %d, want at least 5", st.FailedResumes)
	}
}

func TestSessionOutlivesItsTTLOnlySoLong(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Now())
	s := newFake(t, discordtest.WithClock(clk.Now), discordtest.WithSessionTTL(time.Minute))
	_, r := connect(t, s, discordtest.IntentGuildMessages)
	s.CloseGateway(4000, "")
	clk.Advance(time.Minute + time.Millisecond)
	c := dialGateway(t, s, "v=10&encoding=json")
	c.hello()
	c.send(6, map[string]any{"token": s.Token(), "session_id": r.SessionID, "seq": 1})
	if p := c.next(); p.Op != 9 {
		t.Fatalf("resume after the TTL: want op 9, got %v", p)
	}
}

func TestReconnectAndInvalidSessionControls(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	c, r := connect(t, s, intentsAll)

	s.RequestReconnect()
	if p := c.next(); p.Op != 7 {
		t.Fatalf("want op 7, got %v", p)
	}

	// Resumable: the session survives, the connection is left unidentified.
	s.InvalidateSessions(true)
	if p := c.next(); p.Op != 9 || string(p.D) != "true" {
		t.Fatalf("want op 9 true, got %v", p)
	}
	s.SendMessage(w.channel, w.member, "buffered")
	c2 := dialGateway(t, s, "v=10&encoding=json")
	c2.hello()
	c2.send(6, map[string]any{"token": s.Token(), "session_id": r.SessionID, "seq": c.seq})
	c2.dispatch("MESSAGE_CREATE")
	c2.dispatch("RESUMED")

	// Not resumable: the session is gone; IDENTIFY again on the same connection works.
	s.InvalidateSessions(false)
	if p := c2.next(); p.Op != 9 || string(p.D) != "false" {
		t.Fatalf("want op 9 false, got %v", p)
	}
	c3 := dialGateway(t, s, "v=10&encoding=json")
	c3.hello()
	c3.send(6, map[string]any{"token": s.Token(), "session_id": r.SessionID, "seq": c2.seq})
	if p := c3.next(); p.Op != 9 {
		t.Fatalf("resume of an invalidated session: want op 9, got %v", p)
	}
	c2.identify(s.Token(), discordtest.IntentGuildMessages)
	c2.dispatch("READY")
	if err := s.WaitReady(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
}

func TestIdentifyRateLimit(t *testing.T) {
	t.Parallel()
	s := discordtest.New(t, discordtest.WithIdentifyInterval(time.Hour))
	connect(t, s, discordtest.IntentGuildMessages)
	c := dialGateway(t, s, "v=10&encoding=json")
	c.hello()
	c.identify(s.Token(), discordtest.IntentGuildMessages)
	if p := c.next(); p.Op != 9 || string(p.D) != "false" {
		t.Fatalf("second IDENTIFY within the window: want op 9 false, got %v", p)
	}
	if st := s.GatewayStats(); st.IdentifyRateLimits != 1 || st.Identifies != 1 || st.SessionStartRemaining != 999 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSessionStartLimit(t *testing.T) {
	t.Parallel()
	s := newFake(t, discordtest.WithSessionStartLimit(1))
	connect(t, s, discordtest.IntentGuildMessages)
	c := dialGateway(t, s, "v=10&encoding=json")
	c.hello()
	c.identify(s.Token(), discordtest.IntentGuildMessages)
	c.closed(4004)
}

func TestIntentFiltering(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	with, _ := connect(t, s, discordtest.IntentGuildMembers)
	without, _ := connect(t, s, discordtest.IntentGuilds|discordtest.IntentGuildMessages)

	if err := s.UserJoins(w.guild, s.AddUser("joiner", false)); err != nil {
		t.Fatal(err)
	}
	with.dispatch("GUILD_MEMBER_ADD")
	without.sync()

	s.SendMessage(w.channel, w.member, "hello")
	without.dispatch("MESSAGE_CREATE")
	with.sync()

	// INTERACTION_CREATE needs no intent.
	s.SlashCommand(w.guild, w.channel, w.mod, "ping")
	with.dispatch("INTERACTION_CREATE")
	without.dispatch("INTERACTION_CREATE")
}

func TestShardRouting(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	home := int((uint64(w.guild) >> 22) % 2)
	shards := [2]*scriptClient{}
	for id := 0; id < 2; id++ {
		c := dialGateway(t, s, "v=10&encoding=json")
		c.hello()
		c.identify(s.Token(), discordtest.IntentGuilds|discordtest.IntentGuildMessages|discordtest.IntentDirectMessages,
			func(d map[string]any) { d["shard"] = []int{id, 2} })
		var r readyData
		if err := json.Unmarshal(c.dispatch("READY").D, &r); err != nil {
			t.Fatal(err)
		}
		if (len(r.Guilds) == 1) != (id == home) || r.Shard != [2]int{id, 2} {
			t.Errorf("shard %d READY = %+v (guild lives on shard %d)", id, r, home)
		}
		if id == home {
			c.dispatch("GUILD_CREATE")
		}
		shards[id] = c
	}
	s.SendMessage(w.channel, w.member, "guild event")
	shards[home].dispatch("MESSAGE_CREATE")
	shards[1-home].sync()

	// Events outside a guild go to shard 0 only.
	s.SendMessage(s.OpenDM(w.member), w.member, "dm")
	shards[0].dispatch("MESSAGE_CREATE")
	shards[1].sync()
}

func TestMessageContentIntent(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	plain, _ := connect(t, s, discordtest.IntentGuildMessages|discordtest.IntentDirectMessages)
	privileged, _ := connect(t, s, discordtest.IntentGuildMessages|discordtest.IntentDirectMessages|discordtest.IntentMessageContent)

	content := func(p gwPayload) string {
		var m struct {
			Content string `json:"content"`
		}
		if err := json.Unmarshal(p.D, &m); err != nil {
			t.Fatal(err)
		}
		return m.Content
	}
	tests := []struct {
		name, text string
		channel    discordtest.ID
		blanked    bool
	}{
		{"guild message", "$ban someone", w.channel, true},
		{"mentions the bot", "<@" + s.BotID().String() + "> help", w.channel, false},
		{"mentions the bot by nickname", "<@!" + s.BotID().String() + "> help", w.channel, false},
		{"DM", "$cases", s.OpenDM(w.member), false},
	}
	for _, tt := range tests {
		s.SendMessage(tt.channel, w.member, tt.text)
		want := tt.text
		if tt.blanked {
			want = ""
		}
		if got := content(plain.dispatch("MESSAGE_CREATE")); got != want {
			t.Errorf("%s without MESSAGE_CONTENT: content %q, want %q", tt.name, got, want)
		}
		if got := content(privileged.dispatch("MESSAGE_CREATE")); got != tt.text {
			t.Errorf("%s with MESSAGE_CONTENT: content %q, want %q", tt.name, got, tt.text)
		}
	}

	// The bot's own messages keep their content.
	if _, err := disgoREST(t, s).CreateMessage(snow(w.channel), discordCreate("case #1 opened")); err != nil {
		t.Fatal(err)
	}
	if got := content(plain.dispatch("MESSAGE_CREATE")); got != "case #1 opened" {
		t.Errorf("bot's own message without MESSAGE_CONTENT: content %q", got)
	}
	privileged.dispatch("MESSAGE_CREATE")
}

func TestZlibStream(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	c := dialGateway(t, s, "v=10&encoding=json&compress=zlib-stream")
	c.hello()
	c.identify(s.Token(), intentsAll)
	c.dispatch("READY")
	c.dispatch("GUILD_CREATE")
	s.SendMessage(w.channel, w.member, strings.Repeat("compress me ", 50))
	if p := c.dispatch("MESSAGE_CREATE"); !strings.Contains(string(p.D), "compress me compress me") {
		t.Errorf("MESSAGE_CREATE = %s", p.D)
	}
	c.sync()
}

func TestRequestGuildMembers(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	c, _ := connect(t, s, discordtest.IntentGuilds|discordtest.IntentGuildMembers)
	c.send(8, map[string]any{"guild_id": w.guild, "query": "", "limit": 0, "nonce": "n1"})
	var chunk struct {
		GuildID    discordtest.ID    `json:"guild_id"`
		Members    []json.RawMessage `json:"members"`
		ChunkIndex int               `json:"chunk_index"`
		ChunkCount int               `json:"chunk_count"`
		Nonce      string            `json:"nonce"`
		NotFound   []discordtest.ID  `json:"not_found"`
	}
	if err := json.Unmarshal(c.dispatch("GUILD_MEMBERS_CHUNK").D, &chunk); err != nil {
		t.Fatal(err)
	}
	if chunk.GuildID != w.guild || len(chunk.Members) != 4 || chunk.ChunkCount != 1 || chunk.Nonce != "n1" {
		t.Errorf("chunk = %+v", chunk)
	}
	c.send(8, map[string]any{"guild_id": w.guild, "user_ids": []discordtest.ID{w.mod, 42}})
	if err := json.Unmarshal(c.dispatch("GUILD_MEMBERS_CHUNK").D, &chunk); err != nil {
		t.Fatal(err)
	}
	if len(chunk.Members) != 1 || len(chunk.NotFound) != 1 || chunk.NotFound[0] != 42 {
		t.Errorf("chunk by ids = %+v", chunk)
	}
}

func TestWaitReadyTimesOut(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.WaitReady(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReady with no client = %v, want deadline exceeded", err)
	}
}

func TestCloseEndsConnections(t *testing.T) {
	t.Parallel()
	s, err := discordtest.Start("127.0.0.1:0", discordtest.WithIdentifyInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := connect(t, s, discordtest.IntentGuildMessages)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { s.Close(ctx); close(done) }()
	c.closed(1001)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

func TestShortHeartbeatIntervalDoesNotTripTheRateLimit(t *testing.T) {
	t.Parallel()
	s := newFake(t, discordtest.WithHeartbeatInterval(time.Second))
	c, _ := connect(t, s, discordtest.IntentGuildMessages)
	for i := 0; i < 150; i++ {
		c.sync()
	}
	if st := s.GatewayStats(); st.HeartbeatsReceived != 150 || st.ClosesSent[4008] != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestGatewayPathWithTrailingSlash(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	ws, _, err := websocket.DefaultDialer.Dial(s.GatewayURL+"/?v=10&encoding=json", nil)
	if err != nil {
		t.Fatalf("dial %s/: %v", s.GatewayURL, err)
	}
	defer ws.Close()
	c := &scriptClient{t: t, ws: ws}
	c.hello()
}

// TestResumeUnderConcurrentDispatch drops the connection again and again while another
// goroutine keeps dispatching: across every RESUME the client must see each event exactly
// once, in order, with consecutive sequence numbers.
func TestResumeUnderConcurrentDispatch(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	w := newWorld(s)
	c, r := connect(t, s, discordtest.IntentGuildMessages|discordtest.IntentMessageContent)
	const total = 200
	// The sender stays at most ahead events in front of the reader, so that a close always
	// finds events still to send and the client must resume to get them (an unpaced sender
	// could queue all 200 before the first close, and no resume would be needed).
	const ahead = 10
	tokens := make(chan struct{}, ahead)
	for range ahead {
		tokens <- struct{}{}
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for i := 0; i < total; i++ {
			select {
			case <-tokens:
			case <-done:
				return
			}
			s.SendMessage(w.channel, w.member, fmt.Sprintf("m%03d", i))
		}
	}()
	next, seq := 0, c.seq
	for next < total {
		p, err := c.read(5 * time.Second)
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != 4000 {
				t.Fatalf("read: %v", err)
			}
			c = dialGateway(t, s, "v=10&encoding=json")
			c.hello()
			c.send(6, map[string]any{"token": s.Token(), "session_id": r.SessionID, "seq": seq})
			c.seq = seq
			continue
		}
		if p.Op != 0 {
			t.Fatalf("unexpected %v", p)
		}
		if *p.S != seq+1 {
			t.Fatalf("s=%d after %d", *p.S, seq)
		}
		seq = *p.S
		if *p.T == "RESUMED" {
			continue
		}
		var m struct {
			Content string `json:"content"`
		}
		if err := json.Unmarshal(p.D, &m); err != nil || m.Content != fmt.Sprintf("m%03d", next) {
			t.Fatalf("event %d is %q, want m%03d", seq, m.Content, next)
		}
		next++
		select {
		case tokens <- struct{}{}:
		default:
		}
		if next%25 == 0 {
			s.CloseGateway(4000, "test: again")
		}
	}
	// Closes that land while the client still reads what was queued before an earlier close
	// change nothing, so there are fewer resumes than closes.
	if st := s.GatewayStats(); st.Resumes < 1 {
		t.Errorf("Resumes = %d", st.Resumes)
	}
}
