package shards

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/disgoorg/disgo/discord"
	dgw "github.com/disgoorg/disgo/gateway"
	"github.com/disgoorg/disgo/sharding"
	"github.com/disgoorg/snowflake/v2"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/store"
)

// Discover reads GET /gateway/bot: the gateway URL, the recommended shard count and the
// session start limit.
type Discover func(ctx context.Context) (discord.GatewayBot, error)

// CountStore is where the processes sharing a database agree on the shard count (the
// store's shard_config row). nil: this process decides alone.
type CountStore interface {
	ShardCount(ctx context.Context) (store.ShardCount, bool, error)
	SetShardCount(ctx context.Context, count int, generation int64, reason string, now time.Time) (store.ShardCount, error)
}

// IdentifyBudget is implemented by a Provider that knows how many IDENTIFYs its start
// costs (Static: the shards listed; one resuming saved sessions: fewer). Without it, a
// start is counted as one IDENTIFY per shard of the count.
type IdentifyBudget interface {
	IdentifiesNeeded(count int) int
}

// SessionKeeper is implemented by a Provider that hands sessions on to the next owner
// (Release saves them): on a clean stop the shards then close with 4000, which keeps the
// sessions on Discord's side, instead of 1000, which ends them and shows the bot offline
// at once.
type SessionKeeper interface {
	KeepsSessions() bool
}

func keepsSessions(p Provider) bool {
	k, ok := p.(SessionKeeper)
	return ok && k.KeepsSessions()
}

// IdentifiesNeeded implements IdentifyBudget.
func (s Static) IdentifiesNeeded(count int) int {
	if len(s.IDs) == 0 {
		return count
	}
	return len(s.IDs)
}

// Config configures a Manager.
type Config struct {
	Token string
	// Count is discord.shard_count: 0 for "auto".
	Count    int
	Provider Provider
	// Gateway are the options every shard's gateway gets (URL, intents, compression,
	// logger, …); the Manager adds the shard, the identify limiter and its close handler.
	Gateway  []gateway.Option
	Discover Discover
	Counts   CountStore
	Locker   BucketLocker
	Log      *slog.Logger
	// Clock times the identify windows and the re-checks of the count.
	Clock clock.Clock
	// IdentifyInterval is the identify window per bucket (0: gateway.DefaultIdentifyInterval).
	IdentifyInterval time.Duration
	// CountPoll is how often the agreed count is read from the database (default 10 s): a
	// re-shard decided by another process reaches this one within it.
	CountPoll time.Duration
	// RecommendPoll is how often GET /gateway/bot is asked whether Discord recommends more
	// shards (default 15 minutes).
	RecommendPoll time.Duration
	// Ready, if set, is told each time a shard has become ready (after READY or RESUMED).
	Ready func(shardID, count int)
	// IdentifyWindow, if set, is told each time a shard takes its bucket's identify window,
	// before the window's timer starts (tests move the clock through the windows).
	IdentifyWindow func(shardID int)
}

// Defaults of Config's polls.
const (
	DefaultCountPoll     = 10 * time.Second
	DefaultRecommendPoll = 15 * time.Minute
)

// Manager runs the shards its Provider grants, one gateway connection each, all handing
// their events to one handler (the disgo client's). It implements disgo's
// sharding.ShardManager, so bot.WithShardManager plugs it into the client, and Runner, which
// its Provider drives.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	clock   clock.Clock
	limiter *Limiter

	mu         sync.Mutex
	handler    dgw.EventHandlerFunc
	count      int
	generation int64 // of the agreed count; 0 when not agreed through the database
	budget     discord.SessionStartLimit
	budgetAt   time.Time
	shards     map[int]*gateway.Gateway
	events     map[int]*atomic.Int64 // events handled per running shard
	// pending follows each running gateway's events whose work is not finished: the
	// sequence its session is saved with (see pending.go).
	// A stopped shard's stays until its stop has returned, as the events it hands to the
	// handler while stopping are held too.
	pending map[int]*pending
	warned  int // the recommended count last warned about (fixed counts)

	reshard chan string // a shard saw 4011
	fatal   chan error  // a shard stopped for good
}

var (
	_ sharding.ShardManager = (*Manager)(nil)
	_ Runner                = (*Manager)(nil)
)

