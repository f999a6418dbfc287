package executor_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
)

type recorder struct {
	mu      sync.Mutex
	retries int
	states  []string
}

func (r *recorder) Retried(executor.Op, int, error) { r.mu.Lock(); r.retries++; r.mu.Unlock() }
func (r *recorder) BreakerChanged(_ executor.Op, s string) {
	r.mu.Lock()
	r.states = append(r.states, s)
	r.mu.Unlock()
}

func fast(rec *recorder, opts ...executor.Option) *executor.Executor {
	return executor.New(append([]executor.Option{executor.WithRetries(4, time.Millisecond, 20*time.Millisecond), executor.WithObserver(rec)}, opts...)...)
}

// script returns fn failing with errs in order, then succeeding.
func script(errs ...error) (func(context.Context) error, *int) {
	calls := 0
	return func(context.Context) error {
		calls++
		if calls <= len(errs) {
			return errs[calls-1]
		}
		return nil
	}, &calls
}

func status(code int) error {
	return &discord.Error{Op: "ban", Status: code, Message: http.StatusText(code)}
}

func TestRetriesServerErrorsThenSucceeds(t *testing.T) {
	rec := &recorder{}
	ex := fast(rec)
	fn, calls := script(status(500), status(502), status(503))
	if err := ex.Do(context.Background(), executor.OpBan, fn); err != nil {
		t.Fatalf("three 5xx then success: %v", err)
	}
	if *calls != 4 || rec.retries != 3 {
		t.Errorf("calls %d, retries %d; want 4 and 3", *calls, rec.retries)
	}
	noResponse := &discord.Error{Op: "ban", Err: errors.New("connection reset")}
	fn, calls = script(noResponse)
	if err := ex.Do(context.Background(), executor.OpBan, fn); err != nil || *calls != 2 {
		t.Errorf("network error then success: %v after %d calls", err, *calls)
	}
}

func TestNoRetryForClientErrors(t *testing.T) {
	for _, code := range []int{400, 403, 404} {
		rec := &recorder{}
		fn, calls := script(status(code), status(code))
		err := fast(rec).Do(context.Background(), executor.OpBan, fn)
		if !discord.IsStatus(err, code) || *calls != 1 || rec.retries != 0 {
			t.Errorf("%d: err %v after %d calls; want it returned after 1", code, err, *calls)
		}
	}
}

func TestGivesUpAfterAttempts(t *testing.T) {
	fn, calls := script(status(500), status(500), status(500), status(500), status(500))
	err := fast(&recorder{}).Do(context.Background(), executor.OpBan, fn)
	if !discord.IsStatus(err, 500) || *calls != 4 {
		t.Errorf("err %v after %d calls; want the last 500 after 4", err, *calls)
	}
}

// The timed tests run in a synctest bubble: the executor's waits (failsafe's timers) run on
// the bubble's clock, which moves only when every goroutine in it waits, so a wait is
// measured exactly and takes no real time.

func TestHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limited := &discord.Error{Op: "ban", Status: 429, RetryAfter: 6 * time.Second}
		fn, calls := script(limited)
		start := time.Now()
		// The backoff base is far shorter than retry_after: the wait must come from
		// retry_after.
		ex := executor.New(executor.WithRetries(3, time.Millisecond, 10*time.Second))
		if err := ex.Do(context.Background(), executor.OpBan, fn); err != nil || *calls != 2 {
			t.Fatalf("429 then success: %v after %d calls", err, *calls)
		}
		if waited := time.Since(start); waited < 4500*time.Millisecond || waited > 7500*time.Millisecond {
			t.Errorf("retried after %v; retry_after asked for 6s (±25%% jitter)", waited)
		}
		long := &discord.Error{Op: "ban", Status: 429, RetryAfter: time.Minute, Global: true}
		fn, calls = script(long)
		start = time.Now()
		if err := ex.Do(context.Background(), executor.OpBan, fn); !discord.IsStatus(err, 429) || *calls != 1 || time.Since(start) != 0 {
			t.Errorf("a minute-long rate limit: %v after %d calls and %v; want it returned at once", err, *calls, time.Since(start))
		}
	})
}

