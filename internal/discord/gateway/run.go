package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	dgw "github.com/disgoorg/disgo/gateway"
	"github.com/gorilla/websocket"

	"github.com/gavelbot/gavel/internal/clock"
)

// A run is the gateway between Open and the moment it stops (Close, or a fatal close
// code). It has three kinds of goroutine: the supervisor (connects, heartbeats, decides how
// to reconnect), one reader per connection (decodes payloads), and the dispatcher (calls
// the event handler in order, across reconnects, so a slow handler never delays a
// heartbeat).
type run struct {
	ctx    context.Context // cancelled when a stop is requested
	cancel context.CancelFunc

	events chan queued // reader → dispatcher; closed by the supervisor when it exits

	ready     chan struct{} // closed once the first READY or RESUMED has been handled
	readyOnce sync.Once
	stopped   chan struct{} // closed when every goroutine of the run has returned
	killed    chan struct{} // closed when Close's deadline passed: stop waiting politely
	killOnce  sync.Once

	// discard makes the dispatcher drop queued events: the session they belong to ended.
	discard atomic.Bool

	mu         sync.Mutex
	stopCode   int
	stopReason string

	err error // the fatal close that stopped the run; written before events is closed
}

func newRun(buffer int) *run {
	ctx, cancel := context.WithCancel(context.Background())
	return &run{
		ctx:     ctx,
		cancel:  cancel,
		events:  make(chan queued, buffer),
		ready:   make(chan struct{}),
		stopped: make(chan struct{}),
		killed:  make(chan struct{}),
	}
}

func (r *run) requestStop(code int, reason string, discard bool) {
	r.mu.Lock()
	if r.stopCode == 0 {
		r.stopCode, r.stopReason = code, reason
	}
	r.mu.Unlock()
	if discard {
		r.discard.Store(true)
	}
	r.cancel()
}

func (r *run) stopRequest() (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopCode, r.stopReason
}

func (r *run) kill() { r.killOnce.Do(func() { close(r.killed) }) }

func (r *run) wasReady() bool {
	select {
	case <-r.ready:
		return true
	default:
		return false
	}
}

// queued is an event waiting for the handler.
type queued struct {
	t dgw.EventType
	s int
	d dgw.EventData
}

// enqueue hands an event to the dispatcher, waiting while the buffer is full; it gives up
// only when the run is stopping.
func (r *run) enqueue(c *conn, log *slog.Logger, q queued) bool {
	select {
	case r.events <- q:
		return true
	default:
	}
	c.stalls.Add(1)
	c.stalled.Store(true)
	defer c.stalled.Store(false)
	log.Warn("event handler is behind; pausing reads until it catches up", slog.Int("buffer", cap(r.events)))
	select {
	case r.events <- q:
		return true
	case <-r.ctx.Done():
		return false
	}
}

// plan is how the next connection starts.
type plan struct {
	url           string
	resume        bool
	usedResumeURL bool
}

// outcome is how a connection ended and what the supervisor should do about it.
type outcome struct {
	stop           bool  // Close was called
	fatal          error // a close code that must not be retried
	err            error // why the connection ended, for logs and Open's error
	ready          bool  // it reached READY or RESUMED
	dialFailed     bool
	handshakeSent  bool // IDENTIFY or RESUME went out
	invalidSession bool // op 9: wait the invalid-session delay, not the backoff
	closeCode      int  // what to close with; 0 when the connection is already gone
	closeReason    string
}

var (
	errZombie             = errors.New("heartbeat not acknowledged before the next was due: zombie connection")
	errReconnectRequested = errors.New("reconnect requested by Discord (op 7)")
)

