package moderation_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/executor"
	"github.com/gavelbot/gavel/internal/moderation"
	"github.com/gavelbot/gavel/internal/moderation/actions"
	"github.com/gavelbot/gavel/internal/permissions"
	"github.com/gavelbot/gavel/internal/settings"
	"github.com/gavelbot/gavel/internal/store"
	"github.com/gavelbot/gavel/internal/store/storetest"
)

// portDouble is a small in-memory guild: enough of discord.Port for the checks, and a count
// of every call that would change something on Discord. Calls it does not implement panic
// through the nil embedded interface.
type portDouble struct {
	discord.Port

	mu      sync.Mutex
	guild   discord.Guild
	members map[int64]discord.Member
	bans    map[int64]discord.Ban
	writes  []string
	// reads counts Member calls per user.
	reads map[int64]int
}

func (p *portDouble) memberReads(id int64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reads[id]
}

func (p *portDouble) wrote(what string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writes = append(p.writes, what)
	return nil
}

func (p *portDouble) Writes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.writes...)
}

func (p *portDouble) Guild(context.Context, discord.GuildID) (discord.Guild, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.guild, nil
}

func (p *portDouble) Member(_ context.Context, _ discord.GuildID, userID discord.UserID) (discord.Member, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reads == nil {
		p.reads = map[int64]int{}
	}
	p.reads[int64(userID)]++
	m, ok := p.members[int64(userID)]
	if !ok {
		return discord.Member{}, &discord.Error{Op: "get member", Status: 404, Code: discord.CodeUnknownMember, Message: "Unknown Member"}
	}
	return m, nil
}

func (p *portDouble) GetBan(_ context.Context, _ discord.GuildID, userID discord.UserID) (discord.Ban, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.bans[int64(userID)]
	return b, ok, nil
}

// User names a user outside the server as Discord would: the banned by their ban's user;
// anyone else is known by id only (no name), which the pipeline falls back to.
func (p *portDouble) User(_ context.Context, userID discord.UserID) (discord.User, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.bans[int64(userID)]; ok {
		return b.User, nil
	}
	return discord.User{ID: userID}, nil
}

func (p *portDouble) ListBans(context.Context, discord.GuildID, discord.UserID, int) ([]discord.Ban, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []discord.Ban
	for _, b := range p.bans {
		out = append(out, b)
	}
	return out, nil
}

func (p *portDouble) Ban(context.Context, discord.GuildID, discord.UserID, int, string) error {
	return p.wrote("ban")
}
func (p *portDouble) Unban(context.Context, discord.GuildID, discord.UserID, string) error {
	return p.wrote("unban")
}
func (p *portDouble) Kick(context.Context, discord.GuildID, discord.UserID, string) error {
	return p.wrote("kick")
}
func (p *portDouble) Timeout(context.Context, discord.GuildID, discord.UserID, time.Time, string) error {
	return p.wrote("timeout")
}
func (p *portDouble) SetRoles(context.Context, discord.GuildID, discord.UserID, []discord.RoleID, string) error {
	return p.wrote("set roles")
}
func (p *portDouble) SendDM(context.Context, discord.UserID, discord.Message) (discord.MessageRef, error) {
	return discord.MessageRef{ChannelID: 1, MessageID: 1}, p.wrote("dm")
}
func (p *portDouble) SendMessage(context.Context, discord.ChannelID, discord.Message) (discord.MessageID, error) {
	return 1, p.wrote("message")
}

// The double's guild:
//
//	position 5  admins (eve: Administrator)
//	position 4  mods   (alice, mallory)
//	position 3  gavel  (the bot)
//	position 3  high   (henry)             ties with gavel but has the lower id: above it
//	position 1  member (bob), jailed       carol has no role; owner has none either
const (
	dGuild, dOwner, dBot                     = 10, 11, 12
	dAlice, dBob, dCarol, dHenry, dEve, dMal = 21, 22, 23, 24, 25, 26
	dBanned, dStranger                       = 31, 32
	rMember, rHigh, rGavel, rMods, rAdmins   = 41, 42, 43, 44, 45
	rJail                                    = 46
)

type checkWorld struct {
	port     *portDouble
	cases    *cases.Service
	settings *settings.Service
	co       *moderation.Coordinator
	cat      *moderation.Catalogue
}