// New returns a Manager. Prepare it, bind its handler, then Run it.
func New(cfg Config) (*Manager, error) {
	switch {
	case cfg.Token == "":
		return nil, errors.New("shards: no token")
	case cfg.Provider == nil:
		return nil, errors.New("shards: no provider")
	case cfg.Discover == nil:
		return nil, errors.New("shards: no GET /gateway/bot")
	case cfg.Count < 0 || cfg.Count > MaxCount:
		return nil, fmt.Errorf("shards: count %d: accepted is %s", cfg.Count, AcceptedCount)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.CountPoll <= 0 {
		cfg.CountPoll = DefaultCountPoll
	}
	if cfg.RecommendPoll <= 0 {
		cfg.RecommendPoll = DefaultRecommendPoll
	}
	return &Manager{cfg: cfg, log: cfg.Log.With("component", "shards"), clock: clock.OrSystem(cfg.Clock),
		shards: map[int]*gateway.Gateway{}, events: map[int]*atomic.Int64{}, pending: map[int]*pending{}, reshard: make(chan string, 1), fatal: make(chan error, 1)}, nil
}

// SetEventHandler binds the handler every shard's events go to (the disgo client's
// EventManager.HandleGatewayEvent). Call it before Run.
func (m *Manager) SetEventHandler(h dgw.EventHandlerFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.handler = h
}

// Prepare asks Discord for the recommended count and the session start limit, settles the
// count (the configured one; with "auto", the one agreed in the database, raised to what
// Discord recommends), and refuses when starting would use up the day's IDENTIFYs: running
// out makes Discord reset the bot's token.
func (m *Manager) Prepare(ctx context.Context) error {
	info, err := m.cfg.Discover(ctx)
	if err != nil {
		return fmt.Errorf("asking Discord for the shard count and the session start limit (GET /gateway/bot): %w", err)
	}
	m.noteBudget(info.SessionStartLimit)
	count := m.cfg.Count
	var gen int64
	if count == 0 {
		if count, gen, err = m.agree(ctx, info.Shards, "Discord recommends it (GET /gateway/bot)"); err != nil {
			return err
		}
	} else {
		m.warnRecommended(info.Shards, count)
	}
	if err := m.checkBudget(info.SessionStartLimit, count); err != nil {
		return err
	}
	m.limiter = NewLimiter(info.SessionStartLimit.MaxConcurrency, m.cfg.IdentifyInterval, m.clock, m.cfg.Locker)
	m.limiter.observe = m.cfg.IdentifyWindow
	m.mu.Lock()
	m.count, m.generation = count, gen
	m.mu.Unlock()
	m.log.Info("shards prepared", "shard_count", count, "auto", m.cfg.Count == 0, "recommended", info.Shards,
		"max_concurrency", max(info.SessionStartLimit.MaxConcurrency, 1),
		"identifies_remaining", info.SessionStartLimit.Remaining, "identifies_total", info.SessionStartLimit.Total)
	return nil
}

// agree settles an automatic count: at least want, and what the other processes agreed
// on if that is more. Without a CountStore it is want.
func (m *Manager) agree(ctx context.Context, want int, reason string) (int, int64, error) {
	want = max(want, 1)
	if m.cfg.Counts == nil {
		return want, 0, nil
	}
	for {
		sc, ok, err := m.cfg.Counts.ShardCount(ctx)
		if err != nil {
			return 0, 0, err
		}
		if ok && sc.Count >= want {
			return sc.Count, sc.Generation, nil
		}
		next, err := m.cfg.Counts.SetShardCount(ctx, want, sc.Generation, reason, m.clock.Now())
		if err != nil {
			return 0, 0, err
		}
		if next.Count >= want {
			if !ok || next.Generation != sc.Generation {
				m.log.Info("shard count recorded for every process", "shard_count", next.Count, "generation", next.Generation, "reason", next.Reason)
			}
			return next.Count, next.Generation, nil
		}
		// Another process wrote a smaller count in between: try again over it.
	}
}

func (m *Manager) checkBudget(limit discord.SessionStartLimit, count int) error {
	need := count
	if b, ok := m.cfg.Provider.(IdentifyBudget); ok {
		need = b.IdentifiesNeeded(count)
	}
	if limit.Total == 0 && limit.Remaining == 0 {
		return nil // no limit reported
	}
	if need < limit.Remaining {
		return nil
	}
	reset := time.Duration(limit.ResetAfter) * time.Millisecond
	return fmt.Errorf("refusing to start: Discord allows %d more IDENTIFYs today (session_start_limit: %d of %d left, reset in %s, at %s UTC) and starting %d shard(s) needs %d; "+
		"using them all up makes Discord reset the bot's token. Wait for the reset, or run fewer shards in this process (discord.shards)",
		limit.Remaining, limit.Remaining, limit.Total, reset.Round(time.Second), m.clock.Now().Add(reset).UTC().Format("2006-01-02 15:04"), need, need)
}

func (m *Manager) noteBudget(l discord.SessionStartLimit) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.budget, m.budgetAt = l, m.clock.Now()
}

