package discordtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gavelbot/gavel/internal/clock"
)

// The gateway half of the fake: sessions, their event streams and the WebSocket endpoint
// (gateway_conn.go holds one connection's protocol).
//
// Locking. hub.mu guards the sessions, the connections' session links and the counters.
// Server.dispatch is called by REST handlers that may hold Server.mu, so the order is always
// Server.mu, then hub.mu, then a connection's outbox lock; nothing here takes Server.mu while
// holding hub.mu. Sequencing an event and queueing it on its connection happen under hub.mu,
// so every session sees events in the order dispatch was called and a RESUME replays
// exactly what the session missed.

// Close codes, as Discord numbers them (opcodes-and-status-codes.mdx).
const (
	CloseUnknownError         = 4000
	CloseUnknownOpcode        = 4001
	CloseDecodeError          = 4002
	CloseNotAuthenticated     = 4003
	CloseAuthenticationFailed = 4004
	CloseAlreadyAuthenticated = 4005
	CloseInvalidSeq           = 4007
	CloseRateLimited          = 4008
	CloseSessionTimedOut      = 4009
	CloseInvalidShard         = 4010
	CloseShardingRequired     = 4011
	CloseInvalidAPIVersion    = 4012
	CloseInvalidIntents       = 4013
	CloseDisallowedIntents    = 4014
)

// closeEndsSession says whether a close code sent by the server ends the session, so that a
// RESUME afterwards gets op 9. Discord's table marks 4004 and 4010–4014 "do not reconnect",
// and says of 4007 and 4009 (session timed out, what a silent client gets) "start a new one".
func closeEndsSession(code int) bool {
	switch code {
	case CloseAuthenticationFailed, CloseInvalidSeq, CloseSessionTimedOut, CloseInvalidShard, CloseShardingRequired,
		CloseInvalidAPIVersion, CloseInvalidIntents, CloseDisallowedIntents:
		return true
	}
	return false
}

// Gateway intents beyond those in wire.go, and the sets the gateway checks IDENTIFY against.
const (
	IntentGuildPresences uint64 = 1 << 8

	// intentsPrivileged need the app to be allowed them (WithPrivilegedIntents).
	intentsPrivileged = IntentGuildMembers | IntentGuildPresences | IntentMessageContent
	// intentsValid are the bits gateway.mdx lists: 0–16, 20, 21, 24, 25.
	intentsValid uint64 = 1<<17 - 1 | 1<<20 | 1<<21 | 1<<24 | 1<<25
)

// Gateway defaults: Discord's documented values, except the session TTL, which Discord
// only calls "a few minutes".
const (
	defaultHeartbeatInterval = 41250 * time.Millisecond
	defaultIdentifyInterval  = 5 * time.Second // max_concurrency 1: one IDENTIFY per 5 s
	defaultSessionTTL        = 60 * time.Second
	defaultResumeBuffer      = 1000
	sessionStartTotal        = 1000
	sessionStartWindow       = 24 * time.Hour
	maxGuildsPerShard        = 2500
	maxPayloadBytes          = 4096
	sendLimit                = 120 // payloads a connection may send per sendWindow
	sendWindow               = 60 * time.Second
)

// WithHeartbeatInterval sets the heartbeat_interval HELLO announces (default 41250 ms). A
// connection that sends no heartbeat for twice the interval is closed with 4009.
func WithHeartbeatInterval(d time.Duration) Option {
	return setting(func(s *Server) { s.ext.gw.heartbeatInterval = d })
}

// WithHeartbeatClock makes the zombie watchdog (no heartbeat for twice the interval: 4009)
// read the time from c and wait on it: a test of the timeout moves c instead of waiting.
// Clients that heartbeat on the wall clock must not be given one.
func WithHeartbeatClock(c clock.Clock) Option {
	return setting(func(s *Server) { s.ext.gw.beatClock = c })
}

// WithPrivilegedIntents sets which privileged intents (IntentGuildMembers,
// IntentGuildPresences, IntentMessageContent) the application is allowed, as the Developer
// Portal toggles do. IDENTIFY with any other privileged intent is closed with 4014. The
// default allows all three.
func WithPrivilegedIntents(mask uint64) Option {
	return setting(func(s *Server) { s.ext.gw.privileged = mask & intentsPrivileged })
}

