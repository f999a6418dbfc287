package sandbox_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// update regenerates docs/screenshots: go test ./internal/sandbox -run TestScreenshots -args -update
var update = flag.Bool("update", false, "regenerate the screenshots in docs/screenshots (TestScreenshots)")

const (
	shotWidth, shotHeight = 1280, 800
	shotDir               = "../../docs/screenshots"
)

// shot is one screenshot: the file, the page (with {g} for the server's path), who is
// signed in, and the doc that shows it.
type shot struct {
	file, path, doc string
}

func shots(g, general, modlog string) []shot {
	return []shot{
		{"dashboard-servers.png", "/servers", "dashboard.md"},
		{"dashboard-cases.png", g + "/cases", "dashboard.md"},
		{"dashboard-case.png", g + "/cases/2", "dashboard.md"},
		{"dashboard-member.png", g + "/members/100000000000002012", "dashboard.md"},
		{"dashboard-scheduled.png", g + "/scheduled", "dashboard.md"},
		{"dashboard-automod.png", g + "/automod", "dashboard.md"},
		{"dashboard-settings.png", g + "/settings", "dashboard.md"},
		{"dashboard-raids.png", g + "/raids", "dashboard.md"},
		{"sandbox-general.png", general, "sandbox.md"},
		{"sandbox-modlog.png", modlog, "sandbox.md"},
		{"sandbox-dms.png", "/sandbox/dms", "sandbox.md"},
		{"sandbox-members.png", "/sandbox/members", "sandbox.md"},
		{"sandbox-audit-log.png", "/sandbox/audit-log", "sandbox.md"},
	}
}

// TestScreenshots keeps docs/screenshots in step with the docs: every screenshot of the
// list is a 1280x800 PNG and is shown by its doc. With -update it first renders each page
// in headless Chromium against a sandbox with cases in it (as sam, the senior moderator,
// who may edit them) and writes the PNGs.
func TestScreenshots(t *testing.T) {
	list := shots("/g/{g}", "/sandbox/c/{general}", "/sandbox/c/{modlog}")
	if *update {
		render(t)
	}
	for _, s := range list {
		b, err := os.ReadFile(filepath.Join(shotDir, s.file))
		if err != nil {
			t.Errorf("%v; regenerate with: go test ./internal/sandbox -run TestScreenshots -args -update", err)
			continue
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width != shotWidth || cfg.Height != shotHeight {
			t.Errorf("%s: %dx%d %v; want a %dx%d PNG", s.file, cfg.Width, cfg.Height, err, shotWidth, shotHeight)
		}
		doc, err := os.ReadFile(filepath.Join("../../docs", s.doc))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), "](screenshots/"+s.file+")") {
			t.Errorf("docs/%s does not show screenshots/%s", s.doc, s.file)
		}
	}
	files, _ := filepath.Glob(filepath.Join(shotDir, "*.png"))
	if len(files) != len(list) {
		t.Errorf("docs/screenshots holds %d PNGs; the list has %d (remove the old ones)", len(files), len(list))
	}
}

func render(t *testing.T) {
	sb, c := start(t)
	w := sb.World()
	general := "/sandbox/c/" + w.General.String()
	c.post("/sandbox/as", url.Values{"user": {w.Moderator.String()}})
	for i, cmd := range []string{
		"$warn @nina please keep it civil",
		"$ban @spammer posting scam links in every channel",
		"$timeout @leo arguing in #general after a warning -duration 2h",
		"$warn @leo slurs in voice chat",
		"$kick @member ban evasion alt",
	} {
		c.post(general, url.Values{"text": {cmd}})
		c.eventually(general, fmt.Sprintf("Case #%d</strong>", i+1))
	}
	c.post(general, url.Values{"text": {"$cases @leo"}})
	c.eventually(general, "leo")
	seedRaids(t, sb, c)

	b := newBrowser(t, shotWidth, shotHeight)
	base := strings.TrimSuffix(sb.URL(), "/sandbox/")
	b.run("sign in as sam through the panel",
		chromedp.Navigate(sb.URL()),
		setValue("#as", w.Senior.String()),
		clickOn("#pick button"),
		until(`(document.querySelector('#me') || {innerText: ''}).innerText.startsWith('sam')`),
	)
	if err := os.MkdirAll(shotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer("{g}", w.Guild.String(), "{general}", w.General.String(), "{modlog}", w.ModLog.String())
	for _, s := range shots("/g/{g}", "/sandbox/c/{general}", "/sandbox/c/{modlog}") {
		var img []byte
		b.run("screenshot of "+s.path,
			chromedp.Navigate(base+r.Replace(s.path)),
			until(`document.readyState === 'complete' && !!document.querySelector('main')`),
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				var err error
				img, err = chromedp.CaptureScreenshot()(ctx, tg)
				return err
			}),
		)
		if err := os.WriteFile(filepath.Join(shotDir, s.file), img, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
