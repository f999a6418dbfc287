package sandbox_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/sandbox"
)

// client is a browser without JavaScript: it keeps cookies and follows redirects.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	resp, err := c.hc.Get(c.base + path)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *client) post(path string, form url.Values) (int, string) {
	c.t.Helper()
	resp, err := c.hc.PostForm(c.base+path, form)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually reads path until it contains want: gavel answers through the gateway, so a
// page may be read before the answer lands.
func (c *client) eventually(path, want string) string {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := c.get(path)
		if strings.Contains(body, want) {
			return body
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("GET %s never showed %q; last:\n%s", path, want, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func start(t *testing.T) (*sandbox.Sandbox, *client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.New(ctx, sandbox.Options{Addr: "127.0.0.1:0", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- sb.Run(ctx, func() { close(ready) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("the sandbox stopped before it was ready: %v", err)
	}
	jar, _ := cookiejar.New(nil)
	return sb, &client{t: t, base: strings.TrimSuffix(sb.URL(), "/sandbox/"), hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// TestSandboxBanOverHTTP is the sandbox's path a visitor takes: be the moderator, type
// $ban @member spam in #general, and see the reply, the member's DM, the mod-log post, the
// ban on the member list, the audit-log entry and the case on the dashboard, every page
// saying it is the sandbox.
func TestSandboxBanOverHTTP(t *testing.T) {
	t.Parallel()
	sb, c := start(t)
	w := sb.World()
	general := "/sandbox/c/" + w.General.String()

	// The owner's setup ran through gavel: #audit-log shows its answers.
	if _, body := c.get("/sandbox/c/" + w.AuditLog.String()); !strings.Contains(body, "mod-log") {
		t.Errorf("#audit-log does not show the setup:\n%s", body)
	}
	if st, body := c.post("/sandbox/as", url.Values{"user": {w.Moderator.String()}, "next": {general}}); st != http.StatusOK || !strings.Contains(body, "You are now mia") || !strings.Contains(body, `id="sandbox-banner"`) {
		t.Fatalf("picking the moderator = %d:\n%s", st, body)
	}
	c.post(general, url.Values{"text": {"$ban @member spam"}})
	body := c.eventually(general, "Case #1</strong> · ban @member")
	if !strings.Contains(body, "$ban @member spam") {
		t.Errorf("#general does not show the command as typed:\n%s", body)
	}
	c.eventually("/sandbox/dms", "You have been banned in gavel sandbox")
	c.eventually("/sandbox/c/"+w.ModLog.String(), "Case #1 · BAN")
	if _, body := c.get("/sandbox/members"); !strings.Contains(body, `id="ban-member"`) || !strings.Contains(body, "spam") {
		t.Errorf("the member list shows no ban:\n%s", body)
	}
	if _, body := c.get("/sandbox/audit-log"); !strings.Contains(body, "member ban add") {
		t.Errorf("the audit log shows no ban:\n%s", body)
	}
	// The dashboard, signed in as the moderator without OAuth, has the case.
	if st, body := c.get("/g/" + w.Guild.String() + "/cases/1"); st != http.StatusOK || !strings.Contains(body, "spam") || !strings.Contains(body, `id="sandbox-banner"`) {
		t.Errorf("dashboard case page = %d:\n%s", st, body)
	}
}

// TestSandboxSlashAndRefusals: a slash command's ephemeral reply shows only to the member
// who typed it; a member without a rank is refused by gavel; bad input is said in words.
func TestSandboxSlashAndRefusals(t *testing.T) {
	t.Parallel()
	sb, c := start(t)
	w := sb.World()
	general := "/sandbox/c/" + w.General.String()

	c.post("/sandbox/as", url.Values{"user": {w.Helper.String()}})
	c.post(general, url.Values{"text": {"/warn user:@nina reason:be nice"}})
	body := c.eventually(general, "Only you can see this")
	if !strings.Contains(body, "warn") {
		t.Errorf("the helper does not see the warn's reply:\n%s", body)
	}
	c.post("/sandbox/as", url.Values{"user": {w.Members[1].String()}})
	if _, body := c.get(general); strings.Contains(body, "Only you can see this") {
		t.Errorf("nina sees the helper's ephemeral reply:\n%s", body)
	}
	c.eventually("/sandbox/dms", "be nice")

	// A timeout shows on the member list, with its end.
	c.post("/sandbox/as", url.Values{"user": {w.Helper.String()}})
	c.post(general, url.Values{"text": {"$timeout @nina calm down -duration 10m"}})
	c.eventually(general, "Case #2</strong> · timeout @nina")
	c.eventually("/sandbox/members", `<span class="timeout">`)

	// leo holds no rank: gavel refuses him, and says so.
	c.post("/sandbox/as", url.Values{"user": {w.Members[2].String()}})
	c.post(general, url.Values{"text": {"$ban @nina no reason"}})
	c.eventually(general, "You need rank 3 (Moderator) to use <code>ban</code>")
	if _, body := c.get("/sandbox/members"); strings.Contains(body, `id="ban-nina"`) {
		t.Errorf("leo banned nina")
	}

	for _, tc := range []struct {
		path string
		form url.Values
		says string
	}{
		{general, url.Values{"text": {"   "}}, "Type a message"},
		{general, url.Values{"text": {"/ban usr:@nina"}}, "is not an option"},
		{"/sandbox/members/raid", url.Values{"count": {"1000"}}, "from 1 to 100"},
		{"/sandbox/as", url.Values{"user": {"42"}}, "is not a user of the sandbox"},
	} {
		if _, body := c.post(tc.path, tc.form); !strings.Contains(body, tc.says) {
			t.Errorf("POST %s %v does not say %q", tc.path, tc.form, tc.says)
		}
	}
	if _, body := c.post("/sandbox/members/raid", url.Values{"count": {"5"}}); !strings.Contains(body, "raider1_005") || !strings.Contains(body, "5 accounts") {
		t.Errorf("the raid's accounts are not on the member list")
	}
	if st, _ := c.get("/sandbox/c/123"); st != http.StatusNotFound {
		t.Errorf("an unknown channel = %d, want 404", st)
	}
}

// TestSandboxButtons: a case list longer than a page carries gavel's page buttons, and
// pressing Next in the panel turns the page.
func TestSandboxButtons(t *testing.T) {
	t.Parallel()
	sb, c := start(t)
	w := sb.World()
	general := "/sandbox/c/" + w.General.String()
	c.post("/sandbox/as", url.Values{"user": {w.Helper.String()}})
	for i := 1; i <= 11; i++ {
		c.post(general, url.Values{"text": {fmt.Sprintf("$warn @nina warning %d", i)}})
		c.eventually(general, fmt.Sprintf("Case #%d</strong>", i))
	}
	c.post(general, url.Values{"text": {"$cases"}})
	body := c.eventually(general, "Page 1 of 2")
	next := regexp.MustCompile(`name="message" value="(\d+)"><input type="hidden" name="custom_id" value="([^"]+)"><button type="submit">Next ▶`).FindStringSubmatch(body)
	if next == nil {
		t.Fatalf("no Next button on the case list:\n%s", body)
	}
	c.post(general+"/press", url.Values{"message": {next[1]}, "custom_id": {next[2]}})
	c.eventually(general, "Page 2 of 2")
	// A button that is not on the message is refused in words.
	if _, body := c.post(general+"/press", url.Values{"message": {next[1]}, "custom_id": {"forged"}}); !strings.Contains(body, "no component with custom_id") {
		t.Errorf("a forged button press is not refused in words")
	}
}
