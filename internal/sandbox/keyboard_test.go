package sandbox_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium for a test; run and eval fail the test with where the
// browser was and what it showed.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T, width, height int64) *browser {
	t.Helper()
	chrome := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(int(width), int(height)))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser, which lives as long as that call's context.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx}
}

func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		body, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("body")))
		b.t.Fatalf("%s: %v (at %s: %q)", what, err, loc, body)
	}
}

func (b *browser) eval(js string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// until polls a JavaScript condition, again in the next page if a navigation replaces the
// one it was polling.
func until(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
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

// clickOn clicks the element sel selects with the mouse, as a person does, once the page
// has loaded. It finds the element and its place in one evaluation and clicks at that point:
// chromedp's Click holds a DOM node id between finding the node and clicking it, and a page
// replaced in between (a form's navigation landing, htmx swapping the body) turns that id
// into "Could not find node with given id". A navigation during the lookup starts it again
// in the new page.
func clickOn(sel string) chromedp.Action[chromedp.Void] {
	js := fmt.Sprintf(`(() => {
		const e = document.readyState === 'complete' && document.querySelector(%q);
		if (!e) return null;
		e.scrollIntoView({block: 'center', inline: 'center'});
		const r = e.getBoundingClientRect();
		return r.width > 0 && r.height > 0 ? [r.left + r.width / 2, r.top + r.height / 2] : null;
	})()`, sel)
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for {
			xy, err := chromedp.Poll[[]float64](js, chromedp.WithPollingTimeout(20*time.Second))(ctx, tg)
			if err == nil {
				_, err = chromedp.MouseClickXY(xy[0], xy[1])(ctx, tg)
				return err
			}
			if ctx.Err() != nil {
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

// setValue sets the value of the form field sel selects, by selector in the page (see
// clickOn for why not by node id).
func setValue(sel, value string) chromedp.Action[chromedp.Void] {
	return until(fmt.Sprintf(`(() => {
		const e = document.readyState === 'complete' && document.querySelector(%q);
		if (!e) return false;
		e.value = %q;
		return e.value === %q;
	})()`, sel, value, value))
}

// focused describes the focused element, for messages.
const focused = `(() => { const e = document.activeElement; return e ? e.outerHTML.slice(0, 120) : "nothing"; })()`

// key presses keys as a keyboard does (chromedp dispatches key events: "\t" is Tab, "\r"
// Enter, " " Space, other characters type themselves).
func (b *browser) key(keys string) {
	b.t.Helper()
	b.run(fmt.Sprintf("pressing %q", keys), chromedp.KeyEvent(keys))
}

// tabTo presses Tab until the focused element matches sel, and fails if 60 presses do not
// reach it; then the focus must be visible: :focus-visible matches and draws an outline of
// at least 2px.
func (b *browser) tabTo(sel string) {
	b.t.Helper()
	for range 60 {
		b.key("\t")
		if b.eval(fmt.Sprintf(`String(document.activeElement.matches(%q))`, sel)) == "true" {
			b.focusVisible()
			return
		}
	}
	b.t.Fatalf("60 presses of Tab never reached %s; the focus is on %s", sel, b.eval(focused))
}

func (b *browser) focusVisible() {
	b.t.Helper()
	js := `(() => { const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();
		return String(e.matches(':focus-visible') && s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 && r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0); })()`
	if b.eval(js) != "true" {
		b.t.Errorf("the focus on %s is not visible (outline %s)", b.eval(focused),
			b.eval(`(() => { const s = getComputedStyle(document.activeElement); return s.outlineStyle + " " + s.outlineWidth; })()`))
	}
}

// TestCaseBrowserByKeyboard walks the case browser with the keyboard alone, from the
// servers page: Tab to the skip link and past the header, Enter on the server, type a
// filter and submit it with Enter, Enter on the case, Tab to the reason's edit form, type,
// and press Space on Save. Every focus stop must be visible.
func TestCaseBrowserByKeyboard(t *testing.T) {
	t.Parallel()
	sb, c := start(t)
	w := sb.World()
	general := "/sandbox/c/" + w.General.String()
	c.post("/sandbox/as", url.Values{"user": {w.Moderator.String()}})
	c.post(general, url.Values{"text": {"$warn @nina be nice"}})
	c.eventually(general, "Case #1</strong>")
	c.post(general, url.Values{"text": {"$ban @spammer spam links"}})
	c.eventually(general, "Case #2</strong>")
	base := strings.TrimSuffix(sb.URL(), "/sandbox/")

	b := newBrowser(t, 1280, 800)
	// Signing in is the panel's business (pick sam, who may edit cases); the walk starts
	// on the servers page.
	b.run("sign in as sam through the panel",
		chromedp.Navigate(sb.URL()),
		setValue("#as", w.Senior.String()),
		clickOn("#pick button"),
		until(`(document.querySelector('#me') || {innerText: ''}).innerText.startsWith('sam')`),
		clickOn("#open-dashboard"),
		until(`!!document.querySelector('#servers')`),
		chromedp.Navigate(base+"/servers"),
		until(`!!document.querySelector('#servers')`),
	)

	// The first Tab reaches the skip link, shown while focused; Enter moves the focus to
	// the page's content, so the next Tab skips the header.
	b.key("\t")
	if got := b.eval(`document.activeElement.id`); got != "skip-link" {
		t.Fatalf("the first Tab focuses %s; want the skip link", b.eval(focused))
	}
	b.focusVisible()
	b.key("\r")
	b.run("the skip link moves the focus to the content", until(`document.activeElement.id === 'main'`))
	b.key("\t")
	if b.eval(`String(document.activeElement.matches('#servers a'))`) != "true" {
		t.Fatalf("after the skip link, Tab focuses %s; want the server's link", b.eval(focused))
	}
	b.focusVisible()
	b.key("\r")
	b.run("Enter opens the server's cases", until(`document.querySelectorAll('.case-row').length === 2`))

	// A filter: Tab to the reason text, type, Enter submits the form.
	b.tabTo("#f-q")
	b.key("spam")
	b.key("\r")
	b.run("Enter applies the filter", until(`location.search.includes('q=spam') && document.querySelectorAll('.case-row').length === 1`))
	b.tabTo(`tr[data-number="2"] td:first-child a`)
	b.key("\r")
	b.run("Enter opens case #2", until(`!!document.querySelector('#edit-reason') && location.pathname.endsWith('/cases/2')`))

	// The edit form: Tab into the reason, type, Tab to Save, Space presses it.
	b.tabTo("#reason")
	b.run("select the reason's text", chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.key("spam links, edited by keyboard")
	b.tabTo("#save-reason")
	b.key(" ")
	b.run("Space on Save saves the reason", until(`!!document.querySelector('#notice') && document.querySelector('#c-reason').innerText === 'spam links, edited by keyboard'`))
}