func newCheckWorld(t *testing.T, botPerms permissions.Permission) *checkWorld {
	t.Helper()
	g := discord.Guild{ID: dGuild, Name: "double", OwnerID: dOwner, Roles: []discord.Role{
		{ID: dGuild, Name: "@everyone"},
		{ID: rMember, Name: "member", Position: 1},
		{ID: rJail, Name: "jailed", Position: 1},
		{ID: rHigh, Name: "high", Position: 3},
		{ID: rGavel, Name: "gavel", Position: 3, Permissions: uint64(botPerms)},
		{ID: rMods, Name: "mods", Position: 4},
		{ID: rAdmins, Name: "admins", Position: 5, Permissions: uint64(permissions.Administrator)},
	}}
	member := func(id int64, name string, roles ...int64) discord.Member {
		return discord.Member{User: discord.User{ID: discord.UserID(id), Username: name}, Roles: discord.IDs[discord.RoleID](roles)}
	}
	p := &portDouble{guild: g, members: map[int64]discord.Member{
		dOwner: member(dOwner, "owner"), dBot: member(dBot, "gavel", rGavel),
		dAlice: member(dAlice, "alice", rMods), dMal: member(dMal, "mallory", rMods),
		dBob: member(dBob, "bob", rMember), dCarol: member(dCarol, "carol"),
		dHenry: member(dHenry, "henry", rHigh), dEve: member(dEve, "eve", rAdmins),
	}, bans: map[int64]discord.Ban{dBanned: {User: discord.User{ID: dBanned, Username: "banned"}}}}
	st := storetest.Open(t, store.SQLite)
	w := &checkWorld{port: p, cases: cases.NewService(st), settings: settings.NewService(st), cat: actions.Catalogue()}
	w.co = moderation.NewCoordinator(actions.Catalogue(), p, w.cases, w.settings, executor.New(executor.WithRetries(1, time.Millisecond, time.Millisecond)),
		moderation.WithBotUserID(dBot), moderation.WithDMTimeout(testDMTimeout))
	return w
}

func (w *checkWorld) request(t *testing.T, mod int64, action string, target int64) moderation.Request {
	t.Helper()
	a, ok := w.cat.Lookup(action)
	if !ok {
		t.Fatalf("no action %q", action)
	}
	req := moderation.Request{GuildID: dGuild, Moderator: discord.User{ID: discord.UserID(mod), Username: "mod"}, Action: a,
		Target: moderation.Target{ID: discord.UserID(target)}, Reason: "because"}
	if _, ok := a.Flag(moderation.FlagDuration); ok {
		req.Duration = time.Hour
	}
	return req
}

