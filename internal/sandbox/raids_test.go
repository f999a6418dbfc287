package sandbox_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gavelbot/gavel/internal/sandbox"
)

// raids is what seedRaids made: the RAID cases' numbers and a child case's.
type raids struct {
	firstCase, secondCase, child int
}

// seedRaids makes two raids through gavel's raid command, as mia (rank 3, who may run
// raid): raid #1, five accounts that joined just before it was started by hand, ended by
// hand; raid #2, three accounts before it and two that join during raid mode, whom the
// joiner policy (a timeout) acts on through the pipeline, each a child case of the raid's
// case; raid #2 is left on. The client ends signed in as mia.
func seedRaids(t *testing.T, sb *sandbox.Sandbox, c *client) raids {
	t.Helper()
	w := sb.World()
	general := "/sandbox/c/" + w.General.String()
	g := "/g/" + w.Guild.String()
	c.post("/sandbox/as", url.Values{"user": {w.Moderator.String()}})
	caseOf := regexp.MustCompile(`raid #(\d+) \(case #(\d+) in the mod log\)`)
	start := func(n int, why string) int {
		c.post(general, url.Values{"text": {"$raid start " + why}})
		body := c.eventually(general, fmt.Sprintf("Raid mode is on: raid #%d", n))
		for _, m := range caseOf.FindAllStringSubmatch(body, -1) {
			if m[1] == strconv.Itoa(n) {
				k, _ := strconv.Atoi(m[2])
				return k
			}
		}
		t.Fatalf("raid #%d's reply names no case:\n%s", n, body)
		return 0
	}
	var r raids
	c.post("/sandbox/members/raid", url.Values{"count": {"5"}})
	r.firstCase = start(1, "raiders posting scam links")
	c.post(general, url.Values{"text": {"$raid end the wave is over"}})
	c.eventually(general, "raid #1 ended")
	c.post("/sandbox/members/raid", url.Values{"count": {"3"}})
	r.secondCase = start(2, "a second wave")
	c.post("/sandbox/members/raid", url.Values{"count": {"2"}})
	c.eventually(g+"/raids", "2 timed out")
	body := c.eventually(fmt.Sprintf("%s/cases/%d", g, r.secondCase), `class="child-row"`)
	m := regexp.MustCompile(`class="child-row" data-number="(\d+)"`).FindStringSubmatch(body)
	r.child, _ = strconv.Atoi(m[1])
	return r
}

