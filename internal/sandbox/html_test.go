package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tidyPath finds HTML Tidy (Debian's tidy, an HTML5 validator that runs offline). Without
// it the validity test is skipped on a developer's machine and fails in CI (CI=true),
// where .ci/run installs it.
func tidyPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("tidy"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("tidy is not installed; CI needs it for the HTML validity test (apt-get install -y tidy)")
	}
	t.Skip("tidy is not installed (apt-get install -y tidy); the HTML validity test needs it")
	return ""
}

// tidyLine is one of tidy's findings: "line 3 column 1 - Warning: ...".
var tidyLine = regexp.MustCompile(`^line \d+ column \d+ - (Warning|Error): `)

// validate runs tidy over a page and returns what it finds wrong. Every warning counts:
// tidy's warnings are the validator's errors (an unknown attribute, a misnested or
// unclosed element, a duplicate id, an img without alt), except one, "trimming empty",
// which is tidy's own preference about its output (an empty element is valid HTML), and
// two attributes HTML5 has that tidy 5.6 (Debian 12's) predates: aria-current and
// inputmode.
func validate(t *testing.T, tidy string, page []byte) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tidy, "-q", "-e", "-utf8", "--gnu-emacs", "no", "--show-warnings", "yes", "--show-info", "no")
	cmd.Stdin = bytes.NewReader(page)
	var out bytes.Buffer
	cmd.Stderr = &out
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running tidy: %v", err)
	}
	var problems []string
	for _, l := range strings.Split(out.String(), "\n") {
		if !tidyLine.MatchString(l) || strings.Contains(l, "trimming empty") ||
			strings.HasSuffix(l, `proprietary attribute "aria-current"`) || strings.HasSuffix(l, `proprietary attribute "inputmode"`) {
			continue
		}
		problems = append(problems, l)
	}
	return problems
}

// checkPage is what tidy does not check: one lang on html, every form control labelled
// (inside a <label>, named by a <label for>, an aria-label, or a hidden/submit/button
// input), and no duplicate ids.
func checkPage(page string) []string {
	var problems []string
	if !regexp.MustCompile(`(?i)^<!doctype html>`).MatchString(page) {
		problems = append(problems, "no <!doctype html> first")
	}
	if !regexp.MustCompile(`<html lang="[a-z]{2}[^"]*">`).MatchString(page) {
		problems = append(problems, "<html> has no lang")
	}
	ids := map[string]int{}
	for _, m := range regexp.MustCompile(`\sid="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		ids[m[1]]++
	}
	for id, n := range ids {
		if n > 1 {
			problems = append(problems, fmt.Sprintf("id %q is used %d times", id, n))
		}
	}
	labelled := map[string]bool{}
	for _, m := range regexp.MustCompile(`<label[^>]*\sfor="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		labelled[m[1]] = true
	}
	for _, loc := range regexp.MustCompile(`<(input|select|textarea)\b[^>]*>`).FindAllStringIndex(page, -1) {
		m, before := page[loc[0]:loc[1]], page[:loc[0]]
		if strings.LastIndex(before, "<label") > strings.LastIndex(before, "</label>") {
			continue // wrapped in its label
		}
		if regexp.MustCompile(`type="(hidden|submit|button)"`).MatchString(m) || strings.Contains(m, "aria-label=") || strings.Contains(m, "aria-labelledby=") {
			continue
		}
		id := regexp.MustCompile(`\sid="([^"]*)"`).FindStringSubmatch(m)
		if id == nil || !labelled[id[1]] {
			problems = append(problems, "a form control without a label: "+m)
		}
	}
	return problems
}

// rulesFile is a rules file the AutoMod page plans: a rule to create.
const rulesFile = `[[rule]]
name = "invites"
trigger = "keyword"
keywords = ["discord.gg/*"]

  [[rule.action]]
  type = "block"
`

