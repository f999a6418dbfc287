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

// SetOverwriteAs is user changing one of a channel's permission overwrites from Discord's
// client (creating it, or replacing its allow and deny): Manage Roles in the channel and
// only bits the user has there, as for the bot, then CHANNEL_UPDATE and an audit-log entry
// naming the user. A test plays a moderator who edits a channel during a lockdown.
func (s *Server) SetOverwriteAs(channel, user ID, ow Overwrite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, g, err := s.userChannelLocked(channel, user)
	if err != nil {
		return err
	}
	if e := s.putOverwriteLocked(g, c, user, ow, ""); e != nil {
		return e
	}
	return nil
}

// DeleteOverwriteAs is user deleting a channel's overwrite for id from Discord's client.
func (s *Server) DeleteOverwriteAs(channel, user, id ID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, g, err := s.userChannelLocked(channel, user)
	if err != nil {
		return err
	}
	if e := s.deleteOverwriteLocked(g, c, user, id, ""); e != nil {
		return e
	}
	return nil
}

func (s *Server) userChannelLocked(channel, user ID) (*Channel, *Guild, error) {
	c, ok := s.st.channels[channel]
	if !ok || c.Type == ChannelDM {
		return nil, nil, errUnknown("Channel", codeUnknownChannel)
	}
	g := s.mustGuild(c.GuildID)
	if _, ok := g.Members[user]; !ok {
		return nil, nil, fmt.Errorf("user %s in guild %s: %w", user, g.ID, errUnknown("Member", codeUnknownMember))
	}
	return c, g, nil
}

// AddChannels adds many guild channels at once, as seed data (no events), and returns their
// ids in order: each Channel gives Type, Name, ParentID (a category added earlier, in this
// call or before) and PermissionOverwrites; ID, GuildID and Position are filled in. A test
// builds a server of hundreds of channels with one call.
func (s *Server) AddChannels(guild ID, channels []Channel) []ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.mustGuild(guild)
	ids := make([]ID, len(channels))
	for i, spec := range channels {
		if spec.ParentID != 0 {
			if p := g.Channels[spec.ParentID]; p == nil || p.Type != ChannelGuildCategory {
				panic(fmt.Sprintf("discordtest: AddChannels: parent %s of %q is not a category of the guild", spec.ParentID, spec.Name))
			}
		}
		c := &Channel{ID: s.newID(), Type: spec.Type, GuildID: guild, Name: spec.Name, Position: len(g.Channels), ParentID: spec.ParentID,
			PermissionOverwrites: append([]Overwrite{}, spec.PermissionOverwrites...)}
		g.Channels[c.ID] = c
		s.st.channels[c.ID] = c
		ids[i] = c.ID
	}
	return ids
}

// Synced reports whether a channel's permissions are synced with its category, as Discord's
// client shows it: Discord stores no flag, a channel is synced when its overwrites are the
// same set as its parent category's (in any order). A channel without a category is not.
// Changing a category's overwrites through the API does not change its channels: Discord's
// client copies them to the synced ones itself, and a bot must do the same.
func (s *Server) Synced(channel ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.st.channels[channel]
	if !ok || c.ParentID == 0 {
		return false
	}
	p, ok := s.st.channels[c.ParentID]
	if !ok {
		return false
	}
	return SameOverwrites(c.PermissionOverwrites, p.PermissionOverwrites)
}

// SameOverwrites reports whether two overwrite lists hold the same overwrites, in any order.
func SameOverwrites(a, b []Overwrite) bool {
	if len(a) != len(b) {
		return false
	}
	m := make(map[ID]Overwrite, len(a))
	for _, o := range a {
		m[o.ID] = o
	}
	for _, o := range b {
		if m[o.ID] != o {
			return false
		}
	}
	return true
}
