// Package guildstate keeps what every moderation command reads about its guild, the owner,
// the roles (positions and permissions) and gavel's own roles, as the gateway reports them,
// so that a command does not have to ask Discord's REST API for them each time.
//
// # Why a stale value cannot let a check pass that Discord would refuse
//
//   - Order. The gateway delivers one session's events in sequence, and the router applies
//     them to the State on the goroutine that also receives the commands (MESSAGE_CREATE,
//     INTERACTION_CREATE), before the command is handed on. So when a command is checked,
//     every role, permission or ownership change Discord dispatched before the command is
//     already in the State: the checks see the guild at least as it was when the moderator
//     issued the command. The moderator's own roles come from the command's event itself,
//     which is no newer. (A REST read made while the command runs can see a change made
//     after it was issued; the State sees it a moment later, with its event.)
//   - What the State cannot follow, it forgets, and the Port asks Discord instead: a guild
//     the session has not announced (no GUILD_CREATE yet), one it lost (GUILD_DELETE), an
//     event about a role or member of a guild it does not hold. A new session (READY) clears
//     everything, because events may have been missed between the sessions; each guild
//     comes back with its GUILD_CREATE. A resumed session replays what it missed, in order.
//   - gavel's own roles decide only what gavel may do, and Discord checks that itself on
//     every action (role hierarchy and permissions): a stale value can at worst refuse an
//     action Discord would allow, or meet a 403, which voids the case and tells the
//     moderator. It can never make Discord carry out what it would refuse.
//
// Members other than gavel are not kept. A command's target comes, like the moderator's
// roles, from the command's event when it carries the target's member (a mention's member,
// a slash command's resolved member: moderation.Request.TargetMember), by the same
// reasoning; otherwise, and for an action that needs the target's timeout or writes their
// role list back (moderation.Action.FreshMember), it is read from Discord.
package guildstate

import (
	"context"
	"slices"
	"sync"

	"github.com/gavelbot/gavel/internal/discord"
)

// State is the guilds the gateway sessions of one process serve, one session per shard.
// It is safe for concurrent use, and shards change it concurrently: a guild lives on one
// shard, whose events arrive in order, so the methods that change a guild are called in the
// order of that guild's events.
type State struct {
	mu     sync.RWMutex
	botID  discord.UserID
	guilds map[discord.GuildID]*guild
	// watchers are told of member changes (Watch).
	watchers []func(discord.GuildID, discord.UserID)
}

// Watch registers fn, told after the State applied an event that may change what a member
// may do: a member joined, changed (roles) or left (guild and user), a guild was forgotten
// (user 0: all of its members), or a new session began (guild 0: every member, since events
// may have been missed). The State keeps no members but gavel; a cache of members kept
// elsewhere (the dashboard's) drops its entries on it. fn runs on the gateway's goroutine:
// it must be quick and must not call back into the State's writers.
func (s *State) Watch(fn func(discord.GuildID, discord.UserID)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers = append(s.watchers, fn)
}

// tell calls the watchers, outside the lock.
func (s *State) tell(guildID discord.GuildID, userID discord.UserID) {
	s.mu.RLock()
	ws := s.watchers
	s.mu.RUnlock()
	for _, fn := range ws {
		fn(guildID, userID)
	}
}

type guild struct {
	g discord.Guild
	// botRoles are gavel's roles; botKnown is false until an event has said them.
	botRoles []discord.RoleID
	botKnown bool
}

// New returns an empty State.
func New() *State { return &State{guilds: map[discord.GuildID]*guild{}} }

// Reset starts a new session: everything is forgotten, and botID is gavel's user id.
func (s *State) Reset(botID discord.UserID) {
	s.mu.Lock()
	s.botID = botID
	clear(s.guilds)
	s.mu.Unlock()
	s.tell(0, 0)
}

// ResetShard starts a new session on shard shardID of shardCount: the guilds of that shard,
// (guild_id >> 22) % shardCount, are forgotten (they come back with its GUILD_CREATEs),
// those of the other shards are kept. A count below 2 is Reset.
func (s *State) ResetShard(botID discord.UserID, shardID, shardCount int) {
	if shardCount < 2 {
		s.Reset(botID)
		return
	}
	s.mu.Lock()
	s.botID = botID
	for id := range s.guilds {
		if int((uint64(id)>>22)%uint64(shardCount)) == shardID {
			delete(s.guilds, id)
		}
	}
	s.mu.Unlock()
	// The shard's member events between the sessions may be lost: the watchers forget
	// every member (a few Discord reads again, rather than a role change missed).
	s.tell(0, 0)
}

// BotID is gavel's user id, 0 before the first Reset.
func (s *State) BotID() discord.UserID {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.botID
}