// supervise connects, and reconnects after every connection that ends, until the run is
// stopped or Discord refuses for good.
func (g *Gateway) supervise(r *run) {
	var fatal error
	defer func() { g.endRun(r, fatal) }()

	failures := 0      // consecutive connections that never became ready
	failedResumes := 0 // consecutive RESUMEs the server refused without op 9
	avoidResumeURL := false
	var wait time.Duration
	for attempt := 0; ; attempt++ {
		if wait > 0 {
			g.log.Info("reconnecting after delay", slog.Duration("delay", wait))
		}
		if err := sleepUntil(r.ctx, g.cfg.clock, g.cfg.clock.Now().Add(wait)); err != nil {
			return
		}
		p, err := g.plan(avoidResumeURL)
		if err != nil {
			fatal = err
			return
		}
		if attempt > 0 {
			g.mu.Lock()
			g.stats.Reconnects++
			g.mu.Unlock()
		}
		if !p.resume {
			if err := g.identify.Wait(r.ctx, g.cfg.shardID); err != nil {
				return
			}
		}

		o := g.connection(r, p)
		if o.stop {
			return
		}
		if o.fatal != nil {
			fatal = o.fatal
			return
		}
		g.mu.Lock()
		g.lastErr = o.err
		g.mu.Unlock()

		if o.ready {
			failures, failedResumes = 0, 0
		} else {
			failures++
		}
		// The docs: if resuming fails, connect to the cached URL instead; and a server that
		// keeps closing RESUME without op 9 will never take it, so start a new session.
		avoidResumeURL = o.dialFailed && p.usedResumeURL
		if p.resume && o.handshakeSent && !o.ready && !o.invalidSession {
			failedResumes++
			if failedResumes >= g.cfg.maxFailedResumes {
				g.log.Warn("resume keeps failing; starting a new session", slog.Int("attempts", failedResumes))
				g.mu.Lock()
				g.clearSessionLocked()
				g.mu.Unlock()
				failedResumes = 0
			}
		}
		switch {
		case o.invalidSession:
			wait = between(g.cfg.invalidSessionMin, g.cfg.invalidSessionMax, g.cfg.rand)
		case o.ready:
			wait = 0 // a healthy session dropped: reconnect at once
		default:
			wait = g.backoff.delay(failures)
		}
		// A ready connection ending (op 7, a resumable close) is routine; failing to get
		// one is not.
		level := slog.LevelInfo
		if !o.ready {
			level = slog.LevelWarn
		}
		g.log.Log(r.ctx, level, "gateway connection ended; reconnecting",
			slog.Any("err", o.err), slog.Bool("resume", g.hasSession()), slog.Int("failures", failures))
	}
}

// endRun records how the run ended and lets the dispatcher finish it.
func (g *Gateway) endRun(r *run, fatal error) {
	g.mu.Lock()
	g.status = dgw.StatusDisconnected
	g.conn = nil
	if fatal != nil {
		g.err = fatal
		g.clearSessionLocked()
	}
	g.mu.Unlock()
	if fatal != nil {
		g.log.Error("gateway stopped: Discord refused the connection for good", slog.Any("err", fatal))
		r.discard.Store(true)
	}
	r.err = fatal
	close(r.events)
}

func (g *Gateway) hasSession() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sessionID != ""
}

func (g *Gateway) plan(avoidResumeURL bool) (plan, error) {
	g.mu.Lock()
	session, resumeURL := g.sessionID, g.resumeURL
	g.mu.Unlock()
	p := plan{resume: session != ""}
	if p.resume && resumeURL != "" && !avoidResumeURL {
		u, err := gatewayURL(resumeURL, g.cfg.compression)
		if err == nil {
			p.url, p.usedResumeURL = u, true
			return p, nil
		}
		g.log.Warn("unusable resume_gateway_url; using the configured URL", slog.Any("err", err))
	}
	u, err := gatewayURL(g.cfg.url, g.cfg.compression)
	if err != nil {
		return plan{}, err
	}
	p.url = u
	return p, nil
}

// connection runs one WebSocket connection from dial to close.
func (g *Gateway) connection(r *run, p plan) outcome {
	g.setStatus(dgw.StatusConnecting)
	g.log.Debug("dialing gateway", slog.String("url", p.url), slog.Bool("resume", p.resume))
	dialCtx, cancel := context.WithTimeout(r.ctx, g.cfg.dialTimeout)
	ws, resp, err := g.cfg.dialer.DialContext(dialCtx, p.url, nil)
	cancel()
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if r.ctx.Err() != nil {
			return outcome{stop: true}
		}
		if resp != nil {
			err = fmt.Errorf("dial %s: %s: %w", p.url, resp.Status, err)
		} else {
			err = fmt.Errorf("dial %s: %w", p.url, err)
		}
		g.setStatus(dgw.StatusDisconnected)
		return outcome{err: err, dialFailed: true}
	}

	c := newConn(ws, g.cfg.compression, g.cfg.writeTimeout)
	g.sends.reset()
	g.mu.Lock()
	g.conn = c
	g.status = dgw.StatusWaitingForHello
	g.stats.Connects++
	g.mu.Unlock()

	go g.read(r, c)
	o := g.drive(r, c, p)

	g.mu.Lock()
	g.conn = nil
	g.mu.Unlock()
	c.shutdown(o.closeCode, o.closeReason, g.cfg.closeGrace, r.killed)
	g.setStatus(dgw.StatusDisconnected)
	return o
}

