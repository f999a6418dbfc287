package expiry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
)

// Handler runs claimed actions. Run returns nil once it has recorded the outcome (with
// Service.CompleteTx or Complete, while holding the lease); an error makes the poller retry
// the action after a backoff, or give up after MaxAttempts. GaveUp tells a human (the mod
// log) that an action will not be retried.
type Handler interface {
	Run(ctx context.Context, cl Claim) error
	GaveUp(ctx context.Context, a Action, cause string)
}

// Defaults of a poller's settings.
const (
	DefaultPollInterval = 2 * time.Second
	DefaultMaxAttempts  = 8
	DefaultBackoffBase  = 30 * time.Second
	DefaultBackoffMax   = time.Hour
	DefaultLease        = 2 * time.Minute
	DefaultWorkers      = 8
	// reconcileEvery is how often the poller looks for expiring cases with no action.
	reconcileEvery = time.Minute
)

// Config tunes a poller. Zero fields take the defaults.
type Config struct {
	// PollInterval bounds how long an action another process scheduled can wait before this
	// process sees it; actions this process schedules wake the poller at once.
	PollInterval time.Duration
	// MaxAttempts is how many times an action is tried before it gives up.
	MaxAttempts int
	// BackoffBase is the wait after the first failure; it doubles with each one, up to
	// BackoffMax, with ±20% jitter so that a guild's failing actions spread out.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// Lease is how long a claim lasts. A run is cut off well before it ends, so that no
	// other poller can take an action over while it still runs.
	Lease time.Duration
	// Workers is how many actions run at once.
	Workers int
	// Owner names this poller in the lease columns (NewOwner when empty).
	Owner string
	// Actor is the user id the poller's own history rows name (the bot).
	Actor discord.UserID
}

func (c *Config) fill() {
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = DefaultBackoffBase
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.BackoffMax < c.BackoffBase {
		c.BackoffMax = c.BackoffBase
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Owner == "" {
		c.Owner = NewOwner()
	}
}

// Backoff is the wait before the next try after the attempts-th failure.
func (c Config) Backoff(attempts int) time.Duration {
	d := c.BackoffBase
	for i := 1; i < attempts && d < c.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.BackoffMax)
	jitter := time.Duration(float64(d) * 0.2 * (2*rand.Float64() - 1))
	return max(d+jitter, time.Millisecond)
}

// Poller claims due actions and hands them to a Handler: a timer for the next due action,
// a wake-up when this process schedules one, and a poll for those other processes add.
type Poller struct {
	svc *Service
	h   Handler
	cfg Config
	log *slog.Logger
	clk clock.Clock
}

// NewPoller returns a poller; Run starts it.
func NewPoller(svc *Service, h Handler, cfg Config, log *slog.Logger) *Poller {
	cfg.fill()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Poller{svc: svc, h: h, cfg: cfg, log: log, clk: svc.clock}
}

// Config returns the poller's settings, defaults filled in.
func (p *Poller) Config() Config { return p.cfg }

// Run claims and runs due actions until ctx ends, then waits for the runs in flight (each
// bounded by the lease) and returns nil: a shutdown stops new claims but lets a run that
// has started record its outcome.
func (p *Poller) Run(ctx context.Context) error { return p.Serve(ctx, context.WithoutCancel(ctx)) }