// WithIdentifyInterval sets the identify rate limit window: with max_concurrency 1, one
// IDENTIFY per window (default 5 s, as on Discord). An IDENTIFY sooner is answered with op 9
// Invalid Session (d false), as gateway.mdx "Rate Limiting" says. 0 disables the limit.
func WithIdentifyInterval(d time.Duration) Option {
	return setting(func(s *Server) { s.ext.gw.identifyInterval = d })
}

// WithSessionTTL sets how long a session outlives its connection and can still be resumed
// (default 60 s). Events dispatched meanwhile are buffered and replayed on RESUME.
func WithSessionTTL(d time.Duration) Option {
	return setting(func(s *Server) { s.ext.gw.sessionTTL = d })
}

// WithResumeBuffer sets how many dispatched events a session keeps for RESUME (default
// 1000). A RESUME from a sequence older than the buffer gets op 9 (d false).
func WithResumeBuffer(n int) Option {
	return setting(func(s *Server) { s.ext.gw.bufferSize = max(n, 1) })
}

// WithSessionStartLimit sets session_start_limit.total (default 1000 per 24 h). When no
// session start remains, IDENTIFY is closed with 4004: Discord resets the token then.
func WithSessionStartLimit(n int) Option {
	return setting(func(s *Server) {
		s.ext.gw.startTotal = n
		s.ext.gw.startRemaining = n
	})
}

// WithSessionStartsRemaining sets session_start_limit.remaining at start (default: the
// total), as if the application had identified total−n times in the last 24 hours.
func WithSessionStartsRemaining(n int) Option {
	return setting(func(s *Server) { s.ext.gw.startRemaining = n })
}

// WithMaxConcurrency sets session_start_limit.max_concurrency (default 1): shards identify
// in buckets shard_id % max_concurrency, one IDENTIFY per bucket per identify interval. An
// IDENTIFY that comes too soon for its bucket is answered with op 9 Invalid Session (d
// false), which is what gateway.mdx says Discord does ("Identifying" and "Rate Limiting").
func WithMaxConcurrency(n int) Option {
	return setting(func(s *Server) { s.ext.gw.maxConcurrency = max(n, 1) })
}

// WithRecommendedShards sets the shard count GET /gateway/bot recommends. The default is
// Discord's rule of thumb, one shard per 1,000 guilds the bot is in (at least 1).
// SetRecommendedShards changes it while the server runs.
func WithRecommendedShards(n int) Option {
	return setting(func(s *Server) { s.ext.gw.recommended = n })
}

// WithMaxGuildsPerShard sets how many guilds one shard may serve before IDENTIFY is closed
// with 4011 Sharding required (Discord's limit, the default, is 2,500). Tests lower it to
// see 4011 with a few guilds; SetMaxGuildsPerShard changes it while the server runs.
func WithMaxGuildsPerShard(n int) Option {
	return setting(func(s *Server) { s.ext.gw.maxGuildsPerShard = n })
}

// WithIdentifyClock makes the identify rate limit and the session start limit's 24-hour
// window read the time from c: a test moves c through the 5-second identify window instead
// of waiting it out. The client must wait on the same clock.
func WithIdentifyClock(c clock.Clock) Option {
	return setting(func(s *Server) { s.ext.gw.identifyClock = c })
}

// SetRecommendedShards changes the shard count GET /gateway/bot recommends (n < 1 goes back
// to the default, one per 1,000 guilds).
func (s *Server) SetRecommendedShards(n int) {
	h := s.ext.gw
	h.mu.Lock()
	h.recommended = n
	h.mu.Unlock()
}

// SetMaxGuildsPerShard changes the 4011 limit (see WithMaxGuildsPerShard). Sessions already
// identified are not affected, as on Discord: the limit is checked at IDENTIFY.
func (s *Server) SetMaxGuildsPerShard(n int) {
	h := s.ext.gw
	h.mu.Lock()
	h.maxGuildsPerShard = n
	h.mu.Unlock()
}