// drive is the supervisor's side of one connection: HELLO, the handshake, heartbeats and
// zombie detection, and what the reader reports.
func (g *Gateway) drive(r *run, c *conn, p plan) outcome {
	var o outcome
	clk := g.cfg.clock
	helloTimer := clock.After(clk, g.cfg.helloTimeout)
	defer helloTimer.Stop()
	helloC := helloTimer.C()

	var (
		beat     clock.Timer
		beatC    <-chan time.Time
		interval time.Duration
		sentAt   time.Time // when the unacknowledged heartbeat went out
		lastAck  time.Time
		unacked  bool
		// stallsAtBeat is the reader's stall count when the heartbeat went out.
		stallsAtBeat int64
		heartbeat    = func() error {
			// The time is taken before the write: the reader may read (and timestamp) the
			// ACK before a slow write returns, which made the latency negative.
			at := clk.Now()
			if err := g.sendHeartbeat(c); err != nil {
				return err
			}
			sentAt, unacked = at, true
			stallsAtBeat = c.stalls.Load()
			return nil
		}
	)
	defer func() {
		if beat != nil {
			beat.Stop()
		}
	}()
	reconnect := func(err error) outcome {
		o.err, o.closeCode, o.closeReason = err, closeResumable, "reconnecting"
		return o
	}

	for {
		select {
		case <-r.ctx.Done():
			o.stop = true
			o.closeCode, o.closeReason = r.stopRequest()
			return o

		case <-helloC:
			return reconnect(fmt.Errorf("no HELLO within %v", g.cfg.helloTimeout))

		case <-beatC:
			if unacked && (c.stalled.Load() || c.stalls.Load() != stallsAtBeat) {
				// The ACK may be sitting unread behind events the handler has not
				// taken yet; judge the connection on the next heartbeat instead.
				unacked = false
			}
			if unacked {
				g.mu.Lock()
				g.stats.Zombies++
				g.mu.Unlock()
				g.log.Warn("heartbeat not acknowledged; dropping zombie connection", slog.Duration("since_heartbeat", clk.Now().Sub(sentAt)))
				o.err, o.closeCode, o.closeReason = errZombie, closeResumable, "heartbeat not acknowledged"
				return o
			}
			if err := heartbeat(); err != nil {
				return reconnect(err)
			}
			beat = clock.After(clk, interval)
			beatC = beat.C()

		case m := <-c.ctrl:
			switch m.kind {
			case ctrlHello:
				if beat != nil {
					continue // HELLO comes once; a repeat changes nothing
				}
				if m.interval <= 0 {
					return reconnect(fmt.Errorf("HELLO with heartbeat interval %v", m.interval))
				}
				helloTimer.Stop()
				helloC = nil
				interval = m.interval
				// The first heartbeat waits interval × jitter so that clients reconnecting
				// together do not heartbeat together.
				beat = clock.After(clk, time.Duration(g.cfg.jitter()*float64(interval)))
				beatC = beat.C()
				if err := g.handshake(c, p); err != nil {
					return reconnect(err)
				}
				o.handshakeSent = true

			case ctrlAck:
				if unacked {
					g.mu.Lock()
					g.latency = m.at.Sub(sentAt)
					g.mu.Unlock()
				}
				unacked = false
				// Informational (disgo turns it into events.HeartbeatAck): never let it
				// block heartbeats, so drop it when the handler is behind.
				select {
				case r.events <- queued{t: dgw.EventTypeHeartbeatAck, d: dgw.EventHeartbeatAck{LastHeartbeat: lastAck, NewHeartbeat: m.at}}:
				default:
				}
				lastAck = m.at

			case ctrlHeartbeatRequest:
				if err := heartbeat(); err != nil {
					return reconnect(err)
				}

			case ctrlReady:
				o.ready = true

			case ctrlReconnect:
				g.log.Info("Discord asked for a reconnect (op 7)")
				return reconnect(errReconnectRequested)

			case ctrlInvalidSession:
				g.log.Warn("invalid session (op 9)", slog.Bool("resumable", m.resumable))
				g.mu.Lock()
				g.stats.InvalidSessions++
				if !m.resumable {
					g.clearSessionLocked()
				}
				g.mu.Unlock()
				o.invalidSession = true
				o.err = fmt.Errorf("invalid session (op 9, resumable %t)", m.resumable)
				o.closeCode, o.closeReason = closeResumable, "invalid session"
				if !m.resumable {
					// The session is gone already; 1000 says so.
					o.closeCode = websocket.CloseNormalClosure
				}
				return o

			case ctrlReadError:
				return g.readFailed(o, m.err)
			}
		}
	}
}

