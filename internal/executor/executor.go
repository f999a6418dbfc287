// Package executor runs Discord calls with retries and a circuit breaker per kind of
// operation. Retries cover what can succeed on a second try (429 honouring retry_after, 5xx,
// no response), with exponential backoff and jitter; other 4xx fail at once. A breaker opens
// after repeated outages of one kind of call (a 403 or 404 never counts), so that while
// Discord is failing bans, moderators are told so at once instead of each waiting through
// retries; it lets one probe through after its recovery delay and closes when it succeeds.
package executor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"

	"github.com/gavelbot/gavel/internal/discord"
)

// Op is a kind of Discord operation; each has its own breaker.
type Op string

// The operations gavel's moderation performs.
const (
	OpBan      Op = "ban"
	OpUnban    Op = "unban"
	OpKick     Op = "kick"
	OpTimeout  Op = "timeout"
	OpRoles    Op = "roles"
	OpMessages Op = "messages"
	OpDM       Op = "dm"
	OpChannels Op = "channels"
	OpAutoMod  Op = "automod"
	OpRead     Op = "read"
)

// BreakerPolicy is when one operation's breaker opens and how long it stays open.
type BreakerPolicy struct {
	// Failures is how many consecutive failed operations (each after its retries) open it.
	Failures uint
	// Recovery is how long it stays open before letting one probe through.
	Recovery time.Duration
}

// Defaults per operation: bans and kicks are the calls a moderator is waiting on, so their
// breaker opens soonest; message sends are numerous and tolerate more.
func defaultBreakers() map[Op]BreakerPolicy {
	return map[Op]BreakerPolicy{
		OpBan:      {Failures: 3, Recovery: 30 * time.Second},
		OpUnban:    {Failures: 3, Recovery: 30 * time.Second},
		OpKick:     {Failures: 3, Recovery: 30 * time.Second},
		OpTimeout:  {Failures: 5, Recovery: 60 * time.Second},
		OpMessages: {Failures: 10, Recovery: 120 * time.Second},
		OpDM:       {Failures: 10, Recovery: 120 * time.Second},
	}
}

// defaultBreaker applies to operations without their own entry.
var defaultBreaker = BreakerPolicy{Failures: 5, Recovery: 60 * time.Second}

// Observer hears about retries and breaker changes, for metrics and logs. Its methods must
// not block.
type Observer interface {
	Retried(op Op, attempt int, err error)
	BreakerChanged(op Op, state string)
}

// Executor runs operations. It is safe for concurrent use.
type Executor struct {
	maxAttempts int
	baseDelay   time.Duration
	maxDelay    time.Duration
	policies    map[Op]BreakerPolicy
	observer    Observer

	mu       sync.Mutex
	breakers map[Op]circuitbreaker.CircuitBreaker[any]
	runs     map[Op]failsafe.Executor[any] // op's retries (policiesFor)
}

// Option configures an Executor.
type Option func(*Executor)

// WithRetries sets the attempts per call (1 means no retry) and the backoff between them:
// base, doubling, capped at max, with ±25% jitter.
func WithRetries(attempts int, base, max time.Duration) Option {
	return func(e *Executor) { e.maxAttempts, e.baseDelay, e.maxDelay = attempts, base, max }
}

// WithBreaker sets one operation's breaker policy.
func WithBreaker(op Op, p BreakerPolicy) Option { return func(e *Executor) { e.policies[op] = p } }

// WithObserver reports retries and breaker changes.
func WithObserver(o Observer) Option { return func(e *Executor) { e.observer = o } }

// New returns an executor with three attempts per call, backoff from 1 s to 30 s, and the
// default breakers.
func New(opts ...Option) *Executor {
	e := &Executor{maxAttempts: 3, baseDelay: time.Second, maxDelay: 30 * time.Second,
		policies: defaultBreakers(), breakers: map[Op]circuitbreaker.CircuitBreaker[any]{}, runs: map[Op]failsafe.Executor[any]{}}
	for _, o := range opts {
		o(e)
	}
	if e.maxAttempts < 1 {
		e.maxAttempts = 1
	}
	return e
}

// OpenError is returned without calling Discord while an operation's breaker is open.
type OpenError struct {
	Op    Op
	Until time.Time
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("Discord has been failing %s requests; gavel pauses them until %s UTC", e.Op, e.Until.UTC().Format("15:04:05"))
}

// ErrOpen is matched (errors.Is) by every *OpenError.
var ErrOpen = errors.New("circuit open")

// Is makes errors.Is(err, ErrOpen) true.
func (e *OpenError) Is(target error) bool { return target == ErrOpen }