// recommendedShards is what GET /gateway/bot recommends: the set count, or one shard per
// 1,000 guilds the bot is in.
func (s *Server) recommendedShards() int {
	h := s.ext.gw
	h.mu.Lock()
	n := h.recommended
	h.mu.Unlock()
	if n >= 1 {
		return n
	}
	s.mu.Lock()
	guilds := 0
	for _, g := range s.st.guilds {
		if _, ok := g.Members[s.botID]; ok {
			guilds++
		}
	}
	s.mu.Unlock()
	return max(1, (guilds+999)/1000)
}

func setting(f func(*Server)) Option {
	return func(c *config) { c.settings = append(c.settings, f) }
}

// GatewayStats counts what the gateway has seen since the server started.
type GatewayStats struct {
	Connections     int // WebSocket connections accepted
	OpenConnections int
	Sessions        int // live sessions, connected or waiting for a RESUME
	ReadySessions   int // sessions whose current connection got READY or RESUMED
	Identifies      int // IDENTIFYs answered with READY
	// IdentifiesReceived counts every IDENTIFY the gateway judged, whatever the answer
	// (READY, op 9, 4004, 4011).
	IdentifiesReceived int
	IdentifyRateLimits int // IDENTIFYs answered with op 9 for coming too soon
	// ShardingRequired counts IDENTIFYs closed with 4011 (the shard had too many guilds).
	ShardingRequired int
	// IdentifiesByShard counts the IDENTIFYs answered with READY per [shard_id, num_shards].
	IdentifiesByShard  map[[2]int]int
	Resumes            int // RESUMEs answered with RESUMED
	FailedResumes      int // RESUMEs answered with op 9 or closed with 4007
	HeartbeatsReceived int
	// ClosesSent counts the close codes the server sent; ClosesReceived those clients sent.
	ClosesSent     map[int]int
	ClosesReceived map[int]int
	// EventsDispatched counts dispatch payloads sequenced into sessions (READY,
	// GUILD_CREATE, … included); Events splits them by event name.
	EventsDispatched      int
	Events                map[string]int
	SessionStartRemaining int
}

type hub struct {
	s        *Server
	upgrader websocket.Upgrader

	// Set by options before the server serves; read-only afterwards.
	heartbeatInterval time.Duration
	// beatClock is what the zombie watchdog reads heartbeats' times from and waits on (nil:
	// the wall clock, which real clients heartbeat by).
	beatClock        clock.Clock
	identifyInterval time.Duration
	sessionTTL       time.Duration
	privileged       uint64
	bufferSize       int
	startTotal       int
	maxConcurrency   int
	// identifyClock is what the identify and session start limits read (nil: the wall clock).
	identifyClock clock.Clock

	// ix holds the interactions (interactions.go). It is guarded by Server.mu, not hub.mu:
	// interactions live with the messages they create.
	ix interactionStore

	mu             sync.Mutex
	closed         bool
	refusing       bool // RefuseConnections: new gateway connections get 503
	conns          map[*gwConn]struct{}
	sessions       map[string]*session
	acks           bool
	lastIdentify   map[int]time.Time // rate-limit bucket (shard_id % max_concurrency) → last IDENTIFY
	startRemaining int
	recommended    int // GET /gateway/bot's shards; < 1: one per 1,000 guilds
	// maxGuildsPerShard is the 4011 limit.
	maxGuildsPerShard int
	startReset        time.Time
	stats             GatewayStats
	changed           chan struct{} // closed and replaced when the ready sessions change
	wg                sync.WaitGroup
}

// session is a gateway session: what IDENTIFY created and RESUME continues.
type session struct {
	id      string
	intents uint64
	shard   [2]int
	seq     int
	buf     []frame // the last bufferSize dispatches, oldest first
	conn    *gwConn // nil while disconnected
	ready   bool    // conn got READY or RESUMED
	lostAt  time.Time
}

type frame struct {
	seq  int
	data []byte
}

