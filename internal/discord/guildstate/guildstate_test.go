package guildstate

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelbot/gavel/internal/discord"
)

const (
	bot   = 900
	gid   = 100
	mods  = 101
	vip   = 102
	owner = 1
)

func seeded() *State {
	s := New()
	s.Reset(bot)
	s.PutGuild(discord.Guild{ID: gid, Name: "g", OwnerID: owner, Roles: []discord.Role{
		{ID: gid, Name: "@everyone"}, {ID: mods, Name: "mods", Position: 1, Permissions: 4}}}, []discord.RoleID{mods}, true)
	return s
}

func TestEventsUpdateTheGuild(t *testing.T) {
	s := seeded()
	before, _ := s.Guild(gid)

	s.PutRole(gid, discord.Role{ID: vip, Name: "vip", Position: 2})
	s.PutRole(gid, discord.Role{ID: mods, Name: "mods", Position: 1, Permissions: 8})
	s.UpdateGuild(gid, "renamed", 2)
	g, ok := s.Guild(gid)
	if !ok {
		t.Fatal("gid lost")
	}
	if r, _ := g.Role(mods); r.Permissions != 8 {
		t.Errorf("mods after ROLE_UPDATE = %+v", r)
	}
	if _, ok := g.Role(vip); !ok || g.OwnerID != 2 || g.Name != "renamed" || len(g.Roles) != 3 {
		t.Errorf("gid after the events = %+v", g)
	}
	// A Guild handed out earlier is not changed under its reader.
	if r, _ := before.Role(mods); r.Permissions != 4 || len(before.Roles) != 2 {
		t.Errorf("an earlier read changed: %+v", before)
	}

	s.DeleteRole(gid, mods)
	g, _ = s.Guild(gid)
	if _, ok := g.Role(mods); ok {
		t.Error("a deleted role is still there")
	}
	if roles, ok := s.BotRoles(gid); !ok || len(roles) != 0 {
		t.Errorf("gavel's roles after its role was deleted = %v, %v", roles, ok)
	}
}

func TestOnlyGavelsMemberIsKept(t *testing.T) {
	s := seeded()
	s.SetMemberRoles(gid, 5, []discord.RoleID{vip})
	if roles, _ := s.BotRoles(gid); !cmp.Equal(roles, []discord.RoleID{mods}) {
		t.Errorf("another member's update changed gavel's roles: %v", roles)
	}
	s.SetMemberRoles(gid, bot, []discord.RoleID{vip})
	if roles, _ := s.BotRoles(gid); !cmp.Equal(roles, []discord.RoleID{vip}) {
		t.Errorf("gavel's roles = %v; want [vip]", roles)
	}
	// A GUILD_CREATE without gavel's member leaves gavel's roles unknown.
	s.PutGuild(discord.Guild{ID: 200}, nil, false)
	if _, ok := s.BotRoles(200); ok {
		t.Error("gavel's roles known without an event saying them")
	}
}

func TestForgetAndReset(t *testing.T) {
	s := seeded()
	s.Forget(gid)
	if _, ok := s.Guild(gid); ok {
		t.Error("a forgotten gid is still served")
	}
	// Events about a gid the state does not hold change nothing.
	s.PutRole(gid, discord.Role{ID: vip})
	s.SetMemberRoles(gid, bot, []discord.RoleID{vip})
	if _, ok := s.Guild(gid); ok {
		t.Error("a role event brought back a forgotten gid")
	}
	s = seeded()
	s.Reset(bot + 1)
	if _, ok := s.Guild(gid); ok || s.BotID() != bot+1 {
		t.Error("Reset kept the old session's guilds")
	}
}

// port answers Guild and Member itself and counts the calls that reach it.
type port struct {
	discord.Port
	guilds, members int
}

func (p *port) Guild(_ context.Context, id discord.GuildID) (discord.Guild, error) {
	p.guilds++
	return discord.Guild{ID: id, Name: "from REST"}, nil
}

func (p *port) Member(_ context.Context, _ discord.GuildID, userID discord.UserID) (discord.Member, error) {
	p.members++
	if userID == 404 {
		return discord.Member{}, errors.New("unknown member")
	}
	return discord.Member{User: discord.User{ID: userID}}, nil
}

