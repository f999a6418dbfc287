package disgoport

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/disgoorg/disgo/rest"

	"github.com/gavelbot/gavel/internal/discord"
)

func response(status int, body string, headers ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
}

// The timed tests run in a synctest bubble: the limiter's waits run on the bubble's clock,
// which moves only when every goroutine in it waits, so a wait is measured exactly and takes
// no real time.

// timed runs Wait and returns how long it took.
func timed(l *Limiter, ctx context.Context, e *rest.CompiledEndpoint) (time.Duration, error) {
	start := time.Now()
	err := l.Wait(ctx, e)
	return time.Since(start), err
}

func mustWait(t *testing.T, l *Limiter, e *rest.CompiledEndpoint) {
	t.Helper()
	if err := l.Wait(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var (
	banEndpoint    = rest.AddBan.Compile(nil, int64(1), int64(2))
	memberEndpoint = rest.GetMember.Compile(nil, int64(1), int64(2))
	otherGuildBan  = rest.AddBan.Compile(nil, int64(9), int64(2))
	callback       = rest.CreateInteractionResponse.Compile(nil, int64(5), "token")
)

// disgo's limiter turns Reset-After 0.3 into 0 s and sends into a closed window.
func TestResetAfterKeepsFractions(t *testing.T) { synctest.Test(t, resetAfterKeepsFractions) }

func resetAfterKeepsFractions(t *testing.T) {
	l := NewLimiter(WithGlobalLimit(0, 0))
	mustWait(t, l, banEndpoint)
	_ = l.Unlock(banEndpoint, response(204, "", "X-RateLimit-Bucket", "b", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset-After", "0.300"))
	waited, err := timed(l, context.Background(), banEndpoint)
	if err != nil || waited != 300*time.Millisecond {
		t.Errorf("waited %v, %v; want 300ms", waited, err)
	}
	_ = l.Unlock(banEndpoint, nil)

	// Another guild's bucket is its own.
	if waited, err := timed(l, context.Background(), otherGuildBan); err != nil || waited != 0 {
		t.Errorf("another guild waited %v, %v", waited, err)
	}
	_ = l.Unlock(otherGuildBan, nil)
}

func TestResetEpochWhenNoResetAfter(t *testing.T) { synctest.Test(t, resetEpochWhenNoResetAfter) }

func resetEpochWhenNoResetAfter(t *testing.T) {
	l := NewLimiter(WithGlobalLimit(0, 0))
	mustWait(t, l, banEndpoint)
	epoch := strconv.FormatFloat(float64(time.Now().Add(300*time.Millisecond).UnixMilli())/1000, 'f', 3, 64)
	_ = l.Unlock(banEndpoint, response(204, "", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", epoch))
	waited, err := timed(l, context.Background(), banEndpoint)
	// The epoch is read to the millisecond, the wait to the microsecond after a float.
	if err != nil || (waited-300*time.Millisecond).Abs() > time.Millisecond {
		t.Errorf("waited %v, %v; want 300ms", waited, err)
	}
	_ = l.Unlock(banEndpoint, nil)
}

// A bucket with requests left does not wait, and counts down between responses.
func TestRemainingCountsDown(t *testing.T) { synctest.Test(t, remainingCountsDown) }

func remainingCountsDown(t *testing.T) {
	l := NewLimiter(WithGlobalLimit(0, 0))
	mustWait(t, l, banEndpoint)
	_ = l.Unlock(banEndpoint, response(204, "", "X-RateLimit-Remaining", "1", "X-RateLimit-Reset-After", "0.3"))
	// The next request takes the last slot; if its response is lost, the one after still
	// waits for the reset.
	if waited, err := timed(l, context.Background(), banEndpoint); err != nil || waited != 0 {
		t.Fatalf("waited %v, %v with one request left", waited, err)
	}
	_ = l.Unlock(banEndpoint, nil)
	if waited, err := timed(l, context.Background(), banEndpoint); err != nil || waited != 300*time.Millisecond {
		t.Errorf("waited %v, %v after the last slot; want the reset, 300ms", waited, err)
	}
	_ = l.Unlock(banEndpoint, nil)
}

// A global 429 holds every bot route, but not interaction endpoints, which Discord
// exempts; its body's retry_after is read to the millisecond and the body is left for
// disgo to read.
func TestGlobal429(t *testing.T) { synctest.Test(t, global429) }

func global429(t *testing.T) {
	l := NewLimiter(WithGlobalLimit(0, 0))
	mustWait(t, l, banEndpoint)
	body := `{"message":"You are being rate limited.","retry_after":0.3,"global":true}`
	rs := response(429, body, "Via", "1.1 google", "Retry-After", "1", "X-RateLimit-Global", "true", "X-RateLimit-Scope", "global")
	_ = l.Unlock(banEndpoint, rs)
	if b, err := io.ReadAll(rs.Body); err != nil || string(b) != body {
		t.Errorf("disgo would read %q, %v; want the body", b, err)
	}
	if waited, err := timed(l, context.Background(), callback); err != nil || waited != 0 {
		t.Errorf("an interaction callback waited %v, %v", waited, err)
	}
	_ = l.Unlock(callback, nil)
	waited, err := timed(l, context.Background(), memberEndpoint)
	if err != nil || waited != 300*time.Millisecond {
		t.Errorf("another route waited %v, %v; want 300ms (retry_after, not Retry-After's whole second)", waited, err)
	}
	_ = l.Unlock(memberEndpoint, nil)
}

// A 429 without Discord's load balancer in front (no Via, no bucket) is Cloudflare
// refusing the IP: every route waits.
func TestCloudflare429IsGlobal(t *testing.T) { synctest.Test(t, cloudflare429IsGlobal) }

func cloudflare429IsGlobal(t *testing.T) {
	l := NewLimiter(WithGlobalLimit(0, 0))
	mustWait(t, l, banEndpoint)
	_ = l.Unlock(banEndpoint, response(429, "error code: 1015", "Retry-After", "0.2"))
	if waited, err := timed(l, context.Background(), memberEndpoint); err != nil || waited != 200*time.Millisecond {
		t.Errorf("another route waited %v, %v; want 200ms", waited, err)
	}
	_ = l.Unlock(memberEndpoint, nil)
}

// A wait that would outlast the deadline is refused at once, and the bucket is free for
// others.
func TestWaitPastTheDeadlineIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, waitPastTheDeadlineIsRefusedAtOnce)
}

func waitPastTheDeadlineIsRefusedAtOnce(t *testing.T) {
	l := NewLimiter(WithGlobalLimit(0, 0))
	mustWait(t, l, banEndpoint)
	_ = l.Unlock(banEndpoint, response(429, `{"retry_after":5}`, "Via", "1.1 google", "X-RateLimit-Bucket", "b", "X-RateLimit-Scope", "user"))
	waited, err := timed(l, within(t, time.Second), banEndpoint)
	var rl *RateLimitedError
	if !errors.As(err, &rl) || rl.Global || rl.RetryAfter != 5*time.Second || waited != 0 {
		t.Fatalf("Wait = %v after %v; want a route RateLimitedError of 5s at once", err, waited)
	}
	de := mapError("ban", err)
	if d := discord.AsError(de); d == nil || d.Status != 429 || d.RetryAfter != rl.RetryAfter {
		t.Errorf("mapped to %v", de)
	}
	if waited, err := timed(l, context.Background(), memberEndpoint); err != nil || waited != 0 {
		t.Errorf("another route waited %v, %v", waited, err)
	}
	_ = l.Unlock(memberEndpoint, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	l.Close(ctx)
	if ctx.Err() != nil {
		t.Error("Close waited: the refused Wait left a request counted in flight")
	}
}

// A caller queued behind a bucket's request can give up; the bucket is not lost.
func TestCancelWhileQueued(t *testing.T) { synctest.Test(t, cancelWhileQueued) }

func cancelWhileQueued(t *testing.T) {
	l := NewLimiter(WithGlobalLimit(0, 0))
	mustWait(t, l, banEndpoint)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	if err := l.Wait(ctx, banEndpoint); !errors.Is(err, context.Canceled) {
		t.Fatalf("queued Wait = %v; want context.Canceled", err)
	}
	_ = l.Unlock(banEndpoint, nil)
	if waited, err := timed(l, within(t, time.Second), banEndpoint); err != nil || waited != 0 {
		t.Errorf("the bucket after a cancelled waiter: %v, %v", waited, err)
	}
	_ = l.Unlock(banEndpoint, nil)
}

// One request per bucket in flight: a second caller waits for the first's Unlock.
func TestOneRequestPerBucketInFlight(t *testing.T) { synctest.Test(t, oneRequestPerBucketInFlight) }

func oneRequestPerBucketInFlight(t *testing.T) {
	l := NewLimiter(WithGlobalLimit(0, 0))
	mustWait(t, l, banEndpoint)
	time.AfterFunc(100*time.Millisecond, func() { _ = l.Unlock(banEndpoint, nil) })
	if waited, err := timed(l, context.Background(), banEndpoint); err != nil || waited != 100*time.Millisecond {
		t.Errorf("second caller waited %v, %v; want the first's 100ms", waited, err)
	}
	_ = l.Unlock(banEndpoint, nil)
}

// A bucket whose response carried no rate-limit headers has no limit of its own: its
// requests go side by side. A 429 on it makes it queue again.
func TestOpenBucketDoesNotQueue(t *testing.T) { synctest.Test(t, openBucketDoesNotQueue) }

func openBucketDoesNotQueue(t *testing.T) {
	l := NewLimiter(WithGlobalLimit(0, 0))
	mustWait(t, l, banEndpoint)
	_ = l.Unlock(banEndpoint, response(204, ""))
	for i := range 3 {
		if waited, err := timed(l, within(t, time.Second), banEndpoint); err != nil || waited != 0 {
			t.Fatalf("request %d on an open bucket waited %v, %v", i, waited, err)
		}
	}
	for range 3 {
		_ = l.Unlock(banEndpoint, response(204, ""))
	}
	mustWait(t, l, banEndpoint)
	_ = l.Unlock(banEndpoint, response(429, `{"retry_after":0.05}`, "Via", "1.1 google", "X-RateLimit-Bucket", "b", "X-RateLimit-Scope", "user"))
	mustWait(t, l, banEndpoint) // after the retry_after
	time.AfterFunc(100*time.Millisecond, func() { _ = l.Unlock(banEndpoint, nil) })
	if waited, err := timed(l, context.Background(), banEndpoint); err != nil || waited != 100*time.Millisecond {
		t.Errorf("after a 429 the bucket let a second request join before the first's 100ms (%v, %v)", waited, err)
	}
	_ = l.Unlock(banEndpoint, nil)
}

// With X-RateLimit-Remaining known, that many requests go at once and the next one waits
// for the window; responses arriving out of order never raise the count.
func TestRemainingRequestsGoSideBySide(t *testing.T) { synctest.Test(t, remainingRequestsGoSideBySide) }

func remainingRequestsGoSideBySide(t *testing.T) {
	l := NewLimiter(WithGlobalLimit(0, 0))
	mustWait(t, l, banEndpoint)
	_ = l.Unlock(banEndpoint, response(204, "", "X-RateLimit-Bucket", "b", "X-RateLimit-Remaining", "3", "X-RateLimit-Reset-After", "0.3"))
	for i := range 3 {
		if waited, err := timed(l, within(t, time.Second), banEndpoint); err != nil || waited != 0 {
			t.Fatalf("request %d of 3 remaining waited %v, %v", i, waited, err)
		}
	}
	// The third request's answer arrives first and says 0 left; the first's (2 left) must
	// not give a slot back.
	_ = l.Unlock(banEndpoint, response(204, "", "X-RateLimit-Bucket", "b", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset-After", "0.3"))
	_ = l.Unlock(banEndpoint, response(204, "", "X-RateLimit-Bucket", "b", "X-RateLimit-Remaining", "2", "X-RateLimit-Reset-After", "0.3"))
	_ = l.Unlock(banEndpoint, response(204, "", "X-RateLimit-Bucket", "b", "X-RateLimit-Remaining", "1", "X-RateLimit-Reset-After", "0.3"))
	if waited, err := timed(l, context.Background(), banEndpoint); err != nil || waited != 300*time.Millisecond {
		t.Errorf("a fourth request in a window of 3 waited %v, %v; want the reset, 300ms", waited, err)
	}
	_ = l.Unlock(banEndpoint, nil)
}

// No more than the global limit leave in a window, across buckets.
func TestGlobalPacing(t *testing.T) { synctest.Test(t, globalPacing) }

func globalPacing(t *testing.T) {
	l := NewLimiter(WithGlobalLimit(3, 200*time.Millisecond))
	start := time.Now()
	for g := range 4 {
		e := rest.GetGuild.Compile(nil, int64(g+1))
		mustWait(t, l, e)
		_ = l.Unlock(e, nil)
	}
	// The fourth waits for the first to leave the window, widened by globalMargin.
	if took := time.Since(start); took != 200*time.Millisecond+globalMargin {
		t.Errorf("4 requests under a limit of 3 per 200ms took %v; want %v", took, 200*time.Millisecond+globalMargin)
	}
	// Interaction endpoints are not counted or held.
	for range 5 {
		if waited, err := timed(l, context.Background(), callback); err != nil || waited != 0 {
			t.Errorf("interaction callback waited %v, %v", waited, err)
		}
		_ = l.Unlock(callback, nil)
	}
}

func TestCloseWaitsForRequestsAndCanRepeat(t *testing.T) {
	t.Parallel()
	synctest.Test(t, closeWaitsForRequestsAndCanRepeat)
}

func closeWaitsForRequestsAndCanRepeat(t *testing.T) {
	l := NewLimiter()
	mustWait(t, l, banEndpoint)
	time.AfterFunc(100*time.Millisecond, func() { _ = l.Unlock(banEndpoint, nil) })
	start := time.Now()
	l.Close(context.Background())
	if took := time.Since(start); took != 100*time.Millisecond {
		t.Errorf("Close returned after %v; want when the request in flight ended, 100ms", took)
	}
	l.Close(context.Background()) // disgo's deadlocks here
	if l.MaxRetries() != 0 {
		t.Error("MaxRetries must be 0: gavel's executor retries")
	}
	mustWait(t, l, banEndpoint) // still usable
	_ = l.Unlock(banEndpoint, nil)
}

func TestResetAndSweep(t *testing.T) { synctest.Test(t, resetAndSweep) }

func resetAndSweep(t *testing.T) {
	l := NewLimiter(WithGlobalLimit(0, 0))
	mustWait(t, l, banEndpoint)
	_ = l.Unlock(banEndpoint, response(429, `{"retry_after":60,"global":true}`, "X-RateLimit-Global", "true"))
	l.Reset()
	if waited, err := timed(l, within(t, time.Second), memberEndpoint); err != nil || waited != 0 {
		t.Errorf("after Reset: waited %v, %v", waited, err)
	}
	_ = l.Unlock(memberEndpoint, nil)
	l.mu.Lock()
	l.sweep(time.Now())
	n := len(l.buckets)
	l.mu.Unlock()
	if n != 0 {
		t.Errorf("%d idle buckets left after a sweep", n)
	}
}

func TestMapRestErrors(t *testing.T) {
	t.Parallel()
	rq, _ := http.NewRequest(http.MethodPut, "http://x", nil)
	restErr := func(status int, body string, headers ...string) error {
		rs := response(status, body, headers...)
		e := &rest.Error{Request: rq, Response: rs, RsBody: []byte(body)}
		_ = json.Unmarshal([]byte(body), e)
		return e
	}
	cases := []struct {
		name string
		err  error
		want discord.Error
	}{
		{"429 with only a header", restErr(429, "", "Via", "1.1 google", "X-RateLimit-Bucket", "b", "Retry-After", "2"),
			discord.Error{Status: 429, RetryAfter: 2 * time.Second, Message: "Too Many Requests"}},
		{"429 global by header", restErr(429, `{"message":"You are being rate limited.","retry_after":0.25}`, "Via", "1.1 google", "X-RateLimit-Global", "true"),
			discord.Error{Status: 429, RetryAfter: 250 * time.Millisecond, Global: true, Message: "You are being rate limited."}},
		{"403 missing permissions", restErr(403, `{"message":"Missing Permissions","code":50013}`),
			discord.Error{Status: 403, Code: 50013, Message: "Missing Permissions"}},
		{"400 invalid form body", restErr(400, `{"message":"Invalid Form Body","code":50035,"errors":{"rate_limit_per_user":{"_errors":[{"code":"NUMBER_TYPE_MAX","message":"int value should be less than or equal to 21600."}]},"embeds":{"0":{"title":{"_errors":[{"code":"BASE_TYPE_MAX_LENGTH","message":"Must be 256 or fewer in length."}]}}}}}`),
			discord.Error{Status: 400, Code: 50035, Message: "Invalid Form Body: embeds.0.title: Must be 256 or fewer in length.; rate_limit_per_user: int value should be less than or equal to 21600."}},
		{"503 plain text", restErr(503, "upstream connect error"), discord.Error{Status: 503, Message: "Service Unavailable"}},
	}
	for _, c := range cases {
		got := discord.AsError(mapError("op", c.err))
		if got == nil {
			t.Errorf("%s: not a *discord.Error", c.name)
			continue
		}
		if got.Status != c.want.Status || got.Code != c.want.Code || got.Message != c.want.Message ||
			got.RetryAfter != c.want.RetryAfter || got.Global != c.want.Global || got.Op != "op" {
			t.Errorf("%s: got %+v; want %+v", c.name, *got, c.want)
		}
	}
	if err := mapError("op", errors.New("failed to marshal request body")); discord.AsError(err) != nil {
		t.Errorf("a local failure became a *discord.Error: %v", err)
	}
}

func TestAuditReason(t *testing.T) {
	t.Parallel()
	if got := auditReason("  spam \xff "); got != "spam \uFFFD" {
		t.Errorf("auditReason = %q", got)
	}
	long := strings.Repeat("a", 511) + "ü" + "b"
	if got := auditReason(long); got != strings.Repeat("a", 511)+"ü" {
		t.Errorf("auditReason cut %q", got[505:])
	}
}

func TestRateLimitHeaderNamesCanonical(t *testing.T) {
	t.Parallel()
	for _, k := range []string{hRemaining, hResetAfter, hReset, hGlobal, hScope, hBucket} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("%q is kept by net/http as %q: header() would not find it", k, c)
		}
	}
}
