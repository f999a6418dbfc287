package discordtest

import (
	"fmt"
	"net/http"
	"strconv"
)

// AuditChannelCreate is the audit-log action type of a channel's creation.
const AuditChannelCreate = 10

// creatableChannelTypes are the guild channel types the fake creates: text, voice,
// category, announcement, stage and forum (Discord's spec also lists directory channels,
// which only hub guilds have).
var creatableChannelTypes = []int{ChannelGuildText, ChannelGuildVoice, ChannelGuildCategory, channelGuildAnnouncement, 13, channelGuildForum}

// CreateChannelAs is user creating a guild channel of a type (ChannelGuildText, …) from
// Discord's client: they need Manage Channels (Administrator and the owner have it), the
// channel gets the overwrites given, and CHANNEL_CREATE (GUILDS) follows with an audit-log
// entry naming the user. It returns the channel's id, or Discord's error (50013) when the
// user may not. AddChannel adds one silently, as seed data; the bot creates one with
// POST /guilds/{guild_id}/channels.
func (s *Server) CreateChannelAs(guild, user ID, typ int, name string, overwrites ...Overwrite) (ID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	if _, ok := g.Members[user]; !ok {
		return 0, fmt.Errorf("user %s in guild %s: %w", user, guild, errUnknown("Member", codeUnknownMember))
	}
	if !isCreatable(typ) {
		panic(fmt.Sprintf("discordtest: CreateChannelAs: channel type %d is not a guild channel type the fake creates", typ))
	}
	if e := s.require(g, user, PermManageChannels); e != nil {
		return 0, e
	}
	if e := checkChannelName(name); e != nil {
		return 0, e
	}
	return s.createChannelLocked(g, user, typ, name, 0, overwrites, "").ID, nil
}

func isCreatable(typ int) bool {
	for _, t := range creatableChannelTypes {
		if t == typ {
			return true
		}
	}
	return false
}

func checkChannelName(name string) *apiError {
	if n := runeLen(name); n < 1 || n > 100 {
		return invalidForm("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
	}
	return nil
}

// createChannelLocked stores a new channel, dispatches CHANNEL_CREATE and writes the
// audit-log entry. Called with s.mu held, after the checks.
func (s *Server) createChannelLocked(g *Guild, actor ID, typ int, name string, parent ID, overwrites []Overwrite, reason string) *Channel {
	c := &Channel{ID: s.newID(), Type: typ, GuildID: g.ID, Name: name, Position: len(g.Channels), ParentID: parent,
		PermissionOverwrites: append([]Overwrite{}, overwrites...)}
	g.Channels[c.ID] = c
	s.st.channels[c.ID] = c
	s.dispatch(g.ID, "CHANNEL_CREATE", IntentGuilds, s.channelObject(c))
	s.audit(g, AuditChannelCreate, actor, c.ID, reason, []auditChange{{Key: "name", New: name}, {Key: "type", New: typ}}, nil)
	return c
}

// handleCreateGuildChannel creates a guild channel as the bot, which
// needs Manage Channels, and Manage Roles to set overwrites.
func (s *Server) handleCreateGuildChannel(r *Request) (Response, *apiError) {
	var body struct {
		Name                 opt[string] `json:"name"`
		Type                 opt[int]    `json:"type"`
		ParentID             opt[ID]     `json:"parent_id"`
		PermissionOverwrites opt[[]struct {
			ID    ID               `json:"id"`
			Type  opt[int]         `json:"type"`
			Allow opt[Permissions] `json:"allow"`
			Deny  opt[Permissions] `json:"deny"`
		}] `json:"permission_overwrites"`
	}
	if e := decodeBody(r, &body); e != nil {
		return Response{}, e
	}
	if !body.Name.has() {
		return Response{}, invalidForm("name", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if e := checkChannelName(body.Name.V); e != nil {
		return Response{}, e
	}
	typ := ChannelGuildText
	if body.Type.has() {
		typ = body.Type.V
	}
	if !isCreatable(typ) {
		return Response{}, invalidForm("type", "BASE_TYPE_CHOICES", "Value must be one of "+quoteList(creatableChannelTypes...)+".")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.guildFor(r)
	if e != nil {
		return Response{}, e
	}
	if e := s.require(g, s.botID, PermManageChannels); e != nil {
		return Response{}, e
	}
	var parent ID
	if body.ParentID.has() {
		p, ok := g.Channels[body.ParentID.V]
		if !ok || p.Type != ChannelGuildCategory || typ == ChannelGuildCategory {
			return Response{}, invalidForm("parent_id", "CHANNEL_PARENT_INVALID_TYPE", "Not a category")
		}
		parent = p.ID
	}
	var overwrites []Overwrite
	for i, o := range body.PermissionOverwrites.V {
		field := "permission_overwrites." + strconv.Itoa(i)
		if !o.Type.has() || (o.Type.V != 0 && o.Type.V != 1) {
			return Response{}, invalidForm(field+".type", "BASE_TYPE_CHOICES", "Value must be one of "+quoteList(0, 1)+".")
		}
		if o.Type.V == 0 && g.Roles[o.ID] == nil {
			return Response{}, invalidForm(field+".id", "UNKNOWN_ROLE", "Unknown role")
		}
		if o.Type.V == 1 && g.Members[o.ID] == nil {
			return Response{}, invalidForm(field+".id", "UNKNOWN_MEMBER", "Unknown member")
		}
		overwrites = append(overwrites, Overwrite{ID: o.ID, Type: o.Type.V, Allow: o.Allow.V, Deny: o.Deny.V})
	}
	if len(overwrites) > 0 {
		if e := s.require(g, s.botID, PermManageRoles); e != nil {
			return Response{}, e
		}
	}
	c := s.createChannelLocked(g, s.botID, typ, body.Name.V, parent, overwrites, r.Reason)
	return Response{Status: http.StatusCreated, Body: s.channelObject(c)}, nil
}
