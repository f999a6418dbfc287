package discordtest

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gavelbot/gavel/internal/clock"
)

// gwConn is one gateway WebSocket connection. Three goroutines serve it: the reader (the
// HTTP handler's goroutine) runs the protocol, the writer owns every write to the socket,
// and the watchdog closes it when heartbeats stop.
type gwConn struct {
	h  *hub
	n  int // order of arrival, for deterministic iteration
	ws *websocket.Conn

	out  outbox
	done chan struct{} // closed when the reader has finished

	// Guarded by hub.mu.
	sess     *session
	lastBeat time.Time

	// Writer goroutine only: zlib-stream keeps one compression context per connection.
	zw   *zlib.Writer
	zbuf bytes.Buffer

	// Reader goroutine only.
	received []time.Time
}

// outbox queues payloads for the writer. Once a close is queued nothing more is accepted.
type outbox struct {
	mu      sync.Mutex
	queue   [][]byte
	closing []byte // the close frame, once closing
	wake    chan struct{}
}

func (o *outbox) push(p []byte) {
	o.mu.Lock()
	if o.closing == nil {
		o.queue = append(o.queue, p)
	}
	o.mu.Unlock()
	o.signal()
}

// close queues a close frame after what is queued; false if one is queued already.
func (o *outbox) close(code int, reason string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing != nil {
		return false
	}
	if len(reason) > 120 { // a close frame's reason is limited to 123 bytes
		reason = reason[:120]
	}
	o.closing = websocket.FormatCloseMessage(code, reason)
	o.signal()
	return true
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) take() (queue [][]byte, closing []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	queue, o.queue = o.queue, nil
	return queue, o.closing
}

func (o *outbox) isClosing() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closing != nil
}

func (c *gwConn) send(p []byte) { c.out.push(p) }

// serveWS upgrades a gateway connection and runs it until it ends.
func (h *hub) serveWS(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	closed, refusing := h.closed, h.refusing
	h.mu.Unlock()
	if closed {
		http.Error(w, "discordtest: server closing", http.StatusServiceUnavailable)
		return
	}
	if refusing {
		http.Error(w, "discordtest: gateway connections refused (RefuseConnections)", http.StatusServiceUnavailable)
		return
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered the client
	}
	ws.SetReadLimit(1 << 20) // payloads over 4096 bytes get Discord's 4002, not gorilla's 1009
	q := r.URL.Query()
	c := &gwConn{h: h, ws: ws, done: make(chan struct{}), out: outbox{wake: make(chan struct{}, 1)}}
	ws.SetCloseHandler(c.closeReceived)
	compress := q.Get("compress")
	if compress == "zlib-stream" {
		c.zw = zlib.NewWriter(&c.zbuf)
	}

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = ws.Close()
		return
	}
	h.stats.Connections++
	c.n = h.stats.Connections
	c.lastBeat = clock.OrSystem(h.beatClock).Now()
	h.conns[c] = struct{}{}
	h.wg.Add(3) // reader (this goroutine), writer, watchdog
	h.mu.Unlock()
	h.s.log.Info("gateway connection", "remote", r.RemoteAddr, "query", r.URL.RawQuery)

	go c.writeLoop()
	go c.watchdog()
	defer h.wg.Done()

	// Refusals happen after the upgrade, without HELLO, so that the client reads a close
	// code, which says more than a failed handshake. Discord has no code for "the fake does not
	// implement this"; 4002 Decode error is the closest: the client could not decode ETF
	// or zstd from us, nor we from it.
	switch v := q.Get("v"); {
	case v != "" && v != "10":
		c.closeWith(CloseInvalidAPIVersion, "Invalid API version: discordtest serves v10 only")
	case q.Get("encoding") != "" && q.Get("encoding") != "json":
		c.closeWith(CloseDecodeError, "discordtest supports encoding=json only, not "+q.Get("encoding"))
	case compress != "" && compress != "zlib-stream":
		c.closeWith(CloseDecodeError, "discordtest supports compress=zlib-stream or none, not "+compress+" (disgo: gateway.WithCompression(gateway.CompressionNone))")
	default:
		c.send([]byte(`{"op":10,"d":{"heartbeat_interval":` + strconv.FormatInt(h.heartbeatInterval.Milliseconds(), 10) + `},"s":null,"t":null}`))
	}
	c.readLoop()
}