// readFailed turns the reader's error into an outcome: Discord's close code decides
// between giving up, a new session, and resuming; anything else resumes.
func (g *Gateway) readFailed(o outcome, err error) outcome {
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code == websocket.CloseAbnormalClosure {
		o.err = fmt.Errorf("read from gateway: %w", err)
		return o
	}
	cerr := &CloseError{Code: ce.Code, Reason: ce.Text}
	g.mu.Lock()
	g.stats.LastCloseCode = ce.Code
	if endsSession(ce.Code) {
		g.clearSessionLocked()
	}
	g.mu.Unlock()
	if cerr.Fatal() {
		o.fatal = cerr
		return o
	}
	o.err = cerr
	return o
}

// handshake sends RESUME when there is a session, IDENTIFY otherwise.
func (g *Gateway) handshake(c *conn, p plan) error {
	g.mu.Lock()
	var (
		op   dgw.Opcode
		d    dgw.MessageData
		next dgw.Status
	)
	if p.resume && g.sessionID != "" {
		op, next = dgw.OpcodeResume, dgw.StatusResuming
		d = dgw.MessageDataResume{Token: g.token, SessionID: g.sessionID, Seq: g.seq}
	} else {
		op, next = dgw.OpcodeIdentify, dgw.StatusIdentifying
		shard := [2]int{g.cfg.shardID, g.cfg.shardCount}
		d = dgw.MessageDataIdentify{
			Token: g.token,
			Properties: dgw.IdentifyCommandDataProperties{
				OS:      g.cfg.os,
				Browser: "gavel",
				Device:  "gavel",
			},
			LargeThreshold: g.cfg.largeThreshold,
			Shard:          &shard,
			Intents:        g.cfg.intents,
			Presence:       copyPresence(g.presence),
		}
		g.stats.Identifies++
	}
	// Set before writing: the reader may see READY before this goroutine runs again, and
	// READY's status must win.
	g.status = dgw.StatusWaitingForReady
	g.mu.Unlock()
	g.log.Debug("sending handshake", slog.String("status", next.String()))

	data, err := encode(op, d)
	if err != nil {
		return err
	}
	g.sends.internal()
	if err := c.write(data); err != nil {
		return fmt.Errorf("send %s: %w", next, err)
	}
	return nil
}

func (g *Gateway) sendHeartbeat(c *conn) error {
	g.mu.Lock()
	seq := g.seq
	g.mu.Unlock()
	// disgo encodes 0 as null, which is what Discord wants before the first dispatch.
	data, err := encode(dgw.OpcodeHeartbeat, dgw.MessageDataHeartbeat(seq))
	if err != nil {
		return err
	}
	g.sends.internal()
	if err := c.write(data); err != nil {
		return fmt.Errorf("send heartbeat: %w", err)
	}
	return nil
}

func (g *Gateway) setStatus(s dgw.Status) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.status = s
}

