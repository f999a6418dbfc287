package restcache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
)

// source answers from maps and counts the calls, as Discord's REST API would be counted.
type source struct {
	discord.Port // the calls the cache passes through are not made here
	mu           sync.Mutex
	members      map[discord.UserID]discord.Member
	guilds       map[discord.GuildID]discord.Guild
	memberCalls  int
	guildCalls   int
}

func (s *source) Member(_ context.Context, _ discord.GuildID, u discord.UserID) (discord.Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.memberCalls++
	m, ok := s.members[u]
	if !ok {
		return discord.Member{}, &discord.Error{Op: "get member", Status: 404, Code: discord.CodeUnknownMember}
	}
	return m, nil
}

func (s *source) Guild(_ context.Context, id discord.GuildID) (discord.Guild, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guildCalls++
	g, ok := s.guilds[id]
	if !ok {
		return discord.Guild{}, &discord.Error{Op: "get guild", Status: 404, Code: discord.CodeUnknownGuild}
	}
	return g, nil
}

func (s *source) calls() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.memberCalls, s.guildCalls
}

func TestMemberCache(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	src := &source{members: map[discord.UserID]discord.Member{1: {Roles: []discord.RoleID{10}}, 2: {}, 3: {}}}
	c := New(Config{Source: src, Clock: clk, MaxMembers: 2})

	for range 3 {
		if m, err := c.Member(ctx, 5, 1); err != nil || len(m.Roles) != 1 {
			t.Fatalf("member 1: %+v %v", m, err)
		}
	}
	if n, _ := src.calls(); n != 1 {
		t.Errorf("%d calls for three reads within the TTL; want 1", n)
	}
	clk.Advance(DefaultMemberTTL)
	if _, err := c.Member(ctx, 5, 1); err != nil {
		t.Fatal(err)
	}
	if n, _ := src.calls(); n != 2 {
		t.Errorf("%d calls after the TTL; want 2", n)
	}

	// Not a member: asked every time, never kept.
	for range 2 {
		if _, err := c.Member(ctx, 5, 9); !discord.IsCode(err, discord.CodeUnknownMember) {
			t.Fatalf("non-member: %v", err)
		}
	}
	if n, _ := src.calls(); n != 4 || c.Members() != 1 {
		t.Errorf("%d calls, %d cached after two misses of a non-member; want 4 and 1", n, c.Members())
	}

	// The table holds two: a third member pushes out the oldest (member 1).
	clk.Advance(time.Second)
	c.Member(ctx, 5, 2)
	clk.Advance(time.Second)
	c.Member(ctx, 5, 3)
	if c.Members() != 2 {
		t.Errorf("%d members cached; want the bound, 2", c.Members())
	}
	before, _ := src.calls()
	c.Member(ctx, 5, 3)
	c.Member(ctx, 5, 2)
	if n, _ := src.calls(); n != before {
		t.Errorf("the two newest were not kept: %d calls", n-before)
	}
	c.Member(ctx, 5, 1)
	if n, _ := src.calls(); n != before+1 {
		t.Errorf("the oldest was kept past the bound")
	}
}

func TestGuildRefresh(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	src := &source{guilds: map[discord.GuildID]discord.Guild{7: {OwnerID: 1}, 8: {OwnerID: 2}}}
	c := New(Config{Source: src, Clock: clk})
	// A guild gavel was recorded in but Discord no longer shows is left out, not an error.
	if err := c.LoadGuilds(ctx, []discord.GuildID{7, 99}); err != nil {
		t.Fatal(err)
	}
	if got := c.Guilds(); len(got) != 1 || got[0] != 7 {
		t.Fatalf("guilds after the load: %v", got)
	}
	if g, err := c.Guild(ctx, 7); err != nil || g.OwnerID != 1 {
		t.Fatalf("guild 7: %+v %v", g, err)
	}
	if _, n := src.calls(); n != 2 {
		t.Errorf("%d guild calls; want the load's 2 and none for the loaded guild", n)
	}

	list := make(chan []discord.GuildID, 1)
	list <- []discord.GuildID{7, 8}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Refresh(ctx, func(context.Context) ([]discord.GuildID, error) {
			select {
			case ids := <-list:
				return ids, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}, func(err error) { t.Errorf("refresh: %v", err) })
	}()
	if err := clk.WaitArmed(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultGuildRefresh)
	// The second round's timer is armed once the first round has loaded.
	if err := clk.WaitArmedAfter(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := c.Guilds(); len(got) != 2 || got[1] != 8 {
		t.Errorf("guilds after a refresh: %v", got)
	}
	cancel()
	<-done
}

// TestForget: an entry dropped by Forget (one member, a guild's members, every member) is
// read from Discord again on its next use, and the others stay; GuildsFromSource reads the
// guild from the source every time and keeps none.
func TestForget(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	src := &source{members: map[discord.UserID]discord.Member{1: {}, 2: {}}, guilds: map[discord.GuildID]discord.Guild{5: {ID: 5}}}
	c := New(Config{Source: src, Clock: clk, GuildsFromSource: true})
	read := func(g discord.GuildID, u discord.UserID) {
		t.Helper()
		if _, err := c.Member(ctx, g, u); err != nil {
			t.Fatal(err)
		}
	}
	calls := func() int { n, _ := src.calls(); return n }
	for _, k := range [][2]int{{5, 1}, {5, 2}, {6, 1}} {
		read(discord.GuildID(k[0]), discord.UserID(k[1]))
	}
	if c.Members() != 3 || calls() != 3 {
		t.Fatalf("%d cached after %d calls; want 3 and 3", c.Members(), calls())
	}
	c.Forget(5, 1)
	read(5, 2)
	read(6, 1)
	if calls() != 3 {
		t.Errorf("forgetting (5, 1) dropped others: %d calls", calls())
	}
	read(5, 1)
	if calls() != 4 {
		t.Errorf("(5, 1) was not read again after Forget: %d calls", calls())
	}
	c.Forget(5, 0)
	if c.Members() != 1 {
		t.Errorf("%d cached after forgetting guild 5; want guild 6's one", c.Members())
	}
	c.Forget(0, 0)
	if c.Members() != 0 {
		t.Errorf("%d cached after forgetting all", c.Members())
	}
	for range 2 {
		if g, err := c.Guild(ctx, 5); err != nil || g.ID != 5 {
			t.Fatalf("guild: %+v %v", g, err)
		}
	}
	if _, n := src.calls(); n != 2 {
		t.Errorf("%d guild reads for two pages with GuildsFromSource; want 2", n)
	}
}