func (m *Manager) warnRecommended(recommended, count int) {
	m.mu.Lock()
	already := m.warned >= recommended
	if recommended > count && !already {
		m.warned = recommended
	}
	m.mu.Unlock()
	if recommended > count && !already {
		m.log.Warn("Discord recommends more shards than discord.shard_count sets: set discord.shard_count = "+fmt.Sprint(recommended)+
			" (or \"auto\", which re-shards by itself); a shard with more than 2,500 guilds is refused with 4011",
			"shard_count", count, "recommended", recommended)
	}
}

// Count is the shard count the shards run with now.
func (m *Manager) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.count
}

// Run runs the provider with the count until ctx ends, then stops every shard keeping its
// session and hands the sessions to the provider's Release. It re-shards when needed (a
// shard closed with 4011, Discord recommends more, another process raised the agreed
// count) with an automatic count, and returns an error when it cannot go on: a fatal close
// (a refused token, disallowed intents), 4011 with a fixed count, the provider's error.
// Prepare must have succeeded.
func (m *Manager) Run(ctx context.Context) error {
	if m.limiter == nil {
		return errors.New("shards: Run before Prepare")
	}
	defer m.limiter.Close()
	for {
		count := m.Count()
		runCtx, cancel := context.WithCancel(ctx)
		p := &providing{done: make(chan struct{})}
		go func() {
			p.err = m.cfg.Provider.Run(runCtx, count, m)
			close(p.done)
		}()
		m.log.Info("running shards", "shard_count", count)
		next, err := m.watch(ctx, p, count)
		cancel()
		if next == 0 {
			// Stopping: a clean stop keeps the sessions for whoever runs the shards next, if
			// the provider hands them on.
			<-p.done
			keep := err == nil && keepsSessions(m.cfg.Provider)
			sessions := m.stopAll(keep)
			if keep {
				relCtx, relCancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				m.cfg.Provider.Release(relCtx, sessions)
				relCancel()
			}
			return err
		}
		<-p.done
		m.stopAll(false)
		m.mu.Lock()
		m.count = next
		m.mu.Unlock()
		m.log.Warn("re-sharding: every shard restarts with the new count", "from", count, "to", next)
	}
}

// providing is a provider's Run in progress: done closes when it returns err.
type providing struct {
	done chan struct{}
	err  error
}

// watch waits for a reason to stop or re-shard: it returns the new count (0 to stop) and
// the error to stop with (nil for a clean stop).
func (m *Manager) watch(ctx context.Context, p *providing, count int) (int, error) {
	provided := p.done
	nextCount := m.clock.Now().Add(m.cfg.CountPoll)
	nextRecommend := m.clock.Now().Add(m.cfg.RecommendPoll)
	for {
		at := nextCount
		if m.cfg.Counts == nil || m.cfg.Count != 0 {
			at = nextRecommend
		}
		at = minTime(at, nextRecommend)
		t := m.clock.TimerAt(at)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, nil
		case <-provided:
			t.Stop()
			err := p.err
			if err == nil {
				// The provider has nothing more to do; the shards keep running.
				provided = nil
				continue
			}
			var ce *gateway.CloseError
			if errors.As(err, &ce) && ce.Code == gateway.CloseShardingRequired {
				return m.grow(ctx, count, err)
			}
			return 0, err
		case err := <-m.fatal:
			t.Stop()
			return 0, err
		case why := <-m.reshard:
			t.Stop()
			return m.grow(ctx, count, errors.New(why))
		case <-t.C():
		}
		now := m.clock.Now()
		if m.cfg.Count == 0 && m.cfg.Counts != nil && !now.Before(nextCount) {
			nextCount = now.Add(m.cfg.CountPoll)
			sc, ok, err := m.cfg.Counts.ShardCount(ctx)
			if err != nil {
				m.log.Warn("reading the agreed shard count", "err", err)
			} else if ok && sc.Count != count && sc.Generation != m.generationNow() {
				m.log.Warn("another process changed the shard count", "to", sc.Count, "reason", sc.Reason)
				m.setGeneration(sc.Generation)
				return sc.Count, nil
			}
		}
		if !now.Before(nextRecommend) {
			nextRecommend = now.Add(m.cfg.RecommendPoll)
			info, err := m.cfg.Discover(ctx)
			if err != nil {
				m.log.Warn("asking Discord for the recommended shard count", "err", err)
				continue
			}
			m.noteBudget(info.SessionStartLimit)
			if info.Shards <= count {
				continue
			}
			if m.cfg.Count != 0 {
				m.warnRecommended(info.Shards, count)
				continue
			}
			return m.settle(ctx, info, count, fmt.Sprintf("Discord recommends %d shards", info.Shards))
		}
	}
}

