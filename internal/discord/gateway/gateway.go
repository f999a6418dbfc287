package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/disgoorg/disgo/discord"
	dgw "github.com/disgoorg/disgo/gateway"
	"github.com/gorilla/websocket"
)

// ErrNoEventHandler is returned by Open when SetEventHandler was never called: events
// received before the handler is bound would be lost, so the gateway refuses to connect.
var ErrNoEventHandler = errors.New("gateway has no event handler: call SetEventHandler before Open")

// errClosedDuringOpen is Open's error when Close ends the run before it was ready.
var errClosedDuringOpen = errors.New("gateway closed before it was ready")

var _ dgw.Gateway = (*Gateway)(nil)

// Gateway is one shard's connection to Discord's gateway. It implements disgo's
// gateway.Gateway, so bot.WithGateway plugs it into a disgo client. All methods are safe
// for concurrent use.
type Gateway struct {
	token    string
	cfg      config
	log      *slog.Logger
	identify IdentifyLimiter
	sends    *sendLimiter
	backoff  backoff

	mu        sync.Mutex
	handler   dgw.EventHandlerFunc
	status    dgw.Status
	sessionID string // "" when there is no session to resume
	resumeURL string
	seq       int // last dispatch sequence received in the session; 0 before the first
	presence  *dgw.MessageDataPresenceUpdate
	latency   time.Duration
	stats     Stats
	conn      *conn // the live connection, for Send
	run       *run  // the running supervisor, nil when stopped
	lastErr   error // why the most recent connection attempt failed, for Open's error
	err       error // why the gateway last stopped on its own
}

// New returns a gateway for token. Bind it to an event handler with SetEventHandler (or
// build the disgo client with NewClient, which does that) before Open.
func New(token string, opts ...Option) (*Gateway, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if token == "" {
		return nil, errors.New("new gateway: token is empty")
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("new gateway: %w", err)
	}
	if cfg.identify == nil {
		cfg.identify = &identifyBuckets{maxConcurrency: 1, interval: DefaultIdentifyInterval, next: map[int]time.Time{}, clock: cfg.clock}
	}
	g := &Gateway{
		token:    token,
		cfg:      cfg,
		log:      cfg.logger.With(slog.String("component", "gateway"), slog.Int("shard_id", cfg.shardID), slog.Int("shard_count", cfg.shardCount)),
		identify: cfg.identify,
		sends:    newSendLimiter(cfg.clock, cfg.sendLimit, min(cfg.sendReserved, cfg.sendLimit/2), cfg.sendWindow),
		backoff:  backoff{base: cfg.backoffBase, max: cfg.backoffMax, rand: cfg.rand},
		status:   dgw.StatusUnconnected,
		presence: copyPresence(cfg.presence),
	}
	g.sessionID, g.seq, g.resumeURL = cfg.resume.id, cfg.resume.seq, cfg.resume.url
	return g, nil
}

// SetEventHandler binds the function every received event goes to, normally a disgo
// client's EventManager.HandleGatewayEvent. Open refuses to connect until it is set.
func (g *Gateway) SetEventHandler(h dgw.EventHandlerFunc) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.handler = h
}

// Open connects and returns once the session is ready (READY or RESUMED handled by the
// event handler). Failures Discord may recover from are retried with backoff until ctx
// ends; a close code that must not be retried (a *CloseError with Fatal true) is returned
// at once. Once Open has returned nil the gateway reconnects by itself until Close.
func (g *Gateway) Open(ctx context.Context) error {
	g.mu.Lock()
	if g.handler == nil {
		g.mu.Unlock()
		return ErrNoEventHandler
	}
	if g.run != nil {
		g.mu.Unlock()
		return fmt.Errorf("open gateway: %w", discord.ErrGatewayAlreadyConnected)
	}
	r := newRun(g.cfg.eventBuffer)
	g.run = r
	g.err = nil
	g.lastErr = nil
	g.status = dgw.StatusConnecting
	g.mu.Unlock()

	go g.supervise(r)
	go g.dispatch(r)

	select {
	case <-r.ready:
		return nil
	case <-r.stopped:
		if r.wasReady() {
			return nil // it stopped after becoming ready; the close handler has the error
		}
		if r.err != nil {
			return fmt.Errorf("open gateway: %w", r.err)
		}
		return fmt.Errorf("open gateway: %w", errClosedDuringOpen)
	case <-ctx.Done():
		g.mu.Lock()
		last := g.lastErr
		g.mu.Unlock()
		// Keep any session: a caller that closed with a resumable code and reopens should
		// still be able to resume next time.
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.stopRun(stopCtx, r, closeResumable, "open cancelled")
		if last != nil {
			return fmt.Errorf("open gateway: %w (last attempt: %w)", ctx.Err(), last)
		}
		return fmt.Errorf("open gateway: %w", ctx.Err())
	}
}

// Close closes with 1000, which ends the session on Discord's side (the bot goes offline
// at once), and forgets the session. It returns when every goroutine of the gateway has
// exited, or when ctx ends, in which case the connection is dropped without waiting.
// Do not call it from the event handler without a deadline on ctx: it waits for the
// handler to return.
func (g *Gateway) Close(ctx context.Context) {
	g.CloseWithCode(ctx, websocket.CloseNormalClosure, "shutting down")
}

