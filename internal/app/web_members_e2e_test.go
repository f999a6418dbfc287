package app_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gavelbot/gavel/internal/discord/restcache"
	"github.com/gavelbot/gavel/internal/discordtest"
)

// TestDashboardMemberCache: gavel run's dashboard reads the signed-in member's roles from
// Discord once and keeps them, so a page makes at most one Discord call on a miss and none
// on a hit; the gateway's member events (a role change, a member leaving) drop the entry,
// so the next page sees the change; and the entry ends after restcache.DefaultMemberTTL on
// gavel's clock.
func TestDashboardMemberCache(t *testing.T) {
	t.Parallel()
	ww := newWebWorld(t)
	var mu sync.Mutex
	var calls []string
	ww.s.SetRequestObserver(func(sv discordtest.Served) {
		mu.Lock()
		calls = append(calls, sv.Route)
		mu.Unlock()
	})
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := calls
		calls = nil
		return out
	}
	reads := func(cs []string) []string {
		var out []string
		for _, c := range cs {
			if strings.HasPrefix(c, "GET ") {
				out = append(out, c)
			}
		}
		return out
	}
	memberCalls := func(cs []string) int {
		n := 0
		for _, c := range cs {
			if c == "GET /guilds/{guild_id}/members/{user_id}" {
				n++
			}
		}
		return n
	}
	// barrier returns once gavel has handled every gateway event dispatched before it: the
	// events reach gavel in order on one connection, and this one is a command it answers.
	barrier := func() {
		t.Helper()
		ww.send(t, ww.owner, "$cases 1")
		take()
	}
	g := ww.guild.String()
	casesPath := "/g/" + g + "/cases"
	page := func(c *http.Client, wantStatus int, wantCalls int, what string) {
		t.Helper()
		take()
		r := ww.get(t, c, casesPath)
		if r.status != wantStatus {
			t.Fatalf("%s: status %d, want %d: %s", what, r.status, wantStatus, r.body)
		}
		// A page only reads; a message gavel posts meanwhile (the barrier command's
		// bookkeeping, after its answer) is not the page's.
		if got := reads(take()); len(got) != wantCalls || memberCalls(got) != wantCalls {
			t.Errorf("%s: Discord reads %v; want %d member lookup(s) and nothing else", what, got, wantCalls)
		}
	}

	mod := ww.signIn(t, ww.mod) // the sign-in's landing page looked the moderator up
	page(mod, http.StatusOK, 0, "a page on a hit")
	page(mod, http.StatusOK, 0, "another page on a hit")

	// The moderator loses the role through Discord: GUILD_MEMBER_UPDATE drops the entry.
	ww.s.SetMemberRoles(ww.guild, ww.mod)
	barrier()
	page(mod, http.StatusForbidden, 1, "the page after the role was taken")
	page(mod, http.StatusForbidden, 0, "the page after that")
	ww.s.SetMemberRoles(ww.guild, ww.mod, ww.modRole)
	barrier()
	page(mod, http.StatusOK, 1, "the page after the role came back")
	page(mod, http.StatusOK, 0, "the page after that")

	// The entry ends on gavel's clock.
	ww.clk.Advance(restcache.DefaultMemberTTL)
	page(mod, http.StatusOK, 1, "the page after the entry expired")
	page(mod, http.StatusOK, 0, "the page after that")

	// The moderator leaves: GUILD_MEMBER_REMOVE drops the entry, and Discord says not a
	// member (which is not kept).
	ww.s.UserLeaves(ww.guild, ww.mod)
	barrier()
	take()
	r := ww.get(t, mod, casesPath)
	if r.status != http.StatusForbidden || !strings.Contains(strings.ToLower(r.body), "not a member") {
		t.Errorf("the page after leaving: %d %s", r.status, r.body)
	}
	if got := reads(take()); memberCalls(got) != 1 || len(got) != 1 {
		t.Errorf("the page after leaving: Discord reads %v; want one member lookup", got)
	}
}
