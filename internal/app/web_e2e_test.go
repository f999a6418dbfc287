package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discord/gateway"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/escalation"
	"github.com/gavelbot/gavel/internal/store"
)

// webWorld is the cases world with the dashboard on: its public URL registered as an OAuth2
// redirect with the fake.
type webWorld struct {
	*casesWorld
	url string
	clk *clock.Manual
}

func newWebWorld(t *testing.T) *webWorld {
	t.Helper()
	cw := newCasesWorld(t)
	cw.prepare(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ww := &webWorld{casesWorld: cw, url: "http://" + ln.Addr().String(), clk: clock.NewManual(time.Now().UTC())}
	cw.s.AddOAuth2Redirect(ww.url + "/auth/callback")
	// gavel manages AutoMod with Manage Server.
	amRole := cw.s.CreateRole(cw.guild, "automod", 3, discordtest.PermManageGuild)
	cw.s.SetMemberRoles(cw.guild, cw.s.BotID(), cw.botRole, amRole)
	cfg := cw.config()
	cfg.Web = config.Web{Addr: ln.Addr().String(), PublicURL: ww.url, ClientSecret: config.Secret(cw.s.OAuth2ClientSecret())}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cw.startWith(t, cfg, app.WithWebListener(ln), app.WithClock(ww.clk))
	// The dashboard knows the servers gavel is in from the gateway's GUILD_CREATE, which
	// follows READY.
	owner := ww.signIn(t, ww.owner)
	waitFor(t, "the dashboard to see the guild", func() bool {
		return strings.Contains(ww.get(t, owner, "/servers").body, `href="/g/`+cw.guild.String()+`/cases"`)
	})
	return ww
}

// startWith runs gavel with a configuration of the test's own until the test ends.
func (cw *casesWorld) startWith(t *testing.T, cfg config.Config, opts ...app.Option) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newTestApp(ctx, cfg, quietLogger(), append([]app.Option{app.WithGatewayOptions(gateway.WithBackoff(10*time.Millisecond, 100*time.Millisecond))}, opts...)...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
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
	readyCtx, readyCancel := context.WithTimeout(ctx, eventBound)
	defer readyCancel()
	if err := cw.s.WaitReady(readyCtx, 1); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
}

// casesService reads and writes the running gavel's cases through a store of its own on
// the same database.
func (cw *casesWorld) casesService(t *testing.T) *cases.Service {
	t.Helper()
	st, err := store.OpenURL(context.Background(), cw.dbURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return cases.NewService(st)
}

// message returns a message of a channel by id.
func (cw *casesWorld) message(channel, id discordtest.ID) (discordtest.Message, bool) {
	for _, m := range cw.s.Messages(channel) {
		if m.ID == id {
			return m, true
		}
	}
	return discordtest.Message{}, false
}

// signIn goes through the fake's OAuth2 consent as user and returns a browser-like client
// holding the session.
func (ww *webWorld) signIn(t *testing.T, user discordtest.ID) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), ww.s.OAuth2AuthorizeURL()) {
			return http.ErrUseLastResponse // the consent page: answered below
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
	if got := auth.Query().Get("scope"); got != "identify" {
		t.Errorf("the dashboard asks for scope %q; want identify only", got)
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

type webResp struct {
	status int
	body   string
	header http.Header
}

func do(t *testing.T, c *http.Client, req *http.Request) webResp {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return webResp{resp.StatusCode, string(b), resp.Header}
}

func (ww *webWorld) get(t *testing.T, c *http.Client, path string) webResp {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ww.url+path, nil)
	return do(t, c, req)
}

// post sends a form as the dashboard's own page would (same-origin fetch metadata).
func (ww *webWorld) post(t *testing.T, c *http.Client, path string, form url.Values, header map[string]string) webResp {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ww.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(t, c, req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", page)
	}
	return m[1]
}

// TestDashboardOverHTTP drives the dashboard as a browser without JavaScript would: sign-in
// through the fake's OAuth2, the servers, the case list with its filters, pagination and
// exports, a case, a reason edit that reaches the mod log, and every refusal, each
// changing nothing.
func TestDashboardOverHTTP(t *testing.T) {
	t.Parallel()
	ww := newWebWorld(t)
	g := ww.guild.String()
	cs := ww.casesService(t)

	t.Run("signed out", func(t *testing.T) {
		r := ww.get(t, http.DefaultClient, "/g/"+g+"/cases")
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Sign in with Discord") {
			t.Errorf("signed out: %d %s", r.status, r.body)
		}
	})

	mod := ww.signIn(t, ww.mod)
	if n := ww.s.OAuth2Exchanges(); n != 2 {
		t.Errorf("%d code exchanges; want 2 (the owner's and the moderator's)", n)
	}

	t.Run("servers", func(t *testing.T) {
		r := ww.get(t, mod, "/servers")
		if r.status != http.StatusOK || !strings.Contains(r.body, `href="/g/`+g+`/cases"`) || !strings.Contains(r.body, "no icon guild") {
			t.Errorf("servers: %d %s", r.status, r.body)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options"} {
			if r.header.Get(h) == "" {
				t.Errorf("no %s header", h)
			}
		}
	})

	rows := regexp.MustCompile(`class="case-row" data-number="(\d+)"`)
	numbers := func(body string) []int {
		var out []int
		for _, m := range rows.FindAllStringSubmatch(body, -1) {
			n, _ := strconv.Atoi(m[1])
			out = append(out, n)
		}
		return out
	}
	t.Run("list and filters", func(t *testing.T) {
		r := ww.get(t, mod, "/g/"+g+"/cases")
		if got := numbers(r.body); len(got) != 25 || got[0] != 25 || got[24] != 1 {
			t.Errorf("all cases: %v", got)
		}
		r = ww.get(t, mod, "/g/"+g+"/cases?type=kick")
		if got := numbers(r.body); len(got) != 5 || got[0] != 25 || got[4] != 5 {
			t.Errorf("kicks: %v", got)
		}
		r = ww.get(t, mod, "/g/"+g+"/cases?user="+ww.other.String()+"&moderator="+ww.owner.String())
		if got := numbers(r.body); len(got) != 1 || got[0] != 20 {
			t.Errorf("other's cases by the owner: %v", got)
		}
		r = ww.get(t, mod, "/g/"+g+"/cases?q=seeded+17")
		if got := numbers(r.body); len(got) != 1 || got[0] != 17 {
			t.Errorf("reason text: %v", got)
		}
		today := ww.clk.Now().Format("2006-01-02")
		r = ww.get(t, mod, "/g/"+g+"/cases?status=active&from="+today+"&until="+today)
		if got := numbers(r.body); len(got) != 25 {
			t.Errorf("today's active cases: %d", len(got))
		}
		r = ww.get(t, mod, "/g/"+g+"/cases?until=2000-01-01")
		if got := numbers(r.body); len(got) != 0 || !strings.Contains(r.body, "No case matches") {
			t.Errorf("cases before 2000: %v", got)
		}
		for q, want := range map[string]string{
			"user=abc":                         "is not a user id",
			"type=yeet":                        "type",
			"from=yesterday":                   "is not a date; give it as YYYY-MM-DD",
			"q=%21%21":                         "no words",
			"before=-3":                        "is not a case number",
			"from=2026-02-02&until=2026-02-01": "not before",
		} {
			r := ww.get(t, mod, "/g/"+g+"/cases?"+q)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, want) {
				t.Errorf("?%s: %d, want 400 saying %q: %s", q, r.status, want, r.body)
			}
		}
	})

	t.Run("keyset pages", func(t *testing.T) {
		// 40 more cases make two pages of 50 and 15.
		for i := 0; i < 40; i++ {
			if _, err := cs.Create(context.Background(), cases.New{GuildID: discord.GuildID(ww.guild), UserID: discord.UserID(ww.plain), ModeratorID: discord.UserID(ww.mod),
				Type: cases.Note, Reason: "bulk"}); err != nil {
				t.Fatal(err)
			}
		}
		r := ww.get(t, mod, "/g/"+g+"/cases")
		first := numbers(r.body)
		m := regexp.MustCompile(`id="next-page" href="/g/\d+/cases\?([^"]+)"`).FindStringSubmatch(r.body)
		if len(first) != 50 || first[0] != 65 || m == nil {
			t.Fatalf("first page: %d rows from #%v, next %v", len(first), first[:1], m)
		}
		r = ww.get(t, mod, "/g/"+g+"/cases?"+strings.ReplaceAll(m[1], "&amp;", "&"))
		second := numbers(r.body)
		if len(second) != 15 || second[0] != 15 || second[14] != 1 || strings.Contains(r.body, `id="next-page"`) {
			t.Errorf("second page: %v", second)
		}
	})

	t.Run("exports", func(t *testing.T) {
		r := ww.get(t, mod, "/g/"+g+"/cases.csv?type=kick")
		lines := strings.Split(strings.TrimSpace(r.body), "\n")
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || len(lines) != 6 ||
			lines[0] != "number,type,status,user_id,moderator_id,reason,created_at,expires_at,updated_at" || !strings.HasPrefix(lines[1], "25,KICK,active,") {
			t.Errorf("CSV: %d %q", r.status, lines)
		}
		r = ww.get(t, mod, "/g/"+g+"/cases.jsonl?type=kick&user="+ww.other.String())
		lines = strings.Split(strings.TrimSpace(r.body), "\n")
		var c cases.Case
		if len(lines) != 5 || json.Unmarshal([]byte(lines[0]), &c) != nil || c.Number != 25 || c.Type != cases.Kick {
			t.Errorf("JSON Lines: %q", lines)
		}
		if r := ww.get(t, mod, "/g/"+g+"/cases.csv?user=nobody"); r.status != http.StatusBadRequest {
			t.Errorf("CSV with a bad filter: %d", r.status)
		}
	})

	// A case made by a command has a mod-log message for the edit to follow.
	reply := ww.send(t, ww.mod, "$warn <@"+ww.target.String()+"> first words")
	n := replyCase(t, reply.Content)
	var logged discordtest.Message
	// The post is on Discord before the worker records its link (a history row) in a
	// transaction of its own: wait for both, so the reason edit below is the newest row.
	waitFor(t, "the warn's mod-log post and its link in the case's history", func() bool {
		found := false
		for _, m := range ww.s.Messages(ww.modlog) {
			if strings.Contains(string(m.Embeds[0]), "first words") {
				logged, found = m, true
			}
		}
		if !found {
			return false
		}
		c, err := cs.GetByNumber(context.Background(), discord.GuildID(ww.guild), n)
		if err != nil {
			return false
		}
		events, _ := cs.Events(context.Background(), c.ID)
		for _, e := range events {
			if e.Kind == cases.EventModlog {
				return true
			}
		}
		return false
	})
	casePath := "/g/" + g + "/cases/" + strconv.FormatInt(n, 10)

	t.Run("a case and its reason", func(t *testing.T) {
		r := ww.get(t, mod, casePath)
		if r.status != http.StatusOK || !strings.Contains(r.body, "first words") || !strings.Contains(r.body, `data-kind="created"`) || !strings.Contains(r.body, `id="edit-reason"`) {
			t.Fatalf("case page: %d %s", r.status, r.body)
		}
		tok := csrfOf(t, r.body)
		r = ww.post(t, mod, casePath+"/reason", url.Values{"csrf": {tok}, "reason": {"edited on the web"}}, nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, "Reason updated") || !strings.Contains(r.body, "edited on the web") {
			t.Fatalf("edit: %d %s", r.status, r.body)
		}
		c, err := cs.GetByNumber(context.Background(), discord.GuildID(ww.guild), n)
		if err != nil || c.Reason != "edited on the web" {
			t.Fatalf("case after the edit: %+v %v", c, err)
		}
		events, _ := cs.Events(context.Background(), c.ID)
		last := events[len(events)-1]
		if last.Kind != cases.EventReason || last.ActorID != discord.UserID(ww.mod) || last.Old != "first words" || last.New != "edited on the web" {
			t.Errorf("history row: %+v; want a reason change by the dashboard user", last)
		}
		waitFor(t, "the mod-log message edited", func() bool {
			m, ok := ww.message(ww.modlog, logged.ID)
			return ok && m.EditedTimestamp != nil && strings.Contains(string(m.Embeds[0]), "edited on the web")
		})
	})

	t.Run("a note", func(t *testing.T) {
		r := ww.get(t, mod, casePath)
		if !strings.Contains(r.body, `id="add-note"`) {
			t.Fatalf("no note form on the case page: %s", r.body)
		}
		tok := csrfOf(t, r.body)
		before, _ := cs.GetByNumber(context.Background(), discord.GuildID(ww.guild), n)
		beforeEvents, _ := cs.Events(context.Background(), before.ID)
		for _, c := range []struct {
			name, note string
			status     int
			want       string
		}{
			{"empty", "   ", http.StatusBadRequest, "A note is 1 to 2000 characters; this one is 0"},
			{"too long", strings.Repeat("é", cases.MaxReasonLength+1), http.StatusBadRequest, "A note is 1 to 2000 characters; this one is 2001"},
		} {
			if r := ww.post(t, mod, casePath+"/note", url.Values{"csrf": {tok}, "note": {c.note}}, nil); r.status != c.status || !strings.Contains(r.body, c.want) {
				t.Errorf("%s note: %d, want %d saying %q: %s", c.name, r.status, c.status, c.want, r.body)
			}
		}
		if r := ww.post(t, mod, casePath+"/note", url.Values{"note": {"no token"}}, nil); r.status != http.StatusForbidden {
			t.Errorf("a note without the CSRF token: %d %s", r.status, r.body)
		}
		plain := ww.signIn(t, ww.plain)
		plainTok := csrfOf(t, ww.get(t, plain, "/servers").body)
		if r := ww.post(t, plain, casePath+"/note", url.Values{"csrf": {plainTok}, "note": {"hijack"}}, nil); r.status != http.StatusForbidden {
			t.Errorf("a note by a member without the permission: %d %s", r.status, r.body)
		}
		if events, _ := cs.Events(context.Background(), before.ID); len(events) != len(beforeEvents) {
			t.Fatalf("refused notes wrote history: %+v", events[len(beforeEvents):])
		}

		r = ww.post(t, mod, casePath+"/note", url.Values{"csrf": {tok}, "note": {"  called them; they apologised  "}}, nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, "Note added to the case") || !strings.Contains(r.body, "<em>(called them; they apologised)</em>") {
			t.Fatalf("adding a note: %d %s", r.status, r.body)
		}
		after, _ := cs.GetByNumber(context.Background(), discord.GuildID(ww.guild), n)
		events, _ := cs.Events(context.Background(), after.ID)
		last := events[len(events)-1]
		if len(events) != len(beforeEvents)+1 || last.Kind != cases.EventNote || last.ActorID != discord.UserID(ww.mod) || last.Note != "called them; they apologised" {
			t.Errorf("history after the note: %+v; want one note row by the dashboard user", last)
		}
		if after.Reason != before.Reason || after.Status != before.Status || !after.ExpiresAt.Equal(before.ExpiresAt) {
			t.Errorf("the note changed the case: %+v", after)
		}
	})

	t.Run("status and expiry", func(t *testing.T) {
		tok := csrfOf(t, ww.get(t, mod, casePath).body)
		before, _ := ww.message(ww.modlog, logged.ID)
		for _, c := range []struct {
			path, field, value string
			status             int
			want               string
		}{
			{"/status", "status", "pending", http.StatusBadRequest, "use active or voided"},
			{"/status", "status", "active", http.StatusBadRequest, "is already active"},
			{"/expiry", "expires", "tomorrow", http.StatusBadRequest, "expires must be never, a time such as"},
			{"/expiry", "expires", "never", http.StatusBadRequest, "already expires"},
			{"/expiry", "expires", "2030-01-01 00:00", http.StatusBadRequest, "which does not expire"},
		} {
			r := ww.post(t, mod, casePath+c.path, url.Values{"csrf": {tok}, c.field: {c.value}}, nil)
			if r.status != c.status || !strings.Contains(r.body, c.want) {
				t.Errorf("%s %s=%s: %d, want %d saying %q: %s", c.path, c.field, c.value, r.status, c.status, c.want, r.body)
			}
		}
		r := ww.post(t, mod, casePath+"/status", url.Values{"csrf": {tok}, "status": {"voided"}}, nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, "Status updated") || !strings.Contains(r.body, `id="c-status">voided`) {
			t.Fatalf("void: %d %s", r.status, r.body)
		}
		c, _ := cs.GetByNumber(context.Background(), discord.GuildID(ww.guild), n)
		events, _ := cs.Events(context.Background(), c.ID)
		if last := events[len(events)-1]; c.Status != cases.Voided || last.Kind != cases.EventStatus || last.ActorID != discord.UserID(ww.mod) {
			t.Errorf("after voiding: %s, last history row %+v", c.Status, last)
		}
		waitFor(t, "the mod-log message edited for the void", func() bool {
			m, ok := ww.message(ww.modlog, logged.ID)
			return ok && string(m.Embeds[0]) != string(before.Embeds[0])
		})
		if r := ww.post(t, mod, casePath+"/status", url.Values{"csrf": {tok}, "status": {"active"}}, nil); r.status != http.StatusOK || !strings.Contains(r.body, `id="c-status">active`) {
			t.Errorf("re-activate: %d %s", r.status, r.body)
		}

		// A tempban's expiry moves with its scheduled unban.
		tb := replyCase(t, ww.send(t, ww.owner, "$tempban <@"+ww.other.String()+"> -d 2d spam").Content)
		tbPath := fmt.Sprintf("/g/%s/cases/%d", g, tb)
		r = ww.get(t, mod, "/g/"+g+"/scheduled")
		if r.status != http.StatusOK || !strings.Contains(r.body, fmt.Sprintf(`class="scheduled-row" data-case="%d"`, tb)) || !strings.Contains(r.body, "<td>unban</td>") {
			t.Errorf("the scheduled page does not list the tempban's unban: %d %s", r.status, r.body)
		}
		r = ww.post(t, mod, tbPath+"/expiry", url.Values{"csrf": {tok}, "expires": {"2030-01-01 00:00"}}, nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, "Expiry updated") {
			t.Fatalf("expiry: %d %s", r.status, r.body)
		}
		c, _ = cs.GetByNumber(context.Background(), discord.GuildID(ww.guild), tb)
		if want := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC); !c.ExpiresAt.Equal(want) {
			t.Errorf("the tempban expires %s; want %s", c.ExpiresAt, want)
		}
		if r := ww.get(t, mod, "/g/"+g+"/scheduled"); !strings.Contains(r.body, "2030-01-01 00:00 UTC") {
			t.Errorf("the scheduled page does not show the moved unban: %s", r.body)
		}
	})

	t.Run("escalation on the member and case pages", func(t *testing.T) {
		ctx := context.Background()
		st, err := store.OpenURL(ctx, ww.dbURL, store.Options{MaxOpenConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		esc := escalation.NewService(st, escalation.WithClock(ww.clk.Now))
		if _, _, _, err := esc.Update(ctx, discord.GuildID(ww.guild), discord.UserID(ww.owner), -1, func(c *escalation.Config) error {
			*c = escalation.Preset()
			c.Policies[0].Enabled = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// Cases written as the pipeline writes them: escalation hears of each in its
		// transaction (the running gavel carries the firing out).
		ecs := cases.NewService(st, cases.WithClock(ww.clk.Now), cases.WithChangeObserver(esc))
		var warns []cases.Case
		for i := range 3 {
			c, err := ecs.Create(ctx, cases.New{GuildID: discord.GuildID(ww.guild), UserID: discord.UserID(ww.plain), ModeratorID: discord.UserID(ww.mod),
				Type: cases.Warn, Reason: fmt.Sprintf("escalating %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			warns = append(warns, c)
		}
		memberPath := "/g/" + g + "/members/" + ww.plain.String()
		r := ww.get(t, mod, memberPath)
		for _, want := range []string{`id="points">3/10 points`, fmt.Sprintf(`class="point-case" data-number="%d"`, warns[0].Number),
			"policy preset at 3, timeout for 1 hour"} {
			if !strings.Contains(r.body, want) {
				t.Fatalf("member page lacks %q: %s", want, r.body)
			}
		}
		// The third warning triggered it; the running gavel picks the firing up (a firing
		// another process left is run within a minute) and its case carries it out: each
		// page links the other.
		ww.clk.Advance(2 * time.Minute)
		var escCase cases.Case
		waitFor(t, "the escalation's case", func() bool {
			fs, err := esc.FiringsOfCase(ctx, warns[2].ID)
			if err != nil || len(fs) == 0 || fs[0].EscalationCase == 0 {
				return false
			}
			escCase, err = cs.Get(ctx, fs[0].EscalationCase)
			return err == nil
		})
		r = ww.get(t, mod, fmt.Sprintf("/g/%s/cases/%d", g, warns[2].Number))
		if !strings.Contains(r.body, fmt.Sprintf(`carried out by <a href="/g/%s/cases/%d">case #%d</a>`, g, escCase.Number, escCase.Number)) ||
			!strings.Contains(r.body, `id="c-points">Escalation points: 1`) {
			t.Fatalf("the triggering case's page: %s", r.body)
		}
		r = ww.get(t, mod, fmt.Sprintf("/g/%s/cases/%d", g, escCase.Number))
		if !strings.Contains(r.body, fmt.Sprintf(`Carries out the escalation triggered by <a href="/g/%s/cases/%d">case #%d</a>`, g, warns[2].Number, warns[2].Number)) {
			t.Fatalf("the escalation case's page: %s", r.body)
		}
	})

	t.Run("member page and lift now", func(t *testing.T) {
		ww.clk.Advance(time.Minute) // a full write bucket
		if _, err := cs.Create(context.Background(), cases.New{GuildID: discord.GuildID(ww.guild), UserID: discord.UserID(ww.other),
			ModeratorID: discord.UserID(ww.mod), Type: cases.Note, Reason: "talked it over in DMs"}); err != nil {
			t.Fatal(err)
		}
		memberPath := "/g/" + g + "/members/" + ww.other.String()
		tbs, _, err := cs.BrowsePage(context.Background(), cases.Browse{Filter: cases.Filter{GuildID: discord.GuildID(ww.guild), UserID: discord.UserID(ww.other), Types: []cases.Type{cases.Tempban}}}, 0, 1)
		if err != nil || len(tbs) != 1 {
			t.Fatalf("the tempban: %v %v", tbs, err)
		}
		tb := tbs[0].Number
		r := ww.get(t, mod, memberPath)
		if r.status != http.StatusOK || !strings.Contains(r.body, fmt.Sprintf(`class="active-case" data-number="%d"`, tb)) ||
			!strings.Contains(r.body, "ends 2030-01-01 00:00 UTC") || !strings.Contains(r.body, "talked it over in DMs") || !strings.Contains(r.body, `class="lift"`) {
			t.Fatalf("member page: %d %s", r.status, r.body)
		}
		if r := ww.get(t, mod, "/g/"+g+"/members/someone"); r.status != http.StatusNotFound || !strings.Contains(r.body, "is not a user id") {
			t.Errorf("a member page for a bad id: %d %s", r.status, r.body)
		}
		// The moderator may amend cases but not unban: lifting a tempban is an unban.
		tok := csrfOf(t, r.body)
		liftPath := fmt.Sprintf("/g/%s/cases/%d/lift", g, tb)
		r = ww.post(t, mod, liftPath, url.Values{"csrf": {tok}}, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Ban Members") {
			t.Errorf("a lift without the unban permission: %d %s", r.status, r.body)
		}
		if _, banned := ww.s.Banned(ww.guild, ww.other); !banned {
			t.Fatal("the refused lift unbanned the member")
		}
		owner := ww.signIn(t, ww.owner)
		tok = csrfOf(t, ww.get(t, owner, memberPath).body)
		r = ww.post(t, owner, liftPath, url.Values{"csrf": {tok}}, nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, "Punishment lifted") || !strings.Contains(r.body, `id="no-active"`) {
			t.Fatalf("the owner's lift: %d %s", r.status, r.body)
		}
		if _, banned := ww.s.Banned(ww.guild, ww.other); banned {
			t.Error("the lift did not unban the member")
		}
		lifts, err := cs.WithMetadata(context.Background(), discord.GuildID(ww.guild), "lifts_case", strconv.FormatInt(tb, 10), cases.PageRequest{Page: 1, PerPage: 10})
		if err != nil || len(lifts.Cases) != 1 || lifts.Cases[0].Type != cases.Unban || lifts.Cases[0].ModeratorID != discord.UserID(ww.owner) {
			t.Errorf("the lift case: %+v %v; want an unban by the owner", lifts.Cases, err)
		}
	})

	t.Run("automod and its tester", func(t *testing.T) {
		if r := ww.send(t, ww.owner, `$automod create scams -keywords "free nitro", scam*`); !strings.Contains(r.Content, "scams") {
			t.Fatalf("creating the rule: %q", r.Content)
		}
		owner := ww.signIn(t, ww.owner)
		r := ww.get(t, owner, "/g/"+g+"/automod")
		if r.status != http.StatusOK || !strings.Contains(r.body, `<tr class="rule"><td>scams</td><td>KEYWORD</td><td>yes</td>`) {
			t.Fatalf("automod page: %d %s", r.status, r.body)
		}
		r = ww.get(t, owner, "/g/"+g+"/automod?message="+url.QueryEscape("get FREE NITRO here, scammers"))
		if !strings.Contains(r.body, "keyword <code>free nitro</code> matched <mark>FREE NITRO</mark> at characters 4–14") {
			t.Errorf("tester: %s", r.body)
		}
		r = ww.get(t, owner, "/g/"+g+"/automod?message="+url.QueryEscape("hello scammers"))
		if !strings.Contains(r.body, "keyword <code>scam*</code> matched <mark>scam</mark> at characters 6–10") {
			t.Errorf("tester with a wildcard: %s", r.body)
		}
		// A gavel-enforced rule (beyond Discord's limits) is evaluated too.
		amst, err := store.OpenURL(context.Background(), ww.dbURL, store.Options{MaxOpenConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer amst.Close()
		if err := automod.NewStore(amst).ReplaceGavelRules(context.Background(), discord.GuildID(ww.guild), []automod.GavelRule{{Name: "long list",
			TriggerType: automod.TriggerKeyword, Keywords: []string{"forbidden"}, Enabled: true, Actions: []automod.GavelAction{{Type: automod.GavelDelete}}}}); err != nil {
			t.Fatal(err)
		}
		r = ww.get(t, owner, "/g/"+g+"/automod?message="+url.QueryEscape("a forbidden word"))
		if !strings.Contains(r.body, "<strong>long list</strong> (enforced by gavel): keyword <code>forbidden</code> matched <mark>forbidden</mark>") {
			t.Errorf("tester with a gavel-enforced rule: %s", r.body)
		}
		if r := ww.get(t, owner, "/g/"+g+"/automod?message=hello"); !strings.Contains(r.body, `id="no-hits"`) {
			t.Errorf("tester on a clean message: %s", r.body)
		}
		if r := ww.get(t, owner, "/g/"+g+"/automod?message="+strings.Repeat("a", 4001)); r.status != http.StatusBadRequest || !strings.Contains(r.body, "at most 4000") {
			t.Errorf("an over-long message: %d %s", r.status, r.body)
		}
		// The moderator may see cases but not AutoMod (Manage Server, or rank 5).
		if r := ww.get(t, mod, "/g/"+g+"/automod"); r.status != http.StatusForbidden || !strings.Contains(r.body, "Manage Server") {
			t.Errorf("the moderator's automod page: %d %s", r.status, r.body)
		}
	})

	t.Run("automod rules file: plan and apply", func(t *testing.T) {
		owner := ww.signIn(t, ww.owner)
		gid := discord.GuildID(ww.guild)
		// The audit-log channel hears of every change applied, naming the dashboard user.
		if r := ww.send(t, ww.owner, "$config channel auditlog <#"+ww.modlog.String()+">"); !strings.Contains(r.Content, "audit-log channel is now") {
			t.Fatalf("setting the audit-log channel: %q", r.Content)
		}
		r := ww.get(t, owner, "/g/"+g+"/automod")
		tok := csrfOf(t, r.body)
		// The editor holds the guild's rules as gavel automod export writes them.
		if r.status != http.StatusOK || !strings.Contains(r.body, `id="plan-form"`) || !strings.Contains(r.body, "name = &#34;scams&#34;") ||
			!strings.Contains(r.body, "name = &#34;long list&#34;") {
			t.Fatalf("the automod page's rules file: %d %s", r.status, r.body)
		}
		before := ww.s.AutoModRules(ww.guild)
		file := `[[rule]]
name = "scams"
trigger = "keyword"
keywords = ["free nitro", "scam*", "giveaway*"]

  [[rule.action]]
  type = "block"

[[rule]]
name = "invites"
trigger = "keyword"
keywords = ["discord.gg/*"]

  [[rule.action]]
  type = "block"
`
		hashes := regexp.MustCompile(`name="filehash" value="([0-9a-f]+)">\s*<input type="hidden" name="statehash" value="([0-9a-f]+)">`)
		r = ww.post(t, owner, "/g/"+g+"/automod/plan", url.Values{"csrf": {tok}, "file": {file}}, nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, `<li class="change change-update"><strong>update</strong> Discord rule <code>scams</code>`) ||
			!strings.Contains(r.body, `<li class="change change-create"><strong>create</strong> Discord rule <code>invites</code>`) ||
			!strings.Contains(r.body, `<li class="change change-delete"><strong>delete</strong> gavel-enforced rule <code>long list</code>`) ||
			!strings.Contains(r.body, "1 to create, 1 to update, 1 to delete, 0 unchanged") {
			t.Fatalf("the plan: %d %s", r.status, r.body)
		}
		m := hashes.FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("the plan carries no hashes: %s", r.body)
		}
		if got := ww.s.AutoModRules(ww.guild); len(got) != len(before) {
			t.Fatalf("planning changed Discord's rules: %+v", got)
		}

		// Apply with another file than the one planned: refused.
		r = ww.post(t, owner, "/g/"+g+"/automod/apply", url.Values{"csrf": {tok}, "file": {file + "\n"}, "filehash": {m[1]}, "statehash": {m[2]}}, nil)
		if r.status != http.StatusConflict || !strings.Contains(r.body, "not the file that was planned") {
			t.Errorf("applying an edited file: %d %s", r.status, r.body)
		}
		// The rules change on Discord after the plan: the plan is stale, and refused.
		if r := ww.send(t, ww.owner, "$automod disable scams"); !strings.Contains(r.Content, "scams") {
			t.Fatalf("disabling the rule: %q", r.Content)
		}
		r = ww.post(t, owner, "/g/"+g+"/automod/apply", url.Values{"csrf": {tok}, "file": {file}, "filehash": {m[1]}, "statehash": {m[2]}}, nil)
		if r.status != http.StatusConflict || !strings.Contains(r.body, "The rules changed since this plan was made") ||
			!strings.Contains(r.body, "enabled: false → true") {
			t.Fatalf("applying a stale plan: %d %s", r.status, r.body)
		}
		if got := ww.s.AutoModRules(ww.guild); len(got) != len(before) || got[0].Enabled {
			t.Fatalf("a stale plan changed Discord's rules: %+v", got)
		}
		// The refusal shows the plan as it is now; that one applies.
		m = hashes.FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("the refusal carries no new plan: %s", r.body)
		}
		// Without the token, or from a member without automod's rights: refused.
		if r := ww.post(t, owner, "/g/"+g+"/automod/apply", url.Values{"file": {file}, "filehash": {m[1]}, "statehash": {m[2]}}, nil); r.status != http.StatusForbidden {
			t.Errorf("apply without the token: %d", r.status)
		}
		modTok := csrfOf(t, ww.get(t, mod, "/g/"+g+"/cases").body)
		for _, p := range []string{"/plan", "/apply"} {
			if r := ww.post(t, mod, "/g/"+g+"/automod"+p, url.Values{"csrf": {modTok}, "file": {file}, "filehash": {m[1]}, "statehash": {m[2]}}, nil); r.status != http.StatusForbidden ||
				!strings.Contains(r.body, "You may not change the AutoMod rules") {
				t.Errorf("the moderator's %s: %d %s", p, r.status, r.body)
			}
		}
		if got := ww.s.AutoModRules(ww.guild); len(got) != len(before) {
			t.Fatalf("a refused apply changed Discord's rules: %+v", got)
		}
		r = ww.post(t, owner, "/g/"+g+"/automod/apply", url.Values{"csrf": {tok}, "file": {file}, "filehash": {m[1]}, "statehash": {m[2]}}, nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, "Applied the rules file: 3 changes made.") ||
			!strings.Contains(r.body, `<tr class="rule"><td>invites</td><td>KEYWORD</td><td>yes</td>`) {
			t.Fatalf("applying the plan: %d %s", r.status, r.body)
		}
		after := ww.s.AutoModRules(ww.guild)
		names := map[string]discordtest.AutoModRule{}
		for _, rule := range after {
			names[rule.Name] = rule
		}
		if len(after) != 2 || !names["scams"].Enabled || !strings.Contains(string(names["scams"].TriggerMetadata), "giveaway*") || names["invites"].Name == "" {
			t.Errorf("Discord's rules after apply: %+v", after)
		}
		amst, err := store.OpenURL(context.Background(), ww.dbURL, store.Options{MaxOpenConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer amst.Close()
		gr, _, err := automod.NewStore(amst).GavelRules(context.Background(), gid)
		if err != nil || len(gr) != 0 {
			t.Errorf("the gavel-enforced rules after apply: %+v %v; want none", gr, err)
		}
		// Discord's audit log names the dashboard user as the one gavel acted for, and the
		// audit-log channel is told.
		reason := fmt.Sprintf("gavel automod, for owner (dashboard) (%d)", ww.owner)
		var created bool
		for _, e := range ww.s.AuditLog(ww.guild) {
			created = created || (e.ActionType == discordtest.AuditAutoModRuleCreate && e.Reason == reason)
		}
		if !created {
			t.Errorf("no AutoMod rule creation in Discord's audit log with the reason %q: %+v", reason, ww.s.AuditLog(ww.guild))
		}
		waitFor(t, "the audit-log channel to hear of the apply", func() bool {
			for _, msg := range ww.s.Messages(ww.modlog) {
				if strings.Contains(msg.Content, "owner (dashboard) (<@"+ww.owner.String()+">) applied a rules file:") && strings.Contains(msg.Content, `create discord rule "invites"`) {
					return true
				}
			}
			return false
		})

		// A bad file: refused with the place of the problem, and nothing changes.
		for _, bad := range []struct{ file, want string }{
			{"[[rule]]\nname = \"x\"\nkeywords = [\"a\"\nenabled = true\n", "rules file: line 4, column 1: expected a comma"},
			{"[[rule]]\nname = \"x\"\ntrigger = \"nope\"\n", `rule 1 (&#34;x&#34;): trigger: &#34;nope&#34; is not a trigger; accepted: keyword`},
		} {
			for _, p := range []string{"/plan", "/apply"} {
				r := ww.post(t, owner, "/g/"+g+"/automod"+p, url.Values{"csrf": {tok}, "file": {bad.file}, "filehash": {m[1]}, "statehash": {m[2]}}, nil)
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, bad.want) || !strings.Contains(r.body, `id="file-error"`) {
					t.Errorf("%s of a bad file: %d %s", p, r.status, r.body)
				}
			}
		}
		// A file over the limit: a clear refusal.
		big := strings.Repeat("#", 512<<10+1)
		if r := ww.post(t, owner, "/g/"+g+"/automod/plan", url.Values{"csrf": {tok}, "file": {big}}, nil); r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.body, "the dashboard takes at most 524288") {
			t.Errorf("an over-large file: %d %s", r.status, r.body)
		}
		if got := ww.s.AutoModRules(ww.guild); len(got) != 2 {
			t.Errorf("refused files changed Discord's rules: %+v", got)
		}
	})

	t.Run("settings", func(t *testing.T) {
		if r := ww.send(t, ww.owner, "$config prefix !"); !strings.Contains(r.Content, "!") {
			t.Fatalf("setting the prefix: %q", r.Content)
		}
		owner := ww.signIn(t, ww.owner)
		r := ww.get(t, owner, "/g/"+g+"/settings")
		if r.status != http.StatusOK || !strings.Contains(r.body, `<dd id="s-prefix"><code>!</code></dd>`) ||
			!strings.Contains(r.body, "by "+ww.owner.String()+": <del>$</del> → <ins>!</ins>") || !strings.Contains(r.body, ww.modlog.String()) {
			t.Errorf("settings page: %d %s", r.status, r.body)
		}
		if r := ww.get(t, mod, "/g/"+g+"/settings"); r.status != http.StatusForbidden || !strings.Contains(r.body, "Manage Server") {
			t.Errorf("the moderator's settings page: %d %s", r.status, r.body)
		}
		if r := ww.send(t, ww.owner, "!config prefix $"); !strings.Contains(r.Content, "$") {
			t.Fatalf("setting the prefix back: %q", r.Content)
		}
	})

	t.Run("linked cases", func(t *testing.T) {
		lift, err := cs.Create(context.Background(), cases.New{GuildID: discord.GuildID(ww.guild), UserID: discord.UserID(ww.other),
			ModeratorID: discord.UserID(ww.mod), Type: cases.Unban, Reason: "appeal", Metadata: map[string]string{"lifts_case": "5"}})
		if err != nil {
			t.Fatal(err)
		}
		liftPath := fmt.Sprintf("/g/%s/cases/%d", g, lift.Number)
		if r := ww.get(t, mod, "/g/"+g+"/cases/5"); !strings.Contains(r.body, `Lifted by <a href="`+liftPath+`">`) {
			t.Errorf("case #5 does not link to its lift #%d: %s", lift.Number, r.body)
		}
		if r := ww.get(t, mod, liftPath); !strings.Contains(r.body, `Lifts <a href="/g/`+g+`/cases/5">`) {
			t.Errorf("the lift does not link to case #5: %s", r.body)
		}
	})

	t.Run("refusals change nothing", func(t *testing.T) {
		ww.clk.Advance(time.Minute) // a full write bucket: the refusals below are not the limit's
		before, _ := cs.GetByNumber(context.Background(), discord.GuildID(ww.guild), n)
		tok := csrfOf(t, ww.get(t, mod, casePath).body)
		for _, c := range []struct {
			name   string
			path   string
			form   url.Values
			header map[string]string
			status int
			want   string
		}{
			{"no token", casePath + "/reason", url.Values{"reason": {"x"}}, nil, http.StatusForbidden, "does not carry the token of your session"},
			{"wrong token", casePath + "/reason", url.Values{"csrf": {"forged"}, "reason": {"x"}}, nil, http.StatusForbidden, "does not carry the token of your session"},
			{"cross-site", casePath + "/reason", url.Values{"csrf": {tok}, "reason": {"x"}}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, http.StatusForbidden, "Cross-site request refused"},
			{"other origin", casePath + "/reason", url.Values{"csrf": {tok}, "reason": {"x"}}, map[string]string{"Sec-Fetch-Site": "", "Origin": "http://evil.example"}, http.StatusForbidden, "Cross-site request refused"},
			{"too long", casePath + "/reason", url.Values{"csrf": {tok}, "reason": {strings.Repeat("x", cases.MaxReasonLength+1)}}, nil, http.StatusBadRequest, "was not changed"},
			{"oversized body", casePath + "/reason", url.Values{"csrf": {tok}, "reason": {strings.Repeat("x", 64<<10)}}, nil, http.StatusRequestEntityTooLarge, "Too much text"},
			{"empty", casePath + "/reason", url.Values{"csrf": {tok}, "reason": {"  "}}, nil, http.StatusBadRequest, "was not changed"},
			{"same", casePath + "/reason", url.Values{"csrf": {tok}, "reason": {before.Reason}}, nil, http.StatusBadRequest, "already has that reason"},
			{"forged number", "/g/" + g + "/cases/99999/reason", url.Values{"csrf": {tok}, "reason": {"x"}}, nil, http.StatusNotFound, "has no case #99999"},
			{"not a number", "/g/" + g + "/cases/1e3/reason", url.Values{"csrf": {tok}, "reason": {"x"}}, nil, http.StatusNotFound, "is not a case number"},
			{"another server", "/g/123456789012345678/cases/1/reason", url.Values{"csrf": {tok}, "reason": {"x"}}, nil, http.StatusNotFound, "gavel is not in server 123456789012345678"},
		} {
			r := ww.post(t, mod, c.path, c.form, c.header)
			if r.status != c.status || !strings.Contains(r.body, c.want) {
				t.Errorf("%s: %d, want %d saying %q: %s", c.name, r.status, c.status, c.want, r.body)
			}
		}
		after, _ := cs.GetByNumber(context.Background(), discord.GuildID(ww.guild), n)
		if after.Reason != before.Reason || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("a refused request changed the case: %+v", after)
		}
		for path, want := range map[string]string{
			"/g/" + g + "/cases/99999":      "has no case #99999",
			"/g/" + g + "/cases/abc":        "is not a case number",
			"/g/123456789012345678/cases/1": "gavel is not in server",
			"/g/not-a-server/cases":         "is not a server id",
		} {
			if r := ww.get(t, mod, path); r.status != http.StatusNotFound || !strings.Contains(r.body, want) {
				t.Errorf("GET %s: %d %s", path, r.status, r.body)
			}
		}
	})

	t.Run("write limit", func(t *testing.T) {
		tok := csrfOf(t, ww.get(t, mod, casePath).body)
		var limited webResp
		for i := 0; i < 25 && limited.status == 0; i++ {
			if r := ww.post(t, mod, casePath+"/reason", url.Values{"csrf": {tok}, "reason": {" "}}, nil); r.status == http.StatusTooManyRequests {
				limited = r
			}
		}
		if !strings.Contains(limited.body, "Too many changes") || limited.header.Get("Retry-After") == "" {
			t.Fatalf("no write limit after 25 writes: %d %s", limited.status, limited.body)
		}
		ww.clk.Advance(time.Minute)
		r := ww.post(t, mod, casePath+"/reason", url.Values{"csrf": {tok}, "reason": {"after the pause"}}, nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, "after the pause") {
			t.Errorf("a write after the pause: %d %s", r.status, r.body)
		}
	})

	t.Run("a member without the permission", func(t *testing.T) {
		plain := ww.signIn(t, ww.plain)
		if r := ww.get(t, plain, "/servers"); !strings.Contains(r.body, `id="no-servers"`) {
			t.Errorf("a plain member's servers: %s", r.body)
		}
		r := ww.get(t, plain, "/g/"+g+"/cases")
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "You may not see the cases") || !strings.Contains(r.body, "Manage Messages") {
			t.Errorf("a plain member's case list: %d %s", r.status, r.body)
		}
		tok := csrfOf(t, ww.get(t, plain, "/servers").body)
		r = ww.post(t, plain, casePath+"/reason", url.Values{"csrf": {tok}, "reason": {"hijack"}}, nil)
		if r.status != http.StatusForbidden {
			t.Errorf("a plain member's edit: %d %s", r.status, r.body)
		}
		if c, _ := cs.GetByNumber(context.Background(), discord.GuildID(ww.guild), n); c.Reason == "hijack" {
			t.Error("a member without the permission changed a reason")
		}
	})

	t.Run("tampered, signed-out and expired sessions", func(t *testing.T) {
		u, _ := url.Parse(ww.url)
		cookieOf := func(c *http.Client) string {
			for _, ck := range c.Jar.Cookies(u) {
				if ck.Name == "gavel_session" {
					return ck.Value
				}
			}
			t.Fatal("no session cookie")
			return ""
		}
		copyOf := func(value string) *http.Client {
			jar, _ := cookiejar.New(nil)
			jar.SetCookies(u, []*http.Cookie{{Name: "gavel_session", Value: value}})
			return &http.Client{Jar: jar}
		}
		if r := ww.get(t, copyOf(cookieOf(mod)+"x"), "/servers"); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "not valid") {
			t.Errorf("tampered cookie: %d %s", r.status, r.body)
		}

		// Signing out deletes the session: a copy of the cookie taken before is refused.
		leaving := ww.signIn(t, ww.mod)
		copied := copyOf(cookieOf(leaving))
		if r := ww.get(t, copied, "/servers"); r.status != http.StatusOK {
			t.Fatalf("the copied cookie before sign-out: %d %s", r.status, r.body)
		}
		tok := csrfOf(t, ww.get(t, leaving, "/servers").body)
		if r := ww.post(t, leaving, "/auth/logout", url.Values{"csrf": {tok}}, nil); r.status != http.StatusOK || !strings.Contains(r.body, "Sign in with Discord") {
			t.Fatalf("sign-out: %d %s", r.status, r.body)
		}
		if r := ww.get(t, copied, "/servers"); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "you signed out") {
			t.Errorf("the copied cookie after sign-out: %d %s", r.status, r.body)
		}
		if r := ww.get(t, leaving, "/servers"); r.status != http.StatusUnauthorized {
			t.Errorf("the signed-out browser: %d %s", r.status, r.body)
		}
		if r := ww.post(t, copied, casePath+"/reason", url.Values{"csrf": {tok}, "reason": {"after sign-out"}}, nil); r.status != http.StatusUnauthorized {
			t.Errorf("a change with the copied cookie after sign-out: %d %s", r.status, r.body)
		}
		if c, _ := cs.GetByNumber(context.Background(), discord.GuildID(ww.guild), n); c.Reason == "after sign-out" {
			t.Error("a signed-out cookie changed a reason")
		}
		if r := ww.get(t, mod, "/servers"); r.status != http.StatusOK {
			t.Errorf("the moderator's other session after signing out of one: %d %s", r.status, r.body)
		}

		ww.clk.Advance(25 * time.Hour)
		if r := ww.get(t, mod, "/servers"); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "expired") {
			t.Errorf("a session unused for 25 hours: %d %s", r.status, r.body)
		}
	})
}
