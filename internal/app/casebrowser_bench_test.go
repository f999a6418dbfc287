package app_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord/disgoport"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/discord/restcache"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// BenchmarkCaseBrowser measures the dashboard's case list on a guild with many cases
// (GAVEL_BENCH_CASES, default 1,000,000): the first page, a member's cases, the reason
// text search for a common and for a rare word, and a deep keyset page, on SQLite and
// PostgreSQL. The real App serves the dashboard over HTTP on loopback against the fake
// Discord (rate limits lifted on both sides), signed in as a moderator who is not the
// owner, so every page asks Discord for the moderator's roles as in production. Reported
// per page: p50-ms and p95-ms of the request as the benchmark's client sees it (gavel's
// server time plus one loopback round trip, and the fake's answer to gavel's REST call),
// and discord-calls, the REST calls gavel made per page. Every timed page is a miss of the
// dashboard's member cache (its TTL is set to a nanosecond here), so the figures include
// the one Discord call a miss makes; a hit makes none (TestDashboardMemberCache).
//
// The seeded database is kept and reused by later runs: a SQLite file in
// GAVEL_BENCH_DIR (default the system's temporary directory) and a PostgreSQL database
// named for the size, gavel_bench_cases_N, on the test server; seeding 1,000,000 cases
// takes minutes, a reuse seconds.
//
// Run: go test -run '^$' -bench BenchmarkCaseBrowser -benchtime 200x ./internal/app/
func BenchmarkCaseBrowser(b *testing.B) {
	n := 1_000_000
	if raw := os.Getenv("GAVEL_BENCH_CASES"); raw != "" {
		v, err := strconv.Atoi(raw)
		if err != nil || v < 1000 {
			b.Fatalf("GAVEL_BENCH_CASES=%q: want a whole number of at least 1000", raw)
		}
		n = v
	}
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		b.Run("engine="+string(engine), func(b *testing.B) {
			start := time.Now()
			dbURL := browserDB(b, engine, n)
			b.Logf("%s: %d cases ready in %s", engine, n, time.Since(start).Round(time.Second))
			w := newBrowserWorld(b, dbURL)
			g := strconv.FormatInt(int64(browserGuild), 10)
			pages := []struct{ name, path string }{
				{"first", "/g/" + g + "/cases"},
				{"user", "/g/" + g + "/cases?user=" + strconv.FormatInt(browserUser(7), 10)},
				{"text-common", "/g/" + g + "/cases?q=" + browserCommonWord},
				{"text-rare", "/g/" + g + "/cases?q=" + browserRareWord},
				{"deep", "/g/" + g + "/cases?before=" + strconv.Itoa(n/3)},
			}
			for _, p := range pages {
				b.Run("page="+p.name, func(b *testing.B) { w.measure(b, p.path) })
			}
		})
	}
}

// The seeded guild and its people.
const (
	browserGuild    discordtest.ID = 730000000000000100
	browserOwner    discordtest.ID = 730000000000000201
	browserMod      discordtest.ID = 730000000000000202
	browserModRole  discordtest.ID = 730000000000000301
	browserBotRole  discordtest.ID = 730000000000000302
	browserChannel  discordtest.ID = 730000000000000401
	browserUsers                   = 50_000
	browserMods                    = 20
	browserUserBase                = 740000000000000000
	browserModBase                 = 750000000000000000
)

// browserUser is the i-th member with cases; the first thousand are the guild's frequent
// offenders.
func browserUser(i int) int64 { return browserUserBase + int64(i) }

// The reason vocabulary: a few words most reasons use, many that some do, and rare ones.
// browserCommonWord is in about a quarter of the reasons, browserRareWord in about one
// in 20,000.
const (
	browserCommonWord = "spam"
	browserRareWord   = "zalgo"
)

var (
	browserCommon = []string{"spam", "rule", "warned", "chat", "please", "again"}
	browserMedium = []string{"toxic", "insults", "slurs", "advertising", "invite", "links", "nsfw", "off-topic",
		"mention", "flood", "caps", "harassment", "trolling", "begging", "alt", "evasion", "raid", "bot",
		"scam", "phishing", "nitro", "giveaway", "doxxing", "threats", "impersonation", "politics", "drama",
		"language", "channel", "voice", "earrape", "soundboard", "nickname", "avatar", "status", "dm"}
	browserRare = []string{"zalgo", "ascii", "crypto", "wallet", "tokenlogger", "screamer", "gore", "malware"}
)

