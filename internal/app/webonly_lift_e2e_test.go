package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/app"
	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/config"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/expiry"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// TestWebLiftThroughGavelRun: gavel run (the gateway, the pipeline, the expiry runner) and
// gavel web (no gateway) on one PostgreSQL database and one fake Discord. "Lift now" on
// gavel web's member page moves the tempban's end to now, with a history row naming the
// dashboard user, and says the lift is queued; gavel run's expiry runner then unbans through
// the pipeline, with a lift case linked to the tempban, and the member page shows it done on
// reload. A permanent ban, which has no end to move, is refused with where to lift it, and
// a moderator without the unban permission is refused; neither changes anything.
func TestWebLiftThroughGavelRun(t *testing.T) {
	t.Parallel()
	cw, ww, _ := startRunAndWeb(t)
	tb := replyCase(t, cw.send(t, cw.owner, "$tempban <@"+cw.other.String()+"> -d 2d spam").Content)
	ban := replyCase(t, cw.send(t, cw.owner, "$ban <@"+cw.target.String()+"> raid").Content)
	if _, banned := cw.s.Banned(cw.guild, cw.other); !banned {
		t.Fatal("the tempban did not ban")
	}
	clk := ww.clk

	g := cw.guild.String()
	cs := cw.casesService(t)
	owner := signInAs(t, ww, cw.owner)
	mod := signInAs(t, ww, cw.mod)
	memberPath := "/g/" + g + "/members/" + cw.other.String()
	liftPath := func(n int64) string { return fmt.Sprintf("/g/%s/cases/%d/lift", g, n) }
	r := ww.get(t, owner, memberPath)
	if r.status != http.StatusOK || !strings.Contains(r.body, fmt.Sprintf(`class="active-case" data-number="%d"`, tb)) || !strings.Contains(r.body, `class="lift"`) {
		t.Fatalf("member page before the lift: %d %s", r.status, r.body)
	}
	tok := csrfOf(t, r.body)

	t.Run("refusals change nothing", func(t *testing.T) {
		// The moderator may see and amend cases but not unban.
		r := ww.post(t, mod, liftPath(tb), url.Values{"csrf": {csrfOf(t, ww.get(t, mod, memberPath).body)}}, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Ban Members") {
			t.Errorf("a lift without the unban permission: %d %s", r.status, r.body)
		}
		r = ww.post(t, owner, liftPath(ban), url.Values{"csrf": {tok}}, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "never ends by itself") || !strings.Contains(r.body, "cases modify") {
			t.Errorf("a permanent ban's lift: %d %s", r.status, r.body)
		}
		r = ww.post(t, owner, liftPath(3), url.Values{"csrf": {tok}}, nil) // a warning
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "nothing lifts") {
			t.Errorf("a warning's lift: %d %s", r.status, r.body)
		}
		for _, n := range []int64{tb, ban} {
			c, err := cs.GetByNumber(context.Background(), discord.GuildID(cw.guild), n)
			if err != nil || c.Processed || c.Status != cases.Active || (n == ban && !c.ExpiresAt.IsZero()) {
				t.Errorf("case #%d after the refusals: %+v %v", n, c, err)
			}
		}
		if _, banned := cw.s.Banned(cw.guild, cw.target); !banned {
			t.Error("the permanent ban was lifted")
		}
	})

	t.Run("queued, then lifted by gavel run", func(t *testing.T) {
		requested := clk.Now()
		r := ww.post(t, owner, liftPath(tb), url.Values{"csrf": {tok}}, nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, fmt.Sprintf("Lift of case #%d queued", tb)) || !strings.Contains(r.body, `class="ending"`) || strings.Contains(r.body, `class="lift"`) {
			t.Fatalf("the lift: %d %s", r.status, r.body)
		}
		c, err := cs.GetByNumber(context.Background(), discord.GuildID(cw.guild), tb)
		if err != nil || !c.ExpiresAt.Equal(requested.Truncate(time.Millisecond)) {
			t.Fatalf("the tempban after the request: ends %v (%v); want %v", c.ExpiresAt, err, requested)
		}
		events, err := cs.Events(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var asked bool
		for _, e := range events {
			asked = asked || (e.Kind == cases.EventExpiry && e.ActorID == discord.UserID(cw.owner) && strings.Contains(e.Note, "lift now, asked on the dashboard by owner"))
		}
		if !asked {
			t.Errorf("no history row names the dashboard user's lift: %+v", events)
		}
		// gavel run reads the schedule every poll interval of its clock.
		waitFor(t, "gavel run to unban", func() bool {
			if _, banned := cw.s.Banned(cw.guild, cw.other); !banned {
				return true
			}
			clk.Advance(expiry.DefaultPollInterval)
			return false
		})
		waitFor(t, "the tempban processed", func() bool {
			c, err := cs.GetByNumber(context.Background(), discord.GuildID(cw.guild), tb)
			return err == nil && c.Processed
		})
		lifts, err := cs.WithMetadata(context.Background(), discord.GuildID(cw.guild), "lifts_case", strconv.FormatInt(tb, 10), cases.PageRequest{Page: 1, PerPage: 10})
		if err != nil || len(lifts.Cases) != 1 || lifts.Cases[0].Type != cases.Unban || lifts.Cases[0].Status != cases.Active {
			t.Fatalf("the lift case: %+v %v; want one active unban", lifts.Cases, err)
		}
		r = ww.get(t, owner, memberPath)
		if r.status != http.StatusOK || !strings.Contains(r.body, `id="no-active"`) || !strings.Contains(r.body, fmt.Sprintf(`/cases/%d"`, lifts.Cases[0].Number)) {
			t.Errorf("the member page on reload: %d %s", r.status, r.body)
		}
		if r := ww.post(t, owner, liftPath(tb), url.Values{"csrf": {tok}}, nil); r.status != http.StatusBadRequest || !strings.Contains(r.body, "already ended") {
			t.Errorf("lifting it again: %d %s", r.status, r.body)
		}
	})
}

// startRunAndWeb starts gavel run (gateway, pipeline, expiry runner) and gavel web on one
// PostgreSQL database and one fake Discord, both on one manual clock; gavel may manage
// AutoMod (Manage Server). The webWorld's url is gavel web's.
func startRunAndWeb(t *testing.T) (*casesWorld, *webWorld, *app.WebOnly) {
	t.Helper()
	cw := newCasesWorld(t)
	cw.dbURL = storetest.MigratedURL(t, store.Postgres)
	cw.prepare(t, nil)
	amRole := cw.s.CreateRole(cw.guild, "automod", 3, discordtest.PermManageGuild)
	cw.s.SetMemberRoles(cw.guild, cw.s.BotID(), cw.botRole, amRole)
	clk := clock.NewManual(time.Now().UTC())
	cw.startWith(t, cw.config(), app.WithClock(clk))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ww := &webWorld{casesWorld: cw, url: "http://" + ln.Addr().String(), clk: clk}
	cw.s.AddOAuth2Redirect(ww.url + "/auth/callback")
	cfg := cw.config()
	cfg.Discord.GatewayURL = ""
	cfg.Web = config.Web{Addr: ln.Addr().String(), PublicURL: ww.url, ClientSecret: config.Secret(cw.s.OAuth2ClientSecret())}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := app.NewWebOnly(ctx, cfg, quietLogger(), app.WithWebOnlyClock(clk), app.WithWebOnlyListener(ln))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gavel web: %v", err)
		}
	})
	return cw, ww, w
}
