package discordtest

import (
	"fmt"
)

// Seed is an initial state: what cmd/fakediscord reads from --state, and what tests can
// pass to WithSeed. Ids left 0 are assigned.
type Seed struct {
	Users  []User      `json:"users"`
	Guilds []SeedGuild `json:"guilds"`
}

// SeedGuild is a guild of a Seed. The bot is made a member of every guild, with the roles
// listed in BotRoles.
type SeedGuild struct {
	ID       ID           `json:"id"`
	Name     string       `json:"name"`
	OwnerID  ID           `json:"owner_id"`
	Roles    []Role       `json:"roles"`
	Members  []SeedMember `json:"members"`
	Channels []Channel    `json:"channels"`
	BotRoles []ID         `json:"bot_roles"`
	// Everyone overrides the permissions of @everyone.
	Everyone *Permissions `json:"everyone_permissions"`
}

// SeedMember is a member of a SeedGuild.
type SeedMember struct {
	UserID ID      `json:"user_id"`
	Roles  []ID    `json:"roles"`
	Nick   *string `json:"nick"`
}

// Load adds a seed to the state.
func (s *Server) Load(seed Seed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range seed.Users {
		if u.ID == 0 {
			u.ID = s.newID()
		}
		u := u
		s.st.users[u.ID] = &u
	}
	for _, sg := range seed.Guilds {
		if sg.ID == 0 {
			sg.ID = s.newID()
		}
		if _, ok := s.st.users[sg.OwnerID]; !ok {
			return fmt.Errorf("seed guild %s: owner %s is not a user", sg.ID, sg.OwnerID)
		}
		g := newGuild(sg.ID, sg.Name, sg.OwnerID)
		if sg.Everyone != nil {
			g.Roles[g.ID].Permissions = *sg.Everyone
		}
		for _, r := range sg.Roles {
			if r.ID == 0 {
				r.ID = s.newID()
			}
			r := r
			g.Roles[r.ID] = &r
		}
		s.st.guilds[g.ID] = g
		addMember := func(user ID, roles []ID, nick *string) error {
			if _, ok := s.st.users[user]; !ok {
				return fmt.Errorf("seed guild %s: member %s is not a user", g.ID, user)
			}
			for _, r := range roles {
				if _, ok := g.Roles[r]; !ok {
					return fmt.Errorf("seed guild %s: member %s has unknown role %s", g.ID, user, r)
				}
			}
			g.Members[user] = &Member{UserID: user, Roles: append([]ID{}, roles...), Nick: nick, JoinedAt: s.now().UTC()}
			g.wasMember[user] = true
			return nil
		}
		if err := addMember(sg.OwnerID, nil, nil); err != nil {
			return err
		}
		if err := addMember(s.botID, sg.BotRoles, nil); err != nil {
			return err
		}
		for _, m := range sg.Members {
			if err := addMember(m.UserID, m.Roles, m.Nick); err != nil {
				return err
			}
		}
		for _, c := range sg.Channels {
			if c.ID == 0 {
				c.ID = s.newID()
			}
			c := c
			c.GuildID = g.ID
			if c.PermissionOverwrites == nil {
				c.PermissionOverwrites = []Overwrite{}
			}
			g.Channels[c.ID] = &c
			s.st.channels[c.ID] = &c
		}
	}
	return nil
}

// AddUser creates a user and returns its id.
func (s *Server) AddUser(name string, bot bool) ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID()
	s.st.users[id] = &User{ID: id, Username: name, Bot: bot}
	return id
}

// AddGuild creates a guild owned by owner, with the bot as a member, and returns its id.
// Its @everyone role has Discord's default permissions.
func (s *Server) AddGuild(name string, owner ID) ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A millisecond of its own, as SeedGuilds gives each guild: (guild_id >> 22) % shards
	// then spreads the guilds a test adds over the shards as Discord's guild ids spread,
	// where ids made in the same millisecond would all land on one shard.
	id := s.ids.nextMillisecond(s.now())
	g := newGuild(id, name, owner)
	now := s.now().UTC()
	g.Members[owner] = &Member{UserID: owner, Roles: []ID{}, JoinedAt: now}
	g.Members[s.botID] = &Member{UserID: s.botID, Roles: []ID{}, JoinedAt: now}
	s.st.guilds[id] = g
	return id
}

// AddRole creates a role at a hierarchy position (1 is just above @everyone) and returns
// its id. Roles at or above position shift up, as Discord does.
func (s *Server) AddRole(guild ID, name string, position int, perms Permissions) ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	for _, r := range g.Roles {
		if r.ID != g.ID && r.Position >= position {
			r.Position++
		}
	}
	id := s.newID()
	g.Roles[id] = &Role{ID: id, Name: name, Position: position, Permissions: perms}
	return id
}

// AddMember makes user a member of guild with the given roles. It does not emit
// GUILD_MEMBER_ADD; UserJoins does.
func (s *Server) AddMember(guild, user ID, roles ...ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	if _, ok := s.st.users[user]; !ok {
		panic(fmt.Sprintf("discordtest: AddMember: unknown user %s", user))
	}
	g.Members[user] = &Member{UserID: user, Roles: append([]ID{}, roles...), JoinedAt: s.now().UTC()}
	g.wasMember[user] = true
}

// AddChannel creates a guild channel of a type (ChannelGuildText, …) and returns its id.
func (s *Server) AddChannel(guild ID, typ int, name string, overwrites ...Overwrite) ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	id := s.newID()
	c := &Channel{ID: id, Type: typ, GuildID: guild, Name: name, PermissionOverwrites: append([]Overwrite{}, overwrites...)}
	g.Channels[id] = c
	s.st.channels[id] = c
	return id
}

// AddChannelIn is AddChannel for a channel in a category (parent), without an event, as a
// seed: its overwrites are those given, synced with the category's or not.
func (s *Server) AddChannelIn(guild, parent ID, typ int, name string, overwrites ...Overwrite) ID {
	id := s.AddChannel(guild, typ, name, overwrites...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.st.channels[parent]; c == nil || c.Type != ChannelGuildCategory {
		panic(fmt.Sprintf("discordtest: AddChannelIn: %s is not a category", parent))
	}
	s.st.channels[id].ParentID = parent
	return id
}

func (s *Server) mustGuild(id ID) *Guild {
	g, ok := s.st.guilds[id]
	if !ok {
		panic(fmt.Sprintf("discordtest: unknown guild %s", id))
	}
	return g
}
