package sandbox_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
		t.Fatal("chromium is not installed; CI needs it for the sandbox's browser test (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium); the sandbox's browser test needs it")
	return ""
}

// TestSandboxInBrowser is the visitor's first minute in headless Chromium: be the
// moderator, type $ban @member spam in #general, and see gavel's reply, the member's DM,
// the mod-log post, and the case on the dashboard, every page saying it is the sandbox.
func TestSandboxInBrowser(t *testing.T) {
	t.Parallel()
	chrome := chromiumPath(t)
	sb, _ := start(t)
	w := sb.World()
	base := strings.TrimSuffix(sb.URL(), "/sandbox/")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browser, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(browser, chromedp.Location())
			body, _ := chromedp.Run(browser, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%s: %v (at %s: %q)", what, err, loc, body)
		}
	}
	// shows waits until the element's text contains want (a form's navigation may replace
	// the page while it waits: the poll then runs again in the new one).
	shows := func(sel, want string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			js := fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText.includes(%q)`, sel, want)
			for {
				_, err := chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))(ctx, tg)
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

	run("open the panel and be mia, the moderator",
		chromedp.Navigate(sb.URL()),
		shows("#sandbox-banner", "signed in without OAuth"),
		setValue("#as", w.Moderator.String()),
		clickOn("#pick button"),
		shows("#notice", "You are now mia"),
	)
	run("type $ban @member spam in #general",
		setValue("#text", "$ban @member spam"),
		clickOn(".compose button"),
		shows("#messages", "Case #1 · ban @member"),
	)
	run("the member's DM",
		chromedp.Navigate(base+"/sandbox/dms"),
		shows("#dm-member", "You have been banned in gavel sandbox"),
	)
	run("the mod-log post",
		chromedp.Navigate(base+"/sandbox/c/"+w.ModLog.String()),
		shows("#messages", "Case #1 · BAN"),
	)
	run("the case on the dashboard, signed in as mia without OAuth",
		clickOn("#open-dashboard"),
		shows("#signed-in-as", "mia"),
		chromedp.Navigate(fmt.Sprintf("%s/g/%s/cases/1", base, w.Guild)),
		shows("main", "spam"),
		shows("#sandbox-banner", "signed in without OAuth"),
	)
}
