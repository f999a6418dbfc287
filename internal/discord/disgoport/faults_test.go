package disgoport_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/executor"
)

const (
	banRoute    = "PUT /guilds/{guild_id}/bans/{user_id}"
	roleRoute   = "PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}"
	memberRoute = "GET /guilds/{guild_id}/members/{user_id}"
)

// The adapter makes one request per call: a 5xx comes back as it is, and the executor
// decides about retrying.
func TestServerErrorsComeBackOncePerCall(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	f.s.FailNext(banRoute, 3, 500)
	for i := 1; i <= 3; i++ {
		err := f.port.Ban(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), 0, "")
		de := wantDiscordError(t, fmt.Sprint("call ", i), err, 500, 0)
		if !de.Retryable() || !de.Outage() || de.Op != "ban" || de.Message != "Internal Server Error" {
			t.Errorf("call %d: %+v; want a retryable outage", i, de)
		}
		if n := f.s.FaultStats().Routes[banRoute].Failed; n != i {
			t.Fatalf("after call %d the fake failed %d requests: the adapter retried by itself", i, n)
		}
	}
	if err := f.port.Ban(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), 0, ""); err != nil {
		t.Fatalf("fourth call: %v", err)
	}

	f.s.FailNext(banRoute, 1, 502)
	err := f.port.Ban(ctx, discord.GuildID(f.guild), discord.UserID(f.carol), 0, "")
	if de := wantDiscordError(t, "502 with an HTML body", err, 502, 0); de.Message != "Bad Gateway" {
		t.Errorf("502 message = %q", de.Message)
	}
}

func TestExecutorRetriesThroughTheAdapter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	f.s.FailNext(banRoute, 3, 500)
	ex := executor.New(executor.WithRetries(4, time.Millisecond, 20*time.Millisecond))
	attempts := 0
	err := ex.Do(ctx, executor.OpBan, func(ctx context.Context) error {
		attempts++
		return f.port.Ban(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), 0, "spam")
	})
	if err != nil || attempts != 4 {
		t.Fatalf("executor: %v after %d attempts; want success on the 4th", err, attempts)
	}
	if b, ok := f.s.Banned(f.guild, f.bob); !ok || *b.Reason != "spam" {
		t.Errorf("bob not banned: %+v, %v", b, ok)
	}
	if n := f.s.FaultStats().Routes[banRoute].Failed; n != 3 {
		t.Errorf("the fake failed %d requests; want 3", n)
	}
}

func TestDroppedConnectionIsStatusZero(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	f.s.DropConnections(memberRoute, 1)
	_, err := f.port.Member(ctx, discord.GuildID(f.guild), discord.UserID(f.bob))
	de := wantDiscordError(t, "dropped connection", err, 0, 0)
	if !de.Retryable() || !de.Outage() || de.Err == nil {
		t.Errorf("dropped connection: %+v; want a retryable outage with its cause", de)
	}
	if _, err := f.port.Member(ctx, discord.GuildID(f.guild), discord.UserID(f.bob)); err != nil {
		t.Errorf("the next call: %v", err)
	}
}

