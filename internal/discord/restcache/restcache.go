// Package restcache answers the dashboard's questions about guilds and members over REST
// when the process holds no gateway (gavel web): it caches each member for a few minutes on
// an injected clock, in a bounded table, and keeps the guilds (owner and roles) loaded ahead
// of the pages, so that a page whose member is not cached makes one Discord call, not two.
// gavel run's dashboard caches its members in one too (GuildsFromSource: the guilds come
// from the gateway's state), and drops a member's entry when the gateway says the member
// changed or left (Forget).
package restcache

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gavelbot/gavel/internal/clock"
	"github.com/gavelbot/gavel/internal/discord"
)

// Defaults for Config.
const (
	// DefaultMemberTTL is how long a member's roles are trusted: a role taken away still
	// opens the dashboard for at most this long.
	DefaultMemberTTL = 5 * time.Minute
	// DefaultGuildRefresh is how often the guilds' owners and roles are read again.
	DefaultGuildRefresh = 5 * time.Minute
	// DefaultMaxMembers bounds the member table; past it the oldest entry goes.
	DefaultMaxMembers = 10000
)

// Source is the REST side: the Port's guild and member reads.
type Source interface {
	discord.Guilds
	discord.Members
}

// Config is what a Cache works with.
type Config struct {
	Source Source
	// Clock times the entries (nil: the system's).
	Clock        clock.Clock
	MemberTTL    time.Duration
	GuildRefresh time.Duration
	MaxMembers   int
	// GuildsFromSource: Guild asks Source every time and keeps nothing (gavel run, whose
	// Source answers from the gateway's state, always current).
	GuildsFromSource bool
}

type memberKey struct {
	guild discord.GuildID
	user  discord.UserID
}

type memberEntry struct {
	m  discord.Member
	at time.Time
}

// Cache is a discord.Guilds and discord.Members over REST with the caching above.
// Its other member calls (kick, timeout, …) go to Source as they are.
type Cache struct {
	Source
	cfg     Config
	mu      sync.Mutex
	members map[memberKey]memberEntry
	guilds  map[discord.GuildID]discord.Guild
	// forgets counts Forget calls: a read from Source that a Forget overtook is not kept,
	// as it may predate the change the Forget was for.
	forgets uint64
}

// New builds a Cache.
func New(cfg Config) *Cache {
	cfg.Clock = clock.OrSystem(cfg.Clock)
	if cfg.MemberTTL <= 0 {
		cfg.MemberTTL = DefaultMemberTTL
	}
	if cfg.GuildRefresh <= 0 {
		cfg.GuildRefresh = DefaultGuildRefresh
	}
	if cfg.MaxMembers <= 0 {
		cfg.MaxMembers = DefaultMaxMembers
	}
	return &Cache{Source: cfg.Source, cfg: cfg, members: map[memberKey]memberEntry{}, guilds: map[discord.GuildID]discord.Guild{}}
}

// Member returns a member from the table while younger than MemberTTL, else from Discord.
// A "not a member" answer is not cached: the next page asks again, so a member who just
// joined is let in at once.
func (c *Cache) Member(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (discord.Member, error) {
	key := memberKey{guildID, userID}
	now := c.cfg.Clock.Now()
	c.mu.Lock()
	e, ok := c.members[key]
	forgets := c.forgets
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.cfg.MemberTTL {
		return e.m, nil
	}
	m, err := c.cfg.Source.Member(ctx, guildID, userID)
	if err != nil {
		return discord.Member{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forgets != forgets {
		return m, nil
	}
	if _, had := c.members[key]; !had && len(c.members) >= c.cfg.MaxMembers {
		c.evictLocked(now)
	}
	c.members[key] = memberEntry{m: m, at: now}
	return m, nil
}

// evictLocked makes room for one entry: the expired ones go, and if none had, the oldest.
func (c *Cache) evictLocked(now time.Time) {
	var oldest memberKey
	var oldestAt time.Time
	for k, e := range c.members {
		if now.Sub(e.at) >= c.cfg.MemberTTL {
			delete(c.members, k)
			continue
		}
		if oldestAt.IsZero() || e.at.Before(oldestAt) {
			oldest, oldestAt = k, e.at
		}
	}
	if len(c.members) >= c.cfg.MaxMembers {
		delete(c.members, oldest)
	}
}

// Forget drops a member's entry (userID 0: every member of the guild; guildID 0: every
// member), so that the next page reads it from Discord again. gavel run calls it from the
// gateway's member events (guildstate.State.Watch).
func (c *Cache) Forget(guildID discord.GuildID, userID discord.UserID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgets++
	switch {
	case guildID == 0:
		clear(c.members)
	case userID == 0:
		for k := range c.members {
			if k.guild == guildID {
				delete(c.members, k)
			}
		}
	default:
		delete(c.members, memberKey{guildID, userID})
	}
}

// Members is how many members the table holds.
func (c *Cache) Members() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.members)
}

// Guild returns the guild as last loaded; a guild not loaded yet (gavel joined it since the
// last refresh) is read from Discord and kept.
func (c *Cache) Guild(ctx context.Context, guildID discord.GuildID) (discord.Guild, error) {
	if c.cfg.GuildsFromSource {
		return c.cfg.Source.Guild(ctx, guildID)
	}
	c.mu.Lock()
	g, ok := c.guilds[guildID]
	c.mu.Unlock()
	if ok {
		return g, nil
	}
	g, err := c.cfg.Source.Guild(ctx, guildID)
	if err != nil {
		return discord.Guild{}, err
	}
	c.mu.Lock()
	c.guilds[guildID] = g
	c.mu.Unlock()
	return g, nil
}

// LoadGuilds reads the given guilds from Discord and replaces the guild table with them,
// so that the pages find them loaded. A guild Discord no longer shows gavel is left out.
func (c *Cache) LoadGuilds(ctx context.Context, ids []discord.GuildID) error {
	fresh := make(map[discord.GuildID]discord.Guild, len(ids))
	for _, id := range ids {
		g, err := c.cfg.Source.Guild(ctx, id)
		if discord.IsCode(err, discord.CodeUnknownGuild) || discord.IsStatus(err, 403) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading guild %d: %w", id, err)
		}
		fresh[id] = g
	}
	c.mu.Lock()
	c.guilds = fresh
	c.mu.Unlock()
	return nil
}

// Refresh loads the guilds that list returns every GuildRefresh on the clock, until ctx
// ends; the first load is the caller's (LoadGuilds, before the first page). A failed
// refresh keeps the guilds loaded before and is reported to failed; the next round tries
// again.
func (c *Cache) Refresh(ctx context.Context, list func(context.Context) ([]discord.GuildID, error), failed func(error)) {
	for {
		t := clock.After(c.cfg.Clock, c.cfg.GuildRefresh)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		ids, err := list(ctx)
		if err == nil {
			err = c.LoadGuilds(ctx, ids)
		}
		if err != nil && ctx.Err() == nil && failed != nil {
			failed(err)
		}
	}
}

// Guilds lists the guilds loaded, in id order.
func (c *Cache) Guilds() []discord.GuildID {
	c.mu.Lock()
	out := make([]discord.GuildID, 0, len(c.guilds))
	for id := range c.guilds {
		out = append(out, id)
	}
	c.mu.Unlock()
	slices.Sort(out)
	return out
}