// PutGuild stores a guild as GUILD_CREATE describes it (every role, @everyone included),
// with gavel's roles when the event carried gavel's member (botKnown).
func (s *State) PutGuild(g discord.Guild, botRoles []discord.RoleID, botKnown bool) {
	g.Roles = slices.Clone(g.Roles)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guilds[g.ID] = &guild{g: g, botRoles: slices.Clone(botRoles), botKnown: botKnown}
}

// UpdateGuild applies GUILD_UPDATE: the name and the owner (roles change through their own
// events).
func (s *State) UpdateGuild(id discord.GuildID, name string, ownerID discord.UserID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.guilds[id]; e != nil {
		e.g.Name, e.g.OwnerID = name, ownerID
	}
}

// Forget drops a guild: gavel left it, it became unavailable, or an event could not be
// applied.
func (s *State) Forget(id discord.GuildID) {
	s.mu.Lock()
	delete(s.guilds, id)
	s.mu.Unlock()
	s.tell(id, 0)
}

// PutRole applies GUILD_ROLE_CREATE and GUILD_ROLE_UPDATE.
func (s *State) PutRole(guildID discord.GuildID, r discord.Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.guilds[guildID]
	if e == nil {
		return
	}
	// Copy on write: Guild hands out the slice, which readers may still hold.
	roles := make([]discord.Role, 0, len(e.g.Roles)+1)
	for _, old := range e.g.Roles {
		if old.ID != r.ID {
			roles = append(roles, old)
		}
	}
	e.g.Roles = append(roles, r)
}

// DeleteRole applies GUILD_ROLE_DELETE. Members lose the role too: gavel's own role list
// is cleaned here, and other members are read from Discord when needed.
func (s *State) DeleteRole(guildID discord.GuildID, roleID discord.RoleID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.guilds[guildID]
	if e == nil {
		return
	}
	e.g.Roles = slices.DeleteFunc(slices.Clone(e.g.Roles), func(r discord.Role) bool { return r.ID == roleID })
	e.botRoles = slices.DeleteFunc(slices.Clone(e.botRoles), func(id discord.RoleID) bool { return id == roleID })
}

// SetMemberRoles applies GUILD_MEMBER_ADD and GUILD_MEMBER_UPDATE; only gavel's own member
// is kept, and the watchers are told of any.
func (s *State) SetMemberRoles(guildID discord.GuildID, userID discord.UserID, roles []discord.RoleID) {
	s.mu.Lock()
	if e := s.guilds[guildID]; e != nil && userID == s.botID && s.botID != 0 {
		e.botRoles, e.botKnown = slices.Clone(roles), true
	}
	s.mu.Unlock()
	s.tell(guildID, userID)
}

// MemberLeft applies GUILD_MEMBER_REMOVE (a member left, was kicked or banned): the
// watchers are told.
func (s *State) MemberLeft(guildID discord.GuildID, userID discord.UserID) {
	s.tell(guildID, userID)
}

// Guild returns a guild's owner and roles, if the State holds the guild. The result shares
// memory with the State: do not modify it.
func (s *State) Guild(id discord.GuildID) (discord.Guild, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.guilds[id]
	if e == nil {
		return discord.Guild{}, false
	}
	return e.g, true
}

// Guilds returns the ids of the guilds the State holds (those gavel is in), in id order.
func (s *State) Guilds() []discord.GuildID {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]discord.GuildID, 0, len(s.guilds))
	for id := range s.guilds {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// BotRoles returns gavel's roles in a guild, if the State knows them. The result shares
// memory with the State: do not modify it.
func (s *State) BotRoles(guildID discord.GuildID) ([]discord.RoleID, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.guilds[guildID]
	if e == nil || !e.botKnown {
		return nil, false
	}
	return e.botRoles, true
}

// Port is a discord.Port that answers Guild, and Member for gavel itself, from a State when
// it can, and from the Port it wraps otherwise. Every other call goes to the wrapped Port.
type Port struct {
	discord.Port
	State *State
}

// Guild implements discord.Port.
func (p Port) Guild(ctx context.Context, guildID discord.GuildID) (discord.Guild, error) {
	if g, ok := p.State.Guild(guildID); ok {
		return g, nil
	}
	return p.Port.Guild(ctx, guildID)
}

// Member implements discord.Port. gavel's own member carries its roles and user id only,
// which is all the moderation checks read of it.
func (p Port) Member(ctx context.Context, guildID discord.GuildID, userID discord.UserID) (discord.Member, error) {
	if bot := p.State.BotID(); bot != 0 && userID == bot {
		if roles, ok := p.State.BotRoles(guildID); ok {
			return discord.Member{User: discord.User{ID: bot, Bot: true}, Roles: roles}, nil
		}
	}
	return p.Port.Member(ctx, guildID, userID)
}