func TestTimeoutIsStatusZeroAndCancelIsNot(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.s.SetLatency(memberRoute, 2*time.Second)
	_, err := f.port.Member(contextWithin(t, 100*time.Millisecond), discord.GuildID(f.guild), discord.UserID(f.bob))
	de := wantDiscordError(t, "timed out", err, 0, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout %v does not wrap context.DeadlineExceeded", de)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = f.port.Member(ctx, discord.GuildID(f.guild), discord.UserID(f.bob))
	if !errors.Is(err, context.Canceled) || discord.AsError(err) != nil {
		t.Errorf("cancelled call: %v (%T); want context.Canceled, not a *discord.Error a breaker would count", err, err)
	}
}

// A global 429 is handed back with its wait; calls after it wait for the limit to end
// instead of meeting another 429, or, when their deadline comes first, get a 429 without
// a request.
func TestGlobalRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, []discordtest.Option{discordtest.WithGlobalRateLimit(2), discordtest.WithRouteLimit("*", 0, 0)},
		// Pacing off, to meet the fake's low limit.
		disgoport.WithLimiter(disgoport.NewLimiter(disgoport.WithGlobalLimit(0, 0))))
	ctx := ctxFor(t)
	var err error
	for i := 0; i < 3 && err == nil; i++ {
		_, err = f.port.Member(ctx, discord.GuildID(f.guild), discord.UserID(f.bob))
	}
	de := wantDiscordError(t, "third request in a second", err, 429, 0)
	if !de.Global || de.RetryAfter <= 0 || de.RetryAfter > time.Second {
		t.Fatalf("global 429 = %+v; want Global and 0 < RetryAfter <= 1s", de)
	}
	if !de.Retryable() || de.Outage() {
		t.Errorf("a 429 should be retryable and not an outage")
	}
	seen := f.s.RateLimitStats()

	// Another route, with a deadline before the limit ends: refused without a request.
	_, err = f.port.Guild(contextWithin(t, 20*time.Millisecond), discord.GuildID(f.guild))
	local := wantDiscordError(t, "a call whose deadline comes first", err, 429, 0)
	if !local.Global || local.RetryAfter <= 0 {
		t.Errorf("local refusal = %+v", local)
	}
	if now := f.s.RateLimitStats(); now.Requests != seen.Requests {
		t.Errorf("the refused call reached the fake (%d → %d requests)", seen.Requests, now.Requests)
	}

	// With time to wait, it waits and succeeds: no second 429 (had it not waited, the fake,
	// whose limit runs on the wall clock, would have refused it again).
	if _, err := f.port.Guild(ctx, discord.GuildID(f.guild)); err != nil {
		t.Fatalf("after the global limit: %v", err)
	}
	if st := f.s.RateLimitStats(); st.GlobalLimited != 1 {
		t.Errorf("the fake served %d global 429s; want 1", st.GlobalLimited)
	}
}

func TestRoute429(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	f.s.FailNext(banRoute, 1, 429)
	err := f.port.Ban(ctx, discord.GuildID(f.guild), discord.UserID(f.bob), 0, "")
	de := wantDiscordError(t, "shared 429", err, 429, 0)
	if de.Global || de.RetryAfter != time.Second {
		t.Errorf("429 = %+v; want the route's, after 1s (retry_after 1.0)", de)
	}
	// The same bucket is held for the second; another guild's is not.
	_, err = f.port.Member(contextWithin(t, 200*time.Millisecond), discord.GuildID(f.guild), discord.UserID(f.bob))
	if err != nil {
		t.Errorf("another route waited for the ban bucket: %v", err)
	}
	err = f.port.Ban(contextWithin(t, 200*time.Millisecond), discord.GuildID(f.guild), discord.UserID(f.bob), 0, "")
	if de := wantDiscordError(t, "the limited bucket", err, 429, 0); de.Global || de.RetryAfter <= 0 {
		t.Errorf("local refusal = %+v", de)
	}
}

