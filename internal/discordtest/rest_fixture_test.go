package discordtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"
	"github.com/disgoorg/snowflake/v2"
)

// restFixture is a guild laid out for moderation tests:
//
//	position 4  mod     (alice)        above the bot
//	position 3  gavel   (the bot)      BAN, KICK, MANAGE_ROLES, MODERATE_MEMBERS, …
//	position 2  managed                an integration's role, below the bot
//	position 1  member  (bob)          below the bot
//	            carol                  no roles; dave is a user outside the guild
type restFixture struct {
	s       *Server
	guild   ID
	owner   ID
	alice   ID
	bob     ID
	carol   ID
	dave    ID
	mod     ID
	botRole ID
	managed ID
	member  ID
	general ID
	other   ID // a text channel the bot cannot see
	cat     ID // a category

	mu      sync.Mutex
	reports []string
}

const botPerms = PermBanMembers | PermKickMembers | PermManageRoles | PermModerateMembers | PermManageGuild |
	PermViewAuditLog | PermManageMessages | PermManageChannels | PermManageNicknames | PermViewChannel |
	PermSendMessages | PermReadMessageHistory | PermEmbedLinks

// newRestFixture starts a fake. With capture, protocol violations are collected in
// f.reports instead of failing the test, for tests that send malformed requests on purpose.
func newRestFixture(t *testing.T, capture bool, opts ...Option) *restFixture {
	t.Helper()
	f := &restFixture{}
	if capture {
		opts = append(opts, WithReporter(func(format string, args ...any) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.reports = append(f.reports, fmt.Sprintf(format, args...))
		}))
	}
	s := New(t, opts...)
	f.s = s
	f.owner = s.AddUser("owner", false)
	f.alice = s.AddUser("alice", false)
	f.bob = s.AddUser("bob", false)
	f.carol = s.AddUser("carol", false)
	f.dave = s.AddUser("dave", false)
	f.guild = s.AddGuild("test guild", f.owner)
	f.member = s.AddRole(f.guild, "member", 1, 0)
	f.managed = s.AddRole(f.guild, "integration", 2, 0)
	f.botRole = s.AddRole(f.guild, "gavel", 3, botPerms)
	f.mod = s.AddRole(f.guild, "mod", 4, PermBanMembers|PermKickMembers|PermModerateMembers|PermViewAuditLog)
	s.mu.Lock()
	g := s.st.guilds[f.guild]
	g.Roles[f.managed].Managed = true
	g.Members[s.botID].Roles = []ID{f.botRole}
	s.mu.Unlock()
	s.AddMember(f.guild, f.alice, f.mod)
	s.AddMember(f.guild, f.bob, f.member)
	s.AddMember(f.guild, f.carol)
	f.cat = s.AddChannel(f.guild, ChannelGuildCategory, "text")
	f.general = s.AddChannel(f.guild, ChannelGuildText, "general")
	f.other = s.AddChannel(f.guild, ChannelGuildText, "staff", Overwrite{ID: f.guild, Type: 0, Deny: PermViewChannel})
	return f
}

// takeReports returns and clears the collected protocol violations.
func (f *restFixture) takeReports() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.reports
	f.reports = nil
	return out
}

// client is disgo's real REST client pointed at the fake, with disgo's own 429 retries off
// (gavel's executor retries) and mentions parsed from nothing, as gavel configures it.
func (f *restFixture) client(t *testing.T) rest.Rest {
	t.Helper()
	c := rest.NewClient(f.s.Token(), rest.WithURL(f.s.APIURL()),
		rest.WithRateLimiterConfigOpts(rest.WithMaxRetries(1)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return rest.New(c, rest.WithDefaultAllowedMentions(discord.AllowedMentions{}))
}

func sf(id ID) snowflake.ID { return snowflake.ID(id) }

// restCode returns the Discord error code and HTTP status of a disgo error.
func restCode(t *testing.T, err error) (status, code int) {
	t.Helper()
	var re *rest.Error
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *rest.Error", err, err)
	}
	return re.Response.StatusCode, int(re.Code)
}

// wantCode fails unless err is Discord's error with that status and code.
func wantCode(t *testing.T, err error, status, code int) {
	t.Helper()
	if err == nil {
		t.Fatalf("got success, want %d %d", status, code)
	}
	gotStatus, gotCode := restCode(t, err)
	if gotStatus != status || gotCode != code {
		t.Fatalf("got %d %d (%v), want %d %d", gotStatus, gotCode, err, status, code)
	}
}

// raw sends a request with net/http, for malformed bodies disgo would never send.
func (f *restFixture) raw(t *testing.T, method, path, body string, header ...string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.s.APIURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bot "+f.s.Token())
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
