package discordtest

import (
	"fmt"
	"net/http"
)

// AuditChannelCreate is the audit-log action type of a channel's creation.
const AuditChannelCreate = 10

// CreateChannelAs is user creating a guild channel of a type (ChannelGuildText, …) from
// Discord's client: they need Manage Channels (Administrator and the owner have it), the
// channel gets the overwrites given, and CHANNEL_CREATE (GUILDS) follows with an audit-log
// entry naming the user. It returns the channel's id, or Discord's error (50013) when the
// user may not. AddChannel adds one silently, as seed data.
func (s *Server) CreateChannelAs(guild, user ID, typ int, name string, overwrites ...Overwrite) (ID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	if _, ok := g.Members[user]; !ok {
		return 0, fmt.Errorf("user %s in guild %s: %w", user, guild, errUnknown("Member", codeUnknownMember))
	}
	if typ != ChannelGuildText && typ != ChannelGuildVoice && typ != ChannelGuildCategory {
		panic(fmt.Sprintf("discordtest: CreateChannelAs: channel type %d is not a guild channel type the fake creates", typ))
	}
	if user != g.OwnerID && basePermissions(g, user, s.now())&(PermManageChannels|PermAdministrator) == 0 {
		return 0, errMissingPermission
	}
	if name == "" || runeLen(name) > 100 {
		return 0, &apiError{Status: http.StatusBadRequest, Message: "Invalid Form Body", Code: 50035}
	}
	id := s.newID()
	c := &Channel{ID: id, Type: typ, GuildID: guild, Name: name, Position: len(g.Channels),
		PermissionOverwrites: append([]Overwrite{}, overwrites...)}
	g.Channels[id] = c
	s.st.channels[id] = c
	s.dispatch(g.ID, "CHANNEL_CREATE", IntentGuilds, s.channelObject(c))
	s.audit(g, AuditChannelCreate, user, id, "", []auditChange{{Key: "name", New: name}, {Key: "type", New: typ}}, nil)
	return id, nil
}