func TestRefusalsHaveNoSideEffect(t *testing.T) {
	t.Parallel()
	allPerms := permissions.BanMembers | permissions.KickMembers | permissions.ModerateMembers | permissions.ManageRoles
	tests := []struct {
		name      string
		botPerms  permissions.Permission
		jailRole  bool
		setup     func(t *testing.T, w *checkWorld)
		mod       int64
		action    string
		target    int64
		want      string
		byName    string
		wantCases int64
		// duration replaces the request's hour; zeroDuration leaves none.
		duration     time.Duration
		zeroDuration bool
	}{
		{name: "yourself", mod: dAlice, action: "ban", target: dAlice, want: "cannot ban yourself"},
		{name: "the owner", mod: dAlice, action: "kick", target: dOwner, want: "owner of this server"},
		{name: "the bot", mod: dAlice, action: "ban", target: dBot, want: "will not ban itself"},
		{name: "equal to the moderator", mod: dAlice, action: "kick", target: dMal, want: "at or above yours"},
		{name: "above the moderator", mod: dAlice, action: "warn", target: dEve, want: "at or above yours"},
		{name: "at or above the bot", mod: dAlice, action: "kick", target: dHenry, want: "at or above gavel's"},
		{name: "missing bot permission", botPerms: permissions.BanMembers, mod: dAlice, action: "kick", target: dBob, want: "lacks the Kick Members permission"},
		{name: "already banned", mod: dAlice, action: "ban", target: dBanned, want: "already banned"},
		{name: "not banned", mod: dAlice, action: "unban", target: dStranger, want: "is not banned"},
		{name: "unban by unknown name", mod: dAlice, action: "unban", byName: "nobody", want: `No banned user is named "nobody"`},
		{name: "not timed out", mod: dAlice, action: "untimeout", target: dBob, want: "not timed out"},
		{name: "timeout of an administrator", mod: dOwner, action: "timeout", target: dEve, want: "administrator"},
		{name: "kick of a non-member", mod: dAlice, action: "kick", target: dStranger, want: "not a member of this server"},
		{name: "jail role not configured", mod: dAlice, action: "jail", target: dBob, want: "No jail role is configured"},
		{name: "not jailed", jailRole: true, mod: dAlice, action: "unjail", target: dBob, want: "is not jailed"},
		{name: "already jailed", jailRole: true, mod: dAlice, action: "jail", target: dBob, want: "already jailed",
			setup: func(t *testing.T, w *checkWorld) {
				if _, err := w.cases.Create(context.Background(), cases.New{GuildID: dGuild, UserID: dBob, ModeratorID: dAlice, Type: cases.Jail, Reason: "earlier"}); err != nil {
					t.Fatal(err)
				}
			}, wantCases: 1},
		{name: "already poll-banned", mod: dAlice, action: "pollban", target: dBob, want: "already banned from creating polls",
			setup: func(t *testing.T, w *checkWorld) {
				if _, err := w.cases.Create(context.Background(), cases.New{GuildID: dGuild, UserID: dBob, ModeratorID: dAlice, Type: cases.Pollban, Reason: "earlier"}); err != nil {
					t.Fatal(err)
				}
			}, wantCases: 1},
		{name: "timeout without a duration", mod: dAlice, action: "timeout", target: dBob, want: "needs a duration", zeroDuration: true},
		{name: "duration out of bounds", mod: dAlice, action: "timeout", target: dBob, want: "too long", duration: 2 * 366 * 24 * time.Hour},
		{name: "duration on an action without one", mod: dAlice, action: "kick", target: dBob, want: "takes no duration", duration: time.Hour},
		{name: "not snippet-banned", mod: dAlice, action: "snippetunban", target: dBob, want: "not banned from creating snippets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			perms := tt.botPerms
			if perms == 0 {
				perms = allPerms
			}
			w := newCheckWorld(t, perms)
			ctx := context.Background()
			if tt.jailRole {
				if _, err := w.settings.SetJailRole(ctx, dGuild, dOwner, rJail); err != nil {
					t.Fatal(err)
				}
			}
			if tt.setup != nil {
				tt.setup(t, w)
			}
			req := w.request(t, tt.mod, tt.action, tt.target)
			if tt.duration != 0 {
				req.Duration = tt.duration
			}
			if tt.zeroDuration {
				req.Duration = 0
			}
			if tt.byName != "" {
				req.Target = moderation.Target{Name: tt.byName}
			}
			res := w.co.Execute(ctx, req)
			if !res.Refused || res.Case != nil || res.Err != nil {
				t.Fatalf("result %+v; want a refusal without a case or an error", res)
			}
			if !strings.Contains(res.Reply.Content, tt.want) {
				t.Errorf("reply %q; want it to say %q", res.Reply.Content, tt.want)
			}
			if res.Reply.AllowedMentions == nil {
				t.Error("the refusal carries no allowed_mentions")
			}
			if got := w.port.Writes(); len(got) != 0 {
				t.Errorf("refusal wrote to Discord: %v", got)
			}
			if n, err := w.cases.CountInGuild(ctx, dGuild); err != nil || n != tt.wantCases {
				t.Errorf("cases in guild = %d, %v; want %d", n, err, tt.wantCases)
			}
		})
	}
}

// The owner is above everyone as a moderator, and the checks let through what they should.
func TestChecksAllowTheOwnerAndRecordsNeedNoDiscordCall(t *testing.T) {
	t.Parallel()
	w := newCheckWorld(t, permissions.BanMembers|permissions.KickMembers)
	ctx := context.Background()
	res := w.co.Execute(ctx, w.request(t, dOwner, "kick", dBob))
	if res.Refused || res.Err != nil || res.Case == nil || res.Case.Status != cases.Active {
		t.Fatalf("owner kicking bob: %+v", res)
	}
	res = w.co.Execute(ctx, w.request(t, dAlice, "snippetban", dBob))
	if res.Refused || res.Err != nil || res.Case == nil || res.Case.Type != cases.Snippetban {
		t.Fatalf("snippetban: %+v", res)
	}
	if res.Case.ExpiresAt.IsZero() {
		t.Error("a snippetban for an hour has no expiry")
	}
	got := w.port.Writes()
	if len(got) != 3 || got[0] != "dm" || got[1] != "kick" || got[2] != "dm" {
		t.Errorf("writes %v; want dm, kick, dm", got)
	}
	// The hierarchy compares like Discord: the same highest role is not above.
	res = w.co.Execute(ctx, w.request(t, dAlice, "snippetunban", dBob))
	if res.Refused || res.Case == nil || res.Case.Type != cases.Snippetunban {
		t.Fatalf("snippetunban: %+v", res)
	}
}