// read is a connection's reader goroutine.
func (g *Gateway) read(r *run, c *conn) {
	defer close(c.readerDone)
	tell := func(m control) bool {
		select {
		case c.ctrl <- m:
			return true
		case <-c.done:
			return false
		}
	}
	for {
		data, err := c.next()
		if err != nil {
			tell(control{kind: ctrlReadError, err: err})
			return
		}
		m, err := decode(data, g.cfg.skip, g.cfg.ownMessages)
		if err != nil {
			g.mu.Lock()
			g.stats.DecodeErrors++
			g.mu.Unlock()
			g.log.Warn("skipping a gateway payload disgo cannot decode", slog.Any("err", err))
			if m.Op != dgw.OpcodeDispatch {
				continue
			}
		}
		g.log.Debug("received gateway payload", slog.Int("op", int(m.Op)), slog.String("t", string(m.T)), slog.Int("s", m.S))

		ok := true
		switch m.Op {
		case dgw.OpcodeDispatch:
			ok = g.received(r, c, m, tell)
		case dgw.OpcodeHeartbeatACK:
			ok = tell(control{kind: ctrlAck, at: g.cfg.clock.Now()})
		case dgw.OpcodeHeartbeat:
			ok = tell(control{kind: ctrlHeartbeatRequest})
		case dgw.OpcodeHello:
			hello, _ := m.D.(dgw.MessageDataHello)
			ok = tell(control{kind: ctrlHello, interval: time.Duration(hello.HeartbeatInterval) * time.Millisecond})
		case dgw.OpcodeReconnect:
			ok = tell(control{kind: ctrlReconnect})
		case dgw.OpcodeInvalidSession:
			resumable, _ := m.D.(dgw.MessageDataInvalidSession)
			ok = tell(control{kind: ctrlInvalidSession, resumable: bool(resumable)})
		default:
			g.log.Debug("ignoring gateway opcode", slog.Int("op", int(m.Op)))
		}
		if !ok {
			return
		}
	}
}

// received records a dispatch and queues it for the handler. The sequence advances only
// for events that were queued, so a RESUME never skips one the handler did not get.
func (g *Gateway) received(r *run, c *conn, m dgw.Message, tell func(control) bool) bool {
	ev, decoded := m.D.(dgw.EventData)
	g.mu.Lock()
	prev := g.seq
	if m.S > 0 {
		g.seq = m.S
	}
	var ready bool
	switch d := ev.(type) {
	case dgw.EventReady:
		g.sessionID, g.resumeURL = d.SessionID, d.ResumeGatewayURL
		g.status = dgw.StatusReady
		ready = true
		g.log.Info("gateway ready", slog.String("session_id", d.SessionID))
	case dgw.EventResumed:
		g.status = dgw.StatusReady
		g.stats.Resumes++
		ready = true
		g.log.Info("gateway resumed", slog.String("session_id", g.sessionID), slog.Int("seq", prev))
	}
	g.mu.Unlock()

	queuedOK := true
	if decoded {
		if g.cfg.rawEvents {
			queuedOK = r.enqueue(c, g.log, queued{t: dgw.EventTypeRaw, s: m.S, d: dgw.EventRaw{EventType: m.T, Payload: bytes.NewReader(m.RawD)}})
		}
		if _, unknown := ev.(dgw.EventUnknown); queuedOK && !unknown {
			queuedOK = r.enqueue(c, g.log, queued{t: m.T, s: m.S, d: ev})
		}
	}
	if !queuedOK {
		g.mu.Lock()
		if g.seq == m.S {
			g.seq = prev
		}
		g.mu.Unlock()
		return false
	}
	if ready {
		return tell(control{kind: ctrlReady})
	}
	return true
}

// dispatch is the run's dispatcher goroutine; it is the last to finish.
func (g *Gateway) dispatch(r *run) {
	for q := range r.events {
		if r.discard.Load() {
			continue
		}
		g.deliver(q)
		if q.t == dgw.EventTypeReady || q.t == dgw.EventTypeResumed {
			r.readyOnce.Do(func() { close(r.ready) })
		}
	}
	g.mu.Lock()
	if g.run == r {
		g.run = nil
	}
	h := g.cfg.closeHandler
	g.mu.Unlock()
	if r.err != nil && h != nil && r.wasReady() {
		h(r.err)
	}
	close(r.stopped)
}

// deliver calls the handler, surviving a panic in it: one bad event must not take the
// bot's connection down.
func (g *Gateway) deliver(q queued) {
	g.mu.Lock()
	h := g.handler
	g.mu.Unlock()
	if h == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			g.log.Error("event handler panicked", slog.String("event", string(q.t)), slog.Any("panic", v))
		}
	}()
	h(g, q.t, q.s, q.d)
}