// Serve is Run with the runs' context apart: claiming stops when ctx ends, the runs in
// flight are cancelled only when runCtx ends (an overdue shutdown).
func (p *Poller) Serve(ctx, runCtx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, p.cfg.Workers)
	freed := make(chan struct{}, 1)
	lastReconcile := time.Time{}
	trouble := troubleLog{log: p.log}
	for {
		if ctx.Err() != nil {
			return nil
		}
		// Read before the claim, which judges by a later reading: an action due by now and
		// not claimed below is another poller's.
		now := p.clk.Now()
		if now.Sub(lastReconcile) >= reconcileEvery {
			lastReconcile = now
			if n, err := p.svc.Reconcile(ctx, p.cfg.Actor, 1000); err != nil {
				if ctx.Err() == nil {
					trouble.fail("reconciling unscheduled cases", err)
				}
			} else if n > 0 {
				p.log.Info("expiry: scheduled cases that had no expiry action", "count", n)
			}
			p.checkOverdue(ctx, now, &trouble)
		}
		free := p.cfg.Workers - len(slots)
		claimed, want := 0, 0
		if free > 0 {
			// A quarter of the workers' worth more than is free: those wait here for a
			// worker, so that the workers freed while the next claim is on its way find an
			// action instead of idling (a burst is otherwise drained by fewer workers than
			// configured). Each run's time is counted from its claim (see run), so waiting
			// here cannot outlast the lease.
			want = free + max(1, p.cfg.Workers/4)
			claims, err := p.svc.Claim(ctx, p.cfg.Owner, want, p.cfg.Lease)
			switch {
			case err != nil && ctx.Err() == nil:
				trouble.fail("claiming due actions", err)
			case err == nil:
				trouble.ok()
			}
			// Read from the wall clock, not p.clk: it bounds a context's deadline, and
			// contexts run on the wall clock.
			claimedAt := time.Now()
			claimed = len(claims)
			for i, cl := range claims {
				// A claim still waiting for a worker when the poller stops is handed back
				// unrun, for another poller (or the next start) to run at once.
				started := false
				if ctx.Err() == nil {
					select {
					case slots <- struct{}{}:
						started = true
					case <-ctx.Done():
					}
				}
				if !started {
					p.release(claims[i:])
					return nil
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					p.run(runCtx, cl, claimedAt)
					<-slots
					select {
					case freed <- struct{}{}:
					default:
					}
				}()
			}
		}
		if claimed > 0 && claimed == want {
			// There may be more due: claim again once a quarter of the workers are free, so
			// that one claim query (a round trip and a commit) serves several runs.
			for p.cfg.Workers-len(slots) < max(1, p.cfg.Workers/4) {
				select {
				case <-ctx.Done():
					return nil
				case <-freed:
				}
			}
			continue
		}
		// The timer is set for an instant, not a duration, so that the clock moving on
		// while the poller decides only makes the timer due sooner.
		wake := now.Add(p.cfg.PollInterval)
		if trouble.fails > 0 {
			// While the database fails, look again less and less often (up to a minute)
			// rather than every poll interval forever.
			wake = now.Add(min(p.cfg.PollInterval<<min(trouble.fails, 10), maxTroubleWait))
		}
		if next, ok, err := p.svc.NextRunAt(ctx); err != nil {
			if ctx.Err() == nil {
				trouble.fail("reading the next due action", err)
			}
		} else if ok && trouble.fails == 0 {
			// An action already due that this poller could not claim is another poller's
			// (a claim in flight): look again shortly rather than spin.
			if !next.After(now) {
				next = now.Add(20 * time.Millisecond)
			}
			wake = minTime(wake, next)
		}
		idle := p.clk.TimerAt(wake)
		select {
		case <-ctx.Done():
			idle.Stop()
			return nil
		case <-idle.C():
		case <-p.svc.Woken():
		case <-freed:
		}
		idle.Stop()
	}
}

// checkOverdue counts the actions overdue (OverdueAfter) that no poller holds, and says so
// when the count changes: each process claims only its shards' guilds' actions, so those of
// a shard no process runs (explicit shard lists that leave one out) wait here forever.
func (p *Poller) checkOverdue(ctx context.Context, now time.Time, trouble *troubleLog) {
	n, err := p.svc.read.OverdueUnclaimedActions(ctx, query.OverdueUnclaimedActionsParams{
		Before: now.Add(-OverdueAfter).UnixMilli(), Now: sql.NullInt64{Int64: now.UnixMilli(), Valid: true}})
	if err != nil {
		if ctx.Err() == nil {
			trouble.fail("counting the overdue actions", err)
		}
		return
	}
	switch prev := p.svc.overdue.Swap(n); {
	case n > 0 && n != prev:
		p.log.Warn("expiry: actions overdue that no process claims: every process claims only the actions of its shards' guilds, "+
			"so check that every shard of discord.shard_count is run by a process (discord.shards), and that the processes run",
			"count", n, "overdue_by_more_than", OverdueAfter)
	case n == 0 && prev > 0:
		p.log.Info("expiry: no action is overdue any more")
	}
}

// maxTroubleWait bounds the poller's wait between tries while the database fails.
const maxTroubleWait = time.Minute

// troubleLog reports the database failing the poller once per outage, not once per poll: a
// warning when it starts or when the error changes, an info line when it answers again.
type troubleLog struct {
	log   *slog.Logger
	fails int
	last  string
}

