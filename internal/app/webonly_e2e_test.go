package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/restcache"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/query"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// restCounter sits between gavel web and the fake's REST API and counts the calls by kind.
type restCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

var (
	memberPath = regexp.MustCompile(`^/api/v10/guilds/\d+/members/\d+$`)
	guildPath  = regexp.MustCompile(`^/api/v10/guilds/\d+$`)
)

func newRESTCounter(t *testing.T, fake *discordtest.Server) (*restCounter, string) {
	t.Helper()
	target, err := url.Parse(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := &restCounter{calls: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := "other"
		switch {
		case memberPath.MatchString(r.URL.Path):
			kind = "member"
		case guildPath.MatchString(r.URL.Path):
			kind = "guild"
		case strings.HasPrefix(r.URL.Path, "/api/v10/oauth2/") || r.URL.Path == "/api/v10/users/@me" || strings.HasPrefix(r.URL.Path, "/oauth2/"):
			kind = "oauth2"
		}
		c.mu.Lock()
		c.calls[kind]++
		c.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

// take returns the counts since the last take and starts again from zero.
func (c *restCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

// pageCalls is every call but the sign-in's own (the code exchange and /users/@me).
func pageCalls(m map[string]int) int { return m["member"] + m["guild"] + m["other"] }

// TestWebProcessOnPostgres runs gavel web — no gateway — against the fake Discord's REST
// API and a real PostgreSQL database: sign-in through the fake's OAuth2, the servers and the
// case list authorized from roles read over REST, a reason edit through the cases service,
// at most one Discord call per page on a cold member cache and none on a warm one, and the
// cache's expiry on a manual clock.
func TestWebProcessOnPostgres(t *testing.T) {
	t.Parallel()
	cw := newCasesWorld(t)
	cw.dbURL = storetest.MigratedURL(t, store.Postgres)
	clk := clock.NewManual(time.Now().UTC())
	// gavel run records the guilds it is in; gavel web serves those.
	cw.prepare(t, func(st *store.Store) {
		if err := cases.NewService(st).GuildJoined(context.Background(), discord.GuildID(cw.guild), clk.Now()); err != nil {
			t.Fatal(err)
		}
	})
	counter, proxyURL := newRESTCounter(t, cw.s)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ww := &webWorld{casesWorld: cw, url: "http://" + ln.Addr().String(), clk: clk}
	cw.s.AddOAuth2Redirect(ww.url + "/auth/callback")
	cfg := cw.config()
	cfg.Discord.APIURL = proxyURL + "/api/v10"
	cfg.Discord.GatewayURL = "" // gavel web never connects to it
	cfg.Web = config.Web{Addr: ln.Addr().String(), PublicURL: ww.url, ClientSecret: config.Secret(cw.s.OAuth2ClientSecret())}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := app.NewWebOnly(ctx, cfg, quietLogger(), app.WithWebOnlyClock(clk), app.WithWebOnlyListener(ln),
		// The guilds' refresh is kept out of the member cache's window, so that moving the
		// clock five minutes expires the members alone.
		app.WithWebOnlyCache(func(c *restcache.Config) { c.GuildRefresh = time.Hour }))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(eventBound):
			t.Error("Run did not return after the context ended")
		}
	})

	g := cw.guild.String()
	mod := signInAt(t, ww)
	calls := counter.take()
	// Start-up read the guild once; the sign-in's landing page (the servers) looked the
	// moderator up once.
	if calls["guild"] != 1 || calls["member"] != 1 || calls["other"] != 0 {
		t.Errorf("calls up to the first page: %v; want the guild once at start and the member once", calls)
	}
	if n := w.Cache().Members(); n != 1 {
		t.Errorf("%d members cached; want 1", n)
	}

	t.Run("warm pages make no call", func(t *testing.T) {
		r := ww.get(t, mod, "/servers")
		if r.status != http.StatusOK || !strings.Contains(r.body, `href="/g/`+g+`/cases"`) {
			t.Fatalf("servers: %d %s", r.status, r.body)
		}
		r = ww.get(t, mod, "/g/"+g+"/cases")
		if r.status != http.StatusOK || strings.Count(r.body, `class="case-row"`) != 25 {
			t.Fatalf("cases: %d, %d rows", r.status, strings.Count(r.body, `class="case-row"`))
		}
		if calls := counter.take(); pageCalls(calls) != 0 {
			t.Errorf("warm pages called Discord: %v", calls)
		}
	})

	t.Run("reason edit", func(t *testing.T) {
		casePath := "/g/" + g + "/cases/3"
		r := ww.get(t, mod, casePath)
		if r.status != http.StatusOK || !strings.Contains(r.body, `id="edit-reason"`) {
			t.Fatalf("case page: %d %s", r.status, r.body)
		}
		r = ww.post(t, mod, casePath+"/reason", url.Values{"csrf": {csrfOf(t, r.body)}, "reason": {"edited from gavel web"}}, nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, "Reason updated") {
			t.Fatalf("edit: %d %s", r.status, r.body)
		}
		cs := cw.casesService(t)
		c, err := cs.GetByNumber(context.Background(), discord.GuildID(cw.guild), 3)
		if err != nil || c.Reason != "edited from gavel web" {
			t.Fatalf("case after the edit: %+v %v", c, err)
		}
		events, _ := cs.Events(context.Background(), c.ID)
		last := events[len(events)-1]
		if last.Kind != cases.EventReason || last.ActorID != discord.UserID(cw.mod) || last.Old != "seeded 3" {
			t.Errorf("history row: %+v; want a reason change by the dashboard user", last)
		}
		if calls := counter.take(); pageCalls(calls) != 0 {
			t.Errorf("the edit called Discord: %v", calls)
		}
	})

	t.Run("raids page without a detector", func(t *testing.T) {
		// A raid as gavel run records it: its RAID case and its row. gavel web shows it, and
		// says that the live join rate is not here rather than show a number.
		var raidCase cases.Case
		func() {
			ctx := context.Background()
			st, err := store.OpenURL(ctx, cw.dbURL, store.Options{MaxOpenConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			raidCase, err = cases.NewService(st).Create(ctx, cases.New{GuildID: discord.GuildID(cw.guild), UserID: discord.UserID(cw.mod),
				ModeratorID: discord.UserID(cw.mod), Type: cases.Raid, Reason: "Raid detected: 12 joins within 10s"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Queries().InsertRaid(ctx, query.InsertRaidParams{GuildID: int64(cw.guild), Number: 1, CaseID: raidCase.ID, Trigger: "rate",
				StartedAt: clk.Now().UnixMilli(), StartedBy: int64(cw.mod), LastJoinAt: clk.Now().UnixMilli()}); err != nil {
				t.Fatal(err)
			}
		}()
		owner := signInAs(t, ww, cw.owner)
		counter.take()
		r := ww.get(t, owner, "/g/"+g+"/raids")
		if r.status != http.StatusOK || !strings.Contains(r.body, `id="rate-unavailable"`) || strings.Contains(r.body, `id="rate-0"`) ||
			!strings.Contains(r.body, `id="current-raid"`) || !strings.Contains(r.body, fmt.Sprintf(`href="/g/%s/cases/%d"`, g, raidCase.Number)) {
			t.Errorf("gavel web's raids page: %d %s", r.status, r.body)
		}
		r = ww.get(t, owner, fmt.Sprintf("/g/%s/cases/%d", g, raidCase.Number))
		if r.status != http.StatusOK || !strings.Contains(r.body, `<a href="/g/`+g+`/raids/1">raid #1</a>`) {
			t.Errorf("the RAID case's page in gavel web: %d %s", r.status, r.body)
		}
		if calls := counter.take(); pageCalls(calls) != 0 {
			t.Errorf("the raids pages called Discord: %v", calls)
		}
	})

	t.Run("lift of a ban that never ends", func(t *testing.T) {
		// gavel web queues a lift by moving the case's end to now (TestWebLiftThroughGavelRun);
		// a permanent ban has none to move, and is refused with where to lift it.
		cs := cw.casesService(t)
		ban, err := cs.Create(context.Background(), cases.New{GuildID: discord.GuildID(cw.guild), UserID: discord.UserID(cw.target),
			ModeratorID: discord.UserID(cw.mod), Type: cases.Ban, Reason: "banned for the lift test"})
		if err != nil {
			t.Fatal(err)
		}
		owner := signInAs(t, ww, cw.owner)
		counter.take()
		memberPath := "/g/" + g + "/members/" + cw.target.String()
		r := ww.get(t, owner, memberPath)
		if r.status != http.StatusOK || !strings.Contains(r.body, "banned for the lift test") || !strings.Contains(r.body, `class="lift"`) {
			t.Fatalf("member page: %d, want the ban listed with Lift now: %s", r.status, r.body)
		}
		r = ww.post(t, owner, "/g/"+g+"/cases/"+strconv.FormatInt(ban.Number, 10)+"/lift", url.Values{"csrf": {csrfOf(t, r.body)}}, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "never ends by itself") {
			t.Errorf("lift: %d %s", r.status, r.body)
		}
		if c, err := cs.GetByNumber(context.Background(), discord.GuildID(cw.guild), ban.Number); err != nil || c.Status != cases.Active || !c.ExpiresAt.IsZero() || c.Processed {
			t.Errorf("the ban after a refused lift: %+v %v", c, err)
		}
		counter.take()
	})

	t.Run("expiry on the clock", func(t *testing.T) {
		clk.Advance(restcache.DefaultMemberTTL - time.Second)
		if r := ww.get(t, mod, "/g/"+g+"/cases"); r.status != http.StatusOK {
			t.Fatalf("cases: %d", r.status)
		}
		if calls := counter.take(); pageCalls(calls) != 0 {
			t.Errorf("a second before expiry: %v", calls)
		}
		// The moderator loses the role: the dashboard sees it once the entry expires.
		cw.s.SetMemberRoles(cw.guild, cw.mod)
		clk.Advance(time.Second)
		r := ww.get(t, mod, "/g/"+g+"/cases")
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "You may not see the cases") {
			t.Errorf("after expiry without the role: %d %s", r.status, r.body)
		}
		if calls := counter.take(); calls["member"] != 1 || pageCalls(calls) != 1 {
			t.Errorf("the page after expiry: %v; want one member call", calls)
		}
	})

	t.Run("a non-member", func(t *testing.T) {
		cw.s.SetMemberRoles(cw.guild, cw.mod, cw.modRole)
		stranger := signInAs(t, ww, cw.plain)
		counter.take()
		r := ww.get(t, stranger, "/g/"+g+"/cases")
		if r.status != http.StatusForbidden {
			t.Errorf("a member without a rank: %d %s", r.status, r.body)
		}
		if calls := counter.take(); pageCalls(calls) > 1 {
			t.Errorf("a refused page: %v", calls)
		}
	})
}

// signInAt signs the moderator in.
func signInAt(t *testing.T, ww *webWorld) *http.Client { return signInAs(t, ww, ww.mod) }

// signInAs goes through the fake's OAuth2 consent as user when the dashboard's authorize
// URL points at a proxy in front of the fake (its path is the fake's).
func signInAs(t *testing.T, ww *webWorld, user discordtest.ID) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "/oauth2/authorize") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(ww.url + "/auth/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	auth, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	form := auth.Query()
	form.Set("decision", "authorize")
	form.Set("user_id", user.String())
	resp, err = c.PostForm(ww.s.OAuth2AuthorizeURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/servers" {
		t.Fatalf("sign-in ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
	}
	return c
}

// gavel web refuses SQLite, saying to serve the dashboard from gavel run.
func TestWebProcessRefusesSQLite(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.Web = config.Web{Addr: "127.0.0.1:0", PublicURL: "http://127.0.0.1:1", ClientSecret: "s"}
	_, err := app.NewWebOnly(context.Background(), cfg, quietLogger())
	if !errors.Is(err, app.ErrWebNeedsPostgres) || !strings.Contains(err.Error(), "web.addr") {
		t.Errorf("NewWebOnly on SQLite: %v", err)
	}
}