// TestEveryPageIsValidHTML reads every page of the dashboard and of the sandbox's panel,
// with data on them (cases of several kinds, a timeout, DMs, a raid's accounts, the audit
// log), and the error pages, and runs each through HTML Tidy and the checks above.
func TestEveryPageIsValidHTML(t *testing.T) {
	t.Parallel()
	tidy := tidyPath(t)
	sb, c := start(t)
	w := sb.World()
	g := "/g/" + w.Guild.String()
	general := "/sandbox/c/" + w.General.String()

	// Signed out: the home page.
	pages := map[string]string{}
	_, pages["/ (signed out)"] = c.get("/")

	c.post("/sandbox/as", url.Values{"user": {w.Moderator.String()}})
	for i, cmd := range []string{"$warn @nina be nice", "$timeout @leo calm down -duration 1h", "$ban @spammer spam", "$kick @member rude", "$cases"} {
		c.post(general, url.Values{"text": {cmd}})
		if i < 4 {
			c.eventually(general, fmt.Sprintf("Case #%d</strong>", i+1))
		}
	}
	c.post("/sandbox/members/raid", url.Values{"count": {"3"}})
	c.post("/sandbox/dashboard", url.Values{})

	for _, p := range []string{
		"/", "/servers",
		g + "/cases", g + "/cases?type=BAN", g + "/cases?status=active&q=spam", g + "/cases?user=" + w.Members[1].String() + "&from=2000-01-01&to=2100-01-01",
		g + "/cases/1", g + "/cases/3",
		g + "/members/" + w.Members[1].String(), g + "/members/" + w.Members[3].String(),
		g + "/scheduled", g + "/automod", g + "/settings",
		// Error pages: an unknown page, a case that does not exist, a bad number, a bad filter.
		"/no-such-page", g + "/cases/999", g + "/cases/abc", g + "/cases?from=yesterday",
		// The panel.
		"/sandbox/c/" + w.General.String(), "/sandbox/c/" + w.ModLog.String(), "/sandbox/c/" + w.AuditLog.String(),
		"/sandbox/c/" + w.General.String() + "/messages",
		"/sandbox/dms", "/sandbox/members", "/sandbox/audit-log", "/sandbox/c/123",
	} {
		_, pages[p] = c.get(p)
	}
	// Raids: the raids page with a raid on and one past, a raid's page, the join rate htmx
	// asks for, a RAID case with its children and a child case, and the raids' refusals.
	r := seedRaids(t, sb, c)
	for _, p := range []struct {
		path   string
		status int
	}{
		{g + "/raids", 200}, {g + "/raids/1", 200}, {g + "/raids/2", 200}, {g + "/raids/2?children=1", 200}, {g + "/raids/rate", 200},
		{fmt.Sprintf("%s/cases/%d", g, r.secondCase), 200}, {fmt.Sprintf("%s/cases/%d", g, r.child), 200},
		{g + "/raids/99", 404}, {g + "/raids/x", 404}, {g + "/raids?before=x", 400}, {g + "/raids/2?children=0", 400},
	} {
		var st int
		if st, pages[p.path] = c.get(p.path); st != p.status {
			t.Errorf("GET %s = %d, want %d", p.path, st, p.status)
		}
	}
	if !strings.Contains(pages[g+"/raids/99"], "has no raid #99") || !strings.Contains(pages[g+"/raids/rate"], `id="rate-1"`) {
		t.Errorf("raid #99's page or the join rate:\n%s\n%s", pages[g+"/raids/99"], pages[g+"/raids/rate"])
	}
	c.post("/sandbox/as", url.Values{"user": {w.Helper.String()}})
	if st, body := c.get(g + "/raids"); st != 403 || !strings.Contains(body, "You may not see the raids") {
		t.Errorf("the helper's raids page = %d:\n%s", st, body)
	} else {
		pages[g+"/raids (helper, refused)"] = body
	}
	// A member without a rank: no servers, and the case list refused.
	c.post("/sandbox/as", url.Values{"user": {w.Members[2].String()}})
	c.post("/sandbox/dashboard", url.Values{})
	_, pages["/servers (no rank)"] = c.get("/servers")
	_, pages[g+"/cases (no rank)"] = c.get(g + "/cases")

	// The senior moderator may edit cases: the case and member pages carry their forms.
	c.post("/sandbox/as", url.Values{"user": {w.Senior.String()}})
	c.post("/sandbox/dashboard", url.Values{})
	_, pages[g+"/cases/2 (editor)"] = c.get(g + "/cases/2")
	_, pages[g+"/members/leo (editor)"] = c.get(g + "/members/" + w.Members[2].String())
	_, pages[g+"/automod (editor)"] = c.get(g + "/automod")
	if !strings.Contains(pages[g+"/automod (editor)"], `id="plan-form"`) {
		t.Errorf("the senior moderator's AutoMod page has no rules file editor:\n%s", pages[g+"/automod (editor)"])
	}
	if !strings.Contains(pages[g+"/cases/2 (editor)"], "<textarea") {
		t.Errorf("the senior moderator's case page has no edit form:\n%s", pages[g+"/cases/2 (editor)"])
	}

	// The answers to POSTs: an edit's notice, a refusal in words, a form without its token.
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(pages[g+"/cases/2 (editor)"])
	if csrf == nil {
		t.Fatalf("no CSRF token on the case page")
	}
	for _, p := range []struct {
		name, path string
		form       url.Values
		status     int
	}{
		{"POST reason", g + "/cases/2/reason", url.Values{"csrf": {csrf[1]}, "reason": {"calm down, edited"}}, http.StatusOK},
		{"POST empty reason", g + "/cases/2/reason", url.Values{"csrf": {csrf[1]}, "reason": {""}}, http.StatusBadRequest},
		{"POST bad expiry", g + "/cases/2/expiry", url.Values{"csrf": {csrf[1]}, "expires": {"soon"}}, http.StatusBadRequest},
		{"POST automod plan", g + "/automod/plan", url.Values{"csrf": {csrf[1]}, "file": {rulesFile}}, http.StatusOK},
		{"POST automod plan of a bad file", g + "/automod/plan", url.Values{"csrf": {csrf[1]}, "file": {"[[rule]]\nname = \"x\"\ntrigger = \"nope\"\n"}}, http.StatusBadRequest},
		{"POST automod apply of a stale plan", g + "/automod/apply", url.Values{"csrf": {csrf[1]}, "file": {rulesFile}, "filehash": {"0"}, "statehash": {"0"}}, http.StatusConflict},
		{"POST without the token", g + "/cases/2/reason", url.Values{"reason": {"forged"}}, http.StatusForbidden},
		{"POST blank message", general, url.Values{"text": {"   "}}, http.StatusOK},
		{"POST unknown user", "/sandbox/as", url.Values{"user": {"42"}}, http.StatusOK},
	} {
		st, body := c.post(p.path, p.form)
		if st != p.status {
			t.Errorf("%s = %d, want %d", p.name, st, p.status)
		}
		pages[p.name] = body
	}
	if !strings.Contains(pages["POST automod plan"], `id="apply-form"`) || !strings.Contains(pages["POST automod apply of a stale plan"], `id="refusal"`) {
		t.Errorf("the AutoMod plan or the stale apply shows no plan or refusal:\n%s\n%s", pages["POST automod plan"], pages["POST automod apply of a stale plan"])
	}
	if !strings.Contains(pages["POST reason"], `id="notice"`) {
		t.Errorf("the reason edit shows no notice:\n%s", pages["POST reason"])
	}

	for name, body := range pages {
		if strings.HasSuffix(name, "/messages") || strings.HasSuffix(name, "/raids/rate") {
			// A fragment htmx swaps into the channel page: valid inside a <body>.
			body = "<!doctype html><html lang=\"en\"><head><title>fragment</title></head><body>" + body + "</body></html>"
		}
		problems := append(validate(t, tidy, []byte(body)), checkPage(body)...)
		if len(problems) > 0 {
			t.Errorf("%s is not valid HTML:\n  %s", name, strings.Join(problems, "\n  "))
		}
	}
}