// grow answers 4011: with an automatic count, the new count is what Discord recommends,
// or twice the old one when Discord does not yet recommend more; with a fixed count, gavel
// stops and says what to set.
func (m *Manager) grow(ctx context.Context, count int, cause error) (int, error) {
	info, err := m.cfg.Discover(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w; and asking Discord for the recommended count failed: %w", cause, err)
	}
	m.noteBudget(info.SessionStartLimit)
	want := max(info.Shards, 2*count)
	if info.Shards > count {
		want = info.Shards
	}
	if m.cfg.Count != 0 {
		return 0, fmt.Errorf("%w: a shard serves more guilds than Discord allows (2,500); set discord.shard_count = %d (or \"auto\", which re-shards by itself)", cause, want)
	}
	m.log.Warn("Discord requires more shards (4011 Sharding required)", "shard_count", count, "recommended", info.Shards, "new_count", want)
	info.Shards = want
	return m.settle(ctx, info, count, fmt.Sprintf("4011 Sharding required at %d shards", count))
}

// settle records a larger automatic count for every process and checks the budget of
// restarting with it.
func (m *Manager) settle(ctx context.Context, info discord.GatewayBot, count int, reason string) (int, error) {
	next, gen, err := m.agree(ctx, info.Shards, reason)
	if err != nil {
		return 0, err
	}
	if next == count {
		return 0, fmt.Errorf("re-sharding: the agreed count is still %d", count)
	}
	if err := m.checkBudget(info.SessionStartLimit, next); err != nil {
		return 0, fmt.Errorf("re-sharding to %d shards: %w", next, err)
	}
	m.setGeneration(gen)
	return next, nil
}

func (m *Manager) generationNow() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.generation
}