// TestRaidsPageInBrowser: in headless Chromium mia (rank 3, who may run raid) opens the
// raids page from the case list by keyboard and sees the live join rate, the current raid with its
// candidates by state and a link to its case, and the past raids, each linking to its case
// and its own page; a join while the page is open shows in the join rate without a reload
// (htmx asks for it every 5 seconds); Tab and Enter open a past raid's page; the RAID case lists its children, and a child links
// back to its raid and its parent case. The helper (rank 2, who may see cases but not run
// raid) and leo (no rank) are refused the raids page.
func TestRaidsPageInBrowser(t *testing.T) {
	t.Parallel()
	chromiumPath(t)
	sb, c := start(t)
	w := sb.World()
	r := seedRaids(t, sb, c)
	g := "/g/" + w.Guild.String()
	base := strings.TrimSuffix(sb.URL(), "/sandbox/")

	b := newBrowser(t, 1280, 800)
	pick := func(user, name string) {
		b.run("be "+name,
			chromedp.Navigate(sb.URL()),
			setValue("#as", user),
			clickOn("#pick button"),
			// The notice is the answer's page: the panel may already show the same user
			// before the form is sent, and a navigation while it is sent would be aborted.
			until(fmt.Sprintf(`(document.querySelector('#notice') || {innerText: ''}).innerText.includes(%q)`, "You are now "+name)),
		)
	}
	pick(w.Moderator.String(), "mia")
	// By keyboard: from the case list, Tab to the raids link and Enter (every stop's focus
	// drawn, as on the case browser's walk).
	b.run("the case list", chromedp.Navigate(base+g+"/cases"), until(`!!document.querySelector('#raids-link')`))
	b.tabTo("#raids-link")
	b.key("\r")
	b.run("Enter opens the raids page", until(`!!document.querySelector('#current-raid')`))
	if got := b.eval(`document.querySelector('#current-raid .raid-number').innerText`); !strings.Contains(got, "#2") || !strings.Contains(got, "raid mode on") {
		t.Errorf("the current raid says %q; want raid #2, on", got)
	}
	// Raid #2's candidates are the joins of the 20 seconds before it started (raid #1's
	// accounts among them, as a rule) and the two who joined during it.
	if got := b.eval(`document.querySelector('#current-raid .raid-states').innerText`); !regexp.MustCompile(`^\d+: \d+ candidate, 2 timed out$`).MatchString(got) {
		t.Errorf("the current raid's candidates: %q", got)
	}
	if got := b.eval(`document.querySelector('#current-raid .raid-case a').getAttribute('href')`); got != fmt.Sprintf("%s/cases/%d", g, r.secondCase) {
		t.Errorf("the current raid's case link: %q", got)
	}
	if got := b.eval(`document.querySelector('#current-raid .raid-reason').innerText`); got != "a second wave" {
		t.Errorf("the current raid's reason: %q", got)
	}
	if got := b.eval(`Array.from(document.querySelectorAll('#raids .raid-row')).map(r => Array.from(r.querySelectorAll('a')).map(a => a.getAttribute('href')).join(' ')).join(' | ')`); got !=
		fmt.Sprintf("%[1]s/raids/2 %[1]s/cases/%[2]d | %[1]s/raids/1 %[1]s/cases/%[3]d", g, r.secondCase, r.firstCase) {
		t.Errorf("the past raids' links: %q", got)
	}
	if got := b.eval(`document.querySelector('#rate-1 caption').innerText`); got != "10 joins in the last 15 minutes, by minute" {
		t.Errorf("the join rate: %q", got)
	}
	// One more account joins while the page is open: htmx asks for the join rate again
	// within 5 seconds and swaps it in, without a reload (the marker set on the page stays).
	b.eval(`window.stayed = "yes"`)
	c.post("/sandbox/members/raid", url.Values{"count": {"1"}})
	b.run("the join rate refreshes itself",
		until(`(document.querySelector('#rate-1 caption') || {innerText: ''}).innerText.startsWith('11 joins')`))
	if b.eval(`String(window.stayed)`) != "yes" {
		t.Errorf("the page reloaded to show the new join rate")
	}

	b.tabTo(`#raids tr[data-number="1"] td:first-child a`)
	b.key("\r")
	b.run("Enter opens raid #1's page", until(`!!document.querySelector('#raid-1')`))
	if got := b.eval(`document.querySelector('#raid-1').innerText`); !strings.Contains(got, "the wave is over") || !strings.Contains(got, "5: 5 candidate") {
		t.Errorf("raid #1's page: %q", got)
	}
	b.run("the RAID case of raid #2 and its children",
		chromedp.Navigate(fmt.Sprintf("%s%s/cases/%d", base, g, r.secondCase)),
		until(`!!document.querySelector('#link-raid')`),
	)
	if got := b.eval(`document.querySelector('#link-raid a').getAttribute('href')`); got != g+"/raids/2" {
		t.Errorf("the RAID case's raid link: %q", got)
	}
	if got := b.eval(`String(document.querySelectorAll('.child-row').length)`); got != "3" {
		t.Errorf("the RAID case lists %s children; want 3 (the joiners timed out)", got)
	}
	b.run("a child case",
		clickOn(fmt.Sprintf(`.child-row[data-number="%d"] a`, r.child)),
		until(`!!document.querySelector('#link-parent')`),
	)
	if got := b.eval(`document.querySelector('#link-parent a').getAttribute('href') + ' ' + document.querySelector('#link-raid a').getAttribute('href')`); got !=
		fmt.Sprintf("%s/cases/%d %s/raids/2", g, r.secondCase, g) {
		t.Errorf("the child case's links: %q", got)
	}

	for _, who := range []struct{ id, name, reason string }{
		{w.Helper.String(), "hugo", "rank 3"},
		{w.Members[2].String(), "leo", "rank 3"},
	} {
		pick(who.id, who.name)
		b.run(who.name+" opens the raids page",
			chromedp.Navigate(base+g+"/raids"),
			until(`!!document.querySelector('#error-title')`),
		)
		if title, msg := b.eval(`document.querySelector('#error-title').innerText`), b.eval(`document.querySelector('#error-message').innerText`); title != "Not allowed" || !strings.Contains(msg, "raids") || !strings.Contains(msg, who.reason) {
			t.Errorf("%s on the raids page: %q %q", who.name, title, msg)
		}
	}
}