func newHub(s *Server) *hub {
	return &hub{
		s: s,
		upgrader: websocket.Upgrader{
			// Tests connect from anywhere on loopback; there is no browser to protect.
			CheckOrigin: func(*http.Request) bool { return true },
		},
		heartbeatInterval: defaultHeartbeatInterval,
		identifyInterval:  defaultIdentifyInterval,
		sessionTTL:        defaultSessionTTL,
		privileged:        intentsPrivileged,
		bufferSize:        defaultResumeBuffer,
		startTotal:        sessionStartTotal,
		startRemaining:    sessionStartTotal,
		maxConcurrency:    1,
		maxGuildsPerShard: maxGuildsPerShard,
		lastIdentify:      map[int]time.Time{},
		ix:                newInteractionStore(),
		conns:             map[*gwConn]struct{}{},
		sessions:          map[string]*session{},
		acks:              true,
		stats: GatewayStats{ClosesSent: map[int]int{}, ClosesReceived: map[int]int{}, Events: map[string]int{},
			IdentifiesByShard: map[[2]int]int{}},
		changed: make(chan struct{}),
	}
}

// close ends every connection (1001 going away) and waits for their goroutines.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	for c := range h.conns {
		h.closeConnLocked(c, websocket.CloseGoingAway, "server shutting down")
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(2 * time.Second):
	}
	// A client that never answers the close frame: drop its TCP connection.
	h.mu.Lock()
	for c := range h.conns {
		_ = c.ws.Close()
	}
	h.mu.Unlock()
	<-done
}

func (s *Server) gatewayRoutes() {
	h := s.ext.gw
	s.route(http.MethodGet, "/gateway", authNone, func(*Request) (Response, *apiError) {
		return Response{Body: map[string]any{"url": s.GatewayURL}}, nil
	})
	s.route(http.MethodGet, "/gateway/bot", authBot, func(*Request) (Response, *apiError) {
		shards := s.recommendedShards()
		h.mu.Lock()
		now := h.identifyNow()
		h.refillStartsLocked(now)
		remaining := h.startRemaining
		resetAfter := h.startReset.Sub(now)
		if h.startReset.IsZero() {
			resetAfter = sessionStartWindow
		}
		h.mu.Unlock()
		return Response{Body: map[string]any{
			"url":    s.GatewayURL,
			"shards": shards,
			"session_start_limit": map[string]any{
				"total": h.startTotal, "remaining": remaining,
				"reset_after": resetAfter.Milliseconds(), "max_concurrency": h.maxConcurrency,
			},
		}}, nil
	})
	s.mux.HandleFunc("GET /ws", h.serveWS)
	s.mux.HandleFunc("GET /ws/{$}", h.serveWS)
}

// dispatch sends a gateway event to every session that should see it: guild is 0 for
// events outside a guild; intent is the intent bit the event needs (0 for none). data must
// share nothing with the state (the wire.go renderers guarantee it). The caller may hold
// s.mu; dispatch never takes it.
func (s *Server) dispatch(guild ID, event string, intent uint64, data any) {
	s.ext.gw.dispatch(guild, event, intent, data)
}

func (h *hub) dispatch(guild ID, event string, intent uint64, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		h.s.report("dispatch %s: cannot encode the event: %v", event, err)
		return
	}
	c := content{raw: raw, event: event, bot: h.s.botID}
	// Discord sends a member update about the bot itself without GUILD_MEMBERS (gateway.mdx
	// "Caveats").
	aboutBot := event == "GUILD_MEMBER_UPDATE" && c.userID() == h.s.botID
	now := h.s.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.purgeLocked(now)
	for _, sess := range h.sortedSessionsLocked() {
		if !sess.routes(guild) {
			continue
		}
		if intent != 0 && sess.intents&intent == 0 && !aboutBot {
			continue
		}
		d := raw
		if sess.intents&IntentMessageContent == 0 {
			d = c.withoutContent()
		}
		h.sequenceLocked(sess, event, d)
	}
}

// routes says whether a guild's events go to this session: shard_id = (guild_id >> 22) %
// num_shards, and events outside a guild go to shard 0 only (gateway.mdx "Sharding").
func (sess *session) routes(guild ID) bool {
	if guild == 0 {
		return sess.shard[0] == 0
	}
	return int((uint64(guild)>>22)%uint64(sess.shard[1])) == sess.shard[0]
}