// CloseWithCode closes with code. 1000 and 1001 end the session; any other code keeps it,
// and the next Open resumes it. With such a code, events already received are handed to the
// handler before CloseWithCode returns, since resuming will not replay them.
func (g *Gateway) CloseWithCode(ctx context.Context, code int, message string) {
	g.mu.Lock()
	r := g.run
	g.mu.Unlock()
	if r != nil {
		g.stopRun(ctx, r, code, message)
	}
	if endsSessionOnClose(code) {
		g.mu.Lock()
		g.clearSessionLocked()
		g.mu.Unlock()
	}
}

func endsSessionOnClose(code int) bool {
	return code == websocket.CloseNormalClosure || code == websocket.CloseGoingAway
}

// stopRun asks r to stop with code and waits for it, dropping the connection when ctx ends.
func (g *Gateway) stopRun(ctx context.Context, r *run, code int, message string) {
	r.requestStop(code, message, endsSessionOnClose(code))
	select {
	case <-r.stopped:
	case <-ctx.Done():
		r.kill()
		g.log.Warn("gateway close timed out; connection dropped", slog.Any("err", ctx.Err()))
	}
}

// Status reports the connection's state.
func (g *Gateway) Status() dgw.Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.status
}

// ShardID is the shard this gateway identifies as.
func (g *Gateway) ShardID() int { return g.cfg.shardID }

// ShardCount is the total number of shards sent with IDENTIFY.
func (g *Gateway) ShardCount() int { return g.cfg.shardCount }

// Intents are the intents sent with IDENTIFY.
func (g *Gateway) Intents() dgw.Intents { return g.cfg.intents }

// SessionID is the session to resume, nil when there is none.
func (g *Gateway) SessionID() *string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sessionID == "" {
		return nil
	}
	s := g.sessionID
	return &s
}

// LastSequenceReceived is the last dispatch sequence of the session, nil when there is none.
func (g *Gateway) LastSequenceReceived() *int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seq == 0 {
		return nil
	}
	s := g.seq
	return &s
}

// ResumeURL is READY's resume_gateway_url, nil when there is no session.
func (g *Gateway) ResumeURL() *string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.resumeURL == "" {
		return nil
	}
	u := g.resumeURL
	return &u
}

// Latency is the time between the last heartbeat and its ACK.
func (g *Gateway) Latency() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.latency
}

// Presence is the presence IDENTIFY sends: the configured one, or the last one sent with
// Send. It is a copy: disgo's SetPresence edits what it gets before sending it.
func (g *Gateway) Presence() *dgw.MessageDataPresenceUpdate {
	g.mu.Lock()
	defer g.mu.Unlock()
	return copyPresence(g.presence)
}

// Err is why the gateway last stopped on its own (a fatal close), nil while it runs or
// after Close.
func (g *Gateway) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Stats returns the counters since New.
func (g *Gateway) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}

// Stats counts what the gateway has done, for metrics.
type Stats struct {
	Connects        int // WebSocket connections established
	Reconnects      int // connection attempts after the first of each Open
	Identifies      int // IDENTIFY payloads sent
	Resumes         int // sessions resumed (RESUMED received)
	InvalidSessions int // op 9 received
	Zombies         int // connections dropped because a heartbeat went unacknowledged
	DecodeErrors    int // payloads disgo could not decode (skipped)
	LastCloseCode   int // the last close code Discord sent, 0 if none
}

// Send sends an event (presence update, request guild members, …) once the session is
// ready. It queues to stay under Discord's send limit rather than exceed it, until ctx ends.
func (g *Gateway) Send(ctx context.Context, op dgw.Opcode, d dgw.MessageData) error {
	data, err := encode(op, d)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if st := g.Status(); st != dgw.StatusReady {
		return fmt.Errorf("send op %d while %s: %w", op, st, discord.ErrShardNotReady)
	}
	if err := g.sends.wait(ctx); err != nil {
		return fmt.Errorf("send op %d: waiting for the send rate limit: %w", op, err)
	}
	g.mu.Lock()
	c, st := g.conn, g.status
	g.mu.Unlock()
	if c == nil {
		return fmt.Errorf("send op %d: %w", op, discord.ErrShardNotConnected)
	}
	if st != dgw.StatusReady {
		return fmt.Errorf("send op %d while %s: %w", op, st, discord.ErrShardNotReady)
	}
	if err := c.write(data); err != nil {
		return fmt.Errorf("send op %d: %w", op, err)
	}
	if op == dgw.OpcodePresenceUpdate {
		g.rememberPresence(d)
	}
	return nil
}

// rememberPresence keeps a sent presence so the next IDENTIFY restores it.
func (g *Gateway) rememberPresence(d dgw.MessageData) {
	var p *dgw.MessageDataPresenceUpdate
	switch v := d.(type) {
	case dgw.MessageDataPresenceUpdate:
		p = &v
	case *dgw.MessageDataPresenceUpdate:
		p = v
	default:
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.presence = copyPresence(p)
}

func copyPresence(p *dgw.MessageDataPresenceUpdate) *dgw.MessageDataPresenceUpdate {
	if p == nil {
		return nil
	}
	c := *p
	c.Activities = slices.Clone(p.Activities)
	if p.Since != nil {
		since := *p.Since
		c.Since = &since
	}
	return &c
}

func (g *Gateway) clearSessionLocked() {
	g.sessionID = ""
	g.resumeURL = ""
	g.seq = 0
}