// Do runs fn as operation op. It returns fn's last error (a *discord.Error when Discord
// answered), an *OpenError when the breaker is open, or ctx's error.
//
// The breaker wraps the retries, so it counts failed operations, not attempts: as failsafe
// composes the two, op's breaker grants a permit, the retry policy runs the attempts, and
// the breaker records the outcome. Do makes the first attempt itself and hands only a
// failed one to failsafe's retry policy (as that policy's first attempt, so that the
// retries, their delays and the observer's attempt numbers are the same): a failsafe run
// cost about 31 allocations, on every call, most of them reads answered from a cache.
func (e *Executor) Do(ctx context.Context, op Op, fn func(ctx context.Context) error) error {
	br, retries := e.policiesFor(op)
	if !br.TryAcquirePermit() {
		// The wall clock, as the breaker's: failsafe reads it (tests that move time run in a
		// synctest bubble, which moves both).
		return &OpenError{Op: op, Until: time.Now().Add(br.RemainingDelay())}
	}
	err := fn(ctx)
	switch {
	case ctx.Err() != nil:
		// As the retry policy does after any attempt: a call whose caller gave up ends with
		// the caller's reason.
		err = ctx.Err()
	case err != nil:
		first := true
		err = retries.WithContext(ctx).Run(func() error {
			if first {
				first = false
				return err
			}
			return fn(ctx)
		})
	}
	// As failsafe's breaker records its policy's outcome: a failure when it is an outage
	// (the breaker's HandleIf), else a success.
	br.RecordError(err)
	return err
}

// retryPolicy is op's retry policy. It holds configuration only (failsafe keeps each
// execution's attempts apart), so one serves every call of op.
func (e *Executor) retryPolicy(op Op) retrypolicy.RetryPolicy[any] {
	return retrypolicy.NewBuilder[any]().
		HandleIf(func(_ any, err error) bool {
			de := discord.AsError(err)
			return de != nil && de.Retryable()
		}).
		// A wait longer than the backoff cap (a long global rate limit) is not worth holding
		// a moderator for: fail now and say so.
		AbortIf(func(_ any, err error) bool {
			de := discord.AsError(err)
			return de != nil && de.RetryAfter > e.maxDelay
		}).
		WithMaxAttempts(e.maxAttempts).
		WithBackoff(e.baseDelay, e.maxDelay).
		WithJitterFactor(0.25).
		WithDelayFunc(func(exec failsafe.ExecutionAttempt[any]) time.Duration {
			if de := discord.AsError(exec.LastError()); de != nil && de.RetryAfter > 0 {
				return de.RetryAfter
			}
			return -1 // the backoff
		}).
		ReturnLastFailure().
		OnRetry(func(ev failsafe.ExecutionEvent[any]) {
			if e.observer != nil {
				e.observer.Retried(op, ev.Attempts(), ev.LastError())
			}
		}).
		Build()
}

// State reports an operation's breaker state as last changed: "closed", "open" or "half-open"
// (an open breaker turns half-open when the next call arrives after its recovery delay).
func (e *Executor) State(op Op) string {
	return stateName(e.breaker(op).State())
}

// OpenUntil reports whether op's breaker is open and refusing calls, and until when: a
// caller about to do something it cannot take back (a DM announcing a ban) asks first. A
// breaker whose recovery delay has passed lets its probe through, so it is not open here.
func (e *Executor) OpenUntil(op Op) (time.Time, bool) {
	br := e.breaker(op)
	if !br.IsOpen() {
		return time.Time{}, false
	}
	rest := br.RemainingDelay()
	if rest <= 0 {
		return time.Time{}, false
	}
	// The wall clock, as the breaker's (see Do).
	return time.Now().Add(rest), true
}

// policiesFor returns op's breaker and the failsafe executor of its retries, built on op's
// first call and kept: building them on every call was a measurable part of gavel's CPU per
// command.
func (e *Executor) policiesFor(op Op) (circuitbreaker.CircuitBreaker[any], failsafe.Executor[any]) {
	br := e.breaker(op)
	e.mu.Lock()
	defer e.mu.Unlock()
	run, ok := e.runs[op]
	if !ok {
		run = failsafe.With[any](e.retryPolicy(op))
		e.runs[op] = run
	}
	return br, run
}

func (e *Executor) breaker(op Op) circuitbreaker.CircuitBreaker[any] {
	e.mu.Lock()
	defer e.mu.Unlock()
	if br, ok := e.breakers[op]; ok {
		return br
	}
	p, ok := e.policies[op]
	if !ok {
		p = defaultBreaker
	}
	br := circuitbreaker.NewBuilder[any]().
		HandleIf(func(_ any, err error) bool {
			de := discord.AsError(err)
			return de != nil && de.Outage()
		}).
		WithFailureThreshold(p.Failures).
		WithDelay(p.Recovery).
		WithSuccessThreshold(1).
		OnStateChanged(func(ev circuitbreaker.StateChangedEvent) {
			if e.observer != nil {
				e.observer.BreakerChanged(op, stateName(ev.NewState))
			}
		}).
		Build()
	e.breakers[op] = br
	return br
}

func stateName(s circuitbreaker.State) string {
	switch s {
	case circuitbreaker.OpenState:
		return "open"
	case circuitbreaker.HalfOpenState:
		return "half-open"
	default:
		return "closed"
	}
}