func TestPortServesFromTheState(t *testing.T) {
	ctx := context.Background()
	rest := &port{}
	s := seeded()
	p := Port{Port: rest, State: s}
	if g, err := p.Guild(ctx, gid); err != nil || g.Name != "g" {
		t.Errorf("Guild = %+v, %v; want the state's", g, err)
	}
	if m, err := p.Member(ctx, gid, bot); err != nil || !cmp.Equal(m.Roles, []discord.RoleID{mods}) || m.User.ID != bot {
		t.Errorf("gavel's Member = %+v, %v; want its roles from the state", m, err)
	}
	if rest.guilds != 0 || rest.members != 0 {
		t.Errorf("REST calls: %d guilds, %d members; want none", rest.guilds, rest.members)
	}
	// Unknown guilds, other members and gavel in an unknown gid go to REST.
	if g, _ := p.Guild(ctx, 300); g.Name != "from REST" {
		t.Errorf("unknown gid = %+v", g)
	}
	_, _ = p.Member(ctx, gid, 5)
	_, _ = p.Member(ctx, 300, bot)
	if _, err := p.Member(ctx, gid, 404); err == nil {
		t.Error("a REST error was lost")
	}
	if rest.guilds != 1 || rest.members != 3 {
		t.Errorf("REST calls: %d guilds, %d members; want 1 and 3", rest.guilds, rest.members)
	}
}

func TestResetShardForgetsOnlyThatShardsGuilds(t *testing.T) {
	s := New()
	const bot = discord.UserID(1)
	s.Reset(bot)
	// Guild ids whose (id >> 22) % 4 is 0, 1, 2, 3.
	ids := []discord.GuildID{4 << 22, 1 << 22, 2 << 22, 3 << 22, 5 << 22}
	for _, id := range ids {
		s.PutGuild(discord.Guild{ID: id}, nil, false)
	}
	s.ResetShard(bot, 1, 4)
	got := s.Guilds()
	want := []discord.GuildID{2 << 22, 3 << 22, 4 << 22}
	if len(got) != len(want) {
		t.Fatalf("after a new session on shard 1 of 4: %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("after a new session on shard 1 of 4: %v, want %v", got, want)
		}
	}
	s.ResetShard(bot, 0, 1)
	if len(s.Guilds()) != 0 {
		t.Errorf("a new session of the only shard keeps %v", s.Guilds())
	}
}

// Shards apply their own guilds' events concurrently (run with -race).
func TestShardsChangeTheStateConcurrently(t *testing.T) {
	s := New()
	s.Reset(1)
	var wg sync.WaitGroup
	for shard := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := discord.GuildID(uint64(i*4+shard) << 22)
				s.PutGuild(discord.Guild{ID: id}, nil, false)
				s.PutRole(id, discord.Role{ID: 7, Position: 1})
				if _, ok := s.Guild(id); !ok {
					t.Errorf("guild %d of shard %d lost", id, shard)
				}
				if i%50 == 0 {
					s.ResetShard(1, shard, 4)
				}
			}
		}()
	}
	wg.Wait()
}

// TestWatch: the watchers hear of every member event (any member, not only gavel), of a
// forgotten guild (user 0) and of a new session (guild 0).
func TestWatch(t *testing.T) {
	s := New()
	type heard struct {
		g discord.GuildID
		u discord.UserID
	}
	var got []heard
	s.Watch(func(g discord.GuildID, u discord.UserID) { got = append(got, heard{g, u}) })
	s.Reset(9)
	s.PutGuild(discord.Guild{ID: 1}, nil, false)
	s.SetMemberRoles(1, 2, []discord.RoleID{3})
	s.SetMemberRoles(1, 9, []discord.RoleID{4})
	s.MemberLeft(1, 2)
	s.Forget(1)
	want := []heard{{0, 0}, {1, 2}, {1, 9}, {1, 2}, {1, 0}}
	if len(got) != len(want) {
		t.Fatalf("heard %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: heard %v; want %v", i, got[i], want[i])
		}
	}
	if roles, ok := s.BotRoles(1); ok {
		t.Errorf("the forgotten guild still has gavel's roles %v", roles)
	}
}
