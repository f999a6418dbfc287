package discordtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// routeCase is one raw HTTP request to a route and what the fake must answer.
type routeCase struct {
	name   string
	method string
	path   func() string
	body   string
	header []string
	status int
	code   int  // Discord's JSON error code; 0 when none is expected
	report bool // the body breaks Discord's spec, so the fake must report a violation
	then   func(t *testing.T, body string)
}

// TestEveryRouteAcceptsGoodAndRefusesBad sends, for every REST route, at least one request
// that the fake serves and one malformed request that it refuses as Discord would: bad JSON
// types, values out of range, missing fields, unknown ids, missing permissions. Requests
// that break the spec must also be reported as protocol violations; valid ones must not be.
// A route without both kinds of case fails the test, so new routes cannot go untested.
func TestEveryRouteAcceptsGoodAndRefusesBad(t *testing.T) {
	t.Parallel()
	f := newRestFixture(t, true, WithRouteLimit("*", 0, 0), WithRouteLimit(BulkBanRoute, 0, 0), WithGlobalRateLimit(0))
	now := time.Now()
	bot := f.s.BotID()
	own := f.s.AddMessage(f.general, bot, "mine", now)
	ownToDelete := f.s.AddMessage(f.general, bot, "delete me", now)
	bobs := f.s.AddMessage(f.general, f.bob, "bob's", now)
	fresh1 := f.s.AddMessage(f.general, f.bob, "spam 1", now)
	fresh2 := f.s.AddMessage(f.general, f.bob, "spam 2", now)
	old1 := f.s.AddMessage(f.general, f.bob, "old 1", now.Add(-15*24*time.Hour))
	old2 := f.s.AddMessage(f.general, f.bob, "old 2", now.Add(-15*24*time.Hour))
	// Five keyword rules already exist, so the sixth is the last one allowed.
	f.s.mu.Lock()
	g := f.s.st.guilds[f.guild]
	for i := 0; i < 5; i++ {
		r := &AutoModRule{ID: f.s.newID(), GuildID: f.guild, CreatorID: bot}
		storeRule(r, ruleDraft{name: fmt.Sprint("rule ", i), eventType: 1, triggerType: 1,
			actions: []autoModAction{{Type: actionBlockMessage}}})
		g.AutoModRules[r.ID] = r
	}
	f.s.mu.Unlock()

	foreign := f.s.AddGuild("elsewhere", f.owner)
	f.s.mu.Lock()
	delete(f.s.st.guilds[foreign].Members, bot)
	f.s.mu.Unlock()

	G := f.guild.String()
	p := func(format string, args ...any) func() string {
		return func() string { return fmt.Sprintf(format, args...) }
	}
	var ruleID string
	rulePath := func() string { return "/guilds/" + G + "/auto-moderation/rules/" + ruleID }
	app := f.s.appID.String()
	long := strings.Repeat("x", 33)
	keywordRule := `{"name":"links","event_type":1,"trigger_type":1,"trigger_metadata":{"keyword_filter":["http*"]},"actions":[{"type":1}]}`

	cases := []routeCase{
		{name: "me", method: "GET", path: p("/users/@me"), status: 200},
		{name: "me with a wrong token", method: "GET", path: p("/users/@me"), header: []string{"Authorization", "Bot nope"}, status: 401},
		{name: "user", method: "GET", path: p("/users/%s", f.bob), status: 200},
		{name: "unknown user", method: "GET", path: p("/users/%d", 42), status: 404, code: 10013},
		{name: "malformed user id", method: "GET", path: p("/users/abc"), status: 400, code: 50035},
		{name: "open DM", method: "POST", path: p("/users/@me/channels"), body: fmt.Sprintf(`{"recipient_id":"%s"}`, f.bob), status: 200},
		{name: "DM recipient as a number", method: "POST", path: p("/users/@me/channels"), body: fmt.Sprintf(`{"recipient_id":%s}`, f.bob), status: 400, code: 50035, report: true},
		{name: "DM to an unknown user", method: "POST", path: p("/users/@me/channels"), body: `{"recipient_id":"42"}`, status: 400, code: 50033},

		{name: "channel", method: "GET", path: p("/channels/%s", f.general), status: 200},
		{name: "unknown channel", method: "GET", path: p("/channels/42"), status: 404, code: 10003},
		{name: "hidden channel", method: "GET", path: p("/channels/%s", f.other), status: 403, code: 50001},
		{name: "edit channel", method: "PATCH", path: p("/channels/%s", f.general), body: `{"topic":"be nice","nsfw":false}`, status: 200},
		{name: "slowmode too long", method: "PATCH", path: p("/channels/%s", f.general), body: `{"rate_limit_per_user":21601}`, status: 400, code: 50035},
		{name: "parent not a category", method: "PATCH", path: p("/channels/%s", f.general), body: fmt.Sprintf(`{"parent_id":"%s"}`, f.other), status: 400, code: 50035},
		{name: "overwrite", method: "PUT", path: p("/channels/%s/permissions/%s", f.general, f.member), body: `{"type":0,"allow":"1024","deny":"2048"}`, status: 204},
		{name: "overwrite of an unknown type", method: "PUT", path: p("/channels/%s/permissions/%s", f.general, f.member), body: `{"type":2,"allow":"0"}`, status: 400, code: 50035, report: true},
		{name: "overwrite granting what the bot lacks", method: "PUT", path: p("/channels/%s/permissions/%s", f.general, f.member), body: `{"type":0,"allow":"8"}`, status: 403, code: 50013},
		{name: "overwrite for an unknown role", method: "PUT", path: p("/channels/%s/permissions/42", f.general), body: `{"type":0,"allow":"0"}`, status: 404, code: 10011},
		{name: "delete overwrite", method: "DELETE", path: p("/channels/%s/permissions/%s", f.general, f.member), status: 204},
		{name: "delete overwrite of an unknown channel", method: "DELETE", path: p("/channels/42/permissions/%s", f.member), status: 404, code: 10003},

		{name: "list messages", method: "GET", path: p("/channels/%s/messages?limit=10", f.general), status: 200},
		{name: "list too many messages", method: "GET", path: p("/channels/%s/messages?limit=101", f.general), status: 400, code: 50035},
		{name: "send", method: "POST", path: p("/channels/%s/messages", f.general), body: `{"content":"hello","allowed_mentions":{"parse":[]}}`, status: 200},
		{name: "send nothing", method: "POST", path: p("/channels/%s/messages", f.general), body: `{}`, status: 400, code: 50006},
		{name: "send a number", method: "POST", path: p("/channels/%s/messages", f.general), body: `{"content":5}`, status: 400, code: 50035, report: true},
		{name: "send too long", method: "POST", path: p("/channels/%s/messages", f.general), body: fmt.Sprintf(`{"content":%q}`, strings.Repeat("a", 2001)), status: 400, code: 50035},
		{name: "send eleven embeds", method: "POST", path: p("/channels/%s/messages", f.general), body: `{"embeds":[` + strings.TrimSuffix(strings.Repeat(`{"title":"x"},`, 11), ",") + `]}`, status: 400, code: 50035, report: true},
		{name: "send where the bot cannot see", method: "POST", path: p("/channels/%s/messages", f.other), body: `{"content":"hi"}`, status: 403, code: 50001},
		{name: "send as plain text", method: "POST", path: p("/channels/%s/messages", f.general), body: `hello`, header: []string{"Content-Type", "text/plain"}, status: 400, code: 50035, report: true},
		{name: "send invalid JSON", method: "POST", path: p("/channels/%s/messages", f.general), body: `{"content":`, status: 400, code: 50109, report: true},
		{name: "bulk delete", method: "POST", path: p("/channels/%s/messages/bulk-delete", f.general), body: fmt.Sprintf(`{"messages":["%s","%s"]}`, fresh1, fresh2), status: 204},
		{name: "bulk delete one", method: "POST", path: p("/channels/%s/messages/bulk-delete", f.general), body: fmt.Sprintf(`{"messages":["%s"]}`, own), status: 400, code: 50035, report: true},
		{name: "bulk delete old messages", method: "POST", path: p("/channels/%s/messages/bulk-delete", f.general), body: fmt.Sprintf(`{"messages":["%s","%s"]}`, old1, old2), status: 400, code: 50034},
		{name: "get message", method: "GET", path: p("/channels/%s/messages/%s", f.general, own), status: 200},
		{name: "get unknown message", method: "GET", path: p("/channels/%s/messages/42", f.general), status: 404, code: 10008},
		{name: "edit own message", method: "PATCH", path: p("/channels/%s/messages/%s", f.general, own), body: `{"content":"edited"}`, status: 200},
		{name: "edit someone else's message", method: "PATCH", path: p("/channels/%s/messages/%s", f.general, bobs), body: `{"content":"edited"}`, status: 403, code: 50005},
		{name: "edit with a bad flags type", method: "PATCH", path: p("/channels/%s/messages/%s", f.general, own), body: `{"flags":"x"}`, status: 400, code: 50035, report: true},
		{name: "delete own message", method: "DELETE", path: p("/channels/%s/messages/%s", f.general, ownToDelete), status: 204},
		{name: "delete a deleted message", method: "DELETE", path: p("/channels/%s/messages/%s", f.general, ownToDelete), status: 404, code: 10008},

		{name: "guild", method: "GET", path: p("/guilds/%s?with_counts=true", G), status: 200},
		{name: "raise verification", method: "PATCH", path: p("/guilds/%s", G), body: `{"verification_level":3}`, status: 200,
			then: func(t *testing.T, body string) {
				if !strings.Contains(body, `"verification_level":3`) {
					t.Errorf("the guild does not show the new level: %s", body)
				}
			}},
		{name: "verification level out of range", method: "PATCH", path: p("/guilds/%s", G), body: `{"verification_level":7}`, status: 400, code: 50035, report: true},
		{name: "pause invites", method: "PUT", path: p("/guilds/%s/incident-actions", G),
			body: fmt.Sprintf(`{"invites_disabled_until":%q,"dms_disabled_until":null}`, now.Add(time.Hour).UTC().Format(time.RFC3339)), status: 200,
			then: func(t *testing.T, body string) {
				if !strings.Contains(body, `"invites_disabled_until":"`) || !strings.Contains(body, `"dms_disabled_until":null`) {
					t.Errorf("incidents data = %s", body)
				}
			}},
		{name: "pause invites beyond 24 hours", method: "PUT", path: p("/guilds/%s/incident-actions", G),
			body: fmt.Sprintf(`{"invites_disabled_until":%q,"dms_disabled_until":null}`, now.Add(25*time.Hour).UTC().Format(time.RFC3339)), status: 400, code: 50035},
		{name: "pause invites with a number", method: "PUT", path: p("/guilds/%s/incident-actions", G), body: `{"invites_disabled_until":5}`, status: 400, code: 50035, report: true},
		{name: "a guild the bot is not in", method: "GET", path: p("/guilds/%s", foreign), status: 403, code: 50001},
		{name: "unknown guild", method: "GET", path: p("/guilds/42"), status: 404, code: 10004},
		{name: "roles", method: "GET", path: p("/guilds/%s/roles", G), status: 200},
		{name: "roles of a malformed guild id", method: "GET", path: p("/guilds/x/roles"), status: 400, code: 50035},
		{name: "guild channels", method: "GET", path: p("/guilds/%s/channels", G), status: 200},
		{name: "channels of a guild the bot is not in", method: "GET", path: p("/guilds/%s/channels", foreign), status: 403, code: 50001},
		{name: "create channel", method: "POST", path: p("/guilds/%s/channels", G),
			body: fmt.Sprintf(`{"name":"jail","type":0,"permission_overwrites":[{"id":"%s","type":0,"deny":1024}]}`, G), header: []string{"X-Audit-Log-Reason", "jail setup"}, status: 201,
			then: func(t *testing.T, body string) {
				var c Channel
				if err := json.Unmarshal([]byte(body), &c); err != nil || c.Name != "jail" || len(c.PermissionOverwrites) != 1 || c.PermissionOverwrites[0].Deny != PermViewChannel {
					t.Errorf("created channel %s", body)
				}
			}},
		{name: "create a channel without a name", method: "POST", path: p("/guilds/%s/channels", G), body: `{"type":0}`, status: 400, code: 50035, report: true},
		{name: "create a channel with a long name", method: "POST", path: p("/guilds/%s/channels", G), body: fmt.Sprintf(`{"name":%q}`, strings.Repeat("x", 101)), status: 400, code: 50035, report: true},
		{name: "create a thread as a channel", method: "POST", path: p("/guilds/%s/channels", G), body: `{"name":"x","type":11}`, status: 400, code: 50035, report: true},
		{name: "create a directory channel", method: "POST", path: p("/guilds/%s/channels", G), body: `{"name":"x","type":14}`, status: 400, code: 50035},
		{name: "create a channel under a text channel", method: "POST", path: p("/guilds/%s/channels", G), body: fmt.Sprintf(`{"name":"x","parent_id":"%s"}`, f.general), status: 400, code: 50035},
		{name: "create a channel in a guild the bot is not in", method: "POST", path: p("/guilds/%s/channels", foreign), body: `{"name":"x"}`, status: 403, code: 50001},
		{name: "members", method: "GET", path: p("/guilds/%s/members?limit=1000", G), status: 200},
		{name: "too many members", method: "GET", path: p("/guilds/%s/members?limit=1001", G), status: 400, code: 50035},
		{name: "member", method: "GET", path: p("/guilds/%s/members/%s", G, f.bob), status: 200},
		{name: "not a member", method: "GET", path: p("/guilds/%s/members/%s", G, f.dave), status: 404, code: 10007},
		{name: "nickname", method: "PATCH", path: p("/guilds/%s/members/%s", G, f.bob), body: `{"nick":"bobby"}`, status: 200},
		{name: "nickname too long", method: "PATCH", path: p("/guilds/%s/members/%s", G, f.bob), body: fmt.Sprintf(`{"nick":%q}`, long), status: 400, code: 50035, report: true},
		{name: "timeout", method: "PATCH", path: p("/guilds/%s/members/%s", G, f.bob), body: fmt.Sprintf(`{"communication_disabled_until":%q}`, now.Add(27*24*time.Hour).Format(time.RFC3339)), status: 200},
		{name: "timeout beyond 28 days", method: "PATCH", path: p("/guilds/%s/members/%s", G, f.bob), body: fmt.Sprintf(`{"communication_disabled_until":%q}`, now.Add(29*24*time.Hour).Format(time.RFC3339)), status: 400, code: 50035},
		{name: "timeout above the bot", method: "PATCH", path: p("/guilds/%s/members/%s", G, f.alice), body: fmt.Sprintf(`{"communication_disabled_until":%q}`, now.Add(time.Hour).Format(time.RFC3339)), status: 403, code: 50013},
		{name: "timeout the owner", method: "PATCH", path: p("/guilds/%s/members/%s", G, f.owner), body: fmt.Sprintf(`{"communication_disabled_until":%q}`, now.Add(time.Hour).Format(time.RFC3339)), status: 403, code: 50013},
		{name: "give a managed role", method: "PATCH", path: p("/guilds/%s/members/%s", G, f.bob), body: fmt.Sprintf(`{"roles":["%s","%s"]}`, f.member, f.managed), status: 400, code: 50028},
		{name: "give a role above the bot", method: "PATCH", path: p("/guilds/%s/members/%s", G, f.bob), body: fmt.Sprintf(`{"roles":["%s","%s"]}`, f.member, f.mod), status: 403, code: 50013},
		{name: "mute outside voice", method: "PATCH", path: p("/guilds/%s/members/%s", G, f.bob), body: `{"mute":true}`, status: 400, code: 40032},
		{name: "add role", method: "PUT", path: p("/guilds/%s/members/%s/roles/%s", G, f.carol, f.member), status: 204},
		{name: "add a role above the bot", method: "PUT", path: p("/guilds/%s/members/%s/roles/%s", G, f.carol, f.mod), status: 403, code: 50013},
		{name: "add an unknown role", method: "PUT", path: p("/guilds/%s/members/%s/roles/42", G, f.carol), status: 404, code: 10011},
		{name: "remove role", method: "DELETE", path: p("/guilds/%s/members/%s/roles/%s", G, f.carol, f.member), status: 204},
		{name: "remove a managed role", method: "DELETE", path: p("/guilds/%s/members/%s/roles/%s", G, f.carol, f.managed), status: 400, code: 50028},

		{name: "ban", method: "PUT", path: p("/guilds/%s/bans/%s", G, f.dave), body: `{"delete_message_seconds":3600}`, header: []string{"X-Audit-Log-Reason", "hackban"}, status: 204},
		{name: "ban deleting too much", method: "PUT", path: p("/guilds/%s/bans/%s", G, f.bob), body: `{"delete_message_seconds":604801}`, status: 400, code: 50035, report: true},
		{name: "ban with a string", method: "PUT", path: p("/guilds/%s/bans/%s", G, f.bob), body: `{"delete_message_seconds":"1"}`, status: 400, code: 50035, report: true},
		{name: "ban above the bot", method: "PUT", path: p("/guilds/%s/bans/%s", G, f.alice), body: `{}`, status: 403, code: 50013},
		{name: "ban the owner", method: "PUT", path: p("/guilds/%s/bans/%s", G, f.owner), body: `{}`, status: 403, code: 50013},
		{name: "ban an unknown user", method: "PUT", path: p("/guilds/%s/bans/42", G), status: 404, code: 10013},
		{name: "bans", method: "GET", path: p("/guilds/%s/bans?limit=10", G), status: 200},
		{name: "bans limit zero", method: "GET", path: p("/guilds/%s/bans?limit=0", G), status: 400, code: 50035},
		{name: "get ban", method: "GET", path: p("/guilds/%s/bans/%s", G, f.dave), status: 200},
		{name: "get a ban that is not", method: "GET", path: p("/guilds/%s/bans/%s", G, f.bob), status: 404, code: 10026},
		{name: "unban", method: "DELETE", path: p("/guilds/%s/bans/%s", G, f.dave), status: 204},
		{name: "unban someone not banned", method: "DELETE", path: p("/guilds/%s/bans/%s", G, f.dave), status: 404, code: 10026},
		{name: "bulk ban", method: "POST", path: p("/guilds/%s/bulk-ban", G), body: fmt.Sprintf(`{"user_ids":["%s","%s"],"delete_message_seconds":0}`, f.dave, f.alice), status: 200,
			then: func(t *testing.T, body string) {
				var res struct{ BannedUsers, FailedUsers []ID }
				if err := json.Unmarshal([]byte(strings.NewReplacer("banned_users", "BannedUsers", "failed_users", "FailedUsers").Replace(body)), &res); err != nil ||
					len(res.BannedUsers) != 1 || res.BannedUsers[0] != f.dave || len(res.FailedUsers) != 1 || res.FailedUsers[0] != f.alice {
					t.Errorf("bulk ban answered %s", body)
				}
			}},
		{name: "bulk ban without ids", method: "POST", path: p("/guilds/%s/bulk-ban", G), body: `{"delete_message_seconds":0}`, status: 400, code: 50035, report: true},
		{name: "bulk ban nobody bannable", method: "POST", path: p("/guilds/%s/bulk-ban", G), body: fmt.Sprintf(`{"user_ids":["%s"]}`, f.owner), status: 400, code: 500000},
		{name: "audit log", method: "GET", path: p("/guilds/%s/audit-logs?limit=100&action_type=22", G), status: 200,
			then: func(t *testing.T, body string) {
				if !strings.Contains(body, `"reason":"hackban"`) {
					t.Errorf("audit log lacks the ban's reason: %s", body)
				}
			}},
		{name: "audit log limit zero", method: "GET", path: p("/guilds/%s/audit-logs?limit=0", G), status: 400, code: 50035},

		{name: "rules", method: "GET", path: p("/guilds/%s/auto-moderation/rules", G), status: 200},
		{name: "rules of an unknown guild", method: "GET", path: p("/guilds/42/auto-moderation/rules"), status: 404, code: 10004},
		{name: "create rule", method: "POST", path: p("/guilds/%s/auto-moderation/rules", G), body: keywordRule, status: 200,
			then: func(t *testing.T, body string) {
				var r struct{ ID ID }
				_ = json.Unmarshal([]byte(body), &r)
				ruleID = r.ID.String()
			}},
		{name: "seventh keyword rule", method: "POST", path: p("/guilds/%s/auto-moderation/rules", G), body: keywordRule, status: 400, code: 50035},
		{name: "rule without actions", method: "POST", path: p("/guilds/%s/auto-moderation/rules", G), body: `{"name":"x","event_type":1,"trigger_type":3,"actions":[]}`, status: 400, code: 50035, report: true},
		{name: "rule with a long regex", method: "POST", path: p("/guilds/%s/auto-moderation/rules", G), body: fmt.Sprintf(`{"name":"x","event_type":2,"trigger_type":6,"trigger_metadata":{"regex_patterns":[%q]},"actions":[{"type":4}]}`, strings.Repeat("a", 261)), status: 400, code: 50035, report: true},
		{name: "rule with a long custom message", method: "POST", path: p("/guilds/%s/auto-moderation/rules", G), body: fmt.Sprintf(`{"name":"x","event_type":1,"trigger_type":5,"trigger_metadata":{"mention_total_limit":5},"actions":[{"type":1,"metadata":{"custom_message":%q}}]}`, strings.Repeat("a", 151)), status: 400, code: 50035},
		{name: "timeout action on a spam rule", method: "POST", path: p("/guilds/%s/auto-moderation/rules", G), body: `{"name":"x","event_type":1,"trigger_type":3,"actions":[{"type":3,"metadata":{"duration_seconds":60}}]}`, status: 400, code: 50035},
		{name: "get rule", method: "GET", path: rulePath, status: 200},
		{name: "get unknown rule", method: "GET", path: p("/guilds/%s/auto-moderation/rules/42", G), status: 404, code: codeUnknownAutoModRule},
		{name: "rename rule", method: "PATCH", path: rulePath, body: `{"name":"no links","enabled":true}`, status: 200},
		{name: "change a rule's trigger type", method: "PATCH", path: rulePath, body: `{"trigger_type":3}`, status: 400, code: 50035},
		{name: "rename rule to a number", method: "PATCH", path: rulePath, body: `{"name":7}`, status: 400, code: 50035, report: true},
		{name: "delete rule", method: "DELETE", path: rulePath, status: 204},
		{name: "delete deleted rule", method: "DELETE", path: rulePath, status: 404, code: codeUnknownAutoModRule},

		{name: "global commands", method: "GET", path: p("/applications/%s/commands", app), status: 200},
		{name: "another app's commands", method: "GET", path: p("/applications/42/commands"), status: 403, code: 50001},
		{name: "set global commands", method: "PUT", path: p("/applications/%s/commands", app), body: `[{"name":"ban","description":"Ban a member","options":[{"type":6,"name":"user","description":"who","required":true}]}]`, status: 200},
		{name: "uppercase command name", method: "PUT", path: p("/applications/%s/commands", app), body: `[{"name":"Ban","description":"Ban a member"}]`, status: 400, code: 50035},
		{name: "command name too long", method: "PUT", path: p("/applications/%s/commands", app), body: fmt.Sprintf(`[{"name":%q,"description":"x"}]`, long), status: 400, code: 50035, report: true},
		{name: "guild commands", method: "GET", path: p("/applications/%s/guilds/%s/commands", app, G), status: 200},
		{name: "commands of an unknown guild", method: "GET", path: p("/applications/%s/guilds/42/commands", app), status: 404, code: 10004},
		{name: "set guild commands", method: "PUT", path: p("/applications/%s/guilds/%s/commands", app, G), body: `[{"name":"warn","description":"Warn a member"},{"type":2,"name":"Warn user"}]`, status: 200},
		{name: "optional option before a required one", method: "PUT", path: p("/applications/%s/guilds/%s/commands", app, G), body: `[{"name":"warn","description":"Warn","options":[{"type":3,"name":"a","description":"a"},{"type":3,"name":"b","description":"b","required":true}]}]`, status: 400, code: 50035},
		{name: "duplicate command names", method: "PUT", path: p("/applications/%s/guilds/%s/commands", app, G), body: `[{"name":"warn","description":"Warn"},{"name":"warn","description":"Warn"}]`, status: 400, code: 50035},

		{name: "kick", method: "DELETE", path: p("/guilds/%s/members/%s", G, f.carol), status: 204},
		{name: "kick a non-member", method: "DELETE", path: p("/guilds/%s/members/%s", G, f.dave), status: 404, code: 10007},
		{name: "kick above the bot", method: "DELETE", path: p("/guilds/%s/members/%s", G, f.alice), status: 403, code: 50013},
	}

	good, bad := map[string]bool{}, map[string]bool{}
	for _, c := range cases {
		path := c.path()
		resp, body := f.raw(t, c.method, path, c.body, c.header...)
		route := resp.Request.Method + " " + routeOf(f.s, c.method, path)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %s %s answered %d %s, want %d", c.name, c.method, path, resp.StatusCode, body, c.status)
			continue
		}
		if c.code != 0 {
			var e struct{ Code int }
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Code != c.code {
				t.Errorf("%s: answered code %d (%s), want %d", c.name, e.Code, body, c.code)
			}
		}
		reports := f.takeReports()
		switch {
		case c.report && len(reports) == 0:
			t.Errorf("%s: malformed request was not reported as a protocol violation", c.name)
		case !c.report && len(reports) > 0:
			t.Errorf("%s: unexpected protocol violations: %q", c.name, reports)
		case c.report && !strings.Contains(reports[0], route):
			t.Errorf("%s: report %q does not name the route %s", c.name, reports[0], route)
		}
		if c.then != nil {
			c.then(t, body)
		}
		if resp.StatusCode < 300 {
			good[route] = true
		} else {
			bad[route] = true
		}
	}
	for _, e := range f.s.restEndpoints() {
		route := e.method + " " + e.path
		if !good[route] {
			t.Errorf("route %s has no request that succeeds", route)
		}
		if !bad[route] {
			t.Errorf("route %s has no malformed request that is refused", route)
		}
	}
}

// routeOf finds which REST route serves a path, as the server's mux would.
func routeOf(s *Server, method, path string) string {
	path = strings.SplitN(path, "?", 2)[0]
	segs := strings.Split(strings.Trim(path, "/"), "/")
	best := ""
	for _, e := range s.restEndpoints() {
		if e.method != method {
			continue
		}
		pat := strings.Split(strings.Trim(e.path, "/"), "/")
		if len(pat) != len(segs) {
			continue
		}
		ok, literal := true, 0
		for i := range pat {
			if strings.HasPrefix(pat[i], "{") {
				continue
			}
			if pat[i] != segs[i] {
				ok = false
				break
			}
			literal++
		}
		// The most specific pattern wins: /users/@me over /users/{user_id}.
		if ok && (best == "" || literal > strings.Count(best, "/")-strings.Count(best, "{")) {
			best = e.path
		}
	}
	return best
}