// writeLoop writes queued payloads in order; after a close frame it waits a moment for the
// client's reply (the reader sees it) so the client reads the code before the TCP close.
func (c *gwConn) writeLoop() {
	defer c.h.wg.Done()
	for {
		select {
		case <-c.out.wake:
		case <-c.done:
			return
		}
		queue, closing := c.out.take()
		for _, p := range queue {
			if err := c.write(p); err != nil {
				_ = c.ws.Close()
				return
			}
		}
		if closing != nil {
			// Nothing is queued after a close, so the close frame is the last write.
			_ = c.ws.WriteControl(websocket.CloseMessage, closing, time.Now().Add(5*time.Second))
			// net.Conn deadlines may be set from any goroutine; gorilla's SetReadDeadline
			// belongs to the reader.
			_ = c.ws.NetConn().SetReadDeadline(time.Now().Add(2 * time.Second))
			return
		}
	}
}

func (c *gwConn) write(p []byte) error {
	if err := c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	if c.zw == nil {
		return c.ws.WriteMessage(websocket.TextMessage, p)
	}
	// zlib-stream: one context for the whole connection, a Z_SYNC_FLUSH (00 00 ff ff) after
	// every message, one binary frame per message (gateway.mdx "Transport Compression").
	c.zbuf.Reset()
	if _, err := c.zw.Write(p); err != nil {
		return fmt.Errorf("zlib-stream: %w", err)
	}
	if err := c.zw.Flush(); err != nil {
		return fmt.Errorf("zlib-stream: %w", err)
	}
	return c.ws.WriteMessage(websocket.BinaryMessage, c.zbuf.Bytes())
}

