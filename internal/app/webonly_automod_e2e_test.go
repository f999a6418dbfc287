package app_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gavelbot/gavel/internal/automod"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/store"
)

// TestWebAutoModOnPostgres: gavel web serves the AutoMod page with no gateway: Discord's
// rules read over REST, the tester (the local engine, gavel-enforced rules included), and a
// rules file planned and applied through the same functions as gavel run's page, reported
// in the audit-log channel naming the dashboard user; a moderator without automod's rights
// is refused and changes nothing.
func TestWebAutoModOnPostgres(t *testing.T) {
	t.Parallel()
	cw, ww, _ := startRunAndWeb(t)
	g := cw.guild.String()
	if r := cw.send(t, cw.owner, `$automod create scams -keywords "free nitro", scam*`); !strings.Contains(r.Content, "scams") {
		t.Fatalf("creating the rule: %q", r.Content)
	}
	if r := cw.send(t, cw.owner, "$config channel auditlog <#"+cw.modlog2.String()+">"); !strings.Contains(r.Content, "audit-log channel is now") {
		t.Fatalf("setting the audit-log channel: %q", r.Content)
	}
	amst, err := store.OpenURL(context.Background(), cw.dbURL, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer amst.Close()
	if err := automod.NewStore(amst).ReplaceGavelRules(context.Background(), discord.GuildID(cw.guild), []automod.GavelRule{{Name: "long list",
		TriggerType: automod.TriggerKeyword, Keywords: []string{"forbidden"}, Enabled: true, Actions: []automod.GavelAction{{Type: automod.GavelDelete}}}}); err != nil {
		t.Fatal(err)
	}
	owner := signInAs(t, ww, cw.owner)
	mod := signInAs(t, ww, cw.mod)

	r := ww.get(t, owner, "/g/"+g+"/automod")
	if r.status != http.StatusOK || !strings.Contains(r.body, `<tr class="rule"><td>scams</td><td>KEYWORD</td><td>yes</td>`) || !strings.Contains(r.body, `id="plan-form"`) {
		t.Fatalf("gavel web's automod page: %d %s", r.status, r.body)
	}
	if r := ww.get(t, owner, "/g/"+g+"/cases"); !strings.Contains(r.body, `href="/g/`+g+`/automod"`) {
		t.Errorf("the case list does not link to the AutoMod page: %s", r.body)
	}
	r = ww.get(t, owner, "/g/"+g+"/automod?message="+url.QueryEscape("get FREE NITRO here, a forbidden word"))
	if !strings.Contains(r.body, "keyword <code>free nitro</code> matched <mark>FREE NITRO</mark> at characters 4–14") ||
		!strings.Contains(r.body, "<strong>long list</strong> (enforced by gavel): keyword <code>forbidden</code> matched <mark>forbidden</mark>") {
		t.Errorf("the tester: %s", r.body)
	}
	if r := ww.get(t, mod, "/g/"+g+"/automod"); r.status != http.StatusForbidden || !strings.Contains(r.body, "Manage Server") {
		t.Errorf("the moderator's automod page: %d %s", r.status, r.body)
	}

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
	tok := csrfOf(t, r.body)
	r = ww.post(t, owner, "/g/"+g+"/automod/plan", url.Values{"csrf": {tok}, "file": {file}}, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "1 to create, 1 to update, 1 to delete, 0 unchanged") {
		t.Fatalf("the plan: %d %s", r.status, r.body)
	}
	m := regexp.MustCompile(`name="filehash" value="([0-9a-f]+)">\s*<input type="hidden" name="statehash" value="([0-9a-f]+)">`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("the plan carries no hashes: %s", r.body)
	}
	modTok := csrfOf(t, ww.get(t, mod, "/g/"+g+"/cases").body)
	if r := ww.post(t, mod, "/g/"+g+"/automod/apply", url.Values{"csrf": {modTok}, "file": {file}, "filehash": {m[1]}, "statehash": {m[2]}}, nil); r.status != http.StatusForbidden {
		t.Errorf("the moderator's apply: %d %s", r.status, r.body)
	}
	if got := cw.s.AutoModRules(cw.guild); len(got) != 1 {
		t.Fatalf("a refused apply changed Discord's rules: %+v", got)
	}
	r = ww.post(t, owner, "/g/"+g+"/automod/apply", url.Values{"csrf": {tok}, "file": {file}, "filehash": {m[1]}, "statehash": {m[2]}}, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Applied the rules file: 3 changes made.") ||
		!strings.Contains(r.body, `<tr class="rule"><td>invites</td><td>KEYWORD</td><td>yes</td>`) {
		t.Fatalf("applying the plan: %d %s", r.status, r.body)
	}
	if got := cw.s.AutoModRules(cw.guild); len(got) != 2 {
		t.Errorf("Discord's rules after apply: %+v", got)
	}
	if gr, _, err := automod.NewStore(amst).GavelRules(context.Background(), discord.GuildID(cw.guild)); err != nil || len(gr) != 0 {
		t.Errorf("the gavel-enforced rules after apply: %+v %v; want none", gr, err)
	}
	// gavel web posts the report itself, before answering.
	var told bool
	for _, msg := range cw.s.Messages(cw.modlog2) {
		told = told || (strings.Contains(msg.Content, "owner (dashboard) (<@"+cw.owner.String()+">) applied a rules file:") && strings.Contains(msg.Content, `create discord rule "invites"`))
	}
	if !told {
		t.Errorf("the audit-log channel was not told of the apply: %+v", cw.s.Messages(cw.modlog2))
	}
}