func (m *Manager) setGeneration(g int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.generation = g
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Start implements Runner.
func (m *Manager) Start(ctx context.Context, shardID int, resume Session) error {
	m.mu.Lock()
	count, handler := m.count, m.handler
	if m.shards[shardID] != nil {
		m.mu.Unlock()
		return fmt.Errorf("shard %d runs already", shardID)
	}
	m.mu.Unlock()
	if handler == nil {
		return gateway.ErrNoEventHandler
	}
	if shardID < 0 || shardID >= count {
		return fmt.Errorf("shard %d: the shard count is %d", shardID, count)
	}
	opts := append(slices.Clone(m.cfg.Gateway),
		gateway.WithShard(shardID, count),
		gateway.WithIdentifyLimiter(m.limiter),
		gateway.WithCloseHandler(func(err error) { m.onFatal(shardID, count, err) }))
	if resume.Resumable() {
		opts = append(opts, gateway.WithSession(resume.ID, resume.Seq, resume.ResumeURL))
	}
	g, err := gateway.New(m.cfg.Token, opts...)
	if err != nil {
		return err
	}
	handled := new(atomic.Int64)
	resumedFrom := 0
	if resume.Resumable() {
		resumedFrom = resume.Seq
	}
	track := newPending(resumedFrom)
	g.SetEventHandler(func(gw dgw.Gateway, t dgw.EventType, seq int, d dgw.EventData) {
		if t == dgw.EventTypeReady {
			track.newSession()
		}
		if seq > 0 {
			// Held while the handler runs, and after it by the work it starts (Hold);
			// deferred, as the gateway survives a handler's panic.
			defer track.release(track.begin(seq), seq)
		}
		handler(gw, t, seq, d)
		if t != dgw.EventTypeRaw && t != dgw.EventTypeHeartbeatAck {
			handled.Add(1)
		}
	})
	m.mu.Lock()
	if m.shards[shardID] != nil || m.count != count {
		m.mu.Unlock()
		return fmt.Errorf("shard %d: started twice, or re-sharded meanwhile", shardID)
	}
	m.shards[shardID] = g
	m.events[shardID] = handled
	m.pending[shardID] = track
	m.mu.Unlock()
	if err := g.Open(ctx); err != nil {
		m.mu.Lock()
		if m.shards[shardID] == g {
			delete(m.shards, shardID)
		}
		if m.pending[shardID] == track {
			delete(m.pending, shardID)
		}
		m.mu.Unlock()
		return fmt.Errorf("shard %d of %d: %w", shardID, count, err)
	}
	st := g.Stats()
	m.log.Info("shard ready", "shard_id", shardID, "shard_count", count, "resumed", st.Resumes > 0, "latency", g.Latency())
	if m.cfg.Ready != nil {
		m.cfg.Ready(shardID, count)
	}
	return nil
}

// onFatal is a shard's close handler: Discord closed it with a code that must not be
// retried, after it was ready.
func (m *Manager) onFatal(shardID, count int, err error) {
	m.mu.Lock()
	if m.count != count {
		m.mu.Unlock()
		return // a shard of a count being replaced
	}
	m.mu.Unlock()
	var ce *gateway.CloseError
	if errors.As(err, &ce) && ce.Code == gateway.CloseShardingRequired {
		select {
		case m.reshard <- fmt.Sprintf("shard %d of %d: %v", shardID, count, err):
		default:
		}
		return
	}
	select {
	case m.fatal <- fmt.Errorf("shard %d of %d: %w", shardID, count, err):
	default:
	}
}

// Stop implements Runner.
func (m *Manager) Stop(ctx context.Context, shardID int, keep bool) Session {
	m.mu.Lock()
	g := m.shards[shardID]
	delete(m.shards, shardID)
	m.mu.Unlock()
	if g == nil {
		return Session{}
	}
	return m.stopGateway(ctx, shardID, g, keep)
}

func (m *Manager) stopGateway(ctx context.Context, shardID int, g *gateway.Gateway, keep bool) Session {
	m.mu.Lock()
	track := m.pending[shardID]
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		if m.pending[shardID] == track {
			delete(m.pending, shardID)
		}
		m.mu.Unlock()
	}()
	if !keep {
		g.CloseWithCode(ctx, 1000, "gavel: shard stopped")
		m.log.Info("shard stopped", "shard_id", shardID)
		return Session{}
	}
	g.CloseWithCode(ctx, gateway.CloseUnknownError, "gavel: shard handed over")
	s := sessionOf(g, track)
	m.log.Info("shard stopped; session kept to resume", "shard_id", shardID, "seq", s.Seq)
	return s
}

// sessionOf is g's session for the next owner to resume: its sequence is the low-water
// mark of its events (pending.go), not the last received, so that the events whose work
// had not finished (and those still waiting for the handler) are replayed to it.
func sessionOf(g *gateway.Gateway, track *pending) Session {
	var s Session
	if id := g.SessionID(); id != nil {
		s.ID = *id
	}
	if seq := g.LastSequenceReceived(); seq != nil {
		s.Seq = *seq
		if track != nil {
			s.Seq = min(s.Seq, track.mark())
		}
	}
	if u := g.ResumeURL(); u != nil {
		s.ResumeURL = *u
	}
	return s
}

// Hold keeps event seq of shardID, whose handler is running, unfinished until the returned
// function is called: work the handler starts that outlives it (a command on a goroutine of
// its own) holds its event until it is done, so that the session saved meanwhile resumes
// from before it and the next owner of the shard gets it replayed if this process loses
// the shard first. Call it from the handler; for an event it does not know (not a running
// shard's, or no longer being handled) it returns a function that does nothing.
func (m *Manager) Hold(shardID, seq int) (release func()) {
	m.mu.Lock()
	track := m.pending[shardID]
	m.mu.Unlock()
	if track == nil {
		return func() {}
	}
	if release, ok := track.hold(seq); ok {
		return release
	}
	return func() {}
}