// TestTargetMemberFromTheEvent: a target whose member the command's event carries
// (Request.TargetMember) is not read from Discord, and the event's roles decide the rank
// check; an action that reads the timeout or writes the role list back (FreshMember) reads
// Discord all the same, as does a request whose event carried someone else.
func TestTargetMemberFromTheEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bob := func(roles ...discord.RoleID) *discord.Member {
		return &discord.Member{User: discord.User{ID: dBob, Username: "bob-as-mentioned"}, Roles: roles}
	}
	t.Run("warn and ban take the target from the event", func(t *testing.T) {
		w := newCheckWorld(t, permissions.BanMembers)
		req := w.request(t, dAlice, "warn", dBob)
		req.TargetMember = bob(rMember)
		res := w.co.Execute(ctx, req)
		if res.Refused || res.Err != nil || res.Case == nil || res.Case.Type != cases.Warn {
			t.Fatalf("warn: %+v", res)
		}
		req = w.request(t, dAlice, "ban", dBob)
		req.TargetMember = bob(rMember)
		res = w.co.Execute(ctx, req)
		// A member, so a BAN (not a HACKBAN) and a DM.
		if res.Refused || res.Err != nil || res.Case == nil || res.Case.Type != cases.Ban || res.DM != moderation.DMSent {
			t.Fatalf("ban: %+v", res)
		}
		if !strings.Contains(res.Reply.Content, "bob-as-mentioned") {
			t.Errorf("reply %q; want it to name the event's user", res.Reply.Content)
		}
		if n := w.port.memberReads(dBob); n != 0 {
			t.Errorf("bob read from Discord %d times; want none", n)
		}
	})
	t.Run("the event's roles decide the rank", func(t *testing.T) {
		w := newCheckWorld(t, permissions.BanMembers)
		req := w.request(t, dAlice, "warn", dBob)
		req.TargetMember = bob(rAdmins) // Discord says member; the command saw an admin
		res := w.co.Execute(ctx, req)
		if !res.Refused || !strings.Contains(res.Reply.Content, "at or above yours") {
			t.Fatalf("warn of a target the event puts above the moderator: %+v", res)
		}
		if n := w.port.memberReads(dBob); n != 0 {
			t.Errorf("bob read from Discord %d times; want none", n)
		}
	})
	t.Run("the timeout is read from Discord", func(t *testing.T) {
		w := newCheckWorld(t, permissions.ModerateMembers)
		req := w.request(t, dAlice, "untimeout", dBob)
		req.TargetMember = bob(rMember)
		req.TargetMember.CommunicationDisabledUntil = time.Now().Add(time.Hour) // Discord: not timed out
		res := w.co.Execute(ctx, req)
		if !res.Refused || !strings.Contains(res.Reply.Content, "not timed out") {
			t.Fatalf("untimeout: %+v; want Discord's state to decide", res)
		}
		req = w.request(t, dAlice, "timeout", dBob)
		req.TargetMember = bob(rMember)
		if res := w.co.Execute(ctx, req); res.Refused || res.Err != nil {
			t.Fatalf("timeout: %+v", res)
		}
		if n := w.port.memberReads(dBob); n != 2 {
			t.Errorf("bob read from Discord %d times; want 2 (untimeout, timeout)", n)
		}
	})
	t.Run("a jail reads the roles it writes back", func(t *testing.T) {
		w := newCheckWorld(t, permissions.ManageRoles)
		if _, err := w.settings.SetJailRole(ctx, dGuild, dOwner, rJail); err != nil {
			t.Fatal(err)
		}
		req := w.request(t, dAlice, "jail", dBob)
		req.TargetMember = bob() // the event saw no roles; Discord says member
		res := w.co.Execute(ctx, req)
		if res.Refused || res.Err != nil || res.Case == nil {
			t.Fatalf("jail: %+v", res)
		}
		if got := res.Case.RoleIDs; len(got) != 1 || got[0] != rMember {
			t.Errorf("jail saved roles %v; want Discord's [member]", got)
		}
	})
	t.Run("an event that carried someone else", func(t *testing.T) {
		w := newCheckWorld(t, permissions.BanMembers)
		req := w.request(t, dAlice, "warn", dCarol)
		req.TargetMember = bob(rMember)
		res := w.co.Execute(ctx, req)
		if res.Refused || res.Case == nil || res.Case.UserID != dCarol {
			t.Fatalf("warn of carol: %+v", res)
		}
		if n := w.port.memberReads(dCarol); n != 1 {
			t.Errorf("carol read %d times; want 1", n)
		}
	})
}