// browserReason draws a reason: 3 to 8 words, common ones often, rare ones seldom.
func browserReason(r *rand.Rand) string {
	k := 3 + r.IntN(6)
	words := make([]string, 0, k)
	for range k {
		switch x := r.IntN(1000); {
		case x < 60:
			words = append(words, browserCommon[r.IntN(len(browserCommon))])
		case x < 998:
			words = append(words, browserMedium[r.IntN(len(browserMedium))])
		default:
			if r.IntN(20) == 0 { // one rare word in 10,000 drawn
				words = append(words, browserRare[r.IntN(len(browserRare))])
			} else {
				words = append(words, browserMedium[r.IntN(len(browserMedium))])
			}
		}
	}
	return strings.Join(words, " ")
}

var browserTypes = []struct {
	typ    string
	weight int
	dur    time.Duration
}{
	{"WARN", 40, 0}, {"TIMEOUT", 20, time.Hour}, {"NOTE", 9, 0}, {"KICK", 8, 0}, {"BAN", 6, 0},
	{"TEMPBAN", 3, 7 * 24 * time.Hour}, {"UNBAN", 3, 0}, {"UNTIMEOUT", 3, 0}, {"JAIL", 2, 24 * time.Hour},
	{"UNJAIL", 1, 0}, {"AUTOMOD", 4, 0}, {"SOFTBAN", 1, 0},
}