// sequenceLocked gives an event the session's next sequence number, keeps it for RESUME and
// queues it on the session's connection, if it has one.
func (h *hub) sequenceLocked(sess *session, event string, d []byte) {
	sess.seq++
	var b bytes.Buffer
	b.Grow(len(d) + len(event) + 40)
	b.WriteString(`{"op":0,"s":`)
	b.WriteString(strconv.Itoa(sess.seq))
	b.WriteString(`,"t":`)
	t, _ := json.Marshal(event)
	b.Write(t)
	b.WriteString(`,"d":`)
	b.Write(d)
	b.WriteByte('}')
	f := frame{seq: sess.seq, data: b.Bytes()}
	sess.buf = append(sess.buf, f)
	if over := len(sess.buf) - h.bufferSize; over > 0 {
		sess.buf = append(sess.buf[:0:0], sess.buf[over:]...)
	}
	h.stats.EventsDispatched++
	h.stats.Events[event]++
	if sess.conn != nil {
		sess.conn.send(f.data)
	}
}

// sortedSessionsLocked lists sessions in a fixed order, so that tests with several sessions
// see deterministic interleavings.
func (h *hub) sortedSessionsLocked() []*session {
	out := make([]*session, 0, len(h.sessions))
	for _, sess := range h.sessions {
		out = append(out, sess)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// purgeLocked forgets sessions whose connection has been gone longer than the TTL.
func (h *hub) purgeLocked(now time.Time) {
	for id, sess := range h.sessions {
		if sess.conn == nil && now.Sub(sess.lostAt) > h.sessionTTL {
			delete(h.sessions, id)
		}
	}
}

// closeConnLocked closes c with a code, after whatever is already queued on it. The session
// is detached at once, so WaitReady and GatewayStats see the close before the client does,
// and ended if the code ends sessions.
func (h *hub) closeConnLocked(c *gwConn, code int, reason string) {
	if !c.out.close(code, reason) {
		return
	}
	h.stats.ClosesSent[code]++
	if sess := c.sess; sess != nil {
		c.sess = nil
		if sess.conn == c {
			sess.conn = nil
			sess.ready = false
			sess.lostAt = h.s.now()
		}
		if closeEndsSession(code) {
			delete(h.sessions, sess.id)
		}
	}
	h.notifyLocked()
}

func (h *hub) notifyLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// identifyNow is the time the identify and session start limits go by.
func (h *hub) identifyNow() time.Time { return clock.OrSystem(h.identifyClock).Now() }

func (h *hub) refillStartsLocked(now time.Time) {
	if !h.startReset.IsZero() && now.After(h.startReset) {
		h.startRemaining = h.startTotal
		h.startReset = time.Time{}
	}
}

// CloseGateway closes every open gateway connection with code. Sessions survive for RESUME
// unless the code ends them (4004, 4007, 4010–4014).
func (s *Server) CloseGateway(code int, reason string) {
	h := s.ext.gw
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.sortedConnsLocked() {
		h.closeConnLocked(c, code, reason)
	}
}

// RefuseConnections makes the gateway answer new WebSocket connections with 503 (on) or
// accept them again (off); connections already open are not touched. With CloseGateway
// (a code that keeps the sessions) it holds clients off while events pile up in their
// sessions, to be replayed at once when they RESUME: a benchmark of how fast a client
// works through a backlog, which the fake's own dispatch speed would otherwise bound.
func (s *Server) RefuseConnections(on bool) {
	h := s.ext.gw
	h.mu.Lock()
	h.refusing = on
	h.mu.Unlock()
}

// SetHeartbeatACKs turns heartbeat ACKs (op 11) on or off. Off, every connection becomes a
// zombie as far as its client can tell.
func (s *Server) SetHeartbeatACKs(on bool) {
	h := s.ext.gw
	h.mu.Lock()
	h.acks = on
	h.mu.Unlock()
}

// RequestReconnect sends op 7 Reconnect to every connection. The connections stay open:
// the client is expected to close and RESUME.
func (s *Server) RequestReconnect() {
	s.ext.gw.broadcast([]byte(`{"op":7,"d":null,"s":null,"t":null}`), false)
}

// RequestHeartbeat sends op 1 to every connection, asking for an immediate heartbeat.
func (s *Server) RequestHeartbeat() {
	s.ext.gw.broadcast([]byte(`{"op":1,"d":null,"s":null,"t":null}`), false)
}

// InvalidateSessions sends op 9 Invalid Session to every connection. Resumable, the
// sessions live on (detached) and a RESUME continues them; otherwise they are forgotten and
// the client must IDENTIFY again. Either way the connection is left open and unidentified,
// as a client may IDENTIFY or RESUME on it.
func (s *Server) InvalidateSessions(resumable bool) {
	payload := []byte(`{"op":9,"d":false,"s":null,"t":null}`)
	if resumable {
		payload = []byte(`{"op":9,"d":true,"s":null,"t":null}`)
	}
	s.ext.gw.broadcast(payload, true)
	if !resumable {
		h := s.ext.gw
		h.mu.Lock()
		h.sessions = map[string]*session{}
		h.notifyLocked()
		h.mu.Unlock()
	}
}

func (h *hub) broadcast(payload []byte, detach bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.sortedConnsLocked() {
		c.send(payload)
		if detach && c.sess != nil {
			sess := c.sess
			c.sess = nil
			sess.conn, sess.ready, sess.lostAt = nil, false, h.s.now()
		}
	}
	if detach {
		h.notifyLocked()
	}
}

func (h *hub) sortedConnsLocked() []*gwConn {
	out := make([]*gwConn, 0, len(h.conns))
	for c := range h.conns {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n < out[j].n })
	return out
}

// GatewayStats reports what the gateway has seen.
func (s *Server) GatewayStats() GatewayStats {
	h := s.ext.gw
	h.mu.Lock()
	defer h.mu.Unlock()
	return s.gatewayStatsLocked()
}

// GatewaySession is one live gateway session as the fake holds it.
type GatewaySession struct {
	ID string
	// Shard is [shard_id, num_shards].
	Shard [2]int
	// Seq is the last sequence number dispatched to the session.
	Seq int
	// Connected: a connection holds it; Ready: that connection got READY or RESUMED.
	Connected, Ready bool
	// LostAt is when its last connection went (zero while connected).
	LostAt time.Time
}

// GatewaySessions lists the live sessions (connected or waiting for a RESUME) by shard,
// then id: which session a shard's events go to, and whether anyone receives them.
func (s *Server) GatewaySessions() []GatewaySession {
	h := s.ext.gw
	h.mu.Lock()
	defer h.mu.Unlock()
	h.purgeLocked(s.now())
	out := make([]GatewaySession, 0, len(h.sessions))
	for _, sess := range h.sortedSessionsLocked() {
		g := GatewaySession{ID: sess.id, Shard: sess.shard, Seq: sess.seq, Connected: sess.conn != nil, Ready: sess.ready}
		if sess.conn == nil {
			g.LostAt = sess.lostAt
		}
		out = append(out, g)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Shard[0] < out[j].Shard[0] })
	return out
}