func (t *troubleLog) fail(what string, err error) {
	t.fails++
	// The innermost error names the outage; the wrapping differs from call to call.
	root := err
	for u := errors.Unwrap(root); u != nil; u = errors.Unwrap(root) {
		root = u
	}
	if t.fails == 1 || root.Error() != t.last {
		t.log.Warn("expiry: the database fails; retrying less often until it answers (logged again only if the error changes)", "while", what, "err", err)
	} else {
		t.log.Debug("expiry: the database still fails", "while", what, "err", err, "failures", t.fails)
	}
	t.last = root.Error()
}

func (t *troubleLog) ok() {
	if t.fails > 0 {
		t.log.Info("expiry: the database answers again", "failures", t.fails)
	}
	t.fails, t.last = 0, ""
}

// release hands back claims this poller will not run.
func (p *Poller) release(claims []Claim) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, cl := range claims {
		if err := p.svc.Release(ctx, cl); err != nil {
			// Its lease runs out instead, and it is claimed again then.
			p.log.Warn("expiry: handing back an unstarted claim", "action", cl.ID, "err", err)
		}
	}
}

// run runs one claim, taken at claimedAt, and records a failure: retry after a backoff, or
// give up.
func (p *Poller) run(ctx context.Context, cl Claim, claimedAt time.Time) {
	// Cut the run off at half the lease after the claim: its outcome is then recorded while
	// the lease holds, however long the claim waited for a worker.
	runCtx, cancel := context.WithDeadline(ctx, claimedAt.Add(p.cfg.Lease/2))
	defer cancel()
	if g := p.svc.guard; g != nil {
		// The guild's shard may have moved since the claim: run only while this process
		// owns it, and record the outcome only if it still does.
		held, check, done, ok := g.Hold(runCtx, cl.GuildID)
		if !ok {
			p.release([]Claim{cl})
			return
		}
		defer done()
		// Every write of the run is fenced (a lift's pending case, a raid's or a lockdown's
		// record), not only the outcome's: the run's context carries the check too.
		runCtx, cl.fence = store.WithFence(held, check), check
	}
	err := p.h.Run(runCtx, cl)
	if err == nil {
		return
	}
	log := p.log.With("action", cl.ID, "kind", cl.Kind, "guild", cl.GuildID, "user", cl.UserID, "case_id", cl.CaseID, "attempt", cl.Attempts)
	if errors.Is(err, ErrLeaseLost) {
		log.Warn("expiry: lease lost; another poller has the action", "err", err)
		if cl.fence != nil {
			// Refused by the guild's fence: hand the action to the guild's new owner now
			// rather than after the action's lease (refused if another poller has it).
			p.release([]Claim{cl})
		}
		return
	}
	if cl.fence != nil && errors.Is(runCtx.Err(), context.Canceled) && ctx.Err() == nil {
		// The guild moved to another process mid-run: the action is handed back unrecorded,
		// for its new owner to run (a case the cancelled run left pending is reconciled).
		log.Warn("expiry: the guild's shard moved during the run; handed to its new owner", "err", err)
		p.release([]Claim{cl})
		return
	}
	recCtx, cancelRec := context.WithTimeout(ctx, 30*time.Second)
	defer cancelRec()
	cause := err.Error()
	if cl.Attempts >= p.cfg.MaxAttempts {
		if gerr := p.svc.GiveUp(recCtx, cl, p.cfg.Actor, cause); gerr != nil {
			log.Error("expiry: recording the give-up", "err", gerr, "cause", cause)
			return
		}
		log.Error("expiry: gave up", "cause", cause)
		p.h.GaveUp(recCtx, cl.Action, cause)
		return
	}
	retry := p.clk.Now().Add(p.cfg.Backoff(cl.Attempts))
	if ferr := p.svc.Fail(recCtx, cl, cause, retry); ferr != nil {
		log.Error("expiry: recording the failure", "err", ferr, "cause", cause)
		return
	}
	log.Warn("expiry: failed; will retry", "retry_at", retry, "cause", cause)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// String describes the settings, for the start-up log.
func (c Config) String() string {
	return fmt.Sprintf("poll %s, %d attempts, backoff %s to %s, lease %s, %d workers", c.PollInterval, c.MaxAttempts, c.BackoffBase, c.BackoffMax, c.Lease, c.Workers)
}