// browserCases yields the cases 1..n in order, deterministically: ~50,000 members (a fifth
// of the cases on 1,000 frequent offenders), 20 moderators, mixed types, 5% voided, over
// three years. Every case is processed (ended or permanent), so nothing becomes due when
// gavel starts.
func browserCases(n int, fn func(storetest.SeedCase) error) error {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	total := 0
	for _, t := range browserTypes {
		total += t.weight
	}
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	span := (3 * 365 * 24 * time.Hour).Milliseconds()
	for i := 1; i <= n; i++ {
		c := storetest.SeedCase{Number: int64(i), CreatedAt: end - span + span*int64(i)/int64(n), Status: "active"}
		if r.IntN(5) == 0 {
			c.UserID = browserUser(r.IntN(1000))
		} else {
			c.UserID = browserUser(r.IntN(browserUsers))
		}
		c.ModeratorID = browserModBase + int64(r.IntN(browserMods))
		x := r.IntN(total)
		for _, t := range browserTypes {
			if x < t.weight {
				c.Type = t.typ
				if t.dur > 0 {
					e := c.CreatedAt + t.dur.Milliseconds()
					c.ExpiresAt = &e
				}
				break
			}
			x -= t.weight
		}
		if r.IntN(20) == 0 {
			c.Status = "voided"
		}
		c.Reason = browserReason(r)
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

// browserDB returns the URL of a migrated database holding the guild's n cases, kept
// across runs (storetest.KeptDB) and seeded unless an earlier run did.
func browserDB(b *testing.B, engine store.Engine, n int) string {
	b.Helper()
	return storetest.KeptDB(b, engine, fmt.Sprintf("gavel_bench_cases_%d", n),
		func(ctx context.Context, st *store.Store) (bool, error) {
			have, err := storetest.GuildCaseCount(ctx, st, int64(browserGuild))
			return have == int64(n), err
		},
		func(ctx context.Context, st *store.Store) error {
			return storetest.SeedCases(ctx, st, int64(browserGuild), time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC),
				func(yield func(storetest.SeedCase) error) error { return browserCases(n, yield) })
		})
}

// browserWorld is gavel running with the dashboard on the seeded database, and a
// moderator's signed-in client.
type browserWorld struct {
	s      *discordtest.Server
	url    string
	client *http.Client
}

func newBrowserWorld(b *testing.B, dbURL string) *browserWorld {
	b.Helper()
	seed := discordtest.Seed{
		Users: []discordtest.User{{ID: browserOwner, Username: "owner"}, {ID: browserMod, Username: "mod"}},
		Guilds: []discordtest.SeedGuild{{
			ID: browserGuild, Name: "a million cases", OwnerID: browserOwner,
			Roles: []discordtest.Role{
				{ID: browserModRole, Name: "mods", Position: 1, Permissions: discordtest.PermManageMessages | discordtest.PermModerateMembers},
				{ID: browserBotRole, Name: "gavel", Position: 2, Permissions: botPerms | discordtest.PermManageMessages},
			},
			BotRoles: []discordtest.ID{browserBotRole},
			Members:  []discordtest.SeedMember{{UserID: browserOwner}, {UserID: browserMod, Roles: []discordtest.ID{browserModRole}}},
			Channels: []discordtest.Channel{{ID: browserChannel, Type: discordtest.ChannelGuildText, Name: "general", Position: 1}},
		}},
	}
	s := discordtest.New(b, discordtest.WithSeed(seed), discordtest.WithLogger(quietLogger()),
		discordtest.WithGlobalRateLimit(0), discordtest.WithRouteLimit("*", 0, 0), discordtest.WithoutSpecValidation())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	w := &browserWorld{s: s, url: "http://" + ln.Addr().String()}
	s.AddOAuth2Redirect(w.url + "/auth/callback")
	cfg := config.Default()
	cfg.Database.URL = dbURL
	cfg.Discord.Token = config.Secret(s.Token())
	cfg.Discord.APIURL = s.APIURL()
	cfg.Discord.GatewayURL = s.GatewayURL
	cfg.Discord.Guilds = []string{browserGuild.String()}
	cfg.Web = config.Web{Addr: ln.Addr().String(), PublicURL: w.url, ClientSecret: config.Secret(s.OAuth2ClientSecret())}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, quietLogger(), app.WithWebListener(ln),
		app.WithWebMemberCache(func(c *restcache.Config) { c.MemberTTL = time.Nanosecond }),
		app.WithDiscordLimiter(disgoport.NewLimiter(disgoport.WithGlobalLimit(0, 0))),
		app.WithGatewayOptions(gateway.WithBackoff(10*time.Millisecond, 100*time.Millisecond)))
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
	})
	readyCtx, readyCancel := context.WithTimeout(ctx, 30*time.Second)
	defer readyCancel()
	if err := s.WaitReady(readyCtx, 1); err != nil {
		b.Fatalf("WaitReady: %v", err)
	}
	w.client = w.signIn(b)
	// The dashboard knows the guild from the gateway's GUILD_CREATE, which follows READY.
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := w.get(b, "/servers")
		if status == http.StatusOK && strings.Contains(body, `href="/g/`+browserGuild.String()+`/cases"`) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the dashboard never listed the guild: %d %s", status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return w
}

// signIn goes through the fake's OAuth2 consent as the moderator.
func (w *browserWorld) signIn(b *testing.B) *http.Client {
	b.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), w.s.OAuth2AuthorizeURL()) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(w.url + "/auth/login")
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	auth, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		b.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	form := auth.Query()
	form.Set("decision", "authorize")
	form.Set("user_id", browserMod.String())
	resp, err = c.PostForm(w.s.OAuth2AuthorizeURL(), form)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/servers" {
		b.Fatalf("sign-in ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
	}
	return c
}

func (w *browserWorld) get(b *testing.B, path string) (int, string) {
	b.Helper()
	resp, err := w.client.Get(w.url + path)
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// measure requests path b.N times, one at a time, and reports the latency's p50 and p95
// and the Discord calls per page.
func (w *browserWorld) measure(b *testing.B, path string) {
	// One untimed request first: it checks the page and warms the statement cache.
	status, body := w.get(b, path)
	if status != http.StatusOK {
		b.Fatalf("GET %s: %d\n%s", path, status, body)
	}
	shown := strings.Count(body, `class="case-row"`)
	w.s.ResetHandlerStats()
	var lat []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if status, _ := w.get(b, path); status != http.StatusOK {
			b.Fatalf("GET %s: %d", path, status)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	calls := w.s.HandlerStats().Requests
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := int(float64(len(lat)-1) * p)
		return float64(lat[i].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(float64(calls)/float64(len(lat)), "discord-calls")
	b.ReportMetric(float64(shown), "rows")
}