func TestBreakerOpensOnOutagesOnly(t *testing.T) { synctest.Test(t, breakerOpensOnOutagesOnly) }

func breakerOpensOnOutagesOnly(t *testing.T) {
	rec := &recorder{}
	// The bubble's clock starts at midnight UTC, 2000-01-01.
	ex := fast(rec, executor.WithRetries(1, time.Millisecond, time.Millisecond),
		executor.WithBreaker(executor.OpBan, executor.BreakerPolicy{Failures: 3, Recovery: 30 * time.Second}))
	ctx := context.Background()
	// Permission and not-found failures never trip it.
	for i := 0; i < 10; i++ {
		fn, _ := script(status(403))
		_ = ex.Do(ctx, executor.OpBan, fn)
		fn, _ = script(status(404))
		_ = ex.Do(ctx, executor.OpBan, fn)
	}
	if ex.State(executor.OpBan) != "closed" {
		t.Fatalf("403s and 404s opened the breaker")
	}
	for i := 0; i < 3; i++ {
		fn, _ := script(status(500))
		_ = ex.Do(ctx, executor.OpBan, fn)
	}
	if ex.State(executor.OpBan) != "open" {
		t.Fatalf("after 3 failed bans the breaker is %s", ex.State(executor.OpBan))
	}
	fn, calls := script()
	err := ex.Do(ctx, executor.OpBan, fn)
	var open *executor.OpenError
	if !errors.As(err, &open) || !errors.Is(err, executor.ErrOpen) || *calls != 0 {
		t.Fatalf("while open: %v after %d calls; want an OpenError without calling Discord", err, *calls)
	}
	if !strings.Contains(err.Error(), "Discord has been failing ban requests; gavel pauses them until 00:00:30 UTC") {
		t.Errorf("message: %q", err)
	}
	// Other operations are unaffected.
	fn, calls = script()
	if err := ex.Do(ctx, executor.OpKick, fn); err != nil || *calls != 1 {
		t.Errorf("kick while bans are open: %v", err)
	}
	// A moment before the recovery delay ends it still refuses; once it has, one probe goes.
	time.Sleep(30*time.Second - time.Millisecond)
	fn, calls = script()
	if err := ex.Do(ctx, executor.OpBan, fn); !errors.Is(err, executor.ErrOpen) || *calls != 0 {
		t.Fatalf("just before the recovery delay ends: %v after %d calls; want still open", err, *calls)
	}
	time.Sleep(time.Millisecond)
	fn, calls = script()
	if err := ex.Do(ctx, executor.OpBan, fn); err != nil || *calls != 1 {
		t.Fatalf("probe after recovery: %v after %d calls", err, *calls)
	}
	if ex.State(executor.OpBan) != "closed" {
		t.Errorf("after a successful probe the breaker is %s", ex.State(executor.OpBan))
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if strings.Join(rec.states, ",") != "open,half-open,closed" {
		t.Errorf("state changes: %v", rec.states)
	}
}

func TestBreakerCountsOperationsNotAttempts(t *testing.T) {
	ex := executor.New(executor.WithRetries(3, time.Millisecond, time.Millisecond),
		executor.WithBreaker(executor.OpBan, executor.BreakerPolicy{Failures: 2, Recovery: time.Minute}))
	fn, calls := script(status(500), status(500), status(500))
	_ = ex.Do(context.Background(), executor.OpBan, fn)
	if *calls != 3 || ex.State(executor.OpBan) != "closed" {
		t.Errorf("one failed operation of 3 attempts: %d calls, breaker %s; want 3 calls and closed", *calls, ex.State(executor.OpBan))
	}
}

func TestContextCancelledDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := executor.New(executor.WithRetries(5, time.Minute, time.Minute))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		fn, calls := script(status(500), status(500), status(500))
		start := time.Now()
		err := ex.Do(ctx, executor.OpBan, fn)
		if err == nil || *calls != 1 || time.Since(start) != 30*time.Second {
			t.Errorf("cancelled 30s into a 1 minute backoff: %v after %d calls and %v; want it returned at the cancellation", err, *calls, time.Since(start))
		}
	})
}

