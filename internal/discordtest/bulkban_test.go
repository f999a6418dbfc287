package discordtest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	disgodiscord "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/snowflake/v2"
)

// TestBulkBanSemantics: the bulk-ban route as Discord's docs and PR#6720 describe it, driven
// by disgo: the bot's own id is dropped from both lists, the already banned and those above
// the bot fail, both permissions are needed, and all failing is 500000.
func TestBulkBanSemantics(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false, WithRouteLimit(BulkBanRoute, 0, 0))
	c := f.client(t)
	g := sf(f.guild)
	bot := f.s.BotID()
	if err := c.AddBan(g, sf(f.dave), 0); err != nil {
		t.Fatal(err)
	}
	res, err := c.BulkBan(g, disgodiscord.BulkBan{UserIDs: []snowflake.ID{sf(f.bob), sf(bot), sf(f.alice), sf(f.dave), sf(f.carol)}})
	if err != nil {
		t.Fatalf("BulkBan: %v", err)
	}
	got := fmt.Sprint(res.BannedUsers, res.FailedUsers)
	want := fmt.Sprint([]snowflake.ID{sf(f.bob), sf(f.carol)}, []snowflake.ID{sf(f.alice), sf(f.dave)})
	if got != want {
		t.Errorf("banned, failed = %s; want %s (the bot's own id in neither)", got, want)
	}
	if _, banned := f.s.Banned(f.guild, bot); banned {
		t.Error("the bot banned itself")
	}
	// Everyone failing is an error, not an empty success.
	_, err = c.BulkBan(g, disgodiscord.BulkBan{UserIDs: []snowflake.ID{sf(f.bob), sf(f.owner)}})
	wantCode(t, err, http.StatusBadRequest, codeFailedToBanUsers)

	// BAN_MEMBERS alone is not enough: MANAGE_GUILD is needed too.
	f.s.EditRole(f.guild, f.botRole, func(r *Role) { r.Permissions &^= PermManageGuild })
	_, err = c.BulkBan(g, disgodiscord.BulkBan{UserIDs: []snowflake.ID{sf(f.alice)}})
	wantCode(t, err, http.StatusForbidden, 50013)
}

// TestBulkBanRefusesDuplicatesAndTooMany: unique ids, at most 200, as the spec says.
func TestBulkBanRefusesDuplicatesAndTooMany(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, true, WithRouteLimit(BulkBanRoute, 0, 0))
	path := fmt.Sprintf("/guilds/%s/bulk-ban", f.guild)
	resp, body := f.raw(t, "POST", path, fmt.Sprintf(`{"user_ids":["%s","%s"]}`, f.bob, f.bob))
	if resp.StatusCode != 400 || !strings.Contains(body, "50035") {
		t.Errorf("duplicate ids: %d %s; want 400 50035", resp.StatusCode, body)
	}
	ids := make([]string, 201)
	for i := range ids {
		ids[i] = fmt.Sprintf(`"%d"`, 1000000000000000000+i)
	}
	resp, body = f.raw(t, "POST", path, `{"user_ids":[`+strings.Join(ids, ",")+`]}`)
	if resp.StatusCode != 400 || !strings.Contains(body, "50035") {
		t.Errorf("201 ids: %d %s; want 400 50035", resp.StatusCode, body)
	}
	if _, banned := f.s.Banned(f.guild, f.bob); banned {
		t.Error("a refused bulk ban banned bob")
	}
	f.takeReports() // the spec forbids both requests; the reports say so
}

// TestNonMemberBanCap: bans of users who are not members count against a cap a test sets;
// past it a single ban is 30035, a bulk ban lists them as failed, and a bulk ban that only
// the cap stopped is 30035. Members are never capped.
func TestNonMemberBanCap(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, false, WithRouteLimit(BulkBanRoute, 0, 0))
	c := f.client(t)
	g := sf(f.guild)
	outside := make([]ID, 4)
	for i := range outside {
		outside[i] = f.s.AddUser(fmt.Sprint("outside", i), false)
	}
	f.s.SetNonMemberBanCap(f.guild, 2)
	if err := c.AddBan(g, sf(outside[0]), 0); err != nil {
		t.Fatalf("first non-member ban: %v", err)
	}
	res, err := c.BulkBan(g, disgodiscord.BulkBan{UserIDs: []snowflake.ID{sf(outside[1]), sf(outside[2]), sf(f.bob)}})
	if err != nil {
		t.Fatalf("BulkBan: %v", err)
	}
	if fmt.Sprint(res.BannedUsers, res.FailedUsers) != fmt.Sprint([]snowflake.ID{sf(outside[1]), sf(f.bob)}, []snowflake.ID{sf(outside[2])}) {
		t.Errorf("banned %v failed %v; want the second non-member and bob banned, the third failed", res.BannedUsers, res.FailedUsers)
	}
	err = c.AddBan(g, sf(outside[3]), 0)
	wantCode(t, err, http.StatusBadRequest, codeMaxNonMemberBans)
	_, err = c.BulkBan(g, disgodiscord.BulkBan{UserIDs: []snowflake.ID{sf(outside[2]), sf(outside[3])}})
	wantCode(t, err, http.StatusBadRequest, codeMaxNonMemberBans)
	// A member is banned whatever the count.
	if err := c.AddBan(g, sf(f.carol), 0); err != nil {
		t.Errorf("banning a member past the cap: %v", err)
	}
}

// TestBulkBanRateLimit: the bulk-ban route has its own window (one call a second per
// guild): five calls of 200 paced by disgo's real limiter take four windows, with no 429.
// The fake and disgo run in a synctest bubble, so the windows take no real time.
func TestBulkBanRateLimit(t *testing.T) {
	t.Parallel()
	rl := rest.NewRateLimiter(rest.WithMaxRetries(1))
	synctest.Test(t, func(t *testing.T) {
		ln := newPipeListener()
		f := newRestFixture(t, false, WithListener(ln),
			WithClock(func() time.Time { return time.Now().AddDate(26, 0, 0) }))
		hc := &http.Client{Transport: &http.Transport{DialContext: ln.dial}, Timeout: 20 * time.Second}
		rc := rest.NewClient(f.s.Token(), rest.WithURL(f.s.APIURL()), rest.WithHTTPClient(hc), rest.WithRateLimiter(rl))
		t.Cleanup(func() {
			rl.Reset()
			hc.CloseIdleConnections()
		})
		c := rest.New(rc, rest.WithDefaultAllowedMentions(disgodiscord.AllowedMentions{}))
		users := make([]snowflake.ID, 1000)
		for i := range users {
			u := f.s.AddUser(fmt.Sprint("raider", i), false)
			f.s.AddMember(f.guild, u)
			users[i] = sf(u)
		}
		start := time.Now()
		for i := 0; i < len(users); i += 200 {
			res, err := c.BulkBan(sf(f.guild), disgodiscord.BulkBan{UserIDs: users[i : i+200]})
			if err != nil || len(res.BannedUsers) != 200 {
				t.Fatalf("chunk %d: %v, %v", i/200, res, err)
			}
		}
		took := time.Since(start)
		rs := f.s.RateLimitStats().Routes[BulkBanRoute]
		if rs.Requests != 5 || rs.Limited != 0 {
			t.Errorf("%d requests, %d 429s; want 5 and none", rs.Requests, rs.Limited)
		}
		if took < 4*time.Second || took >= 5*time.Second {
			t.Errorf("five bulk bans took %v of the bubble's clock; want four windows (4s to 5s)", took)
		}
	})
}