// stopAll stops every shard at once (keeping the sessions when keep) and returns the kept
// sessions.
func (m *Manager) stopAll(keep bool) map[int]Session {
	m.mu.Lock()
	running := m.shards
	m.shards = map[int]*gateway.Gateway{}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var mu sync.Mutex
	out := map[int]Session{}
	var wg sync.WaitGroup
	for id, g := range running {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := m.stopGateway(ctx, id, g, keep)
			if keep && s.ID != "" {
				mu.Lock()
				out[id] = s
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// Sessions implements Runner.
func (m *Manager) Sessions() map[int]Session {
	m.mu.Lock()
	running := maps.Clone(m.shards)
	tracks := maps.Clone(m.pending)
	m.mu.Unlock()
	out := make(map[int]Session, len(running))
	for id, g := range running {
		if s := sessionOf(g, tracks[id]); s.ID != "" {
			out[id] = s
		}
	}
	return out
}

// Running implements Runner.
func (m *Manager) Running() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.shards))
}

// Status is one running shard's state, for logs and metrics.
type Status struct {
	ID, Count int
	State     dgw.Status
	Latency   time.Duration
	Stats     gateway.Stats
	// Events counts the dispatches the handler has returned from since the shard started.
	Events int64
}

// Statuses reports every running shard, in id order.
func (m *Manager) Statuses() []Status {
	m.mu.Lock()
	running := maps.Clone(m.shards)
	events := maps.Clone(m.events)
	count := m.count
	m.mu.Unlock()
	out := make([]Status, 0, len(running))
	for _, id := range slices.Sorted(maps.Keys(running)) {
		g := running[id]
		var n int64
		if c := events[id]; c != nil {
			n = c.Load()
		}
		out = append(out, Status{ID: id, Count: count, State: g.Status(), Latency: g.Latency(), Stats: g.Stats(), Events: n})
	}
	return out
}

// Budget is the session start limit as GET /gateway/bot last reported it, and when.
func (m *Manager) Budget() (discord.SessionStartLimit, time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.budget, m.budgetAt
}

// Open implements sharding.ShardManager: it starts every shard of the count that does not
// run, one after the other within the identify limit. gavel itself calls Run, which lets
// the provider choose; Open is for disgo's client.OpenShardManager.
func (m *Manager) Open(ctx context.Context) {
	for id := range m.Count() {
		m.mu.Lock()
		running := m.shards[id] != nil
		m.mu.Unlock()
		if running {
			continue
		}
		if err := m.Start(ctx, id, Session{}); err != nil {
			m.log.Error("opening shard", "shard_id", id, "err", err)
		}
	}
}

// Close implements sharding.ShardManager: every shard still running stops and ends its
// session (Run has already stopped them, keeping their sessions, on a clean stop).
func (m *Manager) Close(context.Context) { m.stopAll(false) }

// OpenShard implements sharding.ShardManager.
func (m *Manager) OpenShard(ctx context.Context, shardID int) error {
	return m.Start(ctx, shardID, Session{})
}

// ResumeShard implements sharding.ShardManager.
func (m *Manager) ResumeShard(ctx context.Context, shardID int, state sharding.ShardState) error {
	return m.Start(ctx, shardID, Session{ID: state.SessionID, Seq: state.Sequence, ResumeURL: state.ResumeURL})
}

// CloseShard implements sharding.ShardManager: the shard stops and ends its session.
func (m *Manager) CloseShard(ctx context.Context, shardID int) { m.Stop(ctx, shardID, false) }

// ShardByGuildID implements sharding.ShardManager: the shard a guild's events come on,
// (guild_id >> 22) % shard_count, or nil when this process does not run it.
func (m *Manager) ShardByGuildID(guildID snowflake.ID) dgw.Gateway {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.count == 0 {
		return nil
	}
	if g := m.shards[sharding.ShardIDByGuild(guildID, m.count)]; g != nil {
		return g
	}
	return nil
}

// Shard implements sharding.ShardManager.
func (m *Manager) Shard(shardID int) dgw.Gateway {
	m.mu.Lock()
	defer m.mu.Unlock()
	if g := m.shards[shardID]; g != nil {
		return g
	}
	return nil
}

// Shards implements sharding.ShardManager.
func (m *Manager) Shards() iter.Seq[dgw.Gateway] {
	m.mu.Lock()
	running := maps.Clone(m.shards)
	m.mu.Unlock()
	return func(yield func(dgw.Gateway) bool) {
		for _, id := range slices.Sorted(maps.Keys(running)) {
			if !yield(running[id]) {
				return
			}
		}
	}
}