// WaitGatewayStats waits until cond holds for the gateway's stats, read again whenever a
// connection, session, heartbeat or close changes them, and returns the stats it held for:
// a test waits on the gateway's own events instead of polling on the wall clock.
func (s *Server) WaitGatewayStats(ctx context.Context, cond func(GatewayStats) bool) (GatewayStats, error) {
	h := s.ext.gw
	for {
		h.mu.Lock()
		st, ch := s.gatewayStatsLocked(), h.changed
		h.mu.Unlock()
		if cond(st) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, context.Cause(ctx)
		case <-ch:
		}
	}
}

func (s *Server) gatewayStatsLocked() GatewayStats {
	h := s.ext.gw
	h.purgeLocked(s.now())
	h.refillStartsLocked(h.identifyNow())
	st := h.stats
	st.IdentifiesByShard = copyCounts(h.stats.IdentifiesByShard)
	st.ClosesSent = copyCounts(h.stats.ClosesSent)
	st.ClosesReceived = copyCounts(h.stats.ClosesReceived)
	st.Events = copyCounts(h.stats.Events)
	st.OpenConnections = len(h.conns)
	st.Sessions = len(h.sessions)
	st.ReadySessions = h.readyLocked()
	st.SessionStartRemaining = h.startRemaining
	return st
}

