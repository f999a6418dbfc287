package discordtest

import (
	"fmt"
	"strconv"
	"time"
)

// BulkGuilds describes many alike guilds for SeedGuilds: what a sharding test or a
// benchmark needs (thousands of guilds of a thousand members each), made without an event
// and without taking the server's lock once per object.
type BulkGuilds struct {
	// Count is how many guilds to create.
	Count int
	// Members is how many members each guild has besides its owner and the bot; each member
	// is a user of its own (distinct across guilds), as on Discord.
	Members int
	// NamePrefix names the guilds NamePrefix-0, NamePrefix-1, … (default "guild").
	NamePrefix string
}

// BulkGuild is one guild SeedGuilds made: the bot is a member with a role "gavel" that has
// Administrator; the owner also holds a "mods" role (ban, kick, moderate members); the text
// channel "general" is the first channel.
type BulkGuild struct {
	ID      ID
	Owner   ID
	BotRole ID
	ModRole ID
	Channel ID
	// Members are the members besides the owner and the bot, in creation order.
	Members []ID
}

// SeedGuilds creates b.Count guilds at once. Their ids are snowflakes one millisecond apart,
// so that (guild_id >> 22) % num_shards spreads them evenly over the shards, as Discord's
// guild ids spread (ids made in the same millisecond would all land on one shard). Nothing is
// dispatched: connect the gateway afterwards and the guilds arrive with READY.
func (s *Server) SeedGuilds(b BulkGuilds) ([]BulkGuild, error) {
	if b.Count < 0 || b.Members < 0 {
		return nil, fmt.Errorf("seed guilds: count %d and members %d must not be negative", b.Count, b.Members)
	}
	prefix := b.NamePrefix
	if prefix == "" {
		prefix = "guild"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	joined := now.UTC()
	out := make([]BulkGuild, b.Count)
	users := make([]User, b.Count*(b.Members+1)) // one allocation for every user
	members := make([]Member, b.Count*(b.Members+2))
	noRoles := []ID{}
	ui, mi := 0, 0
	addMember := func(g *Guild, user ID, roles []ID) {
		m := &members[mi]
		mi++
		*m = Member{UserID: user, Roles: roles, JoinedAt: joined}
		g.Members[user] = m
	}
	// The guild ids first, in consecutive milliseconds: the users made meanwhile take ids
	// from the wall clock, which would leave gaps.
	ids := make([]ID, b.Count)
	for i := range ids {
		ids[i] = s.ids.nextMillisecond(now)
	}
	// The users' ids as one block; the users map grown once.
	nextUser := s.ids.block(now, len(users))
	if grown := len(s.st.users) + len(users); grown > 2*len(s.st.users) {
		m := make(map[ID]*User, grown)
		for id, u := range s.st.users {
			m[id] = u
		}
		s.st.users = m
	}
	userID := func() ID { id := nextUser; nextUser++; return id }
	for i := range out {
		name := prefix + "-" + strconv.Itoa(i)
		owner := &users[ui]
		ui++
		*owner = User{ID: userID(), Username: name + "-owner"}
		s.st.users[owner.ID] = owner
		id := ids[i]
		g := newGuild(id, name, owner.ID)
		g.Members = make(map[ID]*Member, b.Members+2)
		botRole := &Role{ID: s.newID(), Name: "gavel", Position: 2, Permissions: PermAdministrator}
		modRole := &Role{ID: s.newID(), Name: "mods", Position: 1, Permissions: PermBanMembers | PermKickMembers | PermModerateMembers}
		g.Roles[botRole.ID], g.Roles[modRole.ID] = botRole, modRole
		ch := &Channel{ID: s.newID(), Type: ChannelGuildText, GuildID: id, Name: "general", PermissionOverwrites: []Overwrite{}}
		g.Channels[ch.ID] = ch
		s.st.channels[ch.ID] = ch
		addMember(g, owner.ID, []ID{modRole.ID})
		addMember(g, s.botID, []ID{botRole.ID})
		bg := BulkGuild{ID: id, Owner: owner.ID, BotRole: botRole.ID, ModRole: modRole.ID, Channel: ch.ID, Members: make([]ID, b.Members)}
		for j := 0; j < b.Members; j++ {
			u := &users[ui]
			ui++
			*u = User{ID: userID(), Username: name + "-member-" + strconv.Itoa(j)}
			s.st.users[u.ID] = u
			addMember(g, u.ID, noRoles)
			bg.Members[j] = u.ID
		}
		s.st.guilds[id] = g
		out[i] = bg
	}
	return out, nil
}

// nextMillisecond returns a snowflake whose timestamp is at least one millisecond after the
// last id handed out (and not before now), so that ids made in a row are consecutive in
// id >> 22.
func (s *idSource) nextMillisecond(now time.Time) ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := uint64(now.UnixMilli()-discordEpoch) << 22
	if next := (s.last>>22 + 1) << 22; v < next {
		v = next
	}
	s.last = v
	return ID(v)
}

// block reserves n consecutive snowflakes and returns the first.
func (s *idSource) block(now time.Time, n int) ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := uint64(now.UnixMilli()-discordEpoch) << 22
	if v <= s.last {
		v = s.last + 1
	}
	s.last = v + uint64(n)
	return ID(v)
}