// The test that shows the limiter is race-free (under -race) and keeps a bucket's count:
// 200 role changes on one route (one bucket) from 8 goroutines at once, across two windows
// of the route's limit, without a 429.
func TestOneRouteFromEightGoroutines(t *testing.T) {
	t.Parallel()
	f := newFixture(t, []discordtest.Option{discordtest.WithRouteLimit(roleRoute, 100, time.Second), discordtest.WithGlobalRateLimit(0)},
		disgoport.WithLimiter(disgoport.NewLimiter(disgoport.WithGlobalLimit(0, 0))))
	ctx := ctxFor(t)
	verified := f.s.AddRole(f.guild, "verified", 1, 0)
	members := make([]discordtest.ID, 8)
	for i := range members {
		members[i] = f.s.AddUser(fmt.Sprint("m", i), false)
		f.s.AddMember(f.guild, members[i])
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				role := f.member
				if i%2 == 1 {
					role = verified
				}
				if err := f.port.AddRole(ctx, discord.GuildID(f.guild), discord.UserID(members[g]), discord.RoleID(role), ""); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := f.s.RateLimitStats().Routes[roleRoute]
	if st.Requests != 200 || st.Limited != 0 {
		t.Errorf("%d requests, %d 429s; want 200 and none", st.Requests, st.Limited)
	}
	for _, m := range members {
		if got, _ := f.s.Member(f.guild, m); len(got.Roles) != 2 {
			t.Errorf("member %v ends with roles %v; want both", m, got.Roles)
		}
	}
}

// Many routes at once stay under Discord's global limit of 50 a second, with the default
// limiter, and under each route's own.
func TestManyRoutesStayUnderTheGlobalLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := ctxFor(t)
	channels := make([]discordtest.ID, 20)
	for i := range channels {
		channels[i] = f.s.AddChannel(f.guild, discordtest.ChannelGuildText, fmt.Sprint("c", i))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 { // 120 requests, 6 on each channel's route
				if _, err := f.port.Channel(ctx, discord.ChannelID(channels[(g*15+i)%20])); err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range failures {
		t.Error(err)
	}
	if st := f.s.RateLimitStats(); st.Requests != 120 || st.Limited != 0 {
		t.Errorf("%d requests, %d 429s (%d global); want 120 and none", st.Requests, st.Limited, st.GlobalLimited)
	}
}

// roundTripFunc is a transport answering from a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(rq *http.Request) (*http.Response, error) { return f(rq) }

// The port calls its client's transport directly: a failure of any kind still comes back as
// http.Client.Do would have wrapped it (a *url.Error, so no answer: status 0, retryable),
// and a redirect is an answer like any other, not followed.
func TestTransportFailuresAndRedirects(t *testing.T) {
	t.Parallel()
	calls := 0
	var answer func(*http.Request) (*http.Response, error)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: roundTripFunc(func(rq *http.Request) (*http.Response, error) {
		calls++
		return answer(rq)
	})}
	port, err := disgoport.New("token", disgoport.WithApplicationID(1), disgoport.WithAPIURL("http://discord.invalid/api/v10"), disgoport.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t)

	answer = func(*http.Request) (*http.Response, error) { return nil, errors.New("not a net.Error") }
	_, err = port.Member(ctx, 100, 203)
	de := wantDiscordError(t, "transport failure", err, 0, 0)
	var ue *url.Error
	if !de.Retryable() || !errors.As(err, &ue) || ue.Op != "Get" || !strings.HasSuffix(ue.URL, "/guilds/100/members/203") {
		t.Errorf("transport failure: %+v (url.Error %+v); want a retryable outage wrapping a *url.Error of the GET", de, ue)
	}

	calls = 0
	answer = func(rq *http.Request) (*http.Response, error) {
		h := http.Header{"Location": {"http://discord.invalid/elsewhere"}}
		return &http.Response{StatusCode: http.StatusTemporaryRedirect, Header: h, Body: io.NopCloser(strings.NewReader("")), ContentLength: 0, Request: rq}, nil
	}
	_, err = port.Member(ctx, 100, 203)
	wantDiscordError(t, "redirect", err, http.StatusTemporaryRedirect, 0)
	if calls != 1 {
		t.Errorf("the redirect made %d requests; want 1 (not followed)", calls)
	}
}

// The client's Timeout bounds each request as a deadline of its own, unless the caller's
// comes first, which then is the request's.
func TestClientTimeoutAndTheCallersDeadline(t *testing.T) {
	t.Parallel()
	var got time.Time
	var has bool
	hc := &http.Client{Timeout: 5 * time.Second, Transport: roundTripFunc(func(rq *http.Request) (*http.Response, error) {
		got, has = rq.Context().Deadline()
		return nil, errors.New("no server")
	})}
	port, err := disgoport.New("token", disgoport.WithApplicationID(1), disgoport.WithAPIURL("http://discord.invalid/api/v10"), disgoport.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = port.Member(context.Background(), 100, 203)
	if !has {
		t.Errorf("a caller without a deadline: the request has none; want the client's Timeout")
	}
	far := ctxFor(t) // 20 s
	farEnd, _ := far.Deadline()
	_, _ = port.Member(far, 100, 203)
	if !has || !got.Before(farEnd) {
		t.Errorf("a caller's deadline after the client's Timeout: the request's is %v (%v); want the Timeout's, before %v", got, has, farEnd)
	}
	near, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	nearEnd, _ := near.Deadline()
	_, _ = port.Member(near, 100, 203)
	if !has || !got.Equal(nearEnd) {
		t.Errorf("a caller's deadline before the client's Timeout: the request's is %v (%v); want the caller's %v", got, has, nearEnd)
	}
}
