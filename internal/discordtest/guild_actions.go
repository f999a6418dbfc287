package discordtest

import (
	"fmt"
	"slices"
)

// Guild manager actions: what an administrator does to a guild's roles and ownership in
// Discord's own interface. Each changes the state and dispatches the event Discord would
// (GUILDS intent), under Server.mu, like the user actions in actions.go.

// EditRole changes a role with edit (name, position, permissions, …; not its id) and
// dispatches GUILD_ROLE_UPDATE.
func (s *Server) EditRole(guild, role ID, edit func(r *Role)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	r := g.Roles[role]
	if r == nil {
		panic(fmt.Sprintf("discordtest: EditRole: guild %s has no role %s", guild, role))
	}
	edit(r)
	r.ID = role
	s.dispatch(g.ID, "GUILD_ROLE_UPDATE", IntentGuilds, map[string]any{"guild_id": g.ID, "role": roleJSON(r)})
}

// CreateRole adds a role at a position (1 is just above @everyone; roles at or above it
// shift up, as AddRole does) and dispatches GUILD_ROLE_CREATE, then a GUILD_ROLE_UPDATE
// for each role that moved.
func (s *Server) CreateRole(guild ID, name string, position int, perms Permissions) ID {
	id := s.AddRole(guild, name, position, perms)
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	s.dispatch(g.ID, "GUILD_ROLE_CREATE", IntentGuilds, map[string]any{"guild_id": g.ID, "role": roleJSON(g.Roles[id])})
	for _, r := range g.Roles {
		if r.ID != id && r.ID != g.ID && r.Position > position {
			s.dispatch(g.ID, "GUILD_ROLE_UPDATE", IntentGuilds, map[string]any{"guild_id": g.ID, "role": roleJSON(r)})
		}
	}
	return id
}

// DeleteRole removes a role from the guild and from every member who had it, and
// dispatches GUILD_ROLE_DELETE (Discord sends no member updates for it).
func (s *Server) DeleteRole(guild, role ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	if role == g.ID || g.Roles[role] == nil {
		panic(fmt.Sprintf("discordtest: DeleteRole: guild %s has no deletable role %s", guild, role))
	}
	delete(g.Roles, role)
	for _, m := range g.Members {
		m.Roles = slices.DeleteFunc(m.Roles, func(id ID) bool { return id == role })
	}
	s.dispatch(g.ID, "GUILD_ROLE_DELETE", IntentGuilds, map[string]any{"guild_id": g.ID, "role_id": role})
}

// SetMemberRoles replaces a member's roles, as a manager does in the member's profile, and
// dispatches GUILD_MEMBER_UPDATE (about the bot, even without GUILD_MEMBERS).
func (s *Server) SetMemberRoles(guild, user ID, roles ...ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	m := g.Members[user]
	if m == nil {
		panic(fmt.Sprintf("discordtest: SetMemberRoles: %s is not a member of guild %s", user, guild))
	}
	m.Roles = append([]ID{}, roles...)
	s.memberUpdated(g, m)
}

// TransferOwnership makes a member the guild's owner and dispatches GUILD_UPDATE.
func (s *Server) TransferOwnership(guild, owner ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	if g.Members[owner] == nil {
		panic(fmt.Sprintf("discordtest: TransferOwnership: %s is not a member of guild %s", owner, guild))
	}
	g.OwnerID = owner
	s.dispatch(g.ID, "GUILD_UPDATE", IntentGuilds, s.guildJSON(g))
}