// watchdog closes a connection whose client stopped heartbeating: Discord closes zombie
// connections. Twice the interval is generous: clients heartbeat every interval, the first
// one after interval × jitter.
func (c *gwConn) watchdog() {
	defer c.h.wg.Done()
	h := c.h
	clk := clock.OrSystem(h.beatClock)
	limit := 2 * h.heartbeatInterval
	for {
		// Wait until twice the interval after the last heartbeat; one that came meanwhile
		// moves the end on.
		h.mu.Lock()
		end := c.lastBeat.Add(limit)
		h.mu.Unlock()
		t := clk.TimerAt(end)
		select {
		case <-c.done:
			t.Stop()
			return
		case <-t.C():
		}
		h.mu.Lock()
		if !clk.Now().Before(c.lastBeat.Add(limit)) {
			h.closeConnLocked(c, CloseSessionTimedOut, "Session timed out: no heartbeat")
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
	}
}

// readLoop reads until the connection ends, then detaches it from its session.
func (c *gwConn) readLoop() {
	var err error
	for {
		var data []byte
		if _, data, err = c.ws.ReadMessage(); err != nil {
			break
		}
		if c.out.isClosing() {
			continue // closing: read only to see the client's close frame
		}
		c.handle(data)
	}
	h := c.h
	h.mu.Lock()
	delete(h.conns, c)
	// A close frame from the client was handled (counted, session ended or kept) by
	// closeReceived; what is left is a connection that dropped, which leaves it resumable.
	h.detachLocked(c, false)
	h.notifyLocked()
	h.mu.Unlock()
	close(c.done)
	_ = c.ws.Close()
	h.s.log.Info("gateway connection closed", "err", err)
}

// closeReceived is the reader's handler for a close frame. It records a close the client
// started before answering it: the client acts on the answer (it reconnects and resumes at
// once), so GatewayStats and the session must show the close before the client can, or a
// test that saw the RESUME could still find ClosesReceived empty. A close frame answering
// the fake's own close is the client's reply, not a close it chose, and is not counted.
func (c *gwConn) closeReceived(code int, _ string) error {
	h := c.h
	h.mu.Lock()
	if !c.out.isClosing() {
		h.stats.ClosesReceived[code]++
		// Closing with 1000 or 1001 ends the session (gateway.mdx "Initiating a
		// Disconnect"); any other code leaves it resumable.
		h.detachLocked(c, code == websocket.CloseNormalClosure || code == websocket.CloseGoingAway)
		h.notifyLocked()
	}
	h.mu.Unlock()
	// What gorilla's default handler does: echo the code, then the reader returns the
	// *websocket.CloseError.
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
	return nil
}

// detachLocked takes c off its session, which becomes resumable from now, or ends it.
func (h *hub) detachLocked(c *gwConn, endSession bool) {
	sess := c.sess
	if sess == nil {
		return
	}
	c.sess = nil
	if sess.conn == c {
		sess.conn, sess.ready, sess.lostAt = nil, false, h.s.now()
	}
	if endSession {
		delete(h.sessions, sess.id)
	}
}

// closeWith closes the connection with a gateway close code.
func (c *gwConn) closeWith(code int, reason string) {
	c.h.mu.Lock()
	c.h.closeConnLocked(c, code, reason)
	c.h.mu.Unlock()
}

// violation closes the connection for a client error and reports it: a conforming client
// never gets these codes.
func (c *gwConn) violation(code int, reason string) {
	c.h.s.report("gateway: closed with %d: %s", code, reason)
	c.closeWith(code, reason)
}

// The opcodes a client may send (opcodes-and-status-codes.mdx); the others are receive-only
// and get 4001.
const (
	opHeartbeat           = 1
	opIdentify            = 2
	opPresenceUpdate      = 3
	opVoiceStateUpdate    = 4
	opResume              = 6
	opRequestGuildMembers = 8
	opRequestSoundboard   = 31
	opRequestChannelInfo  = 43
)

func (c *gwConn) handle(data []byte) {
	now := time.Now()
	h := c.h
	if len(data) > maxPayloadBytes {
		c.violation(CloseDecodeError, fmt.Sprintf("Decode error: payload of %d bytes exceeds 4096", len(data)))
		return
	}
	var p struct {
		Op *int            `json:"op"`
		D  json.RawMessage `json:"d"`
	}
	if err := json.Unmarshal(data, &p); err != nil || p.Op == nil {
		c.violation(CloseDecodeError, "Decode error: not a gateway payload")
		return
	}
	// Apps can send 120 events per connection every 60 seconds (gateway.mdx "Rate
	// Limiting"). At Discord's heartbeat interval heartbeats use under 2 of them a minute;
	// a test that shortens the interval would spend the budget on heartbeats alone, so then
	// they are not counted.
	if *p.Op != opHeartbeat || h.heartbeatInterval >= defaultHeartbeatInterval {
		cut := 0
		for cut < len(c.received) && now.Sub(c.received[cut]) >= sendWindow {
			cut++
		}
		c.received = append(c.received[cut:], now)
		if len(c.received) > sendLimit {
			c.violation(CloseRateLimited, "Rate limited: more than 120 payloads in 60 s")
			return
		}
	}
	h.mu.Lock()
	authed := c.sess != nil
	h.mu.Unlock()
	switch *p.Op {
	case opHeartbeat:
		h.mu.Lock()
		h.stats.HeartbeatsReceived++
		c.lastBeat = clock.OrSystem(h.beatClock).Now()
		h.notifyLocked()
		ack := h.acks
		h.mu.Unlock()
		if ack {
			c.send([]byte(`{"op":11,"d":null,"s":null,"t":null}`))
		}
	case opIdentify:
		if authed {
			c.violation(CloseAlreadyAuthenticated, "Already authenticated")
			return
		}
		c.identify(p.D)
	case opResume:
		if authed {
			c.violation(CloseAlreadyAuthenticated, "Already authenticated")
			return
		}
		c.resume(p.D)
	case opPresenceUpdate, opVoiceStateUpdate, opRequestGuildMembers, opRequestSoundboard, opRequestChannelInfo:
		if !authed {
			c.violation(CloseNotAuthenticated, "Not authenticated")
			return
		}
		if *p.Op == opRequestGuildMembers {
			c.requestMembers(p.D)
		}
		// Presence, voice, soundboard and channel-info requests are accepted and ignored.
	default:
		c.violation(CloseUnknownOpcode, fmt.Sprintf("Unknown opcode %d", *p.Op))
	}
}

type identifyData struct {
	Token      *string         `json:"token"`
	Intents    *json.Number    `json:"intents"`
	Shard      []int           `json:"shard"`
	Properties json.RawMessage `json:"properties"`
}

func (c *gwConn) identify(raw json.RawMessage) {
	h := c.h
	s := h.s
	var d identifyData
	if err := json.Unmarshal(raw, &d); err != nil || d.Token == nil {
		c.violation(CloseDecodeError, "Decode error: invalid IDENTIFY payload")
		return
	}
	if *d.Token != s.botToken {
		c.closeWith(CloseAuthenticationFailed, "Authentication failed")
		return
	}
	if d.Intents == nil {
		c.closeWith(CloseInvalidIntents, "Invalid intent(s): intents are required")
		return
	}
	intents, err := strconv.ParseUint(d.Intents.String(), 10, 64)
	if err != nil || intents&^intentsValid != 0 {
		c.closeWith(CloseInvalidIntents, "Invalid intent(s)")
		return
	}
	if intents&intentsPrivileged&^h.privileged != 0 {
		c.closeWith(CloseDisallowedIntents, "Disallowed intent(s)")
		return
	}
	shard := [2]int{0, 1}
	if d.Shard != nil {
		if len(d.Shard) != 2 || d.Shard[1] < 1 || d.Shard[0] < 0 || d.Shard[0] >= d.Shard[1] {
			c.closeWith(CloseInvalidShard, "Invalid shard")
			return
		}
		shard = [2]int{d.Shard[0], d.Shard[1]}
	}

	// The identify limit judges the IDENTIFY by when it arrived, not by when the state lock
	// let it through.
	now := h.identifyNow()
	// READY and the GUILD_CREATEs are rendered and sequenced under s.mu, so no state change
	// falls between the snapshot and the events that follow it.
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := &session{id: randomHex(16), intents: intents, shard: shard}
	var guilds []*Guild
	for _, g := range s.st.guilds {
		if _, member := g.Members[s.botID]; member && sess.routes(g.ID) {
			guilds = append(guilds, g)
		}
	}

	h.mu.Lock()
	h.stats.IdentifiesReceived++
	h.notifyLocked()
	// Shards identify in buckets shard_id % max_concurrency, each at most once per window
	// (gateway.mdx "Session Start Limit Object"); too soon is op 9 (d false).
	bucket := shard[0] % h.maxConcurrency
	if last, ok := h.lastIdentify[bucket]; ok && h.identifyInterval > 0 && now.Sub(last) < h.identifyInterval {
		h.stats.IdentifyRateLimits++
		h.mu.Unlock()
		c.send([]byte(`{"op":9,"d":false,"s":null,"t":null}`))
		return
	}
	h.refillStartsLocked(now)
	if h.startRemaining <= 0 {
		h.mu.Unlock()
		c.closeWith(CloseAuthenticationFailed, "Authentication failed: session start limit reached, token reset")
		return
	}
	h.lastIdentify[bucket] = now
	h.startRemaining--
	if h.startReset.IsZero() {
		h.startReset = now.Add(sessionStartWindow)
	}
	tooMany := len(guilds) > h.maxGuildsPerShard
	if tooMany {
		h.stats.ShardingRequired++
	}
	h.mu.Unlock()
	if tooMany {
		c.closeWith(CloseShardingRequired, "Sharding required")
		return
	}
	sort.Slice(guilds, func(i, j int) bool { return guilds[i].ID < guilds[j].ID })
	stubs := make([]map[string]any, 0, len(guilds))
	for _, g := range guilds {
		stubs = append(stubs, map[string]any{"id": g.ID, "unavailable": true})
	}
	user := s.userJSON(s.botID)
	user["verified"] = true
	user["mfa_enabled"] = false
	user["email"] = nil
	user["flags"] = 0
	ready := map[string]any{
		"v":                   10,
		"user":                user,
		"guilds":              stubs,
		"session_id":          sess.id,
		"resume_gateway_url":  s.GatewayURL,
		"shard":               shard,
		"application":         map[string]any{"id": s.appID, "flags": h.applicationFlags()},
		"private_channels":    []any{},
		"relationships":       []any{},
		"presences":           []any{},
		"guild_join_requests": []any{},
		"user_settings":       map[string]any{},
		"session_type":        "normal",
		"auth":                map[string]any{},
		"_trace":              []string{"discordtest"},
	}
	readyJSON, err := json.Marshal(ready)
	if err != nil {
		s.report("gateway: cannot encode READY: %v", err)
		return
	}
	var creates [][]byte
	if intents&IntentGuilds != 0 {
		for _, g := range guilds {
			gc := s.guildCreateJSON(g)
			// Without GUILD_PRESENCES, GUILD_CREATE's members hold only the bot (and users in
			// voice, which the fake has none of): gateway-events.mdx "Guild Create".
			if intents&IntentGuildPresences == 0 {
				gc["members"] = []map[string]any{s.memberJSON(g.Members[s.botID])}
			}
			b, err := json.Marshal(gc)
			if err != nil {
				s.report("gateway: cannot encode GUILD_CREATE: %v", err)
				return
			}
			creates = append(creates, b)
		}
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if c.out.isClosing() {
		return
	}
	h.sessions[sess.id] = sess
	sess.conn = c
	c.sess = sess
	h.sequenceLocked(sess, "READY", readyJSON)
	for _, b := range creates {
		h.sequenceLocked(sess, "GUILD_CREATE", b)
	}
	sess.ready = true
	h.stats.Identifies++
	h.stats.IdentifiesByShard[shard]++
	h.notifyLocked()
}

// applicationFlags are READY's application.flags: the "limited" gateway intent flags of an
// unverified app for each privileged intent it is allowed.
func (h *hub) applicationFlags() int {
	flags := 0
	if h.privileged&IntentGuildPresences != 0 {
		flags |= 1 << 13 // GATEWAY_PRESENCE_LIMITED
	}
	if h.privileged&IntentGuildMembers != 0 {
		flags |= 1 << 15 // GATEWAY_GUILD_MEMBERS_LIMITED
	}
	if h.privileged&IntentMessageContent != 0 {
		flags |= 1 << 19 // GATEWAY_MESSAGE_CONTENT_LIMITED
	}
	return flags
}

func (c *gwConn) resume(raw json.RawMessage) {
	h := c.h
	var d struct {
		Token     *string `json:"token"`
		SessionID string  `json:"session_id"`
		Seq       *int    `json:"seq"`
	}
	if err := json.Unmarshal(raw, &d); err != nil || d.Token == nil {
		c.violation(CloseDecodeError, "Decode error: invalid RESUME payload")
		return
	}
	if *d.Token != h.s.botToken {
		c.closeWith(CloseAuthenticationFailed, "Authentication failed")
		return
	}
	seq := 0
	if d.Seq != nil {
		seq = *d.Seq
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.out.isClosing() {
		return
	}
	h.purgeLocked(h.s.now())
	sess := h.sessions[d.SessionID]
	if sess == nil {
		h.stats.FailedResumes++
		c.send([]byte(`{"op":9,"d":false,"s":null,"t":null}`))
		return
	}
	if seq > sess.seq || seq < 0 {
		h.stats.FailedResumes++
		h.closeConnLocked(c, CloseInvalidSeq, "Invalid seq")
		delete(h.sessions, sess.id)
		return
	}
	if len(sess.buf) > 0 && seq < sess.buf[0].seq-1 {
		// Events the client missed have left the buffer: it cannot catch up.
		h.stats.FailedResumes++
		delete(h.sessions, sess.id)
		c.send([]byte(`{"op":9,"d":false,"s":null,"t":null}`))
		return
	}
	if old := sess.conn; old != nil {
		// The client came back before its old connection ended: the new one wins.
		old.sess = nil
		sess.conn = nil
		h.closeConnLocked(old, CloseUnknownError, "Session resumed on another connection")
	}
	sess.conn = c
	c.sess = sess
	for _, f := range sess.buf {
		if f.seq > seq {
			c.send(f.data)
		}
	}
	h.sequenceLocked(sess, "RESUMED", []byte(`{"_trace":["discordtest"]}`))
	sess.ready = true
	h.stats.Resumes++
	h.notifyLocked()
}

// requestMembers answers op 8 with GUILD_MEMBERS_CHUNK events (up to 1000 members each).
func (c *gwConn) requestMembers(raw json.RawMessage) {
	h := c.h
	s := h.s
	var d struct {
		GuildID ID              `json:"guild_id"`
		Query   *string         `json:"query"`
		Limit   int             `json:"limit"`
		UserIDs json.RawMessage `json:"user_ids"`
		Nonce   string          `json:"nonce"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		c.violation(CloseDecodeError, "Decode error: invalid REQUEST_GUILD_MEMBERS payload")
		return
	}
	var ids []ID
	if len(d.UserIDs) > 0 && string(d.UserIDs) != "null" {
		var one ID
		if json.Unmarshal(d.UserIDs, &one) == nil {
			ids = []ID{one}
		} else if err := json.Unmarshal(d.UserIDs, &ids); err != nil {
			c.violation(CloseDecodeError, "Decode error: invalid user_ids")
			return
		}
	}
	if d.Query == nil && ids == nil {
		c.violation(CloseDecodeError, "Decode error: REQUEST_GUILD_MEMBERS needs query or user_ids")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	h.mu.Lock()
	sess := c.sess
	h.mu.Unlock()
	if sess == nil {
		return
	}
	g := s.st.guilds[d.GuildID]
	var members []map[string]any
	var notFound []ID
	if g != nil {
		switch {
		case ids != nil:
			for _, id := range ids {
				if m, ok := g.Members[id]; ok && len(members) < 100 {
					members = append(members, s.memberJSON(m))
				} else if !ok {
					notFound = append(notFound, id)
				}
			}
		// The whole list needs GUILD_MEMBERS; without it the fake answers with no members.
		case *d.Query != "" || sess.intents&IntentGuildMembers != 0:
			limit := d.Limit
			if *d.Query != "" && (limit == 0 || limit > 100) {
				limit = 100
			}
			var mids []ID
			for id := range g.Members {
				mids = append(mids, id)
			}
			sort.Slice(mids, func(i, j int) bool { return mids[i] < mids[j] })
			for _, id := range mids {
				if limit > 0 && len(members) >= limit {
					break
				}
				u := s.st.users[id]
				if u != nil && strings.HasPrefix(strings.ToLower(u.Username), strings.ToLower(*d.Query)) {
					members = append(members, s.memberJSON(g.Members[id]))
				}
			}
		}
	}
	count := max((len(members)+999)/1000, 1)
	for i := 0; i < count; i++ {
		chunk := members[min(i*1000, len(members)):min((i+1)*1000, len(members))]
		ev := map[string]any{"guild_id": d.GuildID, "members": append([]map[string]any{}, chunk...), "chunk_index": i, "chunk_count": count}
		if i == 0 && len(notFound) > 0 {
			ev["not_found"] = notFound
		}
		if d.Nonce != "" && len(d.Nonce) <= 32 {
			ev["nonce"] = d.Nonce
		}
		b, err := json.Marshal(ev)
		if err != nil {
			s.report("gateway: cannot encode GUILD_MEMBERS_CHUNK: %v", err)
			return
		}
		h.mu.Lock()
		if c.sess == sess {
			h.sequenceLocked(sess, "GUILD_MEMBERS_CHUNK", b)
		}
		h.mu.Unlock()
	}
}