// Do makes an operation's first attempt itself and hands a failed one to failsafe's retry
// policy: the breaker still sees one outcome per operation (a success between failures
// starts the count again), a failed probe opens it again, and the observer numbers the
// retries as it did when failsafe made the first attempt.
func TestBreakerOutcomesAndRetryNumbers(t *testing.T) {
	synctest.Test(t, breakerOutcomesAndRetryNumbers)
}

type attemptRecorder struct {
	recorder
	attempts []int
}

func (r *attemptRecorder) Retried(_ executor.Op, attempt int, _ error) {
	r.mu.Lock()
	r.attempts = append(r.attempts, attempt)
	r.mu.Unlock()
}

func breakerOutcomesAndRetryNumbers(t *testing.T) {
	rec := &attemptRecorder{}
	ex := executor.New(executor.WithRetries(3, time.Millisecond, time.Millisecond), executor.WithObserver(rec),
		executor.WithBreaker(executor.OpBan, executor.BreakerPolicy{Failures: 2, Recovery: time.Minute}))
	ctx := context.Background()
	do := func(errs ...error) (error, int) {
		fn, calls := script(errs...)
		err := ex.Do(ctx, executor.OpBan, fn)
		return err, *calls
	}
	if err, calls := do(status(500), status(500), status(500)); discord.AsError(err) == nil || calls != 3 {
		t.Fatalf("a failed operation: %v after %d calls; want its last error after 3", err, calls)
	}
	if err, calls := do(); err != nil || calls != 1 {
		t.Fatalf("a succeeding operation: %v after %d calls", err, calls)
	}
	_, _ = do(status(500), status(500), status(500))
	if got := ex.State(executor.OpBan); got != "closed" {
		t.Fatalf("failed, succeeded, failed: breaker %s; want closed (the success starts the count again)", got)
	}
	_, _ = do(status(503), status(503), status(503))
	if got := ex.State(executor.OpBan); got != "open" {
		t.Fatalf("two failed operations in a row: breaker %s; want open", got)
	}
	time.Sleep(time.Minute) // the bubble's clock (synctest): the breaker's recovery passes at once
	if err, calls := do(status(500), status(500), status(500)); errors.Is(err, executor.ErrOpen) || calls != 3 {
		t.Fatalf("the probe: %v after %d calls; want its own failure after 3 attempts", err, calls)
	}
	if got := ex.State(executor.OpBan); got != "open" {
		t.Errorf("after a failed probe the breaker is %s; want open", got)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if got := strings.Join(rec.states, ","); got != "open,half-open,open" {
		t.Errorf("state changes: %s", got)
	}
	if got := fmt.Sprint(rec.attempts); got != "[2 3 2 3 2 3 2 3]" {
		t.Errorf("retries observed as attempts %s; want 2, 3 (the attempt about to run) for each of the 4 failed operations", got)
	}
}

// A call whose caller gave up during it ends with the caller's reason, which the breaker
// does not count, whatever the call returned.
func TestCallerGaveUpDuringTheCall(t *testing.T) {
	ex := executor.New(executor.WithRetries(3, time.Millisecond, time.Millisecond),
		executor.WithBreaker(executor.OpBan, executor.BreakerPolicy{Failures: 1, Recovery: time.Minute}))
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := ex.Do(ctx, executor.OpBan, func(context.Context) error {
		calls++
		cancel()
		return status(500)
	})
	if !errors.Is(err, context.Canceled) || calls != 1 || ex.State(executor.OpBan) != "closed" {
		t.Errorf("cancelled during the call: %v after %d calls, breaker %s; want context.Canceled after 1, closed", err, calls, ex.State(executor.OpBan))
	}
}
