package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/discordtest"
)

// chromiumPath finds Debian's chromium. Without it the browser test is skipped on a
// developer's machine, and fails in CI (CI=true), where .ci/run installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; CI needs it for the dashboard's browser test (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium); the dashboard's browser test needs it")
	return ""
}

// TestDashboardInBrowser signs in through the fake's OAuth2 consent page in headless
// Chromium, filters the case list, opens a case, edits its reason and sees the mod-log
// message follow; a page on another site posting to the dashboard is refused; and a member
// without the permission sees no server and is refused the case list; the AutoMod tester
// reports the rule a pasted message trips.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	chrome := chromiumPath(t)
	ww := newWebWorld(t)
	cs := ww.casesService(t)

	reply := ww.send(t, ww.mod, "$warn <@"+ww.target.String()+"> said rude things")
	n := replyCase(t, reply.Content)
	var logged discordtest.Message
	waitOnMessages(t, ww.s, "the warn's mod-log post", func() bool {
		for _, m := range ww.s.Messages(ww.modlog) {
			if len(m.Embeds) > 0 && strings.Contains(string(m.Embeds[0]), "said rude things") {
				logged = m
				return true
			}
		}
		return false
	})
	casePath := fmt.Sprintf("/g/%s/cases/%d", ww.guild, n)

	// A page on another site (localhost is another site than 127.0.0.1) with a form that
	// posts to the dashboard, as a cross-site request forgery would.
	evilLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	evil := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `<!doctype html><html><body><form method="post" action="%s%s/reason"><input type="hidden" name="reason" value="forged">`+
			`<input type="hidden" name="csrf" value="guess"><button id="go" type="submit">Win a prize</button></form></body></html>`, ww.url, casePath)
	}), ReadHeaderTimeout: 5 * time.Second}
	go evil.Serve(evilLn)
	t.Cleanup(func() { evil.Close() })
	_, evilPort, _ := net.SplitHostPort(evilLn.Addr().String())
	evilURL := "http://localhost:" + evilPort + "/"

	browser := startBrowser(t, chrome)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, eventBound)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(browser, chromedp.Location())
			body, _ := chromedp.Run(browser, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%s: %v (at %s: %q)", what, err, loc, body)
		}
	}
	text := func(sel string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, eventBound)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return v
	}
	// A form sent without htmx navigates: a wait that was running in the old page fails
	// with it, and is tried again in the new one until the step's deadline.
	settled := func(a chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			for {
				_, err := a(ctx, tg)
				if err == nil || ctx.Err() != nil {
					return err
				}
				select {
				case <-ctx.Done():
					return err
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
	}
	// The clicks, fields and submits below find their element by selector in the loaded
	// page, in the evaluation that acts on it: chromedp's Click, SetValue and Submit hold a
	// DOM node id between finding the node and acting, and a page replaced in between (a
	// navigation landing, htmx swapping the body of a boosted link or form) fails them with
	// "Could not find node with given id". A navigation during the lookup starts it again in
	// the new page.
	inPage := func(sel, act string) chromedp.Action[chromedp.Void] {
		js := fmt.Sprintf(`(() => { const e = document.readyState === 'complete' && document.querySelector(%q); if (!e) return false; %s })()`, sel, act)
		return settled(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(eventBound))(ctx, tg)
			return err
		}))
	}
	setValue := func(sel, value string) chromedp.Action[chromedp.Void] {
		return inPage(sel, fmt.Sprintf(`e.value = %q; return e.value === %q;`, value, value))
	}
	// submit sends the element's form without htmx, as chromedp's Submit does; after the
	// evaluation has answered, so that the navigation cannot fail it and have it sent twice.
	submit := func(sel string) chromedp.Action[chromedp.Void] {
		return inPage(sel, `const f = e.form || e; setTimeout(() => HTMLFormElement.prototype.submit.call(f)); return true;`)
	}
	// click clicks the element with the mouse at its centre.
	click := func(sel string) chromedp.Action[chromedp.Void] {
		js := fmt.Sprintf(`(() => {
			const e = document.readyState === 'complete' && document.querySelector(%q);
			if (!e) return null;
			e.scrollIntoView({block: 'center', inline: 'center'});
			const r = e.getBoundingClientRect();
			return r.width > 0 && r.height > 0 ? [r.left + r.width / 2, r.top + r.height / 2] : null;
		})()`, sel)
		return settled(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			xy, err := chromedp.Poll[[]float64](js, chromedp.WithPollingTimeout(eventBound))(ctx, tg)
			if err != nil {
				return err
			}
			_, err = chromedp.MouseClickXY(xy[0], xy[1])(ctx, tg)
			return err
		}))
	}
	rows := func(want int) chromedp.Action[chromedp.Void] {
		return settled(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](fmt.Sprintf(`document.querySelectorAll('.case-row').length === %d`, want), chromedp.WithPollingTimeout(eventBound))(ctx, tg)
			return err
		}))
	}

	signIn := func(user discordtest.ID) {
		t.Helper()
		run("sign in as "+user.String(),
			chromedp.Navigate(ww.url+"/"),
			click("#sign-in"),
			chromedp.WaitVisible(chromedp.CSS("#authorize")),
			setValue("#user_id", user.String()),
			click("#authorize"),
			chromedp.WaitVisible(chromedp.CSS("#signed-in-as")),
		)
	}
	signIn(ww.mod)
	run("the servers page", chromedp.WaitVisible(chromedp.CSS("#servers")))
	if who := text("#signed-in-as"); who != "mod" {
		t.Errorf("signed in as %q; want mod", who)
	}

	run("list and filter the cases",
		click(`#servers a`),
		chromedp.WaitVisible(chromedp.CSS("#cases")),
		rows(26),
		setValue("#f-type", "KICK"),
		submit("#f-apply"),
		rows(5),
		setValue("#f-type", ""),
		setValue("#f-q", "rude"),
		submit("#f-apply"),
		rows(1),
	)

	run("open the case and edit its reason",
		click(fmt.Sprintf(`tr[data-number="%d"] a`, n)),
		chromedp.WaitVisible(chromedp.CSS("#edit-reason")),
		setValue("#reason", "rude things, edited in the browser"),
		submit("#save-reason"),
		settled(chromedp.WaitVisible(chromedp.CSS("#notice"))),
	)
	if reason := text("#c-reason"); reason != "rude things, edited in the browser" {
		t.Errorf("the case page shows reason %q after the edit", reason)
	}
	waitOnMessages(t, ww.s, "the mod-log message edited", func() bool {
		m, ok := ww.message(ww.modlog, logged.ID)
		return ok && m.EditedTimestamp != nil && strings.Contains(string(m.Embeds[0]), "edited in the browser")
	})
	c, err := cs.GetByNumber(context.Background(), discord.GuildID(ww.guild), n)
	if err != nil {
		t.Fatal(err)
	}
	events, err := cs.Events(context.Background(), c.ID)
	if err != nil || events[len(events)-1].ActorID != discord.UserID(ww.mod) {
		t.Errorf("the edit's history row: %+v %v; want one naming the moderator", events, err)
	}

	run("a cross-site POST",
		chromedp.Navigate(evilURL),
		click("#go"),
		chromedp.WaitVisible(chromedp.CSS("#error-title")),
	)
	if title := text("#error-title"); title != "Cross-site request refused" {
		t.Errorf("the cross-site POST got %q", title)
	}
	if c, _ := cs.GetByNumber(context.Background(), discord.GuildID(ww.guild), n); c.Reason != "rude things, edited in the browser" {
		t.Errorf("the cross-site POST changed the reason to %q", c.Reason)
	}

	run("sign out",
		chromedp.Navigate(ww.url+"/servers"),
		chromedp.WaitVisible(chromedp.CSS("#signed-in-as")),
		click(`form[action="/auth/logout"] button`),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")),
	)
	signIn(ww.plain)
	run("a member without the permission",
		chromedp.WaitVisible(chromedp.CSS("#no-servers")),
		chromedp.Navigate(ww.url+"/g/"+ww.guild.String()+"/cases"),
		chromedp.WaitVisible(chromedp.CSS("#error-message")),
	)
	if title, msg := text("#error-title"), text("#error-message"); title != "Not allowed" || !strings.Contains(msg, "Manage Messages") {
		t.Errorf("a plain member's case list: %q %q", title, msg)
	}

	// The AutoMod tester, as the owner (AutoMod needs Manage Server or rank 5).
	if r := ww.send(t, ww.owner, `$automod create scams -keywords "free nitro", scam*`); !strings.Contains(r.Content, "scams") {
		t.Fatalf("creating the rule: %q", r.Content)
	}
	run("sign out again",
		chromedp.Navigate(ww.url+"/servers"),
		click(`form[action="/auth/logout"] button`),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")),
	)
	signIn(ww.owner)
	run("the AutoMod tester",
		chromedp.Navigate(ww.url+"/g/"+ww.guild.String()+"/cases"),
		chromedp.WaitVisible(chromedp.CSS("#cases")),
		click(`a[href="/g/`+ww.guild.String()+`/automod"]`),
		settled(chromedp.WaitVisible(chromedp.CSS("#tester"))),
		setValue("#message", "get FREE NITRO here"),
		submit("#test"),
		settled(chromedp.WaitVisible(chromedp.CSS("#hits"))),
	)
	if hit := text("#hits"); !strings.Contains(hit, "scams: keyword free nitro matched FREE NITRO at characters 4–14") {
		t.Errorf("the tester's report: %q", hit)
	}
}

// startBrowser starts headless Chromium at chrome for the test and returns its context,
// closed when the test ends. The first action starts the browser, which lives as long as
// that call's context: no timeout on it; each step of a test has its own.
func startBrowser(t *testing.T, chrome string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browser, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return browser
}
