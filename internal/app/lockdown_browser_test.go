package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gavelbot/gavel/internal/discordtest"
)

// TestLockdownOnRaidsPageInBrowser: while #general is locked, the raids page shows the
// current lockdown (its case, what it holds) and its snapshot (the @everyone overwrite gavel
// created, absent before; gavel's own); after unlock it says no channel is locked.
func TestLockdownOnRaidsPageInBrowser(t *testing.T) {
	t.Parallel()
	chrome := chromiumPath(t)
	ww := newWebWorld(t)
	// gavel needs Manage Channels besides its Manage Roles to lock.
	amRole := ww.s.CreateRole(ww.guild, "channels", 4, discordtest.PermManageChannels|discordtest.PermManageGuild)
	ww.s.SetMemberRoles(ww.guild, ww.s.BotID(), ww.botRole, amRole)

	reply := ww.send(t, ww.owner, "$lockdown raid drill")
	if !strings.Contains(reply.Content, "Locked <#"+ww.general.String()+">") {
		t.Fatalf("lockdown reply: %q", reply.Content)
	}

	browser := startBrowser(t, chrome)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, eventBound)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			body, _ := chromedp.Run(browser, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%s: %v (%q)", what, err, body)
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
	run("sign in as the owner",
		chromedp.Navigate(ww.url+"/"),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#authorize")),
		chromedp.SetValue(chromedp.CSS("#user_id"), ww.owner.String()),
		chromedp.Click(chromedp.CSS("#authorize")),
		chromedp.WaitVisible(chromedp.CSS("#signed-in-as")),
	)
	raids := ww.url + "/g/" + ww.guild.String() + "/raids"
	run("open the raids page", chromedp.Navigate(raids), chromedp.WaitVisible(chromedp.CSS("#lockdown .lockdown-snapshot")))
	summary := text("#lockdown .lockdown-summary")
	if !strings.Contains(summary, "channels locked") || !strings.Contains(summary, "raid drill") || !strings.Contains(summary, "1 channels held") {
		t.Errorf("lockdown summary = %q", summary)
	}
	snap := text("#lockdown .lockdown-snapshot tbody")
	for _, want := range []string{"#general", "@everyone", "absent", "member " + ww.s.BotID().String(), "set"} {
		if !strings.Contains(snap, want) {
			t.Errorf("the snapshot table does not show %q: %q", want, snap)
		}
	}

	ww.send(t, ww.owner, "$unlock all clear")
	run("reload the raids page", chromedp.Navigate(raids), chromedp.WaitVisible(chromedp.CSS("#no-lockdown")))
	if got := text("#no-lockdown"); !strings.Contains(got, "No channel is locked by gavel") {
		t.Errorf("after unlock: %q", got)
	}
}