func copyCounts[K comparable](m map[K]int) map[K]int {
	out := make(map[K]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (h *hub) readyLocked() int {
	n := 0
	for _, sess := range h.sessions {
		if sess.ready && sess.conn != nil {
			n++
		}
	}
	return n
}

// WaitReady waits until at least n sessions are connected and have received READY or
// RESUMED on their current connection. After CloseGateway, RequestReconnect's close or
// InvalidateSessions, the count drops at once, so WaitReady then waits for the reconnect.
func (s *Server) WaitReady(ctx context.Context, n int) error {
	h := s.ext.gw
	for {
		h.mu.Lock()
		ready, ch := h.readyLocked(), h.changed
		h.mu.Unlock()
		if ready >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-ch:
		}
	}
}

// WaitIdentifies waits until the gateway has received and answered n IDENTIFYs in all
// (GatewayStats.IdentifiesReceived): a test that moves the identify clock waits for the
// IDENTIFYs in flight to arrive first, so that none is judged at a later time than it was
// sent.
func (s *Server) WaitIdentifies(ctx context.Context, n int) error {
	h := s.ext.gw
	for {
		h.mu.Lock()
		got, ch := h.stats.IdentifiesReceived, h.changed
		h.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-ch:
		}
	}
}

// randomHex returns n random bytes in hex: session ids and interaction tokens.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// content decides what a session without MESSAGE_CONTENT gets of an event (gateway.mdx
// "Message Content Intent"): content, embeds, attachments, components and poll are emptied,
// except in messages the app sent, DMs, and messages that mention the app. An AutoMod
// execution loses content and matched_content (gateway-events.mdx marks both).
type content struct {
	raw     []byte
	event   string
	bot     ID
	done    bool
	blanked []byte
}

func (c *content) withoutContent() []byte {
	if c.done {
		return c.blanked
	}
	c.done = true
	c.blanked = c.raw
	switch c.event {
	case "MESSAGE_CREATE", "MESSAGE_UPDATE":
		var m map[string]json.RawMessage
		if json.Unmarshal(c.raw, &m) != nil {
			return c.blanked
		}
		if blankMessage(m, c.bot) {
			c.blanked, _ = json.Marshal(m)
		}
	case "AUTO_MODERATION_ACTION_EXECUTION":
		var m map[string]json.RawMessage
		if json.Unmarshal(c.raw, &m) != nil {
			return c.blanked
		}
		m["content"] = json.RawMessage(`""`)
		if _, ok := m["matched_content"]; ok {
			m["matched_content"] = json.RawMessage(`""`)
		}
		c.blanked, _ = json.Marshal(m)
	}
	return c.blanked
}

// blankMessage empties a message's content fields unless an exception applies, and says
// whether it changed anything. A replied-to message is judged on its own.
func blankMessage(m map[string]json.RawMessage, bot ID) bool {
	changed := false
	if ref, ok := m["referenced_message"]; ok {
		var rm map[string]json.RawMessage
		if json.Unmarshal(ref, &rm) == nil && rm != nil && blankMessage(rm, bot) {
			m["referenced_message"], _ = json.Marshal(rm)
			changed = true
		}
	}
	if messageContentExempt(m, bot) {
		return changed
	}
	for field, empty := range map[string]string{"content": `""`, "embeds": `[]`, "attachments": `[]`, "components": `[]`} {
		if _, ok := m[field]; ok {
			m[field] = json.RawMessage(empty)
		}
	}
	delete(m, "poll")
	return true
}

func messageContentExempt(m map[string]json.RawMessage, bot ID) bool {
	var author struct {
		ID ID `json:"id"`
	}
	if json.Unmarshal(m["author"], &author) == nil && author.ID == bot {
		return true
	}
	if g, ok := m["guild_id"]; !ok || string(g) == "null" {
		return true // a DM
	}
	var mentions []struct {
		ID ID `json:"id"`
	}
	if json.Unmarshal(m["mentions"], &mentions) == nil {
		for _, u := range mentions {
			if u.ID == bot {
				return true
			}
		}
	}
	var text string
	if json.Unmarshal(m["content"], &text) == nil {
		if strings.Contains(text, "<@"+bot.String()+">") || strings.Contains(text, "<@!"+bot.String()+">") {
			return true
		}
	}
	return false
}

// userID reads d.user.id, for the member events.
func (c *content) userID() ID {
	var v struct {
		User struct {
			ID ID `json:"id"`
		} `json:"user"`
	}
	_ = json.Unmarshal(c.raw, &v)
	return v.User.ID
}
